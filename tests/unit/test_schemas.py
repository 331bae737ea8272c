import pytest
from pydantic import ValidationError

from threatscore.schemas import Assessment
from threatscore.taxonomy import (
    EVENT_TYPE_GROUPS,
    EVENT_TYPES,
    RISK_CUTOFFS,
    SIGNALS,
    risk_level,
    severity_level,
)


def test_taxonomy_sizes():
    assert len(SIGNALS) == 10
    assert len(EVENT_TYPES) == 25 and len(set(EVENT_TYPES)) == 25
    assert len(EVENT_TYPE_GROUPS) == 6


@pytest.mark.parametrize(
    ("n", "level"), [(0, "none"), (1, "low"), (2, "low"), (3, "medium"), (9, "medium"), (10, "high"), (27, "high")]
)
def test_severity_cutoffs(n, level):
    assert severity_level(n) == level


def test_risk_cutoffs_are_ordered_and_applied():
    cut = list(RISK_CUTOFFS.values())
    assert cut == sorted(cut)
    assert risk_level(0.0) == "low"
    assert risk_level(RISK_CUTOFFS["elevated"]) == "elevated"
    assert risk_level(RISK_CUTOFFS["high"] - 1e-9) == "elevated"
    assert risk_level(1.0) == "critical"
    with pytest.raises(ValueError):
        risk_level(1.5)


def _assessment(**over):
    base = {
        "id": "a",
        "model": {"name": "threatscore", "version": "1", "alias": "champion"},
        "language": "en",
        "warnings": [],
        "relevance": 0.9,
        "resurgence": {"score": 0.7, "level": "high"},
        "signals": {s: {"probability": 0.1, "evidence": []} for s in SIGNALS},
        "event_types": dict.fromkeys(EVENT_TYPES, 0.04),
        "severity": {
            "level": "high",
            "fatalities": 27,
            "probabilities": {"none": 0.0, "low": 0.0, "medium": 0.1, "high": 0.9},
        },
        "regions": [
            {
                "country_code": "LY",
                "country": "Libya",
                "admin1": "Murzuq",
                "places": ["Qatrun"],
                "primary": True,
                "risk": {"score": 0.8, "level": "high"},
            }
        ],
    }
    base.update(over)
    return base


def test_design_example_validates_and_every_key_is_present():
    a = Assessment.model_validate(_assessment())
    dumped = a.model_dump(mode="json")
    assert set(dumped) == {
        "id",
        "model",
        "language",
        "warnings",
        "relevance",
        "resurgence",
        "signals",
        "event_types",
        "severity",
        "regions",
    }
    assert list(dumped["signals"]) == list(SIGNALS)


def test_assessment_rejects_incomplete_or_unknown_labels():
    signals = {s: {"probability": 0.1} for s in SIGNALS[:-1]}
    with pytest.raises(ValidationError, match="ten keys"):
        Assessment.model_validate(_assessment(signals=signals))
    with pytest.raises(ValidationError):
        Assessment.model_validate(_assessment(event_types={**dict.fromkeys(EVENT_TYPES, 0.0), "Picnic": 0.1}))
    with pytest.raises(ValidationError):
        Assessment.model_validate(_assessment(relevance=1.2))
    two_primary = _assessment()["regions"] * 2
    with pytest.raises(ValidationError, match="primary"):
        Assessment.model_validate(_assessment(regions=two_primary))
