"""How each part of a blended model ranks the gold items, per signal: the encoder alone, the lexical heads alone
(TF-IDF heads and keyword rules) and their blend as served.

A blend's signal probability is a weighted average of the two parts (``threatscore.heads.BlendedHeads``), one share
for all signals. Where one part ranks a signal's items worse than chance, the average can rank them worse than the
other part alone: this report shows where. ROC AUC and average precision need no threshold, so they compare the
parts as rankers (the served decision also depends on the per-signal thresholds chosen on dev).

``python -m training.blend_parts MODEL_URI [--part dev]`` (choose on dev; the test part is for reporting).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from threatscore.heads import BlendedHeads
from threatscore.taxonomy import SIGNALS

PARTS = ("encoder", "lexical", "blend")


def part_rankings(heads: BlendedHeads, texts: Sequence[str], labels: pd.DataFrame) -> pd.DataFrame:
    """One row per signal with positives and negatives among ``labels`` (columns ``sig_<signal>``, one row per
    text): positives, and ROC AUC and average precision of each part's probabilities."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} label rows")
    # Each part reads the texts once; the blend is their mix (what ``BlendedHeads.predict`` computes).
    encoder, lexical = heads.encoder.predict(texts), heads.lexical.predict(texts)
    probabilities = {
        "encoder": encoder.signals,
        "lexical": lexical.signals,
        "blend": heads.mix(encoder, lexical).signals,
    }
    rows = []
    for j, signal in enumerate(SIGNALS):
        y = labels[f"sig_{signal}"].to_numpy(dtype=int)
        if y.min() == y.max():
            continue  # AUC needs both classes
        row: dict[str, object] = {"signal": signal, "positives": int(y.sum())}
        for part, proba in probabilities.items():
            row[f"{part}_auc"] = float(roc_auc_score(y, proba[:, j]))
            row[f"{part}_ap"] = float(average_precision_score(y, proba[:, j]))
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """The table as Markdown; the best part's AUC in bold."""
    lines = [
        "| signal | positives | encoder AUC / AP | lexical AUC / AP | blend AUC / AP |",
        "|---|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        best = max(PARTS, key=lambda p: getattr(row, f"{p}_auc"))
        cells = []
        for part in PARTS:
            auc, ap = getattr(row, f"{part}_auc"), getattr(row, f"{part}_ap")
            cells.append(f"**{auc:.2f}** / {ap:.2f}" if part == best else f"{auc:.2f} / {ap:.2f}")
        lines.append(f"| {row.signal} | {row.positives} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table for a model URI on a part of the gold set."""
    from threatscore.registry import configure_tracking, load_model
    from threatscore.settings import get_settings
    from training.annotation import ANNOTATIONS, load_annotations
    from training.corpus import load_corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--part", default="dev", choices=("train", "dev", "test"))
    parser.add_argument("--processed", type=Path, default=Path("data/processed"))
    parser.add_argument("--annotations", type=Path, default=ANNOTATIONS)
    args = parser.parse_args(argv)
    configure_tracking(get_settings())
    heads = load_model(args.model).pyfunc.unwrap_python_model().scorer.heads
    if not isinstance(heads, BlendedHeads):
        sys.stderr.write(f"{args.model} is not a blend ({type(heads).__name__}): nothing to compare\n")
        return 2
    gold = load_annotations(args.annotations)
    gold = gold[gold["part"] == args.part].drop_duplicates("id")
    corpus = load_corpus(args.processed)[["id", "text"]]
    items = gold.merge(corpus, on="id")
    missing = len(gold) - len(items)
    if missing:
        sys.stderr.write(f"{missing} gold items are not in the corpus and are left out\n")
    table = part_rankings(heads, items["text"].tolist(), items)
    sys.stdout.write(f"{args.model}, gold {args.part} part ({len(items)} items)\n\n{to_markdown(table)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
