"""Metrics shared by training (threshold choice, dev scores) and evaluation (benchmark tables)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import brier_score_loss, f1_score, log_loss, precision_recall_fscore_support

#: The decision thresholds a signal's threshold is chosen from.
_THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


def best_threshold(y_true: ArrayLike, proba: ArrayLike) -> float:
    """The decision threshold in [0.05, 0.95] that maximises F1 on (dev) data; 0.5 when there are no positives."""
    y = np.asarray(y_true)
    p = np.asarray(proba)
    if y.sum() == 0:
        return 0.5
    scores = [f1_score(y, p >= t, zero_division=0) for t in _THRESHOLD_GRID]
    return float(_THRESHOLD_GRID[int(np.argmax(scores))])


def bagged_threshold(y_true: ArrayLike, proba: ArrayLike, resamples: int, seed: int) -> float:
    """The median, over ``resamples`` bootstrap resamples of the data, of the F1-best threshold in [0.05, 0.95]
    (resamples without a positive are skipped; 0.5 when there are no positives at all).

    On a dev part with a dozen positives, the best threshold of the one sample jumps with a single item (version 8
    chose 0.15 for recruitment on 15 positives); the median over resamples is steadier. In two-fold cross-validation
    on the gold dev part (``python -m training.threshold_cv``: 20 random halvings, choose on one half, F1 on the
    other), the signals' mean held-out F1 rose from 0.571 to 0.577 for version 6 and from 0.606 to 0.617 for version 8
    (experiments/RESULTS.md, "Thresholds from resampled dev"); on the gold test part version 11 showed no gain
    (macro F1 0.623 → 0.618), so experiments leave it off unless they set ``threshold_resamples``."""
    y = np.asarray(y_true).astype(int)
    p = np.asarray(proba, dtype=np.float64)
    if y.sum() == 0:
        return 0.5
    rng = np.random.default_rng(seed)
    chosen = []
    for _ in range(resamples):
        i = rng.integers(0, len(y), len(y))
        if y[i].sum() == 0:
            continue
        f1 = _f1_per_threshold(y[i], p[i])
        chosen.append(_THRESHOLD_GRID[int(np.argmax(f1))])
    return float(np.median(chosen)) if chosen else best_threshold(y, p)


def _f1_per_threshold(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """F1 at each threshold of ``_THRESHOLD_GRID`` (0 where nothing is predicted or nothing is positive), vectorised."""
    predicted = p[None, :] >= _THRESHOLD_GRID[:, None]
    tp = (predicted & (y[None, :] == 1)).sum(axis=1)
    fp = predicted.sum(axis=1) - tp
    fn = y.sum() - tp
    return np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)


def binary_log_loss(y_true: ArrayLike, proba: ArrayLike, eps: float = 1e-7) -> float:
    """Binary log loss with probabilities kept ``eps`` away from 0 and 1 (a hard 0 or 1 would make it infinite)."""
    return float(
        log_loss(np.asarray(y_true), np.clip(np.asarray(proba, dtype=np.float64), eps, 1 - eps), labels=[0, 1])
    )


#: Served probabilities are rounded to four decimals, so a served 0.0 means "below 0.00005": the log loss of served
#: scores clips them this far from 0 and 1.
SERVED_EPS = 1e-4
#: The key of ``mean_proper_scores``'s mean log loss, which a benchmark row carries and the retraining gate reads.
MEAN_LOG_LOSS = "mean_log_loss"


def mean_proper_scores(gold: Mapping[str, ArrayLike], proba: Mapping[str, ArrayLike]) -> dict[str, float]:
    """``mean_log_loss`` and ``mean_brier`` over the labels of ``gold`` (0/1 per item) and ``proba`` (served
    probabilities, the same keys and items): proper scoring rules, which reward probabilities for being calibrated and
    sharp at once."""
    losses = [binary_log_loss(gold[k], proba[k], eps=SERVED_EPS) for k in gold]
    briers = [float(brier_score_loss(np.asarray(gold[k]), np.asarray(proba[k]), pos_label=1)) for k in gold]
    return {MEAN_LOG_LOSS: float(np.mean(losses)), "mean_brier": float(np.mean(briers))}


def best_f1(y_true: ArrayLike, proba: ArrayLike) -> float:
    """F1 at the ``best_threshold`` of the same data: how well ``proba`` can separate the labels on (dev) data."""
    y = np.asarray(y_true)
    p = np.asarray(proba)
    return float(f1_score(y, p >= best_threshold(y, p), zero_division=0))


def expected_calibration_error(y_true: ArrayLike, proba: ArrayLike, bins: int = 10) -> float:
    """ECE with equal-width bins: the support-weighted gap between mean confidence and observed frequency."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(proba, dtype=float)
    if len(y) == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            gap += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(gap)


def per_label_report(
    y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[Any]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per label (support = gold count), for labels with any gold or predicted row."""
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(labels), zero_division=0)
    return {
        str(label): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, label in enumerate(labels)
    }


def binary_report(y_true: ArrayLike, proba: ArrayLike, threshold: float) -> dict[str, float]:
    """P/R/F1/support/ECE of one binary label at a threshold."""
    y = np.asarray(y_true, dtype=int)
    pred = (np.asarray(proba) >= threshold).astype(int)
    p, r, f, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
    return {
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
        "support": int(y.sum()),
        "n": len(y),
        "ece": expected_calibration_error(y, proba),
    }
