"""``score_batch``: an archive in, a folder of Parquet assessments, rejected rows and a summary out.

The run is the same for both engines: list and hash the inputs, resolve the model to a pinned version, open
(or continue) the manifest, then for each unit not yet done: validate its rows, score the valid ones with the
engine, flatten them with ``threatscore.batch.flatten``, and write the part, its errors and its manifest line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from tqdm import tqdm

import threatscore
from threatscore.articles import ArticleError
from threatscore.batch.flatten import assessments_table
from threatscore.batch.io import (
    SUMMARY_NAME,
    BatchInputError,
    InputFile,
    Manifest,
    Unit,
    discover_inputs,
    fingerprint,
    iter_units,
    write_errors,
    write_json,
    write_part,
)
from threatscore.registry import ModelRef, resolve
from threatscore.schemas import Article

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "models:/threatscore@champion"
#: Articles per unit: bounds the memory of a run and is the grain of resumption.
DEFAULT_CHUNK_SIZE = 10_000

EngineName = Literal["local", "spark"]


class Engine(Protocol):
    """What the runner needs from an engine."""

    name: str

    def score(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One assessment or error dict per record, in order."""
        ...

    def describe(self) -> dict[str, Any]:
        """Engine facts for the summary."""
        ...

    def close(self) -> None:
        """Release what the engine holds."""
        ...


def model_thresholds(model_uri: str) -> dict[str, float]:
    """The model's own signal decision thresholds, read from its ``scorer_config`` artifact (0.5 each, with a
    warning, for a model that does not ship one)."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        try:
            mlmodel = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{model_uri}/MLmodel", dst_path=tmp))
            flavor = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))["flavors"]["python_function"]
            relative = flavor["artifacts"]["scorer_config"]["path"]
            config = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{model_uri}/{relative}", dst_path=tmp))
            thresholds = json.loads(config.read_text(encoding="utf-8"))["signal_thresholds"]
        except (KeyError, TypeError) as exc:
            logger.warning("%s ships no signal thresholds (%s); present flags use 0.5", model_uri, exc)
            return {}
    return {str(k): float(v) for k, v in thresholds.items()}


def make_engine(
    name: EngineName,
    ref: ModelRef,
    *,
    master: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    spark_session: Any = None,
) -> Engine:
    """Start an engine for a resolved model (pyspark is imported only for ``spark``)."""
    if name == "local":
        from threatscore.batch.local import LocalEngine

        return LocalEngine(ref)
    if name == "spark":
        from threatscore.batch.spark import SparkEngine

        return SparkEngine(ref, master=master, conf=spark_conf, spark=spark_session)
    raise ValueError(f"unknown engine {name!r}; choose local or spark")


def score_batch(
    input_path: Path,
    output: Path,
    *,
    engine: EngineName = "local",
    model_uri: str = DEFAULT_MODEL,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    master: str | None = None,
    spark_conf: Mapping[str, str] | None = None,
    spark_session: Any = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every article of ``input_path`` into ``output`` and return the run summary (also written to
    ``output/_summary.json``). Units already in the output's manifest are skipped; see ``threatscore.batch.io``.

    Raises ``BatchInputError`` for inputs or an output folder that cannot be used as given.
    """
    if chunk_size < 1:
        raise BatchInputError(f"chunk size must be at least 1, got {chunk_size}")
    started = time.perf_counter()
    started_at = _now()
    # An output folder inside the input folder must not be read back as input on the next run.
    paths = [p for p in discover_inputs(input_path) if not p.resolve().is_relative_to(output.resolve())]
    if not paths:
        raise BatchInputError(f"{input_path} holds no input besides the output folder {output}")
    inputs = [fingerprint(path, input_path) for path in paths]
    ref = resolve(model_uri)
    manifest = Manifest.open(output, model_pinned_uri=ref.pinned_uri, chunk_size=chunk_size, inputs=inputs)
    thresholds = model_thresholds(ref.pinned_uri)
    totals = {"scored": 0, "errors": 0, "parts": 0, "parts_skipped": 0}
    run = {"in": 0, "scored": 0, "errors": 0}
    scoring_seconds = 0.0
    active: Engine | None = None
    details: dict[str, Any] = {"engine": engine}
    bar = tqdm(total=sum(f.rows for f in inputs), unit="article", disable=not progress, desc=f"score-batch {engine}")
    try:
        for source in inputs:
            for unit in iter_units(source, chunk_size):
                totals["parts"] += 1
                entry = manifest.done(unit.key)
                if entry is None:
                    if active is None:  # started on the first unit to do: a finished output needs no Spark
                        active = make_engine(
                            engine, ref, master=master, spark_conf=spark_conf, spark_session=spark_session
                        )
                        details = active.describe()
                    entry, seconds = _score_unit(unit, active, thresholds, output, ref)
                    manifest.record(entry)
                    scoring_seconds += seconds
                    run["in"] += unit.size
                    run["scored"] += entry["scored"]
                    run["errors"] += entry["errors"]
                else:
                    totals["parts_skipped"] += 1
                totals["scored"] += entry["scored"]
                totals["errors"] += entry["errors"]
                bar.update(unit.size)
                bar.set_postfix(scored=totals["scored"], errors=totals["errors"], refresh=False)
    finally:
        bar.close()
        if active is not None:
            active.close()
    seconds = time.perf_counter() - started
    rows_in = sum(f.rows for f in inputs)
    summary = {
        "ok": rows_in == totals["scored"] + totals["errors"] and totals["scored"] > 0,
        "input": str(input_path),
        "output": str(output),
        "engine": details,
        "model": {
            "uri": model_uri,
            "pinned_uri": ref.pinned_uri,
            "name": ref.name,
            "version": ref.version,
            "alias": ref.alias,
        },
        "chunk_size": chunk_size,
        "counts": {"in": rows_in, "scored": totals["scored"], "errors": totals["errors"]},
        "parts": {
            "total": totals["parts"],
            "skipped": totals["parts_skipped"],
            "written": totals["parts"] - totals["parts_skipped"],
        },
        "this_run": {
            **run,
            "seconds": round(seconds, 3),
            "scoring_seconds": round(scoring_seconds, 3),
            "articles_per_second": round(run["in"] / seconds, 2) if seconds > 0 else None,
        },
        "inputs": [{"path": f.rel, "format": f.format, "sha256": f.sha256, "rows": f.rows} for f in inputs],
        "started_at": started_at,
        "finished_at": _now(),
        "threatscore_version": threatscore.__version__,
    }
    write_json(output / SUMMARY_NAME, summary)
    return summary


