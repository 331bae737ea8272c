"""How each version of the keyword rules does on the gold items: per signal, the items a rule fires on, its
precision and its recall, one row per (signal, version, gold part).

A rule is one of the blend's two parts and the evidence it quotes is the sentence it fired on, so its precision is
what an analyst reads. Choose rules on the train and dev parts; the test part is for reporting.

``python -m training.rule_precision [--versions 1 2] [--parts train dev]``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from threatscore.rules import RULE_VERSIONS, rule_fires
from threatscore.taxonomy import SIGNALS
from threatscore.text import sentences


def rule_precision(items: pd.DataFrame, versions: Sequence[int]) -> pd.DataFrame:
    """One row per (signal, version, part) for ``items`` (columns ``text``, ``part`` and ``sig_<signal>``, one row
    per item): ``items``, ``positives``, ``hits`` (items the rule fires on), ``true_hits``, ``precision`` (NaN when
    it fires on none) and ``recall`` (NaN without positives)."""
    split = [sentences(t) for t in items["text"]]
    rows = []
    for version in versions:
        for signal in SIGNALS:
            if signal not in RULE_VERSIONS[version]:
                continue
            fired = pd.Series(
                [any(rule_fires(signal, s, version) for s in sents) for sents in split], index=items.index
            )
            for part, group in items.groupby("part", sort=True):
                gold = group[f"sig_{signal}"].astype(int)
                hit = fired[group.index]
                true_hits = int((hit & (gold == 1)).sum())
                rows.append(
                    {
                        "signal": signal,
                        "version": version,
                        "part": part,
                        "items": len(group),
                        "positives": int(gold.sum()),
                        "hits": int(hit.sum()),
                        "true_hits": true_hits,
                        "precision": true_hits / hit.sum() if hit.any() else float("nan"),
                        "recall": true_hits / gold.sum() if gold.any() else float("nan"),
                    }
                )
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """The table as Markdown: a row per signal, a ``hits · P · R`` cell per (part, version)."""
    columns = sorted({(p, v) for p, v in zip(table["part"], table["version"], strict=True)})
    lines = [
        "| signal | positives ("
        + " / ".join(sorted(set(table["part"])))
        + ") | "
        + " | ".join(f"{p} v{v}: hits · P · R" for p, v in columns)
        + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for signal, group in table.groupby("signal", sort=False):
        cells = []
        for part, version in columns:
            row = group[(group["part"] == part) & (group["version"] == version)]
            cells.append(
                "–"
                if row.empty
                else f"{int(row['hits'].iloc[0])} · {row['precision'].iloc[0]:.2f} · {row['recall'].iloc[0]:.2f}"
            )
        positives = " / ".join(str(int(n)) for n in group.drop_duplicates("part")["positives"])
        lines.append(f"| {signal} | {positives} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table for the gold parts asked for."""
    from training.annotation import ANNOTATIONS, load_annotations
    from training.corpus import load_corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, nargs="+", default=sorted(RULE_VERSIONS), choices=sorted(RULE_VERSIONS))
    parser.add_argument("--parts", nargs="+", default=["train", "dev"], choices=("train", "dev", "test"))
    parser.add_argument("--processed", type=Path, default=Path("data/processed"))
    parser.add_argument("--annotations", type=Path, default=ANNOTATIONS)
    args = parser.parse_args(argv)
    gold = load_annotations(args.annotations)
    gold = gold[gold["part"].isin(args.parts)].drop_duplicates("id")
    items = gold.merge(load_corpus(args.processed)[["id", "text"]], on="id")
    if len(items) < len(gold):
        sys.stderr.write(f"{len(gold) - len(items)} gold items are not in the corpus and are left out\n")
    table = rule_precision(items, args.versions)
    parts = " and ".join(args.parts)
    sys.stdout.write(f"keyword rules on the gold {parts} parts ({len(items)} items)\n\n{to_markdown(table)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
