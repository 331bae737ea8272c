"""Paired bootstrap: is model B's benchmark number really different from model A's on the same items?

On the gold test part (8–143 positives per signal) two models' macro F1 can differ by a few hundredths from noise
alone. Resampling the *items* (the same resample for both models) and recomputing both numbers gives the spread of
their difference; a 95 % interval that contains 0 says the test part cannot tell the two apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int_]
#: A statistic of (gold, decisions), both ``(n, k)`` 0/1 arrays restricted to the resampled items.
Statistic = Callable[[IntArray, IntArray], float]


@dataclass(frozen=True)
class BootstrapDifference:
    """``b − a`` of a statistic: on all items, and the bootstrap's 95 % interval."""

    observed: float
    low: float
    high: float
    resamples: int

    def render(self) -> str:
        """``+0.012 [−0.020, +0.041]``."""
        return f"{self.observed:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def macro_f1(gold: IntArray, decisions: IntArray) -> float:
    """Mean over columns of each column's F1 (0 where a column has neither positives nor predicted ones, as
    scikit-learn's ``zero_division=0``); counted with numpy, since a bootstrap calls it thousands of times."""
    gold, decisions = np.asarray(gold, dtype=bool), np.asarray(decisions, dtype=bool)
    tp = (gold & decisions).sum(axis=0)
    wrong = (gold != decisions).sum(axis=0)  # false positives + false negatives
    denominator = 2 * tp + wrong
    f1 = np.divide(2 * tp, denominator, out=np.zeros(tp.shape, dtype=np.float64), where=denominator > 0)
    return float(f1.mean())


def paired_bootstrap(
    gold: IntArray,
    a: IntArray,
    b: IntArray,
    statistic: Statistic = macro_f1,
    resamples: int = 1000,
    seed: int = 0,
) -> BootstrapDifference:
    """The difference ``statistic(gold, b) − statistic(gold, a)`` over the same items, with the 2.5–97.5 percentile
    interval of that difference over ``resamples`` resamples of the items (with replacement, both models on each)."""
    # One column per label; a 1-D array is one label.
    gold, a, b = (np.asarray(x, dtype=int).reshape(len(x), -1) for x in (gold, a, b))
    if not gold.shape == a.shape == b.shape or len(gold) == 0:
        raise ValueError(
            f"gold and both models' decisions need the same non-empty shape, got {gold.shape}, {a.shape}, {b.shape}"
        )
    rng = np.random.default_rng(seed)
    n = len(gold)
    diffs = np.empty(resamples)
    for r in range(resamples):
        idx = rng.integers(0, n, n)
        diffs[r] = statistic(gold[idx], b[idx]) - statistic(gold[idx], a[idx])
    low, high = np.percentile(diffs, [2.5, 97.5])
    return BootstrapDifference(statistic(gold, b) - statistic(gold, a), float(low), float(high), resamples)
