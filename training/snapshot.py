"""The retraining snapshot: the base corpus plus analysts' feedback, frozen with a manifest.

Feedback (``serving.db`` table ``feedback``, written by ``POST /feedback``) becomes corpus rows with source
``feedback``. Corrections of one article are folded in the order they arrived (a later correction of a field
replaces an earlier one). When the article id is a corpus item id, the corpus row's labels are the starting
point and the feedback overrides them (and, for MiniLM, the weak labels that would fill the missing ones);
otherwise the row is new, with the text the service stored. A fixed share of feedback items is held out
from training and scored as a benchmark: the assignment hashes the article id with a seed, so an item stays
on its side as feedback accumulates; items that are corpus *test* rows are always held out, so the frozen
benchmarks never leak into training.

What a snapshot holds (``<dir>/feedback.jsonl``: the feedback rows used, with the texts they label, and
``<dir>/manifest.json``: the base corpus checksum, the feedback watermark, the derivation settings and the
training frame's content hash) is enough to rebuild the exact training frame: ``load_snapshot``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from serving.db import ArticleRow, FeedbackRow
from threatscore.taxonomy import EVENT_TYPE_PARENT, SEVERITY_MIN_FATALITIES, SIGNALS, severity_level
from training.corpus import load_corpus
from training.corpus.manifest import frame_content_hash, sha256_file, write_json
from training.corpus.schema import COLUMNS, conform

logger = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1
FEEDBACK_SOURCE = "feedback"
FEEDBACK_FILE = "feedback.jsonl"
MANIFEST_FILE = "manifest.json"
#: Columns of the training frame's content hash (``attack_types`` holds lists; its rendering is not stable).
HASH_COLUMNS = tuple(c for c in COLUMNS if c != "attack_types")
#: Feedback fields copied into the snapshot (the API key id is left out: it identifies a key, not a label).
_FEEDBACK_FIELDS = ("id", "article_id", "signals", "event_type", "severity", "regions", "model_version")


@dataclass(frozen=True)
class Snapshot:
    """A frozen training set: the frame the challenger trains on and the feedback held out from it."""

    directory: Path
    manifest: dict[str, Any]
    #: Base corpus minus every feedback item, plus the feedback training rows (corpus schema).
    training: pd.DataFrame
    #: Held-out feedback rows (corpus schema, ``split`` "test"): the feedback benchmark.
    holdout: pd.DataFrame

    @property
    def manifest_path(self) -> Path:
        """Where the manifest was written."""
        return self.directory / MANIFEST_FILE


# --------------------------------------------------------------------------------------------- reading feedback


def feedback_watermark(engine: Engine) -> int:
    """The highest feedback id stored now (0 when there is none): what a snapshot taken now includes."""
    from sqlalchemy import func

    with engine.connect() as connection:
        return int(connection.execute(select(func.coalesce(func.max(FeedbackRow.id), 0))).scalar_one())


def read_feedback(engine: Engine, *, upto: int) -> list[dict[str, Any]]:
    """Feedback rows with id <= ``upto``, oldest first, each with the text of the article it corrects.

    The text is that of the stored article row the feedback points at (``article_pk``), else the newest stored
    row with the same client id (the row may have been deleted), else None.
    """
    fields = [getattr(FeedbackRow, f) for f in _FEEDBACK_FIELDS]
    query = (
        select(
            *fields,
            FeedbackRow.submitted_at,
            FeedbackRow.submitted_by,
            ArticleRow.text,
            ArticleRow.title,
            ArticleRow.published,
        )
        .outerjoin(ArticleRow, ArticleRow.id == FeedbackRow.article_pk)
        .where(FeedbackRow.id <= upto)
        .order_by(FeedbackRow.id)
    )
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(query)]
        missing = sorted({r["article_id"] for r in rows if r["text"] is None})
        if missing:
            newest: dict[str, Any] = {}
            found = connection.execute(
                select(ArticleRow.article_id, ArticleRow.text, ArticleRow.title, ArticleRow.published)
                .where(ArticleRow.article_id.in_(missing))
                .order_by(ArticleRow.id)
            )
            for r in found:
                newest[r.article_id] = r
            for row in rows:
                if row["text"] is None and row["article_id"] in newest:
                    hit = newest[row["article_id"]]
                    row.update(text=hit.text, title=hit.title, published=hit.published)
    return [_jsonable(r) for r in rows]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
        elif isinstance(value, dt.date):
            value = value.isoformat()
        out[key] = value
    return out


# --------------------------------------------------------------------------------------------- feedback -> rows


def merge_feedback(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One correction per article id, folding rows in id order: a later value of a field replaces an earlier one
    (signals key by key); fields a row leaves empty keep the earlier value."""
    merged: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        item = merged.setdefault(
            row["article_id"],
            {"article_id": row["article_id"], "signals": {}, "event_type": None, "severity": None, "regions": None},
        )
        item["signals"].update(row.get("signals") or {})
        for field in ("event_type", "severity", "regions"):
            if row.get(field) is not None:
                item[field] = row[field]
        if row.get("text"):
            item.update(text=row["text"], title=row.get("title"), published=row.get("published"))
        item.setdefault("feedback_ids", []).append(row["id"])
    return list(merged.values())


