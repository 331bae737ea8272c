"""Per-article risk: the resurgence summary (when the heads do not learn it) and each region's risk.

The formulas are fixed and documented here and in the README; levels come from
``threatscore.taxonomy.RISK_CUTOFFS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from threatscore.taxonomy import SEVERITY_LEVELS, SIGNALS

#: How much each signal says about an armed group's capability or reach *growing*. Counter-terrorism
#: pressure is context, not growth, so it carries no weight.
GROWTH_WEIGHTS: Final[dict[str, float]] = {
    "militant_attack": 0.35,
    "claimed_responsibility": 0.3,
    "mass_casualty": 0.3,
    "territorial_control": 0.6,
    "regrouping": 0.6,
    "recruitment": 0.5,
    "prison_break": 0.5,
    "cross_border": 0.4,
    "security_vacuum": 0.3,
    "counter_terrorism": 0.0,
}
#: Severity level -> contribution to risk.
SEVERITY_WEIGHTS: Final[dict[str, float]] = {"none": 0.0, "low": 0.35, "medium": 0.7, "high": 1.0}
#: A non-primary region (mentioned, not where the event happened) keeps this share of the risk.
SECONDARY_FACTOR: Final[float] = 0.5


def growth_score(signals: Mapping[str, float], relevance: float) -> float:
    """Noisy-OR of the growth signals, gated by relevance: 1 - prod(1 - w_s * p_s), times relevance.

    Used as ``resurgence.score`` only by heads that do not learn resurgence (the baseline).
    """
    keep = 1.0
    for name in SIGNALS:
        keep *= 1.0 - GROWTH_WEIGHTS[name] * signals[name]
    return _clip(relevance * (1.0 - keep))


def region_risk(relevance: float, severity: Mapping[str, float], resurgence: float, primary: bool) -> float:
    """Risk of one region from one article, in [0, 1].

    ``relevance × (0.5 × expected severity + 0.5 × resurgence)``, halved for a region that is only
    mentioned (not primary). Severity enters as the expectation of ``SEVERITY_WEIGHTS`` under the
    severity probabilities, so an uncertain "high" counts less than a certain one.
    """
    expected_severity = sum(SEVERITY_WEIGHTS[level] * severity[level] for level in SEVERITY_LEVELS)
    score = relevance * (0.5 * expected_severity + 0.5 * resurgence)
    return _clip(score if primary else score * SECONDARY_FACTOR)


def _clip(value: float) -> float:
    return float(min(1.0, max(0.0, value)))
