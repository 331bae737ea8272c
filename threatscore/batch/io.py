"""Reading archives in bounded chunks, writing part files atomically, and the manifest that makes a run resumable.

Input is a Parquet or JSON Lines file, or a folder of them (part files, searched recursively; names starting with
``.`` or ``_`` are skipped, as Spark and pyarrow do). Each file is cut into *units* of ``chunk_size`` articles; a
unit is the grain of work, output and resumption: ``OUTPUT/part-<unit>.parquet`` holds its assessments,
``OUTPUT/_errors/part-<unit>.jsonl`` its rejected rows (id, input, line, part, field, error), and a line in
``OUTPUT/_manifest.jsonl`` records it as done. Both engines read and write through this module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from threatscore.articles import ArticleError, parse_article, parse_lines
from threatscore.schemas import Article

logger = logging.getLogger(__name__)

#: Article fields, in the order the model's signature lists them.
ARTICLE_FIELDS: tuple[str, ...] = tuple(Article.model_fields)
ERRORS_DIR = "_errors"
MANIFEST_NAME = "_manifest.jsonl"
SUMMARY_NAME = "_summary.json"
MANIFEST_FORMAT = 1

Format = Literal["parquet", "jsonl"]
_FORMATS: dict[str, Format] = {".parquet": "parquet", ".jsonl": "jsonl"}


class BatchInputError(ValueError):
    """The input or the output folder cannot be used as given (one clear line for the user)."""


@dataclass(frozen=True)
class InputFile:
    """One input file: where it is, how it is named in the output, its format, content hash and article count."""

    path: Path
    rel: str
    format: Format
    sha256: str
    rows: int


@dataclass(frozen=True)
class Item:
    """One input row: its 1-based line (JSON Lines) or row number (Parquet) and the article or what is wrong."""

    line: int
    parsed: Article | ArticleError


@dataclass
class Unit:
    """A chunk of one input file: the grain of scoring, output and resumption."""

    key: str
    input: InputFile
    index: int
    size: int
    #: JSON Lines: (line number, raw line) per non-blank line; Parquet: the rows, the first being ``first_row``.
    payload: list[tuple[int, bytes]] | pa.Table
    first_row: int = 1

    def items(self) -> list[Item]:
        """Parse and validate the unit's rows (done only for units that are not already in the output)."""
        if isinstance(self.payload, pa.Table):
            return [
                Item(number, parse_article(record, number))
                for number, record in enumerate(self.payload.to_pylist(), start=self.first_row)
            ]
        numbers = [n for n, _ in self.payload]
        parsed = parse_lines(raw for _, raw in self.payload)
        # parse_lines numbers the lines it is given; report the line in the file instead.
        return [
            Item(n, dataclasses.replace(p, line=n) if isinstance(p, ArticleError) else p)
            for n, p in zip(numbers, parsed, strict=True)
        ]


def discover_inputs(path: Path) -> list[Path]:
    """The Parquet / JSON Lines files at ``path`` (a file, or a folder searched recursively), sorted."""
    if path.is_file():
        if path.suffix not in _FORMATS:
            raise BatchInputError(f"{path}: expected a .parquet or .jsonl file")
        return [path]
    if not path.is_dir():
        raise BatchInputError(f"{path} does not exist")
    found = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix in _FORMATS
        and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    if not found:
        raise BatchInputError(f"{path} holds no .parquet or .jsonl files")
    return found


def fingerprint(path: Path, root: Path) -> InputFile:
    """Hash a file and count its articles (Parquet: from the footer; JSON Lines: non-blank lines)."""
    fmt = _FORMATS[path.suffix]
    digest = hashlib.sha256()
    rows = 0
    with path.open("rb") as handle:
        if fmt == "jsonl":
            for line in handle:
                digest.update(line)
                rows += bool(line.strip())
        else:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    if fmt == "parquet":
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise BatchInputError(f"{path}: not a readable Parquet file ({exc})") from exc
    rel = path.name if root.is_file() else path.relative_to(root).as_posix()
    return InputFile(path, rel, fmt, digest.hexdigest(), rows)