def _score_unit(
    unit: Unit, engine: Engine, thresholds: Mapping[str, float], output: Path, ref: ModelRef
) -> tuple[dict[str, Any], float]:
    """Validate, score, flatten and write one unit; returns its manifest entry and the seconds spent scoring."""
    errors: list[dict[str, Any]] = []
    good: list[tuple[int, dict[str, Any]]] = []
    for item in unit.items():
        if isinstance(item.parsed, Article):
            good.append((item.line, item.parsed.model_dump(mode="json")))
        else:
            errors.append(_error_row(item.parsed, unit, item.line))
    started = time.perf_counter()
    results = engine.score([record for _, record in good]) if good else []
    seconds = time.perf_counter() - started
    if len(results) != len(good):
        raise RuntimeError(f"part {unit.key}: the engine returned {len(results)} results for {len(good)} articles")
    assessments = []
    for (line, record), result in zip(good, results, strict=True):
        if result.get("id") != record["id"]:
            raise RuntimeError(f"part {unit.key}: result for {result.get('id')!r} where {record['id']!r} was sent")
        if "error" in result:  # the model's own validation; the reader's matches it, so this is the rare case
            errors.append(_error_row(ArticleError(result.get("id"), result.get("field"), result["error"]), unit, line))
        else:
            assessments.append(result)
    errors.sort(key=lambda e: e["line"])
    table = assessments_table(assessments, thresholds)
    errors_file = write_errors(output, unit.key, errors)
    part_file = write_part(output, unit.key, table)
    entry: dict[str, Any] = {
        "key": unit.key,
        "input": unit.input.rel,
        "input_sha256": unit.input.sha256,
        "chunk": unit.index,
        "rows": unit.size,
        "scored": len(assessments),
        "errors": len(errors),
        "part": part_file.name,
        "errors_file": errors_file.relative_to(output).as_posix() if errors_file else None,
        "engine": engine.name,
        "model": ref.pinned_uri,
        "scoring_seconds": round(seconds, 3),
        "finished_at": _now(),
    }
    if len(assessments) + len(errors) != unit.size:
        raise RuntimeError(f"part {unit.key}: {unit.size} rows in, {len(assessments)} scored + {len(errors)} errors")
    logger.debug("part %s: %d scored, %d errors in %.1f s", unit.key, len(assessments), len(errors), seconds)
    return entry, seconds


def _error_row(error: ArticleError, unit: Unit, line: int) -> dict[str, Any]:
    return {
        "id": error.article_id,
        "input": unit.input.rel,
        "line": line,
        "part": unit.key,
        "field": error.field,
        "error": error.message,
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


__all__ = ["DEFAULT_CHUNK_SIZE", "DEFAULT_MODEL", "BatchInputError", "InputFile", "score_batch"]
