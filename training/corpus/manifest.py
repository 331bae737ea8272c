"""The build manifest: input checksums, counts, and a content hash of the corpus.

Two copies are written: ``<out_dir>/manifest.json`` (with the build time) and the committed
``data/manifest.json`` (the same minus anything time-dependent, so a rebuild of the same inputs does not
change it). Neither holds any source text.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from training.corpus.schema import BINARY_LABEL_COLUMNS, CATEGORICAL_LABELS, SPLITS

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1
#: Keys present only in the processed manifest (time-dependent).
VOLATILE_KEYS = ("built_at", "build_seconds")


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_checksums(raw_dir: Path, files: Iterable[Path]) -> dict[str, str]:
    """Relative path (POSIX) -> sha256 for every input file, sorted by path."""
    return {p.relative_to(raw_dir).as_posix(): sha256_file(p) for p in sorted(set(files))}


def frame_content_hash(df: pd.DataFrame, columns: Iterable[str]) -> str:
    """A stable SHA-256 over the given columns of a frame, rows ordered by ``id``.

    Values are rendered as text (missing -> empty), one tab-separated line per row, so the hash depends on
    content only, not on the parquet writer's version.
    """
    cols = list(columns)
    ordered = df.sort_values("id", kind="stable")
    h = hashlib.sha256()
    h.update(("\t".join(cols) + "\n").encode())
    rendered = [ordered[c].astype("string").fillna("") for c in cols]
    for values in zip(*rendered, strict=True):
        h.update(("\t".join(values) + "\n").encode("utf-8"))
    return h.hexdigest()


def label_counts(corpus: pd.DataFrame) -> dict[str, Any]:
    """Per label and split: positives, negatives and missing (binary labels) or per-class counts."""
    out: dict[str, Any] = {}
    for col in BINARY_LABEL_COLUMNS:
        out[col] = {}
        for s in SPLITS:
            v = corpus.loc[corpus["split"] == s, col]
            out[col][s] = {"1": int((v == 1).sum()), "0": int((v == 0).sum()), "missing": int(v.isna().sum())}
    for col in CATEGORICAL_LABELS:
        out[col] = {}
        for s in SPLITS:
            counts = corpus.loc[corpus["split"] == s, col].value_counts()
            out[col][s] = {str(k): int(v) for k, v in sorted(counts.items())}
    return out


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A manifest file's content, or None when absent or unreadable."""
    if not path.exists():
        return None
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        logger.warning("cannot read manifest %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def warn_on_input_changes(committed: Mapping[str, Any] | None, inputs: Mapping[str, str], path: Path) -> list[str]:
    """Log a warning for every input whose checksum differs from the committed manifest (or that appeared or
    disappeared). Returns the changed paths."""
    if not committed or "inputs" not in committed:
        return []
    old: Mapping[str, str] = committed["inputs"]
    changed = sorted(k for k in set(old) & set(inputs) if old[k] != inputs[k])
    added = sorted(set(inputs) - set(old))
    removed = sorted(set(old) - set(inputs))
    for k in changed:
        logger.warning("input %s changed since %s (sha256 %s... -> %s...)", k, path, old[k][:12], inputs[k][:12])
    for k in added:
        logger.warning("input %s is new since %s", k, path)
    for k in removed:
        logger.warning("input %s listed in %s is no longer read", k, path)
    return changed + added + removed


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON deterministically (insertion order, 2-space indent, trailing newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def without_volatile(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest minus the time-dependent keys (what is committed)."""
    return {k: v for k, v in manifest.items() if k not in VOLATILE_KEYS}
