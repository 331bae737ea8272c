"""How well calibrated each model's signal probabilities are on a gold part, per signal: expected calibration error
(the number the retraining gate checks) beside log loss and Brier score (proper scoring rules, which reward a
probability for being both calibrated and sharp).

On a few dozen positives the binned ECE moves by a few thousandths when a handful of items change bins; the proper
scores say whether the probabilities as a whole got better. Choose on the dev part; the test part is for reporting.

``python -m training.signal_calibration models:/threatscore/6 models:/threatscore/8 [--part dev]``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from threatscore.taxonomy import SIGNALS
from training.metrics import MEAN_LOG_LOSS, expected_calibration_error, mean_proper_scores


def calibration_table(labels: pd.DataFrame, probabilities: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (signal, model): ``positives``, ``ece``, ``log_loss`` and ``brier``.

    ``labels`` has a 0/1 column per signal, one row per item; each frame of ``probabilities`` (keyed by model name)
    has the same columns and index, holding that model's served probabilities. Then a ``mean`` row per model."""
    rows = []
    for model, proba in probabilities.items():
        if not proba.index.equals(labels.index):
            raise ValueError(f"{model}: probabilities are not indexed like the labels")
        for signal in SIGNALS:
            y = labels[signal].to_numpy(dtype=int)
            p = proba[signal].to_numpy(dtype=float)
            proper = mean_proper_scores({signal: y}, {signal: p})  # of one label: that label's scores
            rows.append(
                {
                    "signal": signal,
                    "model": model,
                    "positives": int(y.sum()),
                    "ece": expected_calibration_error(y, p),
                    "log_loss": proper[MEAN_LOG_LOSS],
                    "brier": proper["mean_brier"],
                }
            )
    table = pd.DataFrame(rows)
    means = table.groupby("model", sort=False)[["ece", "log_loss", "brier"]].mean().reset_index()
    means["signal"] = "mean"
    means["positives"] = int(labels[list(SIGNALS)].to_numpy().sum())
    return pd.concat([table, means[table.columns]], ignore_index=True)


def to_markdown(table: pd.DataFrame) -> str:
    """The table as Markdown: a row per signal, an ``ECE / log loss / Brier`` cell per model."""
    models = list(dict.fromkeys(table["model"]))
    lines = [
        "| signal | positives | " + " | ".join(f"`{m}` ECE / log loss / Brier" for m in models) + " |",
        "|---|---|" + "---|" * len(models),
    ]
    for signal, group in table.groupby("signal", sort=False):
        cells = [
            "{ece:.4f} / {log_loss:.4f} / {brier:.4f}".format(**group[group["model"] == m].iloc[0].to_dict())
            for m in models
        ]
        lines.append(f"| {signal} | {int(group['positives'].iloc[0])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Score the gold part with each model and print the table."""
    from threatscore.registry import load_model
    from training.annotation import ANNOTATIONS
    from training.evaluate import gold_signal_labels, served_signal_probabilities

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model URIs, e.g. models:/threatscore/6")
    parser.add_argument("--part", default="dev", choices=("train", "dev", "test"))
    parser.add_argument("--processed", type=Path, default=Path("data/processed"))
    parser.add_argument("--annotations", type=Path, default=ANNOTATIONS)
    args = parser.parse_args(argv)
    frame, labels = gold_signal_labels(args.processed, args.annotations, args.part)
    try:
        probabilities = {
            uri: served_signal_probabilities(load_model(uri), frame, f"{args.part} part with {uri}")
            for uri in args.models
        }
    except ValueError as err:
        sys.stderr.write(f"{err}\n")
        return 1
    table = calibration_table(labels, probabilities)
    sys.stdout.write(f"signal calibration on the gold {args.part} part ({len(labels)} items)\n\n{to_markdown(table)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
