"""``CorpusSummary``: what a build produced, as counts, and as the plain-text table the CLI prints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from training.corpus.schema import BINARY_LABEL_COLUMNS, CATEGORICAL_LABELS, SPLITS


@dataclass(frozen=True)
class CorpusSummary:
    """Counts of a corpus build.

    ``rows``: source -> split -> rows. ``labels``: binary label -> split -> (positives, negatives); rows
    where the label is missing are in neither. ``categorical``: ``event_type``/``sub_event_type`` -> split ->
    labelled rows. ``duplicates_removed``: source -> exact duplicates of that source dropped.
    ``moved_by_group``: rows whose split was changed to keep a near-duplicate group together.
    ``benchmarks``: benchmark -> split -> rows.
    """

    rows: Mapping[str, Mapping[str, int]]
    labels: Mapping[str, Mapping[str, tuple[int, int]]]
    categorical: Mapping[str, Mapping[str, int]]
    duplicates_removed: Mapping[str, int] = field(default_factory=dict)
    moved_by_group: int = 0
    benchmarks: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All rows of the corpus."""
        return sum(sum(by_split.values()) for by_split in self.rows.values())

    def split_totals(self) -> dict[str, int]:
        """Rows per split over all sources."""
        return {s: sum(by.get(s, 0) for by in self.rows.values()) for s in SPLITS}

    def render(self) -> str:
        """The summary as a plain-text table (what ``threatscore data build`` prints)."""
        return render_summary(self)

    def __str__(self) -> str:
        return self.render()


def summarise(
    corpus: pd.DataFrame,
    duplicates_removed: Mapping[str, int],
    moved_by_group: int,
    benchmarks: Mapping[str, Mapping[str, int]],
) -> CorpusSummary:
    """Count a built corpus frame."""
    rows: dict[str, dict[str, int]] = {}
    for source, part in corpus.groupby("source", sort=True):
        counts = part["split"].value_counts()
        rows[str(source)] = {s: int(counts.get(s, 0)) for s in SPLITS}
    for source in duplicates_removed:  # a source whose every row duplicated another source's
        rows.setdefault(source, dict.fromkeys(SPLITS, 0))
    rows = dict(sorted(rows.items()))
    labels: dict[str, dict[str, tuple[int, int]]] = {}
    for col in BINARY_LABEL_COLUMNS:
        by: dict[str, tuple[int, int]] = {}
        for s in SPLITS:
            values = corpus.loc[corpus["split"] == s, col]
            by[s] = (int((values == 1).sum()), int((values == 0).sum()))
        labels[col] = by
    categorical = {
        col: {s: int(corpus.loc[corpus["split"] == s, col].notna().sum()) for s in SPLITS} for col in CATEGORICAL_LABELS
    }
    return CorpusSummary(
        rows=rows,
        labels=labels,
        categorical=categorical,
        duplicates_removed=dict(sorted(duplicates_removed.items())),
        moved_by_group=moved_by_group,
        benchmarks={k: dict(v) for k, v in sorted(benchmarks.items())},
    )


def render_summary(summary: CorpusSummary) -> str:
    """Plain-text tables: rows by source and split, label coverage by split, benchmarks."""
    lines: list[str] = []
    width = max([len("source"), *(len(s) for s in summary.rows)]) + 2
    head = f"{'source':<{width}}" + "".join(f"{s:>9}" for s in (*SPLITS, "total")) + f"{'dup-removed':>13}"
    lines += ["Rows by source and split", head, "-" * len(head)]
    for source, by in summary.rows.items():
        total = sum(by.values())
        lines.append(
            f"{source:<{width}}"
            + "".join(f"{by.get(s, 0):>9,}" for s in SPLITS)
            + f"{total:>9,}"
            + f"{summary.duplicates_removed.get(source, 0):>13,}"
        )
    totals = summary.split_totals()
    lines.append("-" * len(head))
    lines.append(
        f"{'TOTAL':<{width}}"
        + "".join(f"{totals[s]:>9,}" for s in SPLITS)
        + f"{summary.total:>9,}"
        + f"{sum(summary.duplicates_removed.values()):>13,}"
    )
    lines.append(f"rows moved to keep near-duplicate groups in one split: {summary.moved_by_group:,}")

    lines += ["", "Labels by split (positive / negative; rows with the label missing are not counted)"]
    lw = max(len(c) for c in (*summary.labels, *summary.categorical)) + 2
    head2 = f"{'label':<{lw}}" + "".join(f"{s:>18}" for s in SPLITS)
    lines += [head2, "-" * len(head2)]
    for col, pos_neg in summary.labels.items():
        cells = "".join(f"{f'{pos_neg[s][0]:,} / {pos_neg[s][1]:,}':>18}" for s in SPLITS)
        lines.append(f"{col:<{lw}}{cells}")
    for col, by_split in summary.categorical.items():
        cells = "".join(f"{f'{by_split[s]:,} labelled':>18}" for s in SPLITS)
        lines.append(f"{col:<{lw}}{cells}")

    if summary.benchmarks:
        lines += ["", "Benchmarks (ConfliBERT's own splits; rows)"]
        bw = max(len(b) for b in summary.benchmarks) + 2
        head3 = f"{'benchmark':<{bw}}" + "".join(f"{s:>9}" for s in SPLITS)
        lines += [head3, "-" * len(head3)]
        for name, by in summary.benchmarks.items():
            lines.append(f"{name:<{bw}}" + "".join(f"{by.get(s, 0):>9,}" for s in SPLITS))
    return "\n".join(lines)
