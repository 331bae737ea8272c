"""Which way of choosing a signal's decision threshold generalises better on a gold part: the single F1-best
threshold, or the median of the best thresholds of bootstrap resamples (``training.metrics.bagged_threshold``).

Two-fold cross-validation on the part: split it in random halves ``repeats`` times, choose each signal's threshold on
one half with each method, and score F1 on the other half. It reads the served probabilities of a model and chooses
nothing for it; run it on dev, never on test.

``python -m training.threshold_cv models:/threatscore/6 [--part dev] [--repeats 20] [--resamples 50]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from threatscore.taxonomy import SIGNALS
from training.metrics import bagged_threshold, best_threshold

#: Signals whose served threshold is not chosen from its own column (the high-severity probability).
NOT_CHOSEN = ("mass_casualty",)


def threshold_cv(labels: pd.DataFrame, proba: pd.DataFrame, repeats: int, resamples: int, seed: int) -> pd.DataFrame:
    """Mean held-out F1 per signal (rows) of the ``single`` best threshold and the ``resampled`` one (columns), over
    ``repeats`` random halvings of the items, each half chosen on once and scored once."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    scores: dict[str, dict[str, list[float]]] = {s: {"single": [], "resampled": []} for s in SIGNALS}
    for r in range(repeats):
        order = rng.permutation(n)
        halves = (order[: n // 2], order[n // 2 :])
        for k, (choose, score) in enumerate((halves, halves[::-1])):
            for j, signal in enumerate(SIGNALS):
                if signal in NOT_CHOSEN:
                    continue
                y, p = labels[signal].to_numpy(dtype=int), proba[signal].to_numpy(dtype=float)
                chosen = {
                    "single": best_threshold(y[choose], p[choose]),
                    "resampled": bagged_threshold(y[choose], p[choose], resamples, seed + 100 * r + 10 * k + j),
                }
                for method, t in chosen.items():
                    scores[signal][method].append(f1_score(y[score], p[score] >= t, zero_division=0))
    table = pd.DataFrame(
        {m: {s: float(np.mean(v[m])) for s, v in scores.items() if v[m]} for m in ("single", "resampled")}
    )
    table.loc["mean"] = table.mean()
    return table


def main(argv: list[str] | None = None) -> int:
    """Score the gold part with the model and print the table."""
    from threatscore.registry import load_model
    from training.annotation import ANNOTATIONS
    from training.evaluate import gold_signal_labels, served_signal_probabilities

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model URI, e.g. models:/threatscore/6")
    parser.add_argument("--part", default="dev", choices=("train", "dev"))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--resamples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processed", type=Path, default=Path("data/processed"))
    parser.add_argument("--annotations", type=Path, default=ANNOTATIONS)
    args = parser.parse_args(argv)
    frame, labels = gold_signal_labels(args.processed, args.annotations, args.part)
    try:
        proba = served_signal_probabilities(load_model(args.model), frame, f"{args.part} part")
    except ValueError as err:
        sys.stderr.write(f"{err}\n")
        return 1
    table = threshold_cv(labels, proba, args.repeats, args.resamples, args.seed)
    lines = ["| signal | single best threshold | resampled |", "|---|---|---|"]
    lines += [f"| {s} | {row['single']:.3f} | {row['resampled']:.3f} |" for s, row in table.iterrows()]
    sys.stdout.write(
        f"{args.model}, gold {args.part} part ({len(labels)} items), held-out F1 over {args.repeats} × 2 halves\n\n"
        + "\n".join(lines)
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
