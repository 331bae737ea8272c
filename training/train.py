"""The training job: config in, a tracked, registered model out.

``train(path)`` validates the experiment YAML, loads the corpus, fits, logs everything the run needs to be
reproduced (the config file, the data manifest, per-head dev metrics, label counts), packages the pyfunc,
registers it (alias ``challenger``; ``champion`` too when none exists) and evaluates it on the benchmarks.

The steps are separate functions so the retraining job (``training.retrain``) can fit and log a challenger
with ``fit_and_log`` on its own snapshot of the data, evaluate it, and register it only when everything else
succeeded.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from threatscore.registry import configure_tracking
from threatscore.settings import Settings
from training.annotation import load_annotations
from training.baseline import fit_baseline
from training.config import BaselineExperiment, MiniLMExperiment, load_experiment
from training.corpus import load_corpus
from training.corpus.manifest import sha256_file
from training.device_run import DeviceRun, write_bundle
from training.encoder_training import base_tokenizer, text_lengths, tokenize_for_training
from training.evaluate import EvaluationReport, evaluate_model, log_report_to_model_run
from training.minilm import fit_minilm, minilm_training_set
from training.packaging import log_threatscore_model, register

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    run_id: str
    model_uri: str
    version: str
    report: EvaluationReport
    #: The registered model's name (the experiment's ``tracking.register_as``).
    registered_as: str


@dataclass(frozen=True)
class LoggedModel:
    """A model fitted and logged in its own (finished) MLflow run, not registered."""

    run_id: str
    #: The logged model's URI (``models:/m-…``): loadable and registrable.
    model_uri: str


def train(
    config_path: Path, settings: Settings, *, evaluate: bool = True, device_run: DeviceRun | None = None
) -> TrainResult:
    """Run the experiment in ``config_path`` end to end; with ``device_run``, from an encoder trained elsewhere on
    a bundle of this experiment (``training.device_run``)."""
    config = load_experiment(config_path)
    if device_run is not None and not isinstance(config, MiniLMExperiment):
        raise ValueError(f"{config_path}: only a MiniLM experiment trains on a device")
    configure_tracking(settings)
    corpus = load_corpus(config.data.processed_dir)
    logged = fit_and_log(
        config,
        config_path,
        corpus,
        manifest_path=config.data.processed_dir / "manifest.json",
        device_run=device_run,
    )
    version = register(logged.model_uri, config.tracking.register_as, config.tracking.alias)
    MlflowClient().set_tag(logged.run_id, "registered_version", version)
    report = EvaluationReport(rows=[], model_uri=logged.model_uri)
    if evaluate:
        report = evaluate_model(f"models:/{config.tracking.register_as}/{version}", config.data.processed_dir)
        log_report_to_model_run(report)
    return TrainResult(logged.run_id, logged.model_uri, version, report, config.tracking.register_as)


def fit_and_log(
    config: BaselineExperiment | MiniLMExperiment,
    config_path: Path,
    corpus: pd.DataFrame,
    *,
    manifest_path: Path | None = None,
    artifacts: dict[str, Path] | None = None,
    tags: dict[str, str] | None = None,
    device_run: DeviceRun | None = None,
) -> LoggedModel:
    """Fit ``config`` on ``corpus`` and log the run (config, data manifest, metrics, the pyfunc); no registration.

    ``manifest_path`` describes the data (its sha256 becomes the run's ``data.manifest_sha256`` tag and the
    file ships inside the model); ``artifacts`` are extra files or folders logged with the run under the given
    artifact path; ``tags`` are set on the run before fitting, so a failed fit is still findable.
    """
    mlflow.set_experiment(config.tracking.experiment)
    manifest = manifest_path if manifest_path is not None and manifest_path.exists() else None
    with mlflow.start_run(run_name=config.name) as run:
        if tags:
            mlflow.set_tags(tags)
        mlflow.log_params(_flatten(config.model_dump(mode="json")))
        mlflow.log_artifact(str(config_path), artifact_path="config")
        if manifest is not None:
            mlflow.log_artifact(str(manifest), artifact_path="data")
            mlflow.set_tag("data.manifest_sha256", sha256_file(manifest))
        for artifact_path, local in (artifacts or {}).items():
            if local.is_dir():
                mlflow.log_artifacts(str(local), artifact_path=artifact_path)
            else:
                mlflow.log_artifact(str(local), artifact_path=artifact_path)
        started = time.perf_counter()
        if isinstance(config, MiniLMExperiment):
            gold = _gold(config)
            if gold is not None:
                mlflow.log_artifact(str(config.data.annotations), artifact_path="data")
                mlflow.set_tag("data.gold_sha256", sha256_file(config.data.annotations))
            if device_run is not None:
                mlflow.set_tags(device_run.tags())
                for path in device_run.provenance_files():
                    mlflow.log_artifact(str(path), artifact_path="device_run")
            fit = fit_minilm(corpus, gold, config, device_run=device_run)
        else:
            fit = fit_baseline(corpus, config)
        mlflow.log_metric("train_seconds", time.perf_counter() - started)
        mlflow.log_metrics(fit.dev_metrics)
        mlflow.log_metrics({k: float(v) for k, v in fit.label_counts.items()})
        mlflow.set_tag("heads", str(fit.heads.describe()))
        extras = {"experiment_config": config_path}
        if manifest is not None:
            extras["data_manifest"] = manifest
        info = log_threatscore_model(fit.heads, fit.scorer_config, extra_artifacts=extras)
        return LoggedModel(run.info.run_id, str(info.model_uri))


def write_device_bundle(config_path: Path, dest: Path) -> Path:
    """Write the training bundle of the MiniLM experiment in ``config_path`` to ``dest`` (``training.device_run``):
    the same training set ``train`` would build, tokenized. Returns the bundle's manifest."""
    config = load_experiment(config_path)
    if not isinstance(config, MiniLMExperiment):
        raise ValueError(f"{config_path}: only a MiniLM experiment trains on a device")
    corpus = load_corpus(config.data.processed_dir)
    data = minilm_training_set(corpus, _gold(config), config)

    tokenizer = base_tokenizer(config.encoder)
    token_ids = tokenize_for_training(tokenizer, data.texts, config.encoder.train_max_length)
    return write_bundle(
        dest, config_path, config, token_ids, text_lengths(data.texts), data.train_targets, tokenizer.pad_token_id
    )


def _gold(config: MiniLMExperiment) -> pd.DataFrame | None:
    """The experiment's gold set, or None when its file does not exist."""
    return load_annotations(config.data.annotations) if config.data.annotations.exists() else None


def _flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat
