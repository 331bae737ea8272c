"""The keyword rules: what fires, and that asking again is answered from memory with the same answer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.articles import make_articles
from threatscore.rules import _NEGATED_CLAIM, SIGNAL_RULES, rule_fires
from threatscore.text import sentences as sentence_texts


def _fires_uncached(signal: str, sentence: str) -> bool:
    return rule_fires.__wrapped__(signal, sentence)  # type: ignore[attr-defined]


def _fires_pattern_by_pattern(signal: str, sentence: str) -> bool:
    """The rule as it was first written: each of the signal's patterns searched in turn."""
    negated = signal == "claimed_responsibility" and _NEGATED_CLAIM.search(sentence) is not None
    return not negated and any(p.search(sentence) for p in SIGNAL_RULES[signal])


@pytest.mark.parametrize(
    ("signal", "sentence", "expected"),
    [
        ("claimed_responsibility", "The Islamic State claimed responsibility for the attack.", True),
        ("claimed_responsibility", "No group has claimed the attack so far.", False),  # a negated claim
        ("prison_break", "Gunmen stormed the central prison and freed 300 inmates.", True),
        ("recruitment", "The ministry opened a new hospital in the capital.", False),
        ("cross_border", "Fighters crossed the border from neighbouring Niger overnight.", True),
    ],
)
def test_rules_fire_on_what_they_describe(signal, sentence, expected):
    assert rule_fires(signal, sentence) is expected
    assert _fires_uncached(signal, sentence) is expected


def test_a_repeated_question_is_answered_from_memory_with_the_same_answer():
    sentence = "Militants regrouped in the forest and set up a camp there, residents said."
    first = {signal: rule_fires(signal, sentence) for signal in SIGNAL_RULES}
    hits = rule_fires.cache_info().hits
    again = {signal: rule_fires(signal, sentence) for signal in SIGNAL_RULES}
    assert again == first == {signal: _fires_uncached(signal, sentence) for signal in SIGNAL_RULES}
    assert rule_fires.cache_info().hits - hits == len(SIGNAL_RULES)
    assert first["regrouping"] and first["territorial_control"]


# Words of the rules' patterns, the negation and ordinary news: sentences made of them hit one pattern, several or
# none, at any position, in any case.
_WORDS = (
    "militants gunmen ISIS Boko Haram attacked killed stormed claimed responsibility for the attack no group has "
    "claimed prison jail escaped freed seized control of town village base set up camp imposed taxes regrouped new "
    "cells recruited foreign fighters crossed border smuggling weapons links Sahel chaos vacuum withdrawal of troops "
    "army operation arrested air strike massacre dozens killed by of the in on and said residents police Monday"
).split()


@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=25), st.sampled_from(sorted(SIGNAL_RULES)))
@settings(max_examples=400, deadline=None)
def test_one_search_per_signal_answers_as_each_pattern_in_turn(words, signal):
    sentence = " ".join(words)
    assert _fires_uncached(signal, sentence) is _fires_pattern_by_pattern(signal, sentence)


def test_one_search_per_signal_answers_as_each_pattern_on_news_sentences():
    sentences = [s for a in make_articles("long", 6, seed=5) for s in sentence_texts(a["text"])]
    hits = 0
    for signal in SIGNAL_RULES:
        for sentence in sentences:
            expected = _fires_pattern_by_pattern(signal, sentence)
            assert _fires_uncached(signal, sentence) is expected, (signal, sentence)
            hits += expected
    assert hits > 20  # the articles do report attacks, claims and the like
