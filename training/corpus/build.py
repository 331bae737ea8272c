"""``build_corpus``: every raw source -> one deduplicated, split, labelled corpus plus the benchmarks."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from training.corpus import benchmarks as bench
from training.corpus.acled_scheme import DEFAULT_MAPPING_PATH
from training.corpus.manifest import (
    MANIFEST_VERSION,
    frame_content_hash,
    input_checksums,
    label_counts,
    read_manifest,
    sha256_file,
    warn_on_input_changes,
    without_volatile,
    write_json,
)
from training.corpus.schema import BINARY_LABEL_COLUMNS, CATEGORICAL_LABELS, COLUMNS, SPLITS, conform
from training.corpus.sources import INPUT_FILES, LOADERS
from training.corpus.splits import (
    DEV_SHARE,
    LEAD_TOKENS,
    SPLIT_POLICY,
    TEST_SHARE,
    connected_groups,
    drop_exact_duplicates,
    propose_splits,
    resolve_groups,
)
from training.corpus.summary import CorpusSummary, summarise
from training.corpus.textnorm import all_keys, fix_mojibake, text_key

logger = logging.getLogger(__name__)

CORPUS_FILE: Final = "corpus.parquet"
MANIFEST_FILE: Final = "manifest.json"

#: Columns whose values feed ``corpus_sha256`` (with ``text_key`` standing in for the text).
HASHED_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "split",
    "text_key",
    "fatalities",
    "country_code",
    "admin1",
    *BINARY_LABEL_COLUMNS,
    *CATEGORICAL_LABELS,
)

_ARROW_TYPES: Final[dict[str, pa.DataType]] = {
    "string": pa.string(),
    "datetime64[ns]": pa.date32(),
    "Int64": pa.int64(),
    "Int8": pa.int8(),
    "object": pa.list_(pa.string()),
}


class CorpusBuildError(RuntimeError):
    """The raw data broke an invariant of the corpus (duplicate ids, a text in two splits, ...)."""


def build_corpus(
    raw_dir: Path,
    out_dir: Path,
    *,
    show_progress: bool = True,
    committed_manifest: Path | None = None,
    write_committed_manifest: bool = True,
) -> CorpusSummary:
    """Build ``<out_dir>/corpus.parquet``, ``<out_dir>/benchmarks/*.parquet`` and the manifests.

    ``raw_dir`` is the read-only raw folder (``../shared/data/raw``). The committed manifest defaults to
    ``<out_dir>/../manifest.json`` (``data/manifest.json`` for ``out_dir=data/processed``); when it exists,
    inputs whose sha256 differ from it are logged as warnings before it is rewritten. The build is
    deterministic: the same inputs give the same rows, splits and ``corpus_sha256``.
    """
    started = time.perf_counter()
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"raw data folder {raw_dir} does not exist")
    committed_path = committed_manifest if committed_manifest is not None else out_dir.parent / MANIFEST_FILE

    files = [p for list_files in INPUT_FILES.values() for p in list_files(raw_dir)]
    missing = [p for p in files if not p.exists()]
    if missing:
        raise FileNotFoundError(f"raw inputs missing: {[str(p) for p in missing]}")
    inputs = input_checksums(raw_dir, files)
    warn_on_input_changes(read_manifest(committed_path), inputs, committed_path)

    frames = []
    for name, loader in tqdm(LOADERS.items(), desc="sources", unit="source", disable=not show_progress):
        frame = conform(loader(raw_dir))
        logger.info("loaded %s: %d rows", name, len(frame))
        frames.append(frame)
    corpus, removed, moved = assemble(pd.concat(frames, ignore_index=True))

    out_dir.mkdir(parents=True, exist_ok=True)
    write_corpus(corpus, out_dir / CORPUS_FILE)
    bench_rows, bench_meta = write_benchmarks(raw_dir, out_dir)

    summary = summarise(corpus, removed, moved, bench_rows)
    manifest = build_manifest(corpus, summary, inputs, bench_meta)
    elapsed = time.perf_counter() - started
    processed = {
        **manifest,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "build_seconds": round(elapsed, 1),
    }
    write_json(out_dir / MANIFEST_FILE, processed)
    if write_committed_manifest:
        write_json(committed_path, without_volatile(manifest))
    logger.info("corpus: %d rows in %.1f s -> %s", len(corpus), elapsed, out_dir / CORPUS_FILE)
    return summary


def assemble(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int], int]:
    """Clean texts, drop exact duplicates, assign splits; returns (corpus, removed per source, rows moved)."""
    df = raw.copy()
    df["text"] = df["text"].astype(str).map(_clean_text).astype("string")
    empty = df["text"].str.len() == 0
    if empty.any():
        logger.info("dropping %d rows with empty text", int(empty.sum()))
        df = df[~empty].reset_index(drop=True)
    df["id"] = (df["source"] + ":" + df["source_id"]).astype("string")
    dup_ids = df.loc[df["id"].duplicated(), "id"]
    if len(dup_ids):
        raise CorpusBuildError(f"duplicate ids: {dup_ids.head(5).tolist()}")
    keys = [all_keys(t, LEAD_TOKENS) for t in df["text"].astype(str)]
    df["text_key"] = pd.Series([k[0] for k in keys], index=df.index, dtype="string")
    df["near_key"] = pd.Series([k[1] for k in keys], index=df.index, dtype="string")
    lead = pd.Series([k[2] for k in keys], index=df.index, dtype="object")

    df["_lead"] = lead
    df, pairs = drop_exact_duplicates(df)
    lead = df.pop("_lead")
    removed = pairs["dropped"].value_counts().to_dict()
    for (dropped, kept), n in pairs.value_counts().sort_index().items():
        logger.info("exact duplicates: %d %s rows dropped, the same text kept from %s", n, dropped, kept)

    pinned = df["split"].copy()
    proposed, rule = propose_splits(df)
    components = connected_groups([df["near_key"], lead.astype("string")])
    # Name each group by its smallest near_key: content-based, so stable when unrelated rows change.
    df["group_key"] = df.groupby(components)["near_key"].transform("min").astype("string")
    final = resolve_groups(proposed, pinned, df["group_key"])
    changed = final != proposed
    df["split"] = final.astype("string")
    df["split_rule"] = rule.mask(changed, "group").astype("string")
    moved = int(changed.sum())
    logger.info("near-duplicate groups: %d rows moved to their group's split", moved)
    check_invariants(df)
    return conform(df), {str(k): int(v) for k, v in removed.items()}, moved


def _clean_text(text: str) -> str:
    return fix_mojibake(text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def check_invariants(df: pd.DataFrame) -> None:
    """Raise ``CorpusBuildError`` unless ids are unique and no id, text key or group straddles splits."""
    if df["id"].duplicated().any():
        raise CorpusBuildError("duplicate ids in the corpus")
    if not df["split"].isin(SPLITS).all():
        raise CorpusBuildError(f"rows without a split: {df.loc[~df['split'].isin(SPLITS), 'id'].head().tolist()}")
    for key in ("text_key", "near_key", "group_key"):
        straddling = df.groupby(key)["split"].nunique()
        if (straddling > 1).any():
            raise CorpusBuildError(f"{int((straddling > 1).sum())} {key} values appear in more than one split")


def write_corpus(corpus: pd.DataFrame, path: Path) -> None:
    """Write the corpus parquet with an explicit Arrow schema (dates as date32, labels as int8)."""
    fields = [pa.field(name, _ARROW_TYPES.get(dtype, pa.string())) for name, dtype in COLUMNS.items()]
    arrays = []
    for name, dtype in COLUMNS.items():
        col = corpus[name]
        if dtype == "datetime64[ns]":
            values: list[Any] = [None if pd.isna(v) else v.date() for v in col]
        elif dtype == "object":
            values = [None if v is None else [str(x) for x in v] for v in col]
        else:
            values = [None if pd.isna(v) else v for v in col.astype(object)]
        arrays.append(pa.array(values, type=_ARROW_TYPES.get(dtype, pa.string())))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


def load_corpus(out_dir: Path) -> pd.DataFrame:
    """Read ``<out_dir>/corpus.parquet`` with the schema dtypes (nullable strings and ints, datetime64 dates,
    ``attack_types`` as lists or None)."""
    path = Path(out_dir) / CORPUS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run `threatscore data build` first")
    table = pq.read_table(path)
    df = table.to_pandas()
    df["attack_types"] = [None if v is None else [str(x) for x in v] for v in df["attack_types"]]
    return conform(df)


def load_benchmark(out_dir: Path, name: str) -> pd.DataFrame:
    """Read ``<out_dir>/benchmarks/<name>.parquet`` (``id, text, split`` + one int8 column per label;
    label names in ``training.corpus.benchmarks.BENCHMARK_LABELS``)."""
    return bench.load_benchmark(Path(out_dir), name)


def write_benchmarks(raw_dir: Path, out_dir: Path) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """Write every benchmark in ``DEFAULT_BENCHMARKS``; returns (rows by split, manifest entries)."""
    rows: dict[str, dict[str, int]] = {}
    meta: dict[str, Any] = {}
    for name in bench.DEFAULT_BENCHMARKS:
        df = bench.read_benchmark(raw_dir, name)
        path = bench.benchmark_path(out_dir, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(path, index=False, compression="zstd")
        labels = bench.BENCHMARK_LABELS[name]
        counts = df["split"].value_counts()
        rows[name] = {s: int(counts.get(s, 0)) for s in SPLITS if s in set(df["split"])}
        keys = df["text"].astype(str).map(lambda t: text_key(fix_mojibake(t)))
        straddle = df["split"].groupby(keys).transform("nunique") > 1
        meta[name] = {
            "task": bench.BENCHMARK_TASKS[name],
            "labels": list(labels),
            "label_name_evidence": bench.LABEL_NAME_EVIDENCE[name],
            "rows": rows[name],
            "positives": {s: {lab: int(df.loc[df["split"] == s, lab].sum()) for lab in labels} for s in rows[name]},
            "rows_whose_text_is_in_another_split": int(straddle.sum()),
            "content_sha256": frame_content_hash(df.assign(text_key=keys), ["id", "split", "text_key", *labels]),
        }
        if meta[name]["rows_whose_text_is_in_another_split"]:
            logger.info(
                "benchmark %s: %d rows share their text with a row of another split (ConfliBERT's own split)",
                name,
                meta[name]["rows_whose_text_is_in_another_split"],
            )
    return rows, meta


def build_manifest(
    corpus: pd.DataFrame,
    summary: CorpusSummary,
    inputs: Mapping[str, str],
    bench_meta: Mapping[str, Any],
) -> dict[str, Any]:
    """The manifest content shared by both copies (no timestamps)."""
    by_rule = corpus.groupby(["source", "split_rule"]).size()
    rules: dict[str, dict[str, int]] = {}
    for (source, rule), n in by_rule.items():
        rules.setdefault(str(source), {})[str(rule)] = int(n)
    return {
        "manifest_version": MANIFEST_VERSION,
        "inputs": dict(inputs),
        "config": {
            "acled_old_scheme.yaml": sha256_file(DEFAULT_MAPPING_PATH),
            "split_policy": dict(SPLIT_POLICY),
            "test_share": TEST_SHARE,
            "dev_share": DEV_SHARE,
        },
        "columns": dict(COLUMNS),
        "rows": {"total": summary.total, "by_split": summary.split_totals(), "by_source": summary.rows},
        "split_rules": rules,
        "duplicates_removed": dict(summary.duplicates_removed),
        "moved_by_group": summary.moved_by_group,
        "labels": label_counts(corpus),
        "benchmarks": dict(bench_meta),
        "corpus_sha256": frame_content_hash(corpus, HASHED_COLUMNS),
    }