def unit_key(rel: str, index: int) -> str:
    """A stable, file-system-safe name for chunk ``index`` of input ``rel`` (readable stem + short hash)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", rel.rsplit(".", 1)[0]).strip("_")[:60] or "input"
    return f"{stem}-{hashlib.sha1(rel.encode()).hexdigest()[:8]}-{index:05d}"


def iter_units(source: InputFile, chunk_size: int) -> Iterator[Unit]:
    """Cut one input file into units of ``chunk_size`` articles, reading no more than one unit at a time."""
    if source.format == "jsonl":
        yield from _jsonl_units(source, chunk_size)
    else:
        yield from _parquet_units(source, chunk_size)


def _jsonl_units(source: InputFile, chunk_size: int) -> Iterator[Unit]:
    buffer: list[tuple[int, bytes]] = []
    index = 0
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            buffer.append((number, raw))
            if len(buffer) == chunk_size:
                yield Unit(unit_key(source.rel, index), source, index, len(buffer), buffer)
                buffer, index = [], index + 1
    if buffer:
        yield Unit(unit_key(source.rel, index), source, index, len(buffer), buffer)


def _parquet_units(source: InputFile, chunk_size: int) -> Iterator[Unit]:
    parquet = pq.ParquetFile(source.path)
    names = parquet.schema_arrow.names
    if "text" not in names:
        raise BatchInputError(f"{source.path}: no 'text' column (columns: {', '.join(names)})")
    ignored = [n for n in names if n not in ARTICLE_FIELDS]
    if ignored:
        logger.info("%s: columns %s are not article fields and are not read", source.rel, ", ".join(ignored))
    columns = [n for n in ARTICLE_FIELDS if n in names]
    pending: list[pa.RecordBatch] = []
    held = 0
    index = 0
    for batch in parquet.iter_batches(batch_size=chunk_size, columns=columns):
        pending.append(batch)
        held += batch.num_rows
        # Batches follow row groups; regroup them so every unit but the last has exactly chunk_size rows.
        while held >= chunk_size:
            table = pa.Table.from_batches(pending)
            chunk = _coerce(table.slice(0, chunk_size))
            yield Unit(unit_key(source.rel, index), source, index, chunk_size, chunk, index * chunk_size + 1)
            rest = table.slice(chunk_size)
            pending, held, index = rest.to_batches(), rest.num_rows, index + 1
    if held:
        table = pa.Table.from_batches(pending)
        yield Unit(unit_key(source.rel, index), source, index, held, _coerce(table), index * chunk_size + 1)


def _coerce(table: pa.Table) -> pa.Table:
    """Parquet's typed columns → what an Article takes: integer ids as strings, timestamps as dates."""
    if "id" in table.column_names and pa.types.is_integer(table.schema.field("id").type):
        table = table.set_column(table.column_names.index("id"), "id", pc.cast(table.column("id"), pa.string()))
    if "published" in table.column_names and pa.types.is_timestamp(table.schema.field("published").type):
        i = table.column_names.index("published")
        table = table.set_column(i, "published", pc.cast(table.column("published"), pa.date32()))
    return table


# --------------------------------------------------------------------------------------------- writing


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a hidden temp file, fsync, then rename: a reader or a rerun never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def part_path(output: Path, key: str) -> Path:
    """Where a unit's assessments go."""
    return output / f"part-{key}.parquet"


def errors_path(output: Path, key: str) -> Path:
    """Where a unit's rejected rows go."""
    return output / ERRORS_DIR / f"part-{key}.jsonl"


def write_part(output: Path, key: str, table: pa.Table) -> Path:
    """Write a unit's assessments as one Parquet file, atomically."""
    path = part_path(output, key)
    _atomic_write(path, lambda handle: pq.write_table(table, handle, compression="zstd"))
    return path


