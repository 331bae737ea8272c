"""Decision thresholds from resampled dev (``training.metrics.bagged_threshold``)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from training.metrics import _THRESHOLD_GRID, _f1_per_threshold, bagged_threshold, best_threshold


def _draw(rng: np.random.Generator, n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """A rare signal: positives score ~Beta(4, 3), negatives ~Beta(1, 6)."""
    y = (rng.random(n) < rate).astype(int)
    p = np.where(y == 1, rng.beta(4, 3, n), rng.beta(1, 6, n))
    return y, p


def test_the_vectorised_f1_is_sklearns_at_every_threshold():
    rng = np.random.default_rng(1)
    for n, rate in ((40, 0.1), (200, 0.3), (15, 0.0)):
        y, p = _draw(rng, n, rate)
        expected = [f1_score(y, p >= t, zero_division=0) for t in _THRESHOLD_GRID]
        assert np.allclose(_f1_per_threshold(y, p), expected)


def test_the_same_seed_gives_the_same_threshold_and_no_positives_give_one_half():
    y, p = _draw(np.random.default_rng(2), 120, 0.1)
    assert bagged_threshold(y, p, 50, seed=3) == bagged_threshold(y, p, 50, seed=3)
    assert bagged_threshold(np.zeros(20, int), np.linspace(0, 1, 20), 50, seed=3) == 0.5
    assert 0.05 <= bagged_threshold(y, p, 50, seed=3) <= 0.95


def test_on_small_dev_parts_the_resampled_threshold_generalises_better():
    """Choose on 200 small dev parts (150 items, ~10 % positive), score F1 on one large part of the same kind: the
    median over resamples does better on average than the single best threshold, which chases single items."""
    rng = np.random.default_rng(4)
    y_big, p_big = _draw(rng, 50_000, 0.1)
    single, bagged = [], []
    for k in range(200):
        y, p = _draw(rng, 150, 0.1)
        single.append(f1_score(y_big, p_big >= best_threshold(y, p)))
        bagged.append(f1_score(y_big, p_big >= bagged_threshold(y, p, 50, seed=k)))
    assert np.mean(bagged) > np.mean(single)
    assert np.std(bagged) < np.std(single)


def test_threshold_resamples_is_validated(tmp_path):
    from pydantic import ValidationError

    from tests.fixtures.tiny_corpus import tiny_minilm_config

    assert tiny_minilm_config("t", tmp_path).threshold_resamples == 0  # the single best threshold, as before
    assert tiny_minilm_config("t", tmp_path, threshold_resamples=50).threshold_resamples == 50
    with pytest.raises(ValidationError, match="threshold_resamples"):
        tiny_minilm_config("t", tmp_path, threshold_resamples=-1)


def test_choose_thresholds_takes_the_resampled_threshold_of_each_signal():
    from threatscore.scorer import ScorerConfig
    from threatscore.taxonomy import SIGNALS
    from training.minilm import Targets, choose_thresholds

    rng = np.random.default_rng(5)
    n = 150
    drawn = [_draw(rng, n, 0.1) for _ in SIGNALS]
    signals = np.stack([p for _, p in drawn], axis=1)
    targets = Targets(
        relevance=np.ones(n),
        relevance_weight=np.ones(n),
        signals=np.stack([y for y, _ in drawn], axis=1).astype(float),
        signal_weight=np.ones((n, len(SIGNALS))),
        event_types=np.full(n, -100),
        severity=np.full(n, -100),
        resurgence=np.full(n, np.nan),
        resurgence_weight=np.zeros(n),
    )
    metrics: dict[str, float] = {}
    config = choose_thresholds(ScorerConfig(name="t"), None, targets, signals, np.ones(n), metrics, 40, 11)
    differs = 0
    for j, name in enumerate(SIGNALS):
        if name == "mass_casualty":
            assert config.signal_thresholds[name] == 0.5  # served as the high-severity probability
            continue
        y = drawn[j][0]
        assert config.signal_thresholds[name] == bagged_threshold(y, signals[:, j], 40, 11 + j)
        assert metrics[f"dev.signal.{name}.threshold"] == config.signal_thresholds[name]
        differs += config.signal_thresholds[name] != best_threshold(y, signals[:, j])
    assert differs  # the resampled choice is not the single best one everywhere


def test_threshold_cv_scores_both_methods_on_held_out_halves():
    import pandas as pd

    from threatscore.taxonomy import SIGNALS
    from training.threshold_cv import NOT_CHOSEN, threshold_cv

    rng = np.random.default_rng(6)
    drawn = {s: _draw(rng, 160, 0.1) for s in SIGNALS}
    labels = pd.DataFrame({s: y for s, (y, _) in drawn.items()})
    proba = pd.DataFrame({s: p for s, (_, p) in drawn.items()})
    table = threshold_cv(labels, proba, repeats=15, resamples=30, seed=0)
    assert list(table.columns) == ["single", "resampled"]
    assert set(table.index) == {s for s in SIGNALS if s not in NOT_CHOSEN} | {"mean"}
    assert ((table >= 0) & (table <= 1)).all().all()
    assert table.loc["mean", "resampled"] > table.loc["mean", "single"]  # as on the synthetic parts above
