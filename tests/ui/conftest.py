"""Fixtures of the comparison UI tests: a synthetic registry at scale, the service's key store, the app.

Everything is real: MLflow runs and versions in the session's temporary registry (``mlflow_settings``), API keys
in a SQLite file through ``serving.keys``, the app served by uvicorn for the browser tests.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.pg import free_port
from threatscore.settings import Settings

#: The synthetic registered model (a different name from the tiny model, in the same temporary registry).
SYNTHETIC = "ui-synthetic"
N_EXAMPLES = 10_000


@pytest.fixture(scope="session")
def synthetic_registry(mlflow_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three versions of ``ui-synthetic``; the two newest evaluated on 10,000 examples each (v1 not evaluated)."""
    from tests.ui.synthetic import build_registry

    root = tmp_path_factory.mktemp("ui-synthetic")
    versions = build_registry(mlflow_settings.tracking_uri, SYNTHETIC, root, n_examples=N_EXAMPLES, n_versions=3)
    settings = Settings(tracking_uri=mlflow_settings.tracking_uri, model_name=SYNTHETIC)
    return {"versions": versions, "settings": settings}


@pytest.fixture(scope="session")
def key_store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A migrated SQLite key store with one admin and one score key (plaintext keys returned once)."""
    from serving.db import make_engine, migrate
    from serving.keys import create_key

    url = f"sqlite:///{tmp_path_factory.mktemp('ui-keys') / 'keys.db'}"
    engine = make_engine(url)
    migrate(engine)
    return {
        "url": url,
        "engine": engine,
        "admin": create_key(engine, name="ui-admin", role="admin"),
        "score": create_key(engine, name="ui-reader", role="score"),
    }


class ServedApp:
    """An ASGI app served by uvicorn in a thread of this process, on a free port."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="ui-server", daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the UI server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def artifacts_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """Where test artifacts (screenshots) go: ``$THREATSCORE_TEST_ARTIFACTS/<name>``, else a temporary folder."""
    root = os.environ.get("THREATSCORE_TEST_ARTIFACTS")
    if root:
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp(name)


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the browser tests save page screenshots to."""
    return artifacts_dir(tmp_path_factory, "ui-screenshots")