def write_errors(output: Path, key: str, errors: list[dict[str, Any]]) -> Path | None:
    """Write a unit's rejected rows as JSON Lines, atomically (nothing when there are none)."""
    path = errors_path(output, key)
    if not errors:
        path.unlink(missing_ok=True)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors)
    _atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
    return path


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write a JSON document atomically (the run summary)."""
    _atomic_write(path, lambda handle: handle.write((json.dumps(data, indent=2) + "\n").encode("utf-8")))


# -------------------------------------------------------------------------------------------- manifest


class Manifest:
    """``OUTPUT/_manifest.jsonl``: a header naming the model and chunk size, then one line per finished unit.

    Lines are appended and fsynced after the unit's files are in place, so a crash loses at most the unit being
    written (a torn last line is ignored and that unit is redone). A unit counts as done only while its part
    file (and its errors file, if it had errors) still exists: delete a part and the next run redoes it.
    """

    def __init__(self, output: Path, header: dict[str, Any], parts: dict[str, dict[str, Any]]) -> None:
        self.output = output
        self.header = header
        self.parts = parts

    @classmethod
    def open(cls, output: Path, *, model_pinned_uri: str, chunk_size: int, inputs: list[InputFile]) -> Manifest:
        """Start a manifest in ``output``, or continue the one there if it is compatible with this run."""
        path = output / MANIFEST_NAME
        header = {"kind": "header", "format": MANIFEST_FORMAT, "model": model_pinned_uri, "chunk_size": chunk_size}
        if path.exists():
            found, parts = cls._read(path)
            if parts:
                cls._check(output, found, parts, header, inputs)
                return cls(output, found, parts)
            # A run that stopped before finishing any part pins nothing: start afresh.
        elif output.exists() and any(p.name.startswith("part-") for p in output.iterdir()):
            raise BatchInputError(f"{output} holds part files but no {MANIFEST_NAME}; use an empty folder")
        output.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, lambda handle: handle.write((json.dumps(header) + "\n").encode("utf-8")))
        return cls(output, header, {})

    @staticmethod
    def _read(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        lines = path.read_text(encoding="utf-8").splitlines()
        try:
            found = json.loads(lines[0])
        except (IndexError, json.JSONDecodeError) as exc:
            raise BatchInputError(f"{path} is not a score-batch manifest") from exc
        if not isinstance(found, dict) or found.get("kind") != "header" or found.get("format") != MANIFEST_FORMAT:
            raise BatchInputError(f"{path} is not a score-batch manifest (format {MANIFEST_FORMAT})")
        parts: dict[str, dict[str, Any]] = {}
        for number, line in enumerate(lines[1:], start=2):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                logger.warning("%s line %d is torn (interrupted run); that part will be redone", path, number)
                continue
            parts[entry["key"]] = entry  # a redone part's newer line wins
        return found, parts

    @staticmethod
    def _check(
        output: Path,
        found: Mapping[str, Any],
        parts: Mapping[str, Mapping[str, Any]],
        wanted: Mapping[str, Any],
        inputs: list[InputFile],
    ) -> None:
        if found["model"] != wanted["model"]:
            raise BatchInputError(
                f"{output} was scored with {found['model']}, this run would use {wanted['model']}: "
                f"finish it with --model {found['model']} or write to a new folder"
            )
        if found["chunk_size"] != wanted["chunk_size"]:
            raise BatchInputError(
                f"{output} was cut into chunks of {found['chunk_size']}; rerun with --chunk-size {found['chunk_size']}"
            )
        current = {f.rel: f.sha256 for f in inputs}
        changed = sorted(
            {e["input"] for e in parts.values() if e["input"] in current and current[e["input"]] != e["input_sha256"]}
        )
        if changed:
            raise BatchInputError(
                f"input changed since {output} was written ({', '.join(changed)}): write to a new folder"
            )

    def done(self, key: str) -> dict[str, Any] | None:
        """The manifest entry of a finished unit whose files are all still there, else None."""
        entry = self.parts.get(key)
        if entry is None or not part_path(self.output, key).exists():
            return None
        if entry["errors"] and not errors_path(self.output, key).exists():
            return None
        return entry

    def record(self, entry: dict[str, Any]) -> None:
        """Append a finished unit (call after its files are in place)."""
        with (self.output / MANIFEST_NAME).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.parts[entry["key"]] = entry
