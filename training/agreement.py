"""Merging the annotators' parts into the gold set, and their agreement (Cohen's kappa) on the second pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sklearn.metrics import cohen_kappa_score

from threatscore.taxonomy import SIGNALS

TARGETS = (*SIGNALS, "resurgence")


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return row["source"], row["source_id"]


def _labels(row: dict[str, Any], target: str) -> int:
    return int(row["resurgence"] if target == "resurgence" else row["signals"][target])


def merge_parts(parts: list[Path], out: Path) -> int:
    """Write the primary annotators' rows (keyed by source and source_id, each once) to ``out``."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for part in parts:
        for row in _read(part):
            if _key(row) in rows:
                raise ValueError(f"{part}: item {_key(row)} annotated twice")
            rows[_key(row)] = row
    ordered = sorted(rows.values(), key=lambda r: (r["part"], r["source"], r["source_id"]))
    out.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in ordered), encoding="utf-8")
    return len(ordered)


def agreement(primary: Path, second: Path) -> dict[str, dict[str, float]]:
    """Per target: items compared, raw agreement, Cohen's kappa, positives in each pass."""
    first = {_key(r): r for r in _read(primary)}
    pairs = [(first[_key(r)], r) for r in _read(second) if _key(r) in first]
    report = {}
    for target in TARGETS:
        a = [_labels(x, target) for x, _ in pairs]
        b = [_labels(y, target) for _, y in pairs]
        same = sum(int(x == y) for x, y in zip(a, b, strict=True))
        kappa = cohen_kappa_score(a, b) if len(set(a) | set(b)) > 1 else float("nan")
        report[target] = {
            "n": len(pairs),
            "agreement": same / len(pairs),
            "kappa": float(kappa),
            "positives_first": sum(a),
            "positives_second": sum(b),
        }
    return report
