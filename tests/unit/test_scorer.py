"""The one predict path on a tiny baseline fitted in the test."""

import pytest

from threatscore.heads import RuleSignal
from threatscore.schemas import Article, Assessment
from threatscore.taxonomy import EVENT_TYPES, SIGNALS


def test_tiny_fit_has_trained_and_rule_heads(tiny_fit):
    kinds = tiny_fit.heads.describe()
    assert not kinds["signal.militant_attack"].startswith("rule")  # labelled in the tiny corpus
    assert isinstance(tiny_fit.heads.signals["recruitment"], RuleSignal)  # no labels: rule
    assert kinds["signal.recruitment"] == "rule v1"  # the rules' version the experiment asked for (the default)
    assert set(tiny_fit.scorer_config.signal_thresholds) == set(SIGNALS)


def test_scorer_returns_complete_valid_assessments(tiny_scorer, seed_text):
    articles = [
        Article(id="seed", text=seed_text, published="2022-01-29"),
        Article(id="calm", text="The striker scored twice as the club won the cup final on Saturday."),
    ]
    seed, calm = tiny_scorer.score(articles)
    for a in (seed, calm):
        Assessment.model_validate(a.model_dump())
        assert list(a.signals) == list(SIGNALS) and list(a.event_types) == list(EVENT_TYPES)
    assert seed.severity.fatalities == 27 and seed.severity.level == "high"
    assert seed.signals["mass_casualty"].probability == seed.severity.probabilities["high"]
    assert seed.relevance > calm.relevance
    assert "no publication date" in " ".join(calm.warnings)
    assert not any("publication date" in w for w in seed.warnings)


def test_evidence_is_verbatim_and_only_above_threshold(tiny_scorer, seed_text):
    (a,) = tiny_scorer.score([Article(id="seed", text=seed_text)])
    thresholds = tiny_scorer.config.signal_thresholds
    for name, signal in a.signals.items():
        if signal.probability < thresholds[name]:
            assert signal.evidence == []
        for quote in signal.evidence:
            assert quote in seed_text
    assert a.signals["claimed_responsibility"].evidence  # the rule fires on "claimed responsibility"
    assert any("claimed responsibility" in q for q in a.signals["claimed_responsibility"].evidence)


def test_html_input_and_foreign_language_warnings(tiny_scorer):
    html = "<html><body><div><p>Des hommes armés ont attaqué une patrouille de l'armée près de Gao, tuant quatre soldats.</p></div></body></html>"
    (a,) = tiny_scorer.score([Article(id="fr", text=html)])
    assert a.language == "fr"
    assert "unsupported language: fr" in a.warnings


def test_long_article_is_read_whole(tiny_scorer):
    filler = "The council discussed the budget for schools and roads. " * 3000
    text = filler + "Gunmen attacked a police post, killing 12 officers."
    (a,) = tiny_scorer.score([Article(id="long", text=text)])
    assert a.severity.fatalities == 12  # the count at the very end was read


def test_hazard_relevance_cap_applies_only_when_configured(tiny_fit):
    from tests.unit.test_hazards import FLOOD
    from threatscore.scorer import Scorer

    articles = [
        Article(id="flood", text=FLOOD),
        Article(id="attack", text="Gunmen attacked a police post, killing 12."),
    ]
    plain = Scorer(tiny_fit.heads, tiny_fit.scorer_config)
    capped = Scorer(tiny_fit.heads, tiny_fit.scorer_config.model_copy(update={"hazard_relevance_cap": 0.0}))
    flood, attack = plain.score(articles)
    flood_capped, attack_capped = capped.score(articles)
    assert flood.relevance > 0.0 and flood_capped.relevance == 0.0
    assert attack_capped.relevance == attack.relevance  # an attack is never capped
    assert any("relevance capped" in w for w in flood_capped.warnings)
    assert not any("relevance capped" in w for w in flood.warnings + attack_capped.warnings)
    # The evaluation reads relevance through the same path.
    assert capped.relevance(articles).tolist() == pytest.approx([0.0, attack.relevance], abs=1e-4)


def test_hazard_cap_can_cap_the_signals_too(tiny_fit):
    from tests.unit.test_hazards import FLOOD
    from threatscore.scorer import Scorer

    articles = [
        Article(id="flood", text=FLOOD),
        Article(id="attack", text="Gunmen attacked a police post, killing 12."),
    ]
    base = tiny_fit.scorer_config.model_copy(update={"hazard_relevance_cap": 0.05})
    relevance_only = Scorer(tiny_fit.heads, base).score(articles)
    signals_too = Scorer(tiny_fit.heads, base.model_copy(update={"hazard_caps_signals": True})).score(articles)
    flood, flood_all = relevance_only[0], signals_too[0]
    assert flood.relevance == flood_all.relevance == 0.05
    # 40 dead: mass_casualty (the high-severity probability) is high unless the signals are capped.
    assert flood.signals["mass_casualty"].probability > 0.05 and flood.signals["mass_casualty"].evidence
    assert all(s.probability <= 0.05 and not s.evidence for s in flood_all.signals.values())
    assert flood_all.resurgence.score <= 0.05
    assert flood_all.severity == flood.severity  # the harm's size is still reported
    assert signals_too[1] == relevance_only[1]  # an attack is never capped


def test_the_model_reads_the_hazard_words_of_its_own_version(tiny_fit):
    from threatscore.scorer import Scorer

    bus = [Article(id="bus", text="A bus plunged into a gorge on Sunday, killing 22 passengers, police said.")]
    config = tiny_fit.scorer_config.model_copy(update={"hazard_relevance_cap": 0.0})
    (v1,) = Scorer(tiny_fit.heads, config).score(bus)
    (v2,) = Scorer(tiny_fit.heads, config.model_copy(update={"hazard_rules_version": 2})).score(bus)
    assert v1.relevance > 0.0 and v2.relevance == 0.0
