"""Fixtures of the retraining tests: a private MLflow registry, the tiny corpus, a service database per test.

The job moves aliases, so it never touches the session registry other packages use (``registered_tiny``'s
champion stays where it is): this package points MLflow at its own SQLite registry for its modules and puts
the previous URIs back afterwards, and every test registers under its own model name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from threatscore.registry import configure_tracking
from threatscore.settings import Settings

#: The tiny experiment (tests/conftest.py's ``tiny_experiment``) without its data folder.
TINY = {
    "kind": "baseline",
    "name": "tiny-retrain",
    "data": {"max_rows_per_source": None},
    "tfidf": {"max_features": 5000, "min_df": 1},
    "head": {"c_grid": [1.0, 4.0], "calibration": "temperature"},
    "signals": {"min_positives": 5, "min_negatives": 5},
}


@pytest.fixture(scope="module")
def retrain_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A fresh SQLite registry for this module; the URIs in force before are restored afterwards."""
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    root = tmp_path_factory.mktemp("retrain-mlflow")
    settings = Settings(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    configure_tracking(settings)
    yield settings
    mlflow.set_tracking_uri(before[0])
    mlflow.set_registry_uri(before[1])


def write_experiment(path: Path, processed: Path, name: str, **overrides: Any) -> Path:
    """Write the tiny experiment YAML for ``processed``, registered as ``name``."""
    config = {**TINY, **overrides}
    config["data"] = {**config["data"], "processed_dir": str(processed)}
    config["tracking"] = {"register_as": name, "experiment": "retrain-tests"}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def logged_models(retrain_settings: Settings, tiny_processed: Path, tmp_path_factory) -> dict[str, str]:
    """Two logged (unregistered) tiny models: ``good`` (the tiny experiment) and ``weak`` (keyword rules for every
    signal instead of trained heads, so a challenger trained with the tiny experiment beats it on signals)."""
    from training.config import load_experiment
    from training.corpus import load_corpus
    from training.train import fit_and_log

    root = tmp_path_factory.mktemp("logged")
    corpus = load_corpus(tiny_processed)
    out = {}
    for kind, overrides in (("good", {}), ("weak", {"signals": {"min_positives": 1000, "min_negatives": 5}})):
        path = write_experiment(root / f"{kind}.yaml", tiny_processed, "unused", **overrides)
        out[kind] = fit_and_log(load_experiment(path), path, corpus).model_uri
    return out


@dataclass
class Setup:
    """One test's world: a model name in the module registry, a service database, an experiment, a job config."""

    root: Path
    name: str
    db_url: str
    settings: Settings
    processed: Path
    experiment: Path
    config: Path = field(init=False)
    runner: CliRunner = field(default_factory=CliRunner)

    def __post_init__(self) -> None:
        self.config = self.root / "retrain.yaml"
        self.write_config()

    def write_config(self, **overrides: Any) -> Path:
        """Write the job YAML: train always (min_new_feedback 0), gate every row, tolerant latency, no gold set."""
        config: dict[str, Any] = {
            "experiment": str(self.experiment),
            "db_url": self.db_url,
            "output_dir": str(self.root / "out"),
            "policy": {"min_new_feedback": 0, "retrain_on_drift": False},
            "drift": {"min_articles": 4},
            "feedback": {"holdout_fraction": 0.0},
            # Latency is gated in the gate's own tests; here two same-family tiny models race on a busy machine.
            "gate": {"min_support": 1, "max_latency_increase": 1.0},
            "lock": {"stale_after_minutes": 30, "heartbeat_seconds": 5},
            "evaluation": {"annotations": None, "latency_sample": 20, "latency_repeats": 1},
        }
        for key, value in overrides.items():
            config[key] = {**config[key], **value} if isinstance(value, dict) else value
        self.config.write_text(yaml.safe_dump(config), encoding="utf-8")
        return self.config

    def env(self) -> dict[str, str]:
        """What the CLI reads: this registry and this model name."""
        return {"THREATSCORE_TRACKING_URI": self.settings.tracking_uri, "THREATSCORE_MODEL_NAME": self.name}

    def cli(self, *args: str) -> Any:
        """Run ``threatscore ARGS`` in-process; returns click's Result (exit_code, stdout, stderr, output)."""
        from threatscore_cli.main import app

        return self.runner.invoke(app, list(args), env=self.env())

    def retrain(self, *args: str) -> Any:
        """``threatscore retrain --config <this config>``."""
        return self.cli("retrain", "--config", str(self.config), *args)

    def register(self, model_uri: str, *aliases: str) -> str:
        """Register ``model_uri`` under this test's name and point ``aliases`` at it."""
        version = str(mlflow.register_model(model_uri, self.name).version)
        for alias in aliases:
            MlflowClient().set_registered_model_alias(self.name, alias, version)
        return version

    def versions(self) -> list[str]:
        """Every registered version of this test's model, sorted."""
        found = MlflowClient().search_model_versions(f"name = '{self.name}'")
        return sorted((str(v.version) for v in found), key=int)

    def alias(self, alias: str) -> str | None:
        """The version ``alias`` points at."""
        from training.promotion import current_version

        return current_version(self.name, alias)

    def engine(self) -> Any:
        """An engine on the (migrated) service database."""
        from serving.db import make_engine, migrate

        engine = make_engine(self.db_url)
        migrate(engine)
        return engine


@pytest.fixture
def setup(tmp_path: Path, retrain_settings: Settings, tiny_processed: Path) -> Setup:
    """A fresh world for one test (the registry is the module's, under a model name of its own)."""
    configure_tracking(retrain_settings)  # a CLI run of another test may have pointed MLflow elsewhere
    name = f"ts-{uuid.uuid4().hex[:8]}"
    experiment = write_experiment(tmp_path / "experiment.yaml", tiny_processed, name)
    return Setup(tmp_path, name, f"sqlite:///{tmp_path / 'service.db'}", retrain_settings, tiny_processed, experiment)
