"""``threatscore retrain``: champion/challenger retraining with a gated promotion.

One run, under a lock in the service database:

1. **gather** — feedback stored by the service since the last completed run is counted; the base corpus loads;
2. **drift** — recent scored articles vs the training data (``training.drift``);
3. **policy** — train only when enough new feedback arrived or the data drifted (else exit "nothing to do");
4. **snapshot** — base corpus + all feedback, frozen with a manifest (``training.snapshot``);
5. **train** — the configured experiment fits the challenger on the snapshot and logs it (no registration);
6. **evaluate** — challenger and champion on the same frozen suite: the benchmark splits, the gold test part,
   the held-out feedback, and per-article latency timed on one sample, interleaved;
7. **gate** — ``GateConfig`` decides (``training.gate``);
8. **report** — Markdown + JSON next to the snapshot and as artifacts of the challenger's MLflow run;
9. **register** — only now a registry version is made, alias ``challenger`` (a failure here deletes it);
10. **promote** — ``champion`` moves only when the gate passed.

A crash at any step leaves the champion untouched and no registry version behind (the challenger's MLflow
run is marked FAILED, the run's row in ``retrain_runs`` says which step failed), and the lock is released.
Every run's inputs can be rebuilt from its snapshot manifest (``training.snapshot.load_snapshot``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from serving.config import db_url_from_env
from serving.db import FeedbackRow, RetrainRunRow, make_engine, migrate, utcnow
from threatscore.registry import configure_tracking, load_model
from threatscore.settings import Settings
from training.config import BaselineExperiment, MiniLMExperiment, RetrainConfig, load_experiment, load_retrain_config
from training.corpus import load_corpus
from training.corpus.manifest import sha256_file
from training.drift import DriftResult, check_drift
from training.evaluate import EvaluationReport, evaluate_model, log_report_to_run, render_side_by_side
from training.gate import GateResult, Latency, feedback_rows, run_gate, time_models
from training.job_lock import JobLock
from training.promotion import CHAMPION, current_version, promote
from training.snapshot import Snapshot, build_snapshot
from training.train import LoggedModel, fit_and_log

logger = logging.getLogger(__name__)

LOCK_NAME = "retrain"
CHALLENGER = "challenger"
#: Statuses of a finished run that count as "the last run" for new feedback.
COMPLETED = ("kept", "promoted")


class RetrainError(RuntimeError):
    """A step of the job raised: nothing was registered or promoted."""

    def __init__(self, job_id: str, step: str, cause: BaseException, *, promoted: bool = False) -> None:
        self.job_id, self.step, self.cause = job_id, step, cause
        #: True only when the failure came after the champion moved (recording the finished run).
        self.promoted = promoted
        super().__init__(f"retrain {job_id} failed at step '{step}': {type(cause).__name__}: {cause}")


@dataclass
class RetrainResult:
    """What one run did."""

    job_id: str
    #: skipped (nothing to do) | kept (gate failed: challenger registered, champion unchanged) | promoted
    status: str
    message: str
    model_name: str
    champion_before: str | None = None
    champion_after: str | None = None
    challenger_version: str | None = None
    run_id: str | None = None
    directory: Path | None = None
    report_path: Path | None = None
    gate: GateResult | None = None
    drift: DriftResult | None = None
    took_over_lock_from: str | None = None


@dataclass
class Suite:
    """Both models' reports on the frozen suite and their latency."""

    reports: dict[str, EvaluationReport]
    latency: dict[str, Latency] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- bookkeeping


