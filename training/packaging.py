"""Log a model as the threatscore MLflow pyfunc (model-from-code) and register it under an alias."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import joblib
import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

import threatscore
from threatscore.heads import TextHeads
from threatscore.scorer import ScorerConfig

logger = logging.getLogger(__name__)

#: The model's input: articles as a table (or a list of dicts). Only id and text are needed per article.
SIGNATURE = ModelSignature(
    inputs=Schema(
        [
            ColSpec("string", "id"),
            ColSpec("string", "text"),
            ColSpec("string", "title", required=False),
            ColSpec("string", "published", required=False),
            ColSpec("string", "source", required=False),
        ]
    ),
    params=ParamSchema([ParamSpec("model_version", "string", ""), ParamSpec("model_alias", "string", "")]),
)

INPUT_EXAMPLE = [
    {
        "id": "example-1",
        "text": "Gunmen attacked a police post near Maiduguri, killing four officers. "
        "Boko Haram claimed responsibility.",
        "title": "Attack on police post",
        "published": "2021-03-04",
        "source": "example",
    }
]


def log_threatscore_model(
    heads: TextHeads,
    scorer_config: ScorerConfig,
    *,
    extra_artifacts: dict[str, Path] | None = None,
    pip_requirements: list[str] | None = None,
) -> Any:
    """Log heads + config as the threatscore pyfunc in the active run; returns MLflow's ``ModelInfo``.

    The core package travels in ``code_paths`` so the model loads wherever MLflow can load a pyfunc.
    """
    package_dir = Path(threatscore.__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        heads_path = Path(tmp) / "heads.joblib"
        config_path = Path(tmp) / "scorer_config.json"
        joblib.dump(heads, heads_path, compress=3)
        config_path.write_text(scorer_config.model_dump_json(indent=2), encoding="utf-8")
        artifacts = {"heads": str(heads_path), "scorer_config": str(config_path)}
        artifacts.update({k: str(v) for k, v in (extra_artifacts or {}).items()})
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(package_dir / "pyfunc_entry.py"),
            artifacts=artifacts,
            code_paths=[str(package_dir)],
            signature=SIGNATURE,
            input_example=pd.DataFrame(INPUT_EXAMPLE),
            pip_requirements=pip_requirements,
        )


def register(model_uri: str, name: str, alias: str) -> str:
    """Register ``model_uri`` as a new version of ``name``, point ``alias`` at it, and make it ``champion``
    when the model has none yet (the first model bootstraps serving). Returns the new version."""
    version = str(mlflow.register_model(model_uri, name).version)
    client = MlflowClient()
    client.set_registered_model_alias(name, alias, version)
    if not has_alias(name, "champion"):
        client.set_registered_model_alias(name, "champion", version)
        logger.info("%s v%s is the first model: it becomes champion", name, version)
    return version


def has_alias(name: str, alias: str) -> bool:
    """True when registered model ``name`` exists and has ``alias``."""
    try:
        MlflowClient().get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return False
    return True
