"""The retraining gate applied to a version that is already registered (``threatscore gate``).

The retraining job (``training.retrain``) trains its own challenger and gates it before registering it. A version
trained from an experiment YAML (``threatscore train``: a re-blend, new rules) is registered as ``challenger``
without a gate; this applies the same gate to it, against the champion, on the same frozen suite (benchmark
splits, gold test part, per-article latency; no feedback holdout, which only a job's snapshot has), and records the
verdict on the version (tag ``retrain.gate``), which ``threatscore promote`` honours: a rejected version moves only
with ``--force``.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from threatscore.registry import configure_tracking
from threatscore.settings import Settings
from training.config import load_experiment, load_retrain_config
from training.evaluate import log_report_to_run
from training.gate import GateResult, run_gate
from training.promotion import CHAMPION, current_version
from training.retrain import CHALLENGER, Suite, evaluate_suite, render_suite

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateVerdict:
    """The gate's verdict on one registered version against the champion, and the report behind it."""

    name: str
    version: str
    champion: str
    gate: GateResult
    suite: Suite
    report: str


def gate_version(config_path: Path, settings: Settings, version: str | None = None) -> GateVerdict:
    """Apply the gate of the retraining config ``config_path`` to ``version`` of the settings' model (default: its
    challenger) against its champion; tag the version ``retrain.gate`` pass/fail (with the summary) and log the
    report and the challenger's benchmark metrics to its run. ``ValueError`` when there is nothing to compare."""
    config = load_retrain_config(config_path)
    processed_dir = load_experiment(config.experiment).data.processed_dir
    configure_tracking(settings)
    name = settings.model_name
    champion = current_version(name, CHAMPION)
    version = version or current_version(name, CHALLENGER)
    if champion is None:
        raise ValueError(f"{name} has no champion to compare with")
    if version is None:
        raise ValueError(f"{name} has no challenger; give a version")
    if str(version) == champion:
        raise ValueError(f"{name} version {version} is the champion")
    client = MlflowClient()
    run_id = client.get_model_version(name, str(version)).run_id  # unknown version: MLflow's error names it
    suite = evaluate_suite(
        f"models:/{name}/{version}", f"models:/{name}/{champion}", processed_dir, pd.DataFrame(), config
    )
    gate = run_gate(suite.reports["champion"], suite.reports["challenger"], suite.latency, config.gate)
    logger.info("%s version %s against champion %s: %s", name, version, champion, gate.summary())
    report = "\n".join(
        [
            f"# Gate: {name} version {version} against champion version {champion}",
            "",
            f"- gate ({config_path}): {gate.summary()}",
            "- suite: the benchmark splits and the gold test part (no feedback holdout: this version was not trained "
            "by the retraining job)",
            "",
            "## Gate",
            "",
            gate.render_markdown(),
            render_suite(suite),
        ]
    )
    client.set_model_version_tag(name, str(version), "retrain.gate", "pass" if gate.passed else "fail")
    client.set_model_version_tag(name, str(version), "retrain.gate_summary", gate.summary()[:4000])
    if run_id:
        log_report_to_run(suite.reports["challenger"], run_id)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "report.md").write_text(report, encoding="utf-8")
            client.log_artifacts(run_id, tmp, artifact_path="gate")
    return GateVerdict(name, str(version), champion, gate, suite, report)