def in_holdout(article_id: str, fraction: float, seed: int) -> bool:
    """Whether a feedback item is held out: a hash of (seed, id), so the answer never changes for an item."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{article_id}".encode()).hexdigest()
    return int(digest[:15], 16) / float(16**15) < fraction


def feedback_rows(
    merged: list[dict[str, Any]], base: pd.DataFrame, *, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Corpus rows of the feedback items: (training rows, held-out rows, counts).

    Items without any text (the article was never stored) are skipped and counted.
    """
    by_id = base.set_index("id", drop=False)
    train: list[dict[str, Any]] = []
    holdout: list[dict[str, Any]] = []
    counts = {"items": len(merged), "overriding_corpus_items": 0, "new_items": 0, "skipped_without_text": 0}
    for item in merged:
        article_id = item["article_id"]
        if article_id in by_id.index:
            row = by_id.loc[article_id]
            row = (row.iloc[0] if isinstance(row, pd.DataFrame) else row).to_dict()
            base_split = row["split"]
            counts["overriding_corpus_items"] += 1
        elif item.get("text"):
            row = {"id": f"{FEEDBACK_SOURCE}:{article_id}", "relevance": pd.NA}
            base_split = None
            counts["new_items"] += 1
        else:
            counts["skipped_without_text"] += 1
            logger.warning("feedback on %r skipped: no stored text for that article", article_id)
            continue
        if item.get("text"):
            row.update(text=item["text"], title=item.get("title"))
            if item.get("published") and pd.isna(row.get("published")):
                row["published"] = pd.Timestamp(item["published"])
        _apply_labels(row, item)
        row.update(source=FEEDBACK_SOURCE, source_id=article_id, split_rule="feedback")
        held = base_split == "test" or in_holdout(article_id, fraction, seed)
        row["split"] = "test" if held else "train"
        (holdout if held else train).append(row)
    counts["train_items"], counts["holdout_items"] = len(train), len(holdout)
    return _frame(train), _frame(holdout), counts


def _apply_labels(row: dict[str, Any], item: dict[str, Any]) -> None:
    """Override the row's labels with the analyst's corrections."""
    for name, value in (item.get("signals") or {}).items():
        if name in SIGNALS and value is not None:
            row[f"sig_{name}"] = int(bool(value))
    if item.get("event_type"):
        row["sub_event_type"] = item["event_type"]
        row["event_type"] = EVENT_TYPE_PARENT.get(item["event_type"])
    if item.get("severity"):
        level = item["severity"]
        current = row.get("fatalities")
        # Severity is learnt from fatalities: keep the count when it already says this level, else use the
        # lowest count of the level (the corrected level is what the model must learn).
        if current is None or pd.isna(current) or severity_level(int(current)) != level:
            row["fatalities"] = SEVERITY_MIN_FATALITIES[level]
    regions = item.get("regions") or []
    if regions:
        primary = next((r for r in regions if r.get("primary")), regions[0])
        row["country_code"] = primary.get("country_code")
        row["admin1"] = primary.get("admin1")


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return conform(pd.DataFrame(columns=list(COLUMNS)))
    frame = pd.DataFrame(rows)
    return conform(frame[[c for c in frame.columns if c in COLUMNS]]).reset_index(drop=True)


def assemble(base: pd.DataFrame, train_rows: pd.DataFrame, holdout_rows: pd.DataFrame) -> pd.DataFrame:
    """The training frame: the base corpus without any feedback item (held out or not), plus the training rows."""
    feedback_ids = set(train_rows["id"]) | set(holdout_rows["id"])
    kept = base[~base["id"].isin(feedback_ids)]
    parts = [kept, train_rows] if len(train_rows) else [kept]
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------------------------- writing, loading


