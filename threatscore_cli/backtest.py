"""``threatscore backtest``: does the regional index anticipate where violence rises next month?"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from threatscore.settings import get_settings

log = logging.getLogger("threatscore")

DEFAULT_MODEL = "models:/threatscore@champion"


def backtest(
    model: Annotated[str, typer.Option(help="Model URI that scores the event texts.")] = DEFAULT_MODEL,
    processed: Annotated[Path, typer.Option(help="Processed corpus folder.")] = Path("data/processed"),
    cache_dir: Annotated[
        Path, typer.Option(help="Where scored assessments are cached (<name>-<version>-<code hash>.parquet).")
    ] = Path("data/processed/backtest_cache"),
    results: Annotated[Path, typer.Option(help="Markdown file that gets the 'Region index backtest' section.")] = Path(
        "experiments/RESULTS.md"
    ),
    plots: Annotated[Path, typer.Option(help="Folder for the PNG plots.")] = Path("experiments/plots"),
    bootstrap: Annotated[int, typer.Option(min=0, help="Month-bootstrap resamples for the intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    model_regions: Annotated[
        bool, typer.Option(help="Also run the variant on the model's own regions (not the gold admin-1).")
    ] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar while scoring.")] = True,
) -> None:
    """Backtest the regional index on UCDP Syria 2016-19, ACLED Burkina Faso 2018-20 and ACLED Nigeria 2014-16:
    month t's index vs persistence and event count at ranking the regions whose fatalities rise in month t+1.
    Writes the results section of RESULTS and PNG plots."""
    from threatscore.registry import configure_tracking
    from training.backtest import load_events, make_plots, render_markdown, run_backtest, score_events, write_section
    from training.corpus import load_corpus

    started = time.perf_counter()
    configure_tracking(get_settings())
    if not (processed / "corpus.parquet").exists():
        typer.echo(f"error: no corpus in {processed}; run `threatscore data build` first", err=True)
        raise typer.Exit(2)
    events = load_events(load_corpus(processed))
    scoring_started = time.perf_counter()
    try:
        assessments, pinned = score_events(events, model, cache_dir, progress=progress)
    except Exception as exc:  # registry errors come in many types; the user needs the message
        typer.echo(f"error: cannot score with {model}: {exc}", err=True)
        raise typer.Exit(2) from exc
    scored = time.perf_counter()
    result = run_backtest(events, assessments, pinned, bootstrap=bootstrap, seed=seed, model_regions=model_regions)
    result.scoring_seconds = scored - scoring_started
    result.seconds = time.perf_counter() - started
    command = "threatscore " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    section = render_markdown(result, command)
    write_section(results, section)
    for path in make_plots(result, plots):
        log.info("wrote %s", path)
    typer.echo(section)
    typer.echo(f"wrote {results} and plots in {plots} ({result.seconds:.0f} s)", err=True)
