"""The keyword rules: what fires in each version, and that asking again is answered from memory with the same answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.articles import make_articles
from threatscore.rules import _REQUIRES, _VETOES, LATEST_RULES, RULE_VERSIONS, rule_fires, signal_rules
from threatscore.text import sentences as sentence_texts

SIGNALS = sorted(RULE_VERSIONS[LATEST_RULES])
VERSIONS = sorted(RULE_VERSIONS)


def _fires_uncached(signal: str, sentence: str, version: int) -> bool:
    return rule_fires.__wrapped__(signal, sentence, version)  # type: ignore[attr-defined]


def _fires_pattern_by_pattern(signal: str, sentence: str, version: int) -> bool:
    """The rule as it was first written: each of the signal's patterns searched in turn, unless a veto matches or
    the sentence lacks what the version requires."""
    veto = _VETOES[version].get(signal)
    vetoed = veto is not None and veto.search(sentence) is not None
    required = _REQUIRES[version].get(signal)
    lacking = required is not None and required.search(sentence) is None
    return not vetoed and not lacking and any(p.search(sentence) for p in signal_rules(version)[signal])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("signal", "sentence", "expected"),
    [
        ("claimed_responsibility", "The Islamic State claimed responsibility for the attack.", True),
        ("claimed_responsibility", "No group has claimed the attack so far.", False),  # a negated claim
        ("prison_break", "Gunmen stormed the central prison and freed 300 inmates.", True),
        ("recruitment", "The ministry opened a new hospital in the capital.", False),
        ("cross_border", "Fighters crossed the border from neighbouring Niger overnight.", True),
        ("territorial_control", "The insurgents captured the border town after a day of fighting.", True),
    ],
)
def test_rules_fire_on_what_they_describe(signal, sentence, expected, version):
    assert rule_fires(signal, sentence, version) is expected
    assert _fires_uncached(signal, sentence, version) is expected


# Version 2's changes, each on a sentence of the kind the gold train part showed (version 1's answer beside it).
@pytest.mark.parametrize(
    ("signal", "sentence", "v1", "v2"),
    [
        # "held" and "captured" took protests and persons; state forces taking ground is counter-terrorism
        ("territorial_control", "Journalists held a protest in Faisalabad city against the arrests.", True, False),
        (
            "territorial_control",
            "A coalition force captured a Taliban leader in Maiwand district, Kandahar.",
            True,
            False,
        ),
        ("territorial_control", "The regime forces control a new village in the countryside of Aleppo.", True, False),
        ("territorial_control", "Troops exchanged fire along the Line of Control in Kupwara District.", True, False),
        ("territorial_control", "Warplanes bombed rebel-held eastern Ghouta for a fifth day.", False, True),
        ("territorial_control", "The Taliban took control of the district after a week of fighting.", True, True),
        # "crossed the border" is a crossing; infiltrating institutions is not
        ("cross_border", "Fighters crossed the border with weapons smuggled from Libya.", False, True),
        ("cross_border", "Drug trafficking has infiltrated state institutions and politics.", True, False),
        # a political crisis or a pull-out of troops alone is no security vacuum; troops withdrawing before militants are
        ("security_vacuum", "The minister announced the withdrawal of troops from the region.", True, False),
        ("security_vacuum", "The political crisis deepened as the coalition talks failed.", True, False),
        ("security_vacuum", "After the troops withdrew, the militants moved into the town.", False, True),
        ("security_vacuum", "Armed groups exploited the security vacuum in the north.", True, True),
    ],
)
def test_version_2_rewrites_three_signals_for_precision(signal, sentence, v1, v2):
    assert (rule_fires(signal, sentence, 1), rule_fires(signal, sentence, 2)) == (v1, v2)


# Version 3's changes, on sentences of the kinds the gold train part showed (version 2's answer beside it).
@pytest.mark.parametrize(
    ("signal", "sentence", "v2", "v3"),
    [
        # a comeback, a revival or rebuilding without an armed actor is sport, business or reconstruction
        ("regrouping", "Leicester's resurgence this season owes much to the new coach.", True, False),
        ("regrouping", "The money is for the rebuilding of Aceh province after the tsunami.", True, False),
        ("regrouping", "Officials said there has been no Naxal resurgence in Telangana.", True, False),
        ("regrouping", "Militants are trying to regroup in South Kashmir, police said.", True, True),
        ("regrouping", "The gang has rebuilt its network in the capital's prisons.", True, True),
        # recruiting by the state or an employer is no group's recruitment; a group's is
        ("recruitment", "Teachers protested against the government's recruitment policy.", True, False),
        ("recruitment", "A suicide bomber struck a police recruiting centre, killing six recruits.", True, False),
        ("recruitment", "The LeT has been recruiting local youths for two years.", True, True),
        ("recruitment", "Gangs recruit children as young as ten in the capital.", True, True),
        # the prison must be what is attacked, or people escape from it
        ("prison_break", "The home of a prison officer was attacked with petrol bombs.", True, False),
        ("prison_break", "He will serve seven years in prison for his role in the attack.", True, False),
        ("prison_break", "Police foiled a jailbreak attempt at the district jail.", True, False),
        ("prison_break", "Boko Haram attacked a federal prison and freed hundreds of inmates.", True, True),
        ("prison_break", "Thirty inmates escaped from a prison in Nuevo Leon during a riot.", True, True),
    ],
)
def test_version_3_rewrites_three_more_signals_for_precision(signal, sentence, v2, v3):
    assert (rule_fires(signal, sentence, 2), rule_fires(signal, sentence, 3)) == (v2, v3)


# Version 4: armed actors of other regions count for regrouping and recruitment; child soldiers are no state's recruits.
@pytest.mark.parametrize(
    ("sentence", "v3", "v4"),
    [
        ("Bandits have been recruiting young herders in Zamfara.", False, True),
        ("The Wagner group recruited prisoners from Russian jails.", False, True),
        ("The RSF is recruiting child soldiers in Darfur.", False, True),
        ("The ADF recruited children in Beni territory.", False, True),
        ("M23 rebels recruited hundreds of youths.", True, True),
        ("The Adani Group recruited 500 engineers.", False, False),  # a company's "Group", capitalised
        ("The army is recruiting soldiers in Darfur.", False, False),
    ],
)
def test_version_4_knows_armed_actors_of_other_regions(sentence, v3, v4):
    assert (rule_fires("recruitment", sentence, 3), rule_fires("recruitment", sentence, 4)) == (v3, v4)


@pytest.mark.parametrize(
    ("old", "new", "rewritten"),
    [
        (1, 2, {"territorial_control", "cross_border", "security_vacuum"}),
        (2, 3, {"regrouping", "recruitment", "prison_break"}),
        (3, 4, {"regrouping", "recruitment"}),
    ],
)
def test_versions_differ_only_in_the_rewritten_signals(old, new, rewritten):
    changed = {
        s
        for s in SIGNALS
        if RULE_VERSIONS[old][s] != RULE_VERSIONS[new][s]
        or _VETOES[old].get(s) is not _VETOES[new].get(s)
        or _REQUIRES[old].get(s) is not _REQUIRES[new].get(s)
    }
    assert changed == rewritten


@pytest.mark.parametrize("version", VERSIONS)
def test_a_repeated_question_is_answered_from_memory_with_the_same_answer(version):
    sentence = "Militants regrouped in the forest and set up a camp there, residents said."
    first = {signal: rule_fires(signal, sentence, version) for signal in SIGNALS}
    hits = rule_fires.cache_info().hits
    again = {signal: rule_fires(signal, sentence, version) for signal in SIGNALS}
    assert again == first == {signal: _fires_uncached(signal, sentence, version) for signal in SIGNALS}
    assert rule_fires.cache_info().hits - hits == len(SIGNALS)
    assert first["regrouping"] and first["territorial_control"]


# Words of the rules' patterns, the negation and ordinary news: sentences made of them hit one pattern, several or
# none, at any position, in any case.
_WORDS = (
    "militants gunmen ISIS Boko Haram attacked killed stormed claimed responsibility for the attack no group has "
    "claimed prison jail escaped freed seized control of town village base set up camp imposed taxes regrouped new "
    "cells recruited foreign fighters crossed border smuggling weapons links Sahel chaos vacuum withdrawal of troops "
    "army operation arrested air strike massacre dozens killed by of the in on and said residents police Monday IS-held "
    "took over regime forces after troops withdrew lawlessness infiltrated from resurgence revival no group gang LeT "
    "recruitment policy teachers officer inmates escaped foiled jailbreak stormed the central prison bandits "
    "RSF child soldiers Wagner group"
).split()


@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=25), st.sampled_from(SIGNALS), st.sampled_from(VERSIONS))
@settings(max_examples=400, deadline=None)
def test_one_search_per_signal_answers_as_each_pattern_in_turn(words, signal, version):
    sentence = " ".join(words)
    assert _fires_uncached(signal, sentence, version) is _fires_pattern_by_pattern(signal, sentence, version)


@pytest.mark.parametrize("version", VERSIONS)
def test_one_search_per_signal_answers_as_each_pattern_on_news_sentences(version):
    sentences = [s for a in make_articles("long", 6, seed=5) for s in sentence_texts(a["text"])]
    hits = 0
    for signal in SIGNALS:
        for sentence in sentences:
            expected = _fires_pattern_by_pattern(signal, sentence, version)
            assert _fires_uncached(signal, sentence, version) is expected, (signal, sentence)
            hits += expected
    assert hits > 20  # the articles do report attacks, claims and the like


def test_rule_precision_counts_hits_precision_and_recall_per_version_and_part():
    from training.rule_precision import rule_precision, to_markdown

    zeros = {f"sig_{s}": 0 for s in SIGNALS}
    items = pd.DataFrame(
        [
            {
                **zeros,
                "part": "train",
                "text": "Journalists held a protest in Faisalabad city.",
                "sig_territorial_control": 0,
            },
            {
                **zeros,
                "part": "train",
                "text": "The Taliban took control of the district on Monday.",
                "sig_territorial_control": 1,
            },
            {**zeros, "part": "train", "text": "Shops reopened in the market.", "sig_territorial_control": 1},
            {
                **zeros,
                "part": "dev",
                "text": "The rebels seized the town after a day of fighting.",
                "sig_territorial_control": 1,
            },
        ]
    )
    table = rule_precision(items, [1, 2]).set_index(["signal", "version", "part"])
    v1, v2 = table.loc[("territorial_control", 1, "train")], table.loc[("territorial_control", 2, "train")]
    assert (v1["hits"], v1["true_hits"], v1["positives"]) == (2, 1, 2)  # the protest "held in a city" fires in v1
    assert (v1["precision"], v1["recall"]) == (0.5, 0.5)
    assert (v2["hits"], v2["precision"], v2["recall"]) == (1, 1.0, 0.5)
    assert table.loc[("territorial_control", 2, "dev"), "recall"] == 1.0
    assert np.isnan(table.loc[("prison_break", 2, "train"), "precision"])  # fires on nothing
    assert (
        "| territorial_control | 1 / 2 | 1 · 1.00 · 1.00 | 1 · 1.00 · 1.00 | 2 · 0.50 · 0.50 | 1 · 1.00 · 0.50 |"
        in (to_markdown(table.reset_index()))
    )
