"""Settings of the scoring service, read from the environment when the service starts (never at import).

| variable | default | what |
|---|---|---|
| ``THREATSCORE_DB_URL`` | ``sqlite:///threatscore.db`` | where articles, assessments, feedback and API keys live |
| ``THREATSCORE_MODEL_URI`` | ``models:/<THREATSCORE_MODEL_NAME>@champion`` | the registry alias the service follows |
| ``THREATSCORE_POLL_SECONDS`` | ``60`` | how often the alias is checked for a new version (0: never) |
| ``THREATSCORE_MAX_BODY_BYTES`` | ``5242880`` (5 MiB) | largest request body; larger ones get 413 |
| ``THREATSCORE_KEY_CACHE_SECONDS`` | ``10`` | how long a verified API key is trusted before it is looked up again |
| ``THREATSCORE_CORS_ORIGINS`` | empty (CORS off) | comma-separated origins allowed to call the API from a browser |
| ``THREATSCORE_MODEL_STORE_KEEP`` | ``3`` | imported model versions kept in the BentoML model store |

The MLflow tracking and registry URIs come from ``threatscore.settings`` (``THREATSCORE_TRACKING_URI``, ...).
"""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from threatscore.settings import get_settings

#: The largest request body accepted by default: 5 MiB.
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
#: Most articles in one ``POST /score``.
MAX_BATCH = 256


class ServiceSettings(BaseModel):
    """Everything the service reads from the environment, validated once at start."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    db_url: str = "sqlite:///threatscore.db"
    model_uri: str = "models:/threatscore@champion"
    poll_seconds: Annotated[float, Field(ge=0)] = 60.0
    max_body_bytes: Annotated[int, Field(gt=0)] = DEFAULT_MAX_BODY_BYTES
    key_cache_seconds: Annotated[float, Field(ge=0)] = 10.0
    cors_origins: tuple[str, ...] = ()
    model_store_keep: Annotated[int, Field(ge=1)] = 3


_ENV = {
    "db_url": "THREATSCORE_DB_URL",
    "model_uri": "THREATSCORE_MODEL_URI",
    "poll_seconds": "THREATSCORE_POLL_SECONDS",
    "max_body_bytes": "THREATSCORE_MAX_BODY_BYTES",
    "key_cache_seconds": "THREATSCORE_KEY_CACHE_SECONDS",
    "cors_origins": "THREATSCORE_CORS_ORIGINS",
    "model_store_keep": "THREATSCORE_MODEL_STORE_KEEP",
}


def get_service_settings() -> ServiceSettings:
    """Service settings from the environment (see the module docstring), else the defaults."""
    values: dict[str, object] = {"model_uri": f"models:/{get_settings().model_name}@champion"}
    for field, variable in _ENV.items():
        raw = os.environ.get(variable)
        if raw is None or raw == "":
            continue
        if field == "cors_origins":
            values[field] = tuple(o.strip() for o in raw.split(",") if o.strip())
        else:
            values[field] = raw
    return ServiceSettings.model_validate(values)


def db_url_from_env() -> str:
    """The database URL the service and the ``keys`` commands use."""
    return get_service_settings().db_url
