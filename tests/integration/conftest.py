"""A real MLflow registry (SQLite file + local artifacts) in a temp folder, with the tiny baseline registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from threatscore.registry import configure_tracking
from threatscore.settings import Settings


@pytest.fixture(scope="session")
def mlflow_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at a fresh SQLite tracking store, applied to this process."""
    root = tmp_path_factory.mktemp("mlflow")
    settings = Settings(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    configure_tracking(settings)
    import mlflow

    mlflow.set_experiment("tests")
    # Artifacts go to the experiment's default location next to the database; keep them inside tmp.
    return settings


@pytest.fixture(scope="session")
def registered_tiny(mlflow_settings: Settings, tiny_experiment, tmp_path_factory) -> dict:
    """Train the tiny experiment through the real job (log, register, evaluate) and return its facts."""
    import yaml

    from training.train import train

    config_path = Path(tmp_path_factory.mktemp("exp")) / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(tiny_experiment.model_dump(mode="json")), encoding="utf-8")
    result = train(config_path, mlflow_settings, evaluate=True)
    return {"result": result, "config_path": config_path, "settings": mlflow_settings}
