"""Runtime settings from the environment, with embedded defaults that work on a fresh clone.

Nothing is read at import: call ``get_settings()`` where a setting is needed, and ``apply_offline_env()``
once at each entry point (CLI, service) before libraries that might phone home are imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

#: Set for every command the project runs: no hub downloads, no telemetry.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "BENTOML_DO_NOT_TRACK": "true"}


class Settings(BaseModel):
    """Where things live. Override with THREATSCORE_* environment variables."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tracking_uri: str = "sqlite:///mlflow.db"
    registry_uri: str | None = None  # None: the tracking URI
    model_name: str = "threatscore"
    raw_data_dir: Path = Path("../shared/data/raw")
    processed_dir: Path = Path("data/processed")


def get_settings() -> Settings:
    """Settings from the environment (THREATSCORE_TRACKING_URI, THREATSCORE_REGISTRY_URI,
    THREATSCORE_MODEL_NAME, THREATSCORE_RAW_DATA_DIR, THREATSCORE_PROCESSED_DIR), else the defaults."""
    env = {
        field: os.environ[f"THREATSCORE_{field.upper()}"]
        for field in Settings.model_fields
        if f"THREATSCORE_{field.upper()}" in os.environ
    }
    return Settings.model_validate(env)


def apply_offline_env() -> None:
    """Make sure the offline/telemetry variables are set for this process and its children."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
