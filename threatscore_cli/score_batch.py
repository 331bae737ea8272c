"""``threatscore score-batch``: score an archive of articles into Parquet, locally or on Spark.

The work is in ``threatscore.batch`` (imported inside the command, so ``threatscore --help`` stays fast).
"""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from threatscore.settings import get_settings

log = logging.getLogger("threatscore")

DEFAULT_MODEL = "models:/threatscore@champion"
DEFAULT_CHUNK_SIZE = 10_000  # threatscore.batch.DEFAULT_CHUNK_SIZE, repeated so --help needs no import


class EngineChoice(StrEnum):
    """Where the scoring runs."""

    local = "local"
    spark = "spark"


def score_batch(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="A .parquet or .jsonl file of articles, or a folder of them.")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Output folder: Parquet parts, _errors/, _manifest, _summary.json.")
    ],
    engine: Annotated[EngineChoice, typer.Option(help="local: this process; spark: a Spark master.")] = (
        EngineChoice.local
    ),
    model: Annotated[str, typer.Option(help="Model URI (an alias is pinned to its version for the run).")] = (
        DEFAULT_MODEL
    ),
    master: Annotated[
        str | None, typer.Option(help="Spark master, e.g. local[*], spark://host:7077, yarn (default local[*]).")
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Articles per part: bounds memory, and is the grain of resuming.")
    ] = DEFAULT_CHUNK_SIZE,
    conf: Annotated[
        list[str] | None, typer.Option("--conf", help="Spark setting KEY=VALUE (repeatable), as spark-submit's.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Score every article of INPUT into Parquet assessments in OUTPUT. Bad rows go to OUTPUT/_errors/ with their
    line and field; a rerun skips the parts already written. Exits non-zero when nothing could be scored or the
    counts do not add up (articles in = scored + errors)."""
    from threatscore.batch import BatchInputError
    from threatscore.batch import score_batch as run
    from threatscore.registry import configure_tracking

    if engine is EngineChoice.local and (master or conf):
        raise _fail("--master and --conf are for --engine spark")
    spark_conf = _parse_conf(conf or [])
    configure_tracking(get_settings())
    try:
        summary = run(
            input_path,
            output,
            engine=engine.value,
            model_uri=model,
            chunk_size=chunk_size,
            master=master,
            spark_conf=spark_conf,
            progress=progress,
        )
    except BatchInputError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:  # registry, Spark and model errors come in many types: one line, details with -v
        log.debug("score-batch failed", exc_info=True)
        raise _fail(f"cannot score {input_path} with {model}: {exc}", code=1) from exc
    _report(summary, output)


def _report(summary: dict[str, Any], output: Path) -> None:
    counts, parts, run = summary["counts"], summary["parts"], summary["this_run"]
    typer.echo(
        f"scored {counts['scored']:,} of {counts['in']:,} article(s), {counts['errors']:,} rejected"
        f"{f' (see {output}/_errors/)' if counts['errors'] else ''}, with {summary['model']['pinned_uri']}; "
        f"parts: {parts['written']} written, {parts['skipped']} already done; "
        f"this run {run['in']:,} article(s) in {run['seconds']:.1f} s. Summary: {output}/_summary.json",
        err=True,
    )
    if counts["in"] != counts["scored"] + counts["errors"]:
        in_, scored, errors = counts["in"], counts["scored"], counts["errors"]
        raise _fail(f"counts do not add up: {in_} in, {scored} scored + {errors} errors", code=1)
    if counts["scored"] == 0:
        raise _fail("nothing could be scored", code=1)


def _parse_conf(pairs: list[str]) -> dict[str, str]:
    conf = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise _fail(f"--conf {pair!r}: expected KEY=VALUE")
        conf[key.strip()] = value
    return conf


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


if __name__ == "__main__":
    # spark-submit runs a Python file, not a console script: `spark-submit … <this file> score-batch …`.
    from threatscore_cli.main import app

    app()
