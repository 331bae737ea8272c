"""How well the fatality rule (``threatscore.fatalities``) reads the corpus rows that carry a gold death count.

The rule is the same in every model, so no model URI is needed. Per source: the share of rows where the text
yields a count, the share whose count equals the gold one, and the share whose count falls in the gold count's
severity level; a text with no count reads as 0, as ``severity`` then rests on the model's head alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from threatscore.fatalities import total_fatalities
from threatscore.taxonomy import severity_level


@dataclass(frozen=True, slots=True)
class FatalityScore:
    """One source's rows: how many, with a count found, with the exact count, with the right severity level."""

    source: str
    rows: int
    found: int
    exact: int
    level: int

    def share(self, value: int) -> float:
        """``value`` as a share of the rows (0 for no rows)."""
        return value / self.rows if self.rows else 0.0


def evaluate_fatalities(rows: pd.DataFrame) -> list[FatalityScore]:
    """Score ``total_fatalities`` on ``rows`` (columns ``source``, ``text``, ``fatalities``), per source."""
    scores = []
    for source, group in rows.groupby("source", sort=True):
        found = exact = level = 0
        for text, gold_value in zip(group["text"], group["fatalities"], strict=True):
            gold = int(gold_value)
            count = total_fatalities(str(text))
            found += count is not None
            exact += (count or 0) == gold
            level += severity_level(count or 0) == severity_level(gold)
        scores.append(FatalityScore(str(source), len(group), found, exact, level))
    return scores


def render(scores: list[FatalityScore], title: str) -> str:
    """The per-source table as Markdown."""
    lines = [
        f"## {title}",
        "",
        "| source | rows | count found | exact count | severity level of the count |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in scores:
        lines.append(
            f"| {s.source} | {s.rows} | {s.share(s.found):.3f} | {s.share(s.exact):.3f} | {s.share(s.level):.3f} |"
        )
    return "\n".join(lines) + "\n"


def corpus_fatalities(processed_dir: Path, split: str) -> pd.DataFrame:
    """The processed corpus's rows of ``split`` with a gold fatality count (ACLED, ISAF, UCDP Syria)."""
    from training.corpus import load_corpus

    corpus = load_corpus(processed_dir)
    rows = corpus[(corpus["split"] == split) & corpus["fatalities"].notna()]
    return rows[["id", "source", "text", "fatalities"]].reset_index(drop=True)
