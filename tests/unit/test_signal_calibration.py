"""The per-signal calibration table: ECE beside the proper scores, per model, and a mean row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from threatscore.taxonomy import SIGNALS
from training.signal_calibration import calibration_table, to_markdown


def _labels(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({s: rng.random(n) < 0.2 for s in SIGNALS}).astype(int)


def test_a_sharper_calibrated_model_wins_on_the_proper_scores():
    labels = _labels()
    rng = np.random.default_rng(5)
    base_rate = pd.DataFrame({s: np.full(len(labels), labels[s].mean()) for s in SIGNALS})  # calibrated, not sharp
    # calibrated and sharp: 0.9 on positives, 0.05 on negatives, with a little noise
    sharp = labels.astype(float) * 0.85 + 0.05 + rng.normal(0, 0.01, labels.shape)
    table = calibration_table(labels, {"base": base_rate, "sharp": sharp.clip(0, 1)}).set_index(["signal", "model"])
    for signal in (*SIGNALS, "mean"):
        assert table.loc[(signal, "sharp"), "log_loss"] < table.loc[(signal, "base"), "log_loss"]
        assert table.loc[(signal, "sharp"), "brier"] < table.loc[(signal, "base"), "brier"]
    assert table.loc[(SIGNALS[0], "base"), "ece"] == pytest.approx(0.0, abs=1e-9)  # the base rate is calibrated
    assert table.loc[(SIGNALS[0], "base"), "positives"] == labels[SIGNALS[0]].sum()
    mean = table.xs("base", level="model").drop(index="mean")["ece"].mean()
    assert table.loc[("mean", "base"), "ece"] == pytest.approx(mean)


def test_a_served_zero_on_a_positive_is_a_large_finite_loss():
    labels = _labels(50)
    zeros = pd.DataFrame(0.0, index=labels.index, columns=list(SIGNALS))
    table = calibration_table(labels, {"zeros": zeros})
    assert np.isfinite(table["log_loss"]).all() and (table["log_loss"] > 0.5).all()


def test_probabilities_must_be_indexed_like_the_labels():
    labels = _labels(20)
    shifted = pd.DataFrame(0.2, index=labels.index + 1, columns=list(SIGNALS))
    with pytest.raises(ValueError, match="m: probabilities are not indexed like the labels"):
        calibration_table(labels, {"m": shifted})


def test_markdown_has_a_cell_per_model_and_a_mean_row():
    labels = _labels(60)
    half = pd.DataFrame(0.5, index=labels.index, columns=list(SIGNALS))
    text = to_markdown(calibration_table(labels, {"a": half, "b": half}))
    lines = text.splitlines()
    assert lines[0] == "| signal | positives | `a` ECE / log loss / Brier | `b` ECE / log loss / Brier |"
    assert len(lines) == 2 + len(SIGNALS) + 1 and lines[-1].startswith("| mean | ")
    assert "0.6931" in lines[2]  # log loss of 0.5 is ln 2


def test_mean_proper_scores_average_the_labels_and_clip_served_zeros():
    from training.metrics import SERVED_EPS, mean_proper_scores

    gold = {"a": np.array([1, 0]), "b": np.array([0, 0])}
    proba = {"a": np.array([0.0, 0.0]), "b": np.array([0.5, 0.5])}
    scores = mean_proper_scores(gold, proba)
    # a: a served 0.0 on the positive costs -ln(SERVED_EPS) on one of two items; b: ln 2 on each item
    expected_log_loss = (-np.log(SERVED_EPS) / 2 + np.log(2)) / 2
    assert scores["mean_log_loss"] == pytest.approx(expected_log_loss, rel=1e-3)
    assert scores["mean_brier"] == pytest.approx((0.5 + 0.25) / 2)
