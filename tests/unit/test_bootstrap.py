"""Paired bootstrap of benchmark differences (training.bootstrap) and its table in the side-by-side report."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from threatscore.taxonomy import SIGNALS
from training.bootstrap import macro_f1, paired_bootstrap
from training.evaluate import BenchmarkRow, EvaluationReport, render_side_by_side


def test_macro_f1_is_the_mean_of_column_f1s():
    gold = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    pred = np.array([[1, 0], [0, 1], [0, 0], [0, 0]])
    # column 0: P 1, R 0.5 -> 2/3; column 1: P 1, R 0.5 -> 2/3
    assert macro_f1(gold, pred) == pytest.approx(2 / 3)
    rng = np.random.default_rng(0)
    gold, pred = rng.integers(0, 2, (50, 4)), rng.integers(0, 2, (50, 4))
    gold[:, 3] = pred[:, 3] = 0  # a column with nothing to find and nothing found: 0, as scikit-learn's zero_division=0
    assert macro_f1(gold, pred) == pytest.approx(f1_score(gold, pred, average="macro", zero_division=0))


def test_the_same_decisions_differ_by_exactly_zero():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 2, (200, 3))
    pred = rng.integers(0, 2, (200, 3))
    diff = paired_bootstrap(gold, pred, pred, resamples=200)
    assert (diff.observed, diff.low, diff.high) == (0.0, 0.0, 0.0)


def test_a_clearly_better_model_has_an_interval_above_zero_and_a_close_one_an_interval_around_it():
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 2, (300, 2))
    noisy = np.where(rng.random(gold.shape) < 0.4, 1 - gold, gold)  # 40 % of decisions flipped
    better = np.where(rng.random(gold.shape) < 0.05, 1 - gold, gold)  # 5 % flipped
    diff = paired_bootstrap(gold, noisy, better, resamples=300)
    assert 0 < diff.low < diff.observed < diff.high
    assert diff.observed == pytest.approx(macro_f1(gold, better) - macro_f1(gold, noisy))
    close = np.where(rng.random(gold.shape) < 0.41, 1 - gold, gold)
    near = paired_bootstrap(gold, noisy, close, resamples=300)
    assert near.low < 0 < near.high
    # seeded: the same interval every time; one label may come as a 1-D array
    assert paired_bootstrap(gold, noisy, better, resamples=300) == diff
    one = paired_bootstrap(gold[:, 0], noisy[:, 0], better[:, 0], resamples=50)
    assert one == paired_bootstrap(gold[:, :1], noisy[:, :1], better[:, :1], resamples=50)


def test_shapes_must_match():
    with pytest.raises(ValueError, match="same non-empty shape"):
        paired_bootstrap(np.zeros((5, 2)), np.zeros((5, 2)), np.zeros((4, 2)))


def _decisions(ids: list[str], gold: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    names = [*SIGNALS, "resurgence"]
    return pd.DataFrame(
        {
            **{f"gold.{n}": gold[:, j] for j, n in enumerate(names)},
            **{f"pred.{n}": pred[:, j] for j, n in enumerate(names)},
        },
        index=pd.Index(ids, name="id"),
    )


def test_the_side_by_side_report_compares_each_model_with_the_first_on_shared_items():
    rng = np.random.default_rng(3)
    ids = [f"x:{i}" for i in range(120)]
    gold = rng.integers(0, 2, (120, len(SIGNALS) + 1))
    rows = [BenchmarkRow("signals (gold test part)", "d", "macro F1", 0.5, 120)]
    first = EvaluationReport(rows, "models:/m/1", gold_decisions=_decisions(ids, gold, gold))
    flipped = np.where(rng.random(gold.shape) < 0.3, 1 - gold, gold)
    # The second model scored 20 items fewer: only the 100 both scored are compared.
    second = EvaluationReport(rows, "models:/m/2", gold_decisions=_decisions(ids[:100], gold[:100], flipped[:100]))
    no_gold = EvaluationReport(rows, "models:/m/3")
    text = render_side_by_side([first, second, no_gold])
    assert "## Gold test part: each model against `models:/m/1`" in text
    (line,) = [ln for ln in text.splitlines() if ln.startswith("| `models:/m/2`")]
    expected = paired_bootstrap(gold[:100, :-1], gold[:100, :-1], flipped[:100, :-1])
    assert f"| 100 | {expected.render()} |" in line
    assert expected.high < 0  # a perfect first model beats 30 % flipped decisions
    assert "models:/m/3" not in text.split("## Gold test part")[1]
    assert "## Gold test part" not in render_side_by_side([first, no_gold])
