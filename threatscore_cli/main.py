"""``threatscore`` — the command line. Each command is a thin call into the core or a job."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from threatscore.settings import apply_offline_env, get_settings

app: typer.Typer = typer.Typer(
    name="threatscore",
    help="Score news articles on political violence: resurgence signals, ACLED event types, severity, region risk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Build and inspect the unified corpus.", no_args_is_help=True)
app.add_typer(data_app, name="data")

DEFAULT_MODEL = "models:/threatscore@champion"
log = logging.getLogger("threatscore")


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False) -> None:
    apply_offline_env()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("alembic", "mlflow", "urllib3", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@data_app.command("build")
def data_build(
    raw: Annotated[Path, typer.Option(help="Folder of raw corpora (read-only).")] = Path("../shared/data/raw"),
    out: Annotated[Path, typer.Option(help="Where the processed Parquet files and manifest go.")] = Path(
        "data/processed"
    ),
) -> None:
    """Read every source through its loader and write the unified corpus, splits and manifest."""
    from training.corpus import build_corpus

    if not raw.is_dir():
        raise _fail(f"raw data folder {raw} does not exist")
    summary = build_corpus(raw, out)
    typer.echo(summary.render())


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="Experiment YAML, e.g. experiments/baseline.yaml.", exists=True)],
    no_eval: Annotated[bool, typer.Option("--no-eval", help="Skip the benchmark evaluation after training.")] = False,
    if_no_champion: Annotated[
        bool, typer.Option("--if-no-champion", help="Do nothing when the registry already has a champion.")
    ] = False,
    device_bundle: Annotated[
        Path | None,
        typer.Option(
            help="MiniLM only. Alone: write the experiment's training bundle to this folder, to be trained on another "
            "machine with `python -m training.device_run BUNDLE OUT`, and stop. With --device-result: finish the run "
            "from the weights trained there."
        ),
    ] = None,
    device_result: Annotated[
        Path | None,
        typer.Option(help="The OUT folder of `python -m training.device_run` run on --device-bundle's bundle."),
    ] = None,
) -> None:
    """Train the experiment in CONFIG, log it to MLflow and register it (alias challenger; champion if none)."""
    from threatscore.registry import configure_tracking
    from training.device_run import BundleError, DeviceRun
    from training.packaging import has_alias
    from training.train import train as run_training
    from training.train import write_device_bundle

    if device_result is not None and device_bundle is None:
        raise _fail("--device-result needs --device-bundle (the bundle it was trained from)")
    if device_bundle is not None and device_result is None:
        try:
            manifest = write_device_bundle(config, device_bundle)
        except (BundleError, ValueError) as exc:
            raise _fail(str(exc)) from exc
        typer.echo(f"wrote {device_bundle} ({manifest.name}); train it with:")
        typer.echo(f"  python -m training.device_run {device_bundle} OUT")
        typer.echo(f"then: threatscore train {config} --device-bundle {device_bundle} --device-result OUT")
        return
    settings = get_settings()
    configure_tracking(settings)
    if if_no_champion and has_alias(settings.model_name, "champion"):
        typer.echo(f"{settings.model_name}@champion exists; not training (drop --if-no-champion to train anyway)")
        return
    device_run = None if device_result is None or device_bundle is None else DeviceRun(device_bundle, device_result)
    try:
        result = run_training(config, get_settings(), evaluate=not no_eval, device_run=device_run)
    except BundleError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"run {result.run_id}: registered {result.registered_as} version {result.version}")
    if result.report.rows:
        typer.echo(result.report.render_markdown())


@app.command()
def evaluate(
    models: Annotated[
        list[str] | None, typer.Argument(help="One or more model URIs; several are shown side by side.")
    ] = None,
    task: Annotated[
        str,
        typer.Option(
            help="benchmarks (DESIGN.md's table for each model), places (primary-region accuracy) or fatalities "
            "(the death-count rule against gold counts)."
        ),
    ] = "benchmarks",
    processed: Annotated[Path, typer.Option(help="Processed corpus folder.")] = Path("data/processed"),
    no_tasks: Annotated[bool, typer.Option("--no-tasks", help="Skip the per-task ConfliBERT benchmarks.")] = False,
    task_config: Annotated[
        Path,
        typer.Option(help="How a MiniLM model's encoder is fine-tuned on each ConfliBERT task (minutes per task)."),
    ] = Path("experiments/task-finetune.yaml"),
    split: Annotated[str, typer.Option(help="Corpus split for --task places and --task fatalities.")] = "test",
    limit: Annotated[
        int | None, typer.Option(help="--task places: at most this many rows per source (default all).")
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Also write the Markdown here.")] = None,
) -> None:
    """Print DESIGN.md's benchmark table for each MODEL (default: the champion) and log it to the model's run."""
    if task == "places":
        text = _evaluate_places(processed, split, limit)
    elif task == "fatalities":
        text = _evaluate_fatalities(processed, split)
    elif task == "benchmarks":
        text = _evaluate_benchmarks(models or [DEFAULT_MODEL], processed, None if no_tasks else task_config)
    else:
        raise _fail(f"unknown task {task!r}; choose benchmarks, places or fatalities")
    typer.echo(text)
    if output:
        output.write_text(text, encoding="utf-8")


def _evaluate_benchmarks(models: list[str], processed: Path, task_config: Path | None) -> str:
    """The benchmark table per model; the task rows too unless ``task_config`` is None."""
    from threatscore.registry import configure_tracking
    from training.config import load_task_finetune_config
    from training.evaluate import evaluate_model, log_report_to_model_run, render_side_by_side

    try:
        tasks = load_task_finetune_config(task_config) if task_config else None
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise _fail(f"{task_config}: {exc}") from exc
    configure_tracking(get_settings())
    reports = []
    for uri in models:
        report = evaluate_model(uri, processed, with_tasks=tasks is not None, task_config=tasks)
        log_report_to_model_run(report)
        reports.append(report)
    text = "\n".join(r.render_markdown() for r in reports)
    return render_side_by_side(reports) + "\n" + text if len(reports) > 1 else text


def _evaluate_places(processed: Path, split: str, limit: int | None) -> str:
    """The place resolver is the same in every model (``threatscore.geo``): no model URI is needed."""
    from training.evaluate_places import corpus_gold, evaluate_places
    from training.places_ceiling import AUDIT, load_places_audit, places_ceiling

    rows = corpus_gold(processed, split)
    if rows.empty:
        raise _fail(f"no {split!r} rows with gold locations in {processed}; run threatscore data build first")
    report = evaluate_places(rows, limit)
    report.title = f"Place resolution (primary region), corpus {split} split" + (
        f", first {limit} rows per source" if limit else ""
    )
    text = report.render()
    if limit is None and AUDIT.is_file():
        # How far the text itself lets any resolver go on this split (a hand audit; only where one was made).
        try:
            audit = load_places_audit(AUDIT)
        except ValueError as exc:
            raise _fail(str(exc)) from exc
        ceiling = places_ceiling(report, audit, split)
        if ceiling is not None:
            text += "\n" + ceiling.render()
    return text


def _evaluate_fatalities(processed: Path, split: str) -> str:
    """The fatality rule is the same in every model (``threatscore.fatalities``): no model URI is needed."""
    from training.evaluate_fatalities import corpus_fatalities, evaluate_fatalities, render

    rows = corpus_fatalities(processed, split)
    if rows.empty:
        raise _fail(f"no {split!r} rows with gold fatalities in {processed}; run threatscore data build first")
    return render(evaluate_fatalities(rows), f"Fatality counts read from the text, corpus {split} split")


@app.command()
def score(
    file: Annotated[Path, typer.Argument(help="A .txt/.html article, a .json article or list, or .jsonl articles.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write JSON Lines here instead of stdout.")
    ] = None,
    model: Annotated[str, typer.Option(help="Model URI.")] = DEFAULT_MODEL,
) -> None:
    """Score articles and write one assessment per line. Bad articles are reported on stderr and skipped;
    the exit code is non-zero only when nothing could be scored."""
    from threatscore.articles import ArticleError, read_articles
    from threatscore.registry import configure_tracking, load_model

    if not file.is_file():
        raise _fail(f"{file} is not a file")
    items = list(read_articles(file))
    errors = [i for i in items if isinstance(i, ArticleError)]
    good = [i.model_dump(mode="json") for i in items if not isinstance(i, ArticleError)]
    for err in errors:
        typer.echo(f"skipped: {err.describe()}", err=True)
    if not good:
        raise _fail(f"nothing to score in {file} ({len(errors)} bad item(s))", code=1)
    configure_tracking(get_settings())
    try:
        loaded = load_model(model)
    except Exception as exc:  # registry errors come in many types; the user needs the message, not a trace
        raise _fail(
            f"cannot load model {model}: {exc}. Train one first: threatscore train experiments/baseline.yaml"
        ) from exc
    results = loaded.predict(good)
    _write_lines(results, output)
    scored = sum("error" not in r for r in results)
    typer.echo(f"scored {scored} of {len(items)} article(s) with {loaded.ref.pinned_uri}", err=True)
    if scored == 0:
        raise typer.Exit(1)


@app.command()
def promote(
    version: Annotated[
        str | None,
        typer.Option(
            "--version", help="The registered version to make champion (with --force, default: the challenger)."
        ),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded on the version's tags and logged).")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Promote even a version the retraining gate rejected.")
    ] = False,
) -> None:
    """Point models:/threatscore@champion at VERSION, recording who and why; rolling back is `promote --version N`.
    A version the retraining gate rejected moves only with --force (the reason is logged)."""
    from threatscore.registry import configure_tracking
    from training.promotion import current_version
    from training.promotion import promote as run_promotion

    settings = get_settings()
    configure_tracking(settings)
    name = settings.model_name
    if not reason.strip():
        raise _fail("give a --reason (it is recorded on the version)")
    if version is None:
        if not force:
            raise _fail("give --version N (or --force --reason ... to promote the current challenger)")
        version = current_version(name, "challenger")
        if version is None:
            raise _fail(f"{name} has no challenger to promote")
    try:
        done = run_promotion(name, version, reason, force=force)
    except Exception as exc:  # gate rejected, unknown version, registry down: one clear line
        hint = "; promote it anyway with --force --reason ..." if "retraining gate" in str(exc) else ""
        raise _fail(f"cannot promote {name} version {version}: {exc}{hint}") from exc
    typer.echo(f"{done.name}@champion: {done.previous or 'none'} -> {done.version} ({done.reason})")


@app.command()
def schema(
    which: Annotated[str, typer.Argument(help="article, assessment or all.")] = "all",
) -> None:
    """Print the JSON Schema of Article and/or Assessment."""
    from threatscore.schemas import Article, Assessment

    schemas: dict[str, Any] = {"article": Article.model_json_schema(), "assessment": Assessment.model_json_schema()}
    if which not in {*schemas, "all"}:
        raise _fail(f"unknown schema {which!r}; choose article, assessment or all")
    typer.echo(json.dumps(schemas if which == "all" else schemas[which], indent=2))


def _write_lines(rows: list[dict[str, Any]], output: Path | None) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


from threatscore_cli.service import keys_app, serve  # noqa: E402

app.add_typer(keys_app, name="keys")
app.command()(serve)

from threatscore_cli.backtest import backtest  # noqa: E402

app.command()(backtest)

from threatscore_cli.ui import ui  # noqa: E402

app.command()(ui)

from threatscore_cli.retrain import gate, retrain  # noqa: E402

app.command()(retrain)
app.command()(gate)

from threatscore_cli.score_batch import score_batch  # noqa: E402

app.command("score-batch")(score_batch)

if __name__ == "__main__":  # after every command is registered: `python -m threatscore_cli.main backtest` works too
    app()