def build_snapshot(
    engine: Engine,
    processed_dir: Path,
    directory: Path,
    *,
    fraction: float,
    seed: int,
    previous_watermark: int,
    inputs: dict[str, Path] | None = None,
    base: pd.DataFrame | None = None,
) -> Snapshot:
    """Freeze the base corpus + all feedback stored now into ``directory`` and return the training frame.

    ``previous_watermark`` (the last completed run's) only serves the ``new_since_last_run`` count;
    ``inputs`` are config files whose checksums the manifest records; ``base`` is the corpus of
    ``processed_dir`` when the caller has it loaded already.
    """
    watermark = feedback_watermark(engine)
    rows = read_feedback(engine, upto=watermark)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / FEEDBACK_FILE).open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    base = load_corpus(processed_dir) if base is None else base
    training, holdout, counts = _derive(base, rows, fraction, seed)
    base_manifest = processed_dir / "manifest.json"
    manifest: dict[str, Any] = {
        "snapshot_version": SNAPSHOT_VERSION,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "base": {
            "processed_dir": str(processed_dir.resolve()),
            "corpus_sha256": sha256_file(processed_dir / "corpus.parquet"),
            "manifest_sha256": sha256_file(base_manifest) if base_manifest.exists() else None,
            "rows": len(base),
            "train_rows": int((base["split"] == "train").sum()),
        },
        "feedback": {
            "file": FEEDBACK_FILE,
            "file_sha256": sha256_file(directory / FEEDBACK_FILE),
            "watermark_id": watermark,
            "previous_watermark_id": previous_watermark,
            "rows": len(rows),
            "new_since_last_run": sum(1 for r in rows if r["id"] > previous_watermark),
            "holdout_fraction": fraction,
            "holdout_seed": seed,
            **counts,
            "holdout_ids": sorted(holdout["id"]),
        },
        "training_frame": {
            "rows": len(training),
            "train_rows": int((training["split"] == "train").sum()),
            "sha256": frame_content_hash(training, HASH_COLUMNS),
        },
        "inputs": _copy_inputs(inputs or {}, directory / "inputs"),
    }
    write_json(directory / MANIFEST_FILE, manifest)
    logger.info(
        "snapshot %s: %d base rows, %d feedback rows (%d new), %d feedback items in training, %d held out",
        directory,
        len(base),
        len(rows),
        sum(1 for r in rows if r["id"] > previous_watermark),
        counts["train_items"],
        counts["holdout_items"],
    )
    return Snapshot(directory, manifest, training, holdout)


def _copy_inputs(inputs: dict[str, Path], folder: Path) -> dict[str, dict[str, str]]:
    """Copy the config files into the snapshot (they are small, and a path alone can change under it)."""
    out = {}
    for name, path in inputs.items():
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / f"{name}{path.suffix}"
        shutil.copyfile(path, copy)
        out[name] = {"path": str(path), "copy": f"inputs/{copy.name}", "sha256": sha256_file(copy)}
    return out


def load_snapshot(directory: Path, processed_dir: Path | None = None) -> Snapshot:
    """Rebuild a snapshot's training frame from its manifest, feedback file and base corpus, checking every hash.

    ``processed_dir`` overrides the base corpus folder recorded in the manifest (a copy elsewhere).
    """
    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    base_dir = processed_dir or Path(manifest["base"]["processed_dir"])
    corpus_sha = sha256_file(base_dir / "corpus.parquet")
    if corpus_sha != manifest["base"]["corpus_sha256"]:
        raise ValueError(
            f"{base_dir / 'corpus.parquet'} is not the corpus of snapshot {directory} "
            f"(sha256 {corpus_sha[:12]}…, manifest says {manifest['base']['corpus_sha256'][:12]}…)"
        )
    feedback_path = directory / manifest["feedback"]["file"]
    if sha256_file(feedback_path) != manifest["feedback"]["file_sha256"]:
        raise ValueError(f"{feedback_path} was modified after the snapshot was taken")
    rows = [json.loads(line) for line in feedback_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    feedback: dict[str, Any] = manifest["feedback"]
    training, holdout, _ = _derive(load_corpus(base_dir), rows, feedback["holdout_fraction"], feedback["holdout_seed"])
    digest = frame_content_hash(training, HASH_COLUMNS)
    if digest != manifest["training_frame"]["sha256"]:
        raise ValueError(f"snapshot {directory}: the rebuilt training frame differs from the one trained on")
    return Snapshot(directory, manifest, training, holdout)


def _derive(
    base: pd.DataFrame, rows: list[dict[str, Any]], fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    train_rows, holdout, counts = feedback_rows(merge_feedback(rows), base, fraction=fraction, seed=seed)
    return assemble(base, train_rows, holdout), holdout, counts