def last_watermark(engine: Engine) -> int:
    """The feedback watermark of the newest completed run (0 when no run completed yet)."""
    with engine.connect() as connection:
        found = connection.execute(
            select(RetrainRunRow.feedback_watermark)
            .where(RetrainRunRow.status.in_(COMPLETED))
            .order_by(RetrainRunRow.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    return int(found or 0)


def count_feedback_after(engine: Engine, watermark: int) -> int:
    """Feedback rows stored after ``watermark`` (the new feedback a run would bring in)."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(FeedbackRow).where(FeedbackRow.id > watermark)
            ).scalar_one()
        )


def list_runs(engine: Engine) -> list[dict[str, Any]]:
    """Every recorded retraining run, oldest first."""
    with engine.connect() as connection:
        return [
            dict(r._mapping) for r in connection.execute(select(RetrainRunRow.__table__).order_by(RetrainRunRow.id))
        ]


def _record(engine: Engine, job_id: str, **values: Any) -> None:
    with engine.begin() as connection:
        done = connection.execute(update(RetrainRunRow).where(RetrainRunRow.job_id == job_id).values(**values)).rowcount
        if not done:
            connection.execute(insert(RetrainRunRow).values(job_id=job_id, **values))


def _abandon(engine: Engine, job_id: str) -> None:
    """Mark the run of a job whose stale lock was taken over as failed (it died without saying so)."""
    with engine.begin() as connection:
        connection.execute(
            update(RetrainRunRow)
            .where(RetrainRunRow.job_id == job_id, RetrainRunRow.status == "running")
            .values(status="failed", finished_at=utcnow(), message="abandoned: its lock went stale and was taken over")
        )


# --------------------------------------------------------------------------------------------- steps


def decide(config: RetrainConfig, new_feedback: int, drift: DriftResult, *, ignore_policy: bool) -> tuple[bool, str]:
    """Whether to train, and why (or why not)."""
    if ignore_policy:
        return True, "policy ignored (--ignore-policy)"
    policy = config.policy
    reasons = []
    if new_feedback >= policy.min_new_feedback:
        reasons.append(f"{new_feedback} new feedback since the last run (min {policy.min_new_feedback})")
    if policy.retrain_on_drift and drift.drifted:
        reasons.append(drift.message)
    if reasons:
        return True, "; ".join(reasons)
    drift_part = drift.message if policy.retrain_on_drift else "retraining on drift is off"
    return False, (
        f"nothing to do: {new_feedback} new feedback since the last run (< {policy.min_new_feedback}) and {drift_part}"
    )


def train_challenger(
    experiment: BaselineExperiment | MiniLMExperiment,
    config: RetrainConfig,
    config_path: Path,
    snapshot: Snapshot,
    job_id: str,
) -> LoggedModel:
    """Fit the experiment on the snapshot and log the run (snapshot and both configs as artifacts)."""
    return fit_and_log(
        experiment,
        config.experiment,
        snapshot.training,
        manifest_path=snapshot.manifest_path,
        artifacts={"snapshot": snapshot.directory, "config": config_path},
        tags={"retrain.job_id": job_id, "retrain.role": CHALLENGER},
    )


def evaluate_suite(
    challenger_uri: str,
    champion_uri: str | None,
    processed_dir: Path,
    holdout: pd.DataFrame,
    config: RetrainConfig,
) -> Suite:
    """Both models on the frozen suite (benchmarks, gold test part, held-out feedback) and their latency."""
    evaluation = config.evaluation
    annotations = evaluation.annotations if evaluation.annotations and evaluation.annotations.exists() else None
    reports: dict[str, EvaluationReport] = {}
    models = {}
    for role, uri in (("champion", champion_uri), ("challenger", challenger_uri)):
        if uri is None:
            continue
        logger.info("evaluating the %s %s", role, uri)
        report = evaluate_model(
            uri, processed_dir, with_tasks=evaluation.with_tasks, seed=evaluation.seed, annotations=annotations
        )
        models[role] = load_model(uri)
        report.rows += feedback_rows(models[role], holdout)
        reports[role] = report
    corpus = load_corpus(processed_dir)
    test = corpus[corpus["split"] == "test"]
    sample = test.sample(n=min(len(test), evaluation.latency_sample), random_state=evaluation.seed)
    latency = time_models(models, sample, repeats=evaluation.latency_repeats)
    return Suite(reports, latency)


def register_challenger(model_uri: str, name: str, run_id: str, tags: dict[str, str]) -> str:
    """Register the logged model as a new version of ``name`` with alias ``challenger``; all or nothing.

    When any part fails, the version made so far is deleted and the previous ``challenger`` alias restored.
    """
    client = MlflowClient()
    previous = current_version(name, CHALLENGER)
    try:
        version = str(mlflow.register_model(model_uri, name, tags=tags).version)
        client.set_registered_model_alias(name, CHALLENGER, version)
        client.set_tag(run_id, "registered_version", version)
        return version
    except BaseException:
        _undo_registration(client, name, run_id, model_uri, previous)
        raise


def _undo_registration(client: MlflowClient, name: str, run_id: str, model_uri: str, previous: str | None) -> None:
    """Delete every version registered from this run's model and put the challenger alias back."""
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except Exception:
        logger.exception("cannot list versions of %s to undo a failed registration", name)
        return
    for mv in versions:
        if mv.run_id == run_id or mv.source == model_uri:
            try:
                client.delete_model_version(name, mv.version)
                logger.warning("deleted half-registered %s version %s", name, mv.version)
            except Exception:
                logger.exception("could not delete half-registered %s version %s", name, mv.version)
    if previous is not None and current_version(name, CHALLENGER) != previous:
        try:
            client.set_registered_model_alias(name, CHALLENGER, previous)
        except Exception:
            logger.exception("could not restore %s@%s -> %s", name, CHALLENGER, previous)


# --------------------------------------------------------------------------------------------- the report


def render_report(
    *,
    job_id: str,
    name: str,
    decision: str,
    reason: str,
    champion_version: str | None,
    challenger_run: str,
    snapshot: Snapshot,
    drift: DriftResult,
    gate: GateResult,
    suite: Suite,
) -> str:
    """The comparison report as Markdown."""
    fb = snapshot.manifest["feedback"]
    lines = [
        f"# Retrain {job_id}: {decision}",
        "",
        f"- model: `{name}`; champion before: {f'version {champion_version}' if champion_version else 'none'}",
        f"- challenger: MLflow run `{challenger_run}`",
        f"- why it trained: {reason}",
        f"- gate: {gate.summary()}",
        "",
        "## Data",
        "",
        f"- base corpus: {snapshot.manifest['base']['rows']} rows "
        f"(sha256 `{snapshot.manifest['base']['corpus_sha256'][:12]}`)",
        f"- feedback: {fb['rows']} rows up to id {fb['watermark_id']} ({fb['new_since_last_run']} new since the "
        f"last run) on {fb['items']} articles: {fb['overriding_corpus_items']} override corpus items, "
        f"{fb['new_items']} are new; {fb['train_items']} in training, {fb['holdout_items']} held out",
        f"- training frame: {snapshot.manifest['training_frame']['rows']} rows "
        f"(sha256 `{snapshot.manifest['training_frame']['sha256'][:12]}`); manifest `snapshot/manifest.json`",
        "",
        "## Drift",
        "",
        f"- {drift.message}",
    ]
    if drift.checked:
        lines += [
            f"- {drift.n_recent} articles scored since {drift.since} vs {drift.n_training} training rows",
            f"- terms of recent articles: {', '.join(drift.recent_terms) or '—'}",
            f"- terms of the training data: {', '.join(drift.training_terms) or '—'}",
        ]
    lines += ["", "## Gate", "", gate.render_markdown(), render_suite(suite)]
    return "\n".join(lines)


def render_suite(suite: Suite) -> str:
    """The suite's latency table and both models' benchmark tables side by side, as Markdown."""
    lines = []
    if suite.latency:
        lines += ["## Latency (ms per article, same sample, interleaved)", "", "| model | p50 | p95 | mean | n |"]
        lines.append("|---|---|---|---|---|")
        for role, lat in suite.latency.items():
            lines.append(f"| {role} | {lat.p50_ms:.2f} | {lat.p95_ms:.2f} | {lat.mean_ms:.2f} | {lat.n} |")
        lines.append("")
    labelled = [dataclasses.replace(rep, model_uri=f"{role} {rep.model_uri}") for role, rep in suite.reports.items()]
    lines.append(render_side_by_side(labelled))
    return "\n".join(lines)


def _report_json(result: RetrainResult, snapshot: Snapshot, suite: Suite, reason: str) -> dict[str, Any]:
    return {
        "job_id": result.job_id,
        "status": result.status,
        "message": result.message,
        "reason": reason,
        "model_name": result.model_name,
        "champion_before": result.champion_before,
        "champion_after": result.champion_after,
        "challenger_version": result.challenger_version,
        "run_id": result.run_id,
        "snapshot_manifest": snapshot.manifest,
        "drift": result.drift.to_dict() if result.drift else None,
        "gate": result.gate.to_dict() if result.gate else None,
        "latency": {k: dataclasses.asdict(v) for k, v in suite.latency.items()},
        "reports": {k: v.to_dict() for k, v in suite.reports.items()},
    }


# --------------------------------------------------------------------------------------------- the job


def retrain(
    config_path: Path, settings: Settings, *, ignore_policy: bool = False, db_url: str | None = None
) -> RetrainResult:
    """Run the retraining job once (see the module docstring). Raises ``LockHeldError`` when another run holds the lock
    and ``RetrainError`` when a step fails; a gate failure is a normal result (status ``kept``)."""
    config = load_retrain_config(config_path)
    experiment = load_experiment(config.experiment)
    configure_tracking(settings)
    engine = make_engine(db_url or config.db_url or db_url_from_env())
    try:
        migrate(engine)
        job_id = f"{utcnow():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        lock = JobLock(
            engine,
            LOCK_NAME,
            holder=job_id,
            stale_after=dt.timedelta(minutes=config.lock.stale_after_minutes),
            heartbeat_seconds=config.lock.heartbeat_seconds,
        )
        with lock:
            took_over = lock.acquired.took_over if lock.acquired else None
            if took_over:
                _abandon(engine, took_over)
            _record(engine, job_id, status="running", started_at=utcnow())
            job = _Job(job_id, config, config_path, experiment, engine, lock, ignore_policy)
            try:
                result = job.run()
            except Exception as exc:
                job.fail(exc)
                raise RetrainError(job_id, job.step, exc, promoted=job.promoted) from exc
            except BaseException as exc:  # interrupted: record it, but let the interrupt through
                job.fail(exc)
                raise
            result.took_over_lock_from = took_over
            return result
    finally:
        engine.dispose()


class _Job:
    """One run's state; ``step`` names what it is doing, for the failure report."""

    def __init__(
        self,
        job_id: str,
        config: RetrainConfig,
        config_path: Path,
        experiment: BaselineExperiment | MiniLMExperiment,
        engine: Engine,
        lock: JobLock,
        ignore_policy: bool,
    ) -> None:
        self.job_id = job_id
        self.config = config
        self.config_path = config_path
        self.experiment = experiment
        self.engine = engine
        self.lock = lock
        self.ignore_policy = ignore_policy
        self.name = experiment.tracking.register_as
        self.step = "start"
        self.run_id: str | None = None
        self.promoted = False
        self.directory = config.output_dir / job_id

    def run(self) -> RetrainResult:
        processed_dir = self.experiment.data.processed_dir
        self.step = "gather"
        previous = last_watermark(self.engine)
        new_feedback = count_feedback_after(self.engine, previous)
        base = load_corpus(processed_dir)
        self.step = "drift"
        drift = check_drift(self.engine, base, self.config.drift)
        self.step = "policy"
        go, reason = decide(self.config, new_feedback, drift, ignore_policy=self.ignore_policy)
        champion_before = current_version(self.name, CHAMPION)
        if not go:
            logger.info("%s", reason)
            _record(
                self.engine,
                self.job_id,
                status="skipped",
                finished_at=utcnow(),
                feedback_new=new_feedback,
                drift_auc=drift.auc,
                model_name=self.name,
                champion_before=champion_before,
                champion_after=champion_before,
                message=reason,
            )
            return RetrainResult(
                self.job_id, "skipped", reason, self.name, champion_before, champion_before, drift=drift
            )
        logger.info("retraining: %s", reason)

        self.step = "snapshot"
        snapshot = build_snapshot(
            self.engine,
            processed_dir,
            self.directory / "snapshot",
            fraction=self.config.feedback.holdout_fraction,
            seed=self.config.feedback.holdout_seed,
            previous_watermark=previous,
            inputs={"experiment": self.config.experiment, "retrain_config": self.config_path},
            base=base,
        )
        feedback = snapshot.manifest["feedback"]
        _record(
            self.engine,
            self.job_id,
            feedback_watermark=feedback["watermark_id"],
            feedback_total=feedback["rows"],
            feedback_new=feedback["new_since_last_run"],
            drift_auc=drift.auc,
            model_name=self.name,
            champion_before=champion_before,
        )

        self.step = "train"
        logged = train_challenger(self.experiment, self.config, self.config_path, snapshot, self.job_id)
        self.run_id = logged.run_id
        _record(self.engine, self.job_id, mlflow_run_id=logged.run_id)

        self.step = "evaluate"
        champion_uri = f"models:/{self.name}/{champion_before}" if champion_before else None
        suite = evaluate_suite(logged.model_uri, champion_uri, processed_dir, snapshot.holdout, self.config)

        self.step = "gate"
        gate = run_gate(suite.reports.get("champion"), suite.reports["challenger"], suite.latency, self.config.gate)
        logger.info("%s", gate.summary())

        self.step = "report"
        decision = "promoted" if gate.passed else "kept"
        message = (
            f"challenger promoted to champion ({gate.summary()})"
            if gate.passed
            else f"challenger kept, champion unchanged ({gate.summary()})"
        )
        result = RetrainResult(
            self.job_id,
            decision,
            message,
            self.name,
            champion_before,
            champion_before,
            run_id=logged.run_id,
            directory=self.directory,
            gate=gate,
            drift=drift,
        )
        report_md = render_report(
            job_id=self.job_id,
            name=self.name,
            decision="challenger passes the gate" if gate.passed else "challenger kept, champion unchanged",
            reason=reason,
            champion_version=champion_before,
            challenger_run=logged.run_id,
            snapshot=snapshot,
            drift=drift,
            gate=gate,
            suite=suite,
        )
        result.report_path = self._write_report(logged.run_id, report_md, result, snapshot, suite, reason, drift, gate)

        self.step = "register"
        self.lock.check()
        tags = {
            "retrain.job_id": self.job_id,
            "retrain.gate": "pass" if gate.passed else "fail",
            "retrain.gate_summary": gate.summary()[:4000],
            "data.manifest_sha256": sha256_file(snapshot.manifest_path),
        }
        version = register_challenger(logged.model_uri, self.name, logged.run_id, tags)
        result.challenger_version = version
        _record(self.engine, self.job_id, challenger_version=version)

        if gate.passed:
            self.step = "promote"
            self.lock.check()
            done = promote(self.name, version, f"retrain {self.job_id}: {gate.summary()}", actor="threatscore-retrain")
            self.promoted = True
            result.champion_after = done.version
            result.message = f"challenger v{version} promoted to champion ({gate.summary()})"
        else:
            result.message = f"challenger v{version} kept, champion unchanged ({gate.summary()})"
        self.step = "finish"
        _record(
            self.engine,
            self.job_id,
            status=decision,
            finished_at=utcnow(),
            champion_after=result.champion_after,
            report_path=str(result.report_path),
            message=result.message,
        )
        return result

    def _write_report(
        self,
        run_id: str,
        markdown: str,
        result: RetrainResult,
        snapshot: Snapshot,
        suite: Suite,
        reason: str,
        drift: DriftResult,
        gate: GateResult,
    ) -> Path:
        """Write report.md/report.json next to the snapshot and log them (and the metrics) to the challenger run."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / "report.md"
        path.write_text(markdown, encoding="utf-8")
        (self.directory / "report.json").write_text(
            json.dumps(_report_json(result, snapshot, suite, reason), indent=2, default=str), encoding="utf-8"
        )
        log_report_to_run(suite.reports["challenger"], run_id)
        client = MlflowClient()
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("report.md", "report.json"):
                (Path(tmp) / name).write_bytes((self.directory / name).read_bytes())
            client.log_artifacts(run_id, tmp, artifact_path="retrain")
        metrics = {"retrain.gate_passed": float(gate.passed)}
        if drift.auc is not None:
            metrics["retrain.drift_auc"] = drift.auc
        for role, lat in suite.latency.items():
            metrics[f"retrain.latency.{role}.p95_ms"] = lat.p95_ms
            metrics[f"retrain.latency.{role}.p50_ms"] = lat.p50_ms
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        client.set_tag(run_id, "retrain.gate", "pass" if gate.passed else "fail")
        return path

    def fail(self, exc: BaseException) -> None:
        """Record the failure: the run row, and the challenger's MLflow run (FAILED, with the error)."""
        message = f"failed at step '{self.step}': {type(exc).__name__}: {exc}"
        logger.error("retrain %s %s", self.job_id, message)
        try:
            _record(self.engine, self.job_id, status="failed", finished_at=utcnow(), message=message[:4000])
        except Exception:
            logger.exception("could not record the failure of %s", self.job_id)
        if self.run_id is not None:
            try:
                client = MlflowClient()
                client.set_tag(self.run_id, "retrain.error", message[:4000])
                client.set_terminated(self.run_id, "FAILED")
            except Exception:
                logger.exception("could not mark MLflow run %s as failed", self.run_id)
