"""Weak labels for the signals and for resurgence: labeling functions combined by a small generative label model.

Labeling functions (LFs) vote 1, 0 or abstain per item: the keyword rules of ``threatscore.rules`` (sentence
level), the labels sources imply (``sig_*`` columns: ACLED sub-event types, fatality counts, ISAF operations),
ACLED's "Change to group/activity", and a "short, relevant text with no cue" negative. The label model is naive
Bayes over the votes: each LF's probability of voting 1 / 0 given the true label is estimated on the gold
*train* part (with add-one smoothing), the class prior too; it is evaluated on the gold *dev* part.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from threatscore.rules import rule_fires
from threatscore.taxonomy import SIGNALS
from threatscore.text import sentences

logger = logging.getLogger(__name__)

ABSTAIN = -1
#: Signals whose evidence is an armed group's capability or reach growing (the resurgence LF).
GROWTH_SIGNALS = ("territorial_control", "regrouping", "recruitment", "prison_break", "cross_border")
#: A text with at most this many words and no cue for a signal is voted 0 for it.
SHORT_TEXT_WORDS = 120

LabelingFunction = Callable[[pd.Series, dict[str, bool]], int]


#: The keyword rules' version the labeling functions vote with: the weak labels every fine-tuned encoder so far was
#: trained on (``threatscore.rules.RULE_VERSIONS``); another version makes other training targets.
WEAK_LABEL_RULES = 1


def rule_hits(text: str) -> dict[str, bool]:
    """Which signals' keyword rules fire on any sentence of ``text`` (the first 20,000 characters)."""
    sents = sentences(text[:20_000])
    return {name: any(rule_fires(name, s, WEAK_LABEL_RULES) for s in sents) for name in SIGNALS}


def _lf_rule(signal: str) -> LabelingFunction:
    return lambda row, hits: 1 if hits[signal] else ABSTAIN


def _lf_source(signal: str) -> LabelingFunction:
    def vote(row: pd.Series, hits: dict[str, bool]) -> int:
        value = row.get(f"sig_{signal}")
        return ABSTAIN if value is None or pd.isna(value) else int(value)

    return vote


def _lf_short_no_cue(signal: str) -> LabelingFunction:
    def vote(row: pd.Series, hits: dict[str, bool]) -> int:
        return 0 if not hits[signal] and len(str(row["text"]).split()) <= SHORT_TEXT_WORDS else ABSTAIN

    return vote


def _lf_acled_change_to_group(row: pd.Series, hits: dict[str, bool]) -> int:
    value = row.get("sub_event_type")
    return 1 if isinstance(value, str) and value == "Change to group/activity" else ABSTAIN


def _lf_not_relevant(row: pd.Series, hits: dict[str, bool]) -> int:
    value = row.get("relevance")
    return 0 if value is not None and not pd.isna(value) and int(value) == 0 else ABSTAIN


def _lf_growth_cue(row: pd.Series, hits: dict[str, bool]) -> int:
    return 1 if any(hits[s] for s in GROWTH_SIGNALS) else ABSTAIN


def _lf_no_growth_cue_short(row: pd.Series, hits: dict[str, bool]) -> int:
    short = len(str(row["text"]).split()) <= SHORT_TEXT_WORDS
    return 0 if short and not any(hits[s] for s in GROWTH_SIGNALS) else ABSTAIN


def labeling_functions() -> dict[str, dict[str, LabelingFunction]]:
    """Target (each signal, and ``resurgence``) -> named labeling functions."""
    lfs: dict[str, dict[str, LabelingFunction]] = {}
    for signal in SIGNALS:
        lfs[signal] = {
            "rule": _lf_rule(signal),
            "source_label": _lf_source(signal),
            "short_no_cue": _lf_short_no_cue(signal),
        }
    lfs["regrouping"]["acled_change_to_group"] = _lf_acled_change_to_group
    lfs["resurgence"] = {
        "growth_cue": _lf_growth_cue,
        "not_relevant": _lf_not_relevant,
        "short_no_growth_cue": _lf_no_growth_cue_short,
    }
    return lfs


def apply_lfs(frame: pd.DataFrame, show_progress: bool = False) -> dict[str, np.ndarray]:
    """Vote matrices: target -> (n_rows, n_lfs) ints in {-1, 0, 1}."""
    lfs = labeling_functions()
    iterator = frame.iterrows()
    if show_progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(frame), desc="labeling functions", unit="row")
    votes: dict[str, list[list[int]]] = {t: [] for t in lfs}
    for _, row in iterator:
        hits = rule_hits(str(row["text"]))
        for target, funcs in lfs.items():
            votes[target].append([f(row, hits) for f in funcs.values()])
    return {t: np.asarray(v, dtype=np.int8).reshape(len(frame), len(lfs[t])) for t, v in votes.items()}


@dataclass
class LabelModel:
    """Naive Bayes over LF votes, per target. ``fit`` on gold labels; ``predict_proba`` on votes."""

    prior: dict[str, float] = field(default_factory=dict)
    # target -> (n_lfs, 2 classes, 3 vote values [abstain, 0, 1]) probabilities
    tables: dict[str, np.ndarray] = field(default_factory=dict)

    def fit(self, votes: dict[str, np.ndarray], gold: pd.DataFrame) -> LabelModel:
        """Estimate P(vote | y) per LF and the prior P(y=1) from gold rows (``gold[target]`` in {0, 1})."""
        for target, matrix in votes.items():
            y = gold[target].to_numpy(dtype=int)
            self.prior[target] = float((y.sum() + 1) / (len(y) + 2))
            table = np.ones((matrix.shape[1], 2, 3))  # add-one smoothing
            for j in range(matrix.shape[1]):
                for cls in (0, 1):
                    for k, value in enumerate((ABSTAIN, 0, 1)):
                        table[j, cls, k] += np.sum((matrix[:, j] == value) & (y == cls))
            self.tables[target] = table / table.sum(axis=2, keepdims=True)
        return self

    def predict_proba(self, votes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """P(y=1 | votes) per target; rows where every LF abstained get NaN (no weak label)."""
        out = {}
        for target, matrix in votes.items():
            table = self.tables[target]
            index = matrix.astype(int) + 1  # -1,0,1 -> 0,1,2
            log_odds = np.full(len(matrix), np.log(self.prior[target] / (1 - self.prior[target])))
            for j in range(matrix.shape[1]):
                log_odds += np.log(table[j, 1, index[:, j]]) - np.log(table[j, 0, index[:, j]])
            proba = 1.0 / (1.0 + np.exp(-log_odds))
            proba[(matrix == ABSTAIN).all(axis=1)] = np.nan
            out[target] = proba
        return out
