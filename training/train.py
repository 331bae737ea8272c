"""The training job: config in, a tracked, registered model out.

``train(path)`` validates the experiment YAML, loads the corpus, fits, logs everything the run needs to be
reproduced (the config file, the data manifest, per-head dev metrics, label counts), packages the pyfunc,
registers it (alias ``challenger``; ``champion`` too when none exists) and evaluates it on the benchmarks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow

from threatscore.registry import configure_tracking
from threatscore.settings import Settings
from training.annotation import load_annotations
from training.baseline import fit_baseline
from training.config import MiniLMExperiment, load_experiment
from training.corpus import load_corpus
from training.corpus.manifest import sha256_file
from training.evaluate import EvaluationReport, evaluate_model, log_report_to_model_run
from training.minilm import fit_minilm
from training.packaging import log_threatscore_model, register

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    run_id: str
    model_uri: str
    version: str
    report: EvaluationReport


def train(config_path: Path, settings: Settings, *, evaluate: bool = True) -> TrainResult:
    """Run the experiment in ``config_path`` end to end."""
    config = load_experiment(config_path)
    configure_tracking(settings)
    corpus = load_corpus(config.data.processed_dir)
    manifest_path = config.data.processed_dir / "manifest.json"
    mlflow.set_experiment(config.tracking.experiment)
    with mlflow.start_run(run_name=config.name) as run:
        mlflow.log_params(_flatten(config.model_dump(mode="json")))
        mlflow.log_artifact(str(config_path), artifact_path="config")
        if manifest_path.exists():
            mlflow.log_artifact(str(manifest_path), artifact_path="data")
            mlflow.set_tag("data.manifest_sha256", sha256_file(manifest_path))
        started = time.perf_counter()
        if isinstance(config, MiniLMExperiment):
            gold = load_annotations(config.data.annotations) if config.data.annotations.exists() else None
            if gold is not None:
                mlflow.log_artifact(str(config.data.annotations), artifact_path="data")
                mlflow.set_tag("data.gold_sha256", sha256_file(config.data.annotations))
            fit = fit_minilm(corpus, gold, config)
        else:
            fit = fit_baseline(corpus, config)
        mlflow.log_metric("train_seconds", time.perf_counter() - started)
        mlflow.log_metrics(fit.dev_metrics)
        mlflow.log_metrics({k: float(v) for k, v in fit.label_counts.items()})
        mlflow.set_tag("heads", str(fit.heads.describe()))
        extras = {"experiment_config": config_path}
        if manifest_path.exists():
            extras["data_manifest"] = manifest_path
        info = log_threatscore_model(fit.heads, fit.scorer_config, extra_artifacts=extras)
        version = register(info.model_uri, config.tracking.register_as, config.tracking.alias)
        mlflow.set_tag("registered_version", version)
        run_id = run.info.run_id
    report = EvaluationReport(rows=[], model_uri=info.model_uri)
    if evaluate:
        report = evaluate_model(f"models:/{config.tracking.register_as}/{version}", config.data.processed_dir)
        log_report_to_model_run(report)
    return TrainResult(run_id, info.model_uri, version, report)


def _flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat
