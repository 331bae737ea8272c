"""``threatscore retrain``: the champion/challenger job, with exit codes a scheduler can act on; ``threatscore gate``:
the same gate for a version registered by ``threatscore train``.

| exit | meaning |
|---|---|
| 0 | retrain: challenger promoted, or kept with the champion unchanged (gate failed), or nothing to do; gate: passed |
| 1 | the job failed at a step (the message names it); nothing was registered or promoted; gate could not run |
| 2 | invalid configuration or arguments |
| 3 | another retrain holds the lock (refused; try again later) |
| 4 | ``gate`` only: the gate rejected the version (tagged; ``promote`` then needs ``--force``) |
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from threatscore.settings import get_settings

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3
EXIT_REJECTED = 4


def _check_config(config: Path) -> None:
    """Exit with ``EXIT_CONFIG`` and one line when ``config`` is not a valid retraining job YAML."""
    from pydantic import ValidationError

    from training.config import load_retrain_config

    if not config.is_file():
        typer.echo(f"error: {config} is not a file", err=True)
        raise typer.Exit(EXIT_CONFIG)
    try:
        load_retrain_config(config)
    except (ValueError, ValidationError) as exc:
        typer.echo(f"error: invalid retrain config {config}: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from exc


def retrain(
    config: Annotated[Path, typer.Option("--config", help="Retraining job YAML.")] = Path("experiments/retrain.yaml"),
    ignore_policy: Annotated[
        bool,
        typer.Option("--ignore-policy", help="Train even when the policy says there is nothing to do."),
    ] = False,
    db_url: Annotated[
        str | None, typer.Option("--db-url", help="Service database (default: the config's, else THREATSCORE_DB_URL).")
    ] = None,
) -> None:
    """Train a challenger on the corpus + analysts' feedback, compare it with the champion on frozen benchmarks,
    and promote it only when the gate in CONFIG holds. Exit 0 also when the gate fails (champion unchanged);
    1 when a step failed, 2 for a bad config, 3 when another retrain holds the lock."""
    from training.job_lock import LockHeldError
    from training.retrain import RetrainError
    from training.retrain import retrain as run_retrain

    _check_config(config)
    try:
        result = run_retrain(config, get_settings(), ignore_policy=ignore_policy, db_url=db_url)
    except LockHeldError as exc:
        typer.echo(f"error: refused: {exc}", err=True)
        raise typer.Exit(EXIT_LOCKED) from exc
    except RetrainError as exc:
        typer.echo(f"error: {exc}; {'champion moved' if exc.promoted else 'champion unchanged'}", err=True)
        raise typer.Exit(EXIT_FAILED) from exc
    except Exception as exc:  # before the job started (database or registry unreachable): one line, not a trace
        typer.echo(f"error: retrain could not start: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from exc
    if result.took_over_lock_from:
        typer.echo(f"took over the stale lock of job {result.took_over_lock_from}", err=True)
    typer.echo(f"retrain {result.job_id}: {result.message}")
    if result.report_path is not None:
        typer.echo(f"report: {result.report_path}")
    if result.run_id is not None:
        typer.echo(f"challenger run: {result.run_id}")


def gate(
    version: Annotated[
        str | None, typer.Option("--version", help="The registered version to gate (default: the challenger).")
    ] = None,
    config: Annotated[Path, typer.Option("--config", help="Retraining job YAML (its gate and suite).")] = Path(
        "experiments/retrain.yaml"
    ),
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also write the report here.")] = None,
) -> None:
    """Apply the retraining gate of CONFIG to a registered VERSION against the champion, on the same frozen suite,
    and record the verdict on the version (a rejected one is promoted only with --force). Exit 0 when it passes,
    4 when the gate rejects it, 2 for a bad config, 1 when it could not run."""
    from training.gate_version import gate_version

    _check_config(config)
    try:
        verdict = gate_version(config, get_settings(), version)
    except Exception as exc:  # no champion, unknown version, registry down: one line, not a trace
        typer.echo(f"error: cannot gate: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from exc
    if output is not None:
        output.write_text(verdict.report, encoding="utf-8")
        typer.echo(f"report: {output}")
    who = f"{verdict.name} version {verdict.version} against champion {verdict.champion}"
    typer.echo(f"{who}: {verdict.gate.summary()}")
    if not verdict.gate.passed:
        raise typer.Exit(EXIT_REJECTED)
