"""The keyword rules: what fires, and that asking again is answered from memory with the same answer."""

from __future__ import annotations

import pytest

from threatscore.rules import SIGNAL_RULES, rule_fires


def _fires_uncached(signal: str, sentence: str) -> bool:
    return rule_fires.__wrapped__(signal, sentence)  # type: ignore[attr-defined]


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
