"""Fixtures of the serving tests: the service in-process (BentoML's ASGI app), API keys, databases.

The model is the tiny baseline trained and registered by ``registered_tiny``; nothing is mocked: the
service loads it through the registry and the BentoML model store, and writes to a real SQLite file or a real
PostgreSQL cluster started here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import PostgresUnavailableError, create_pg_database, free_port, postgres_cluster

__all__ = ["auth", "create_pg_database", "free_port", "patched_env", "running_service"]

#: Environment every in-process service of these tests starts with (poll off: tests reload explicitly).
BASE_ENV = {"THREATSCORE_POLL_SECONDS": "0", "THREATSCORE_KEY_CACHE_SECONDS": "0"}


@pytest.fixture(scope="session")
def bentoml_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private BentoML home (model store) for this test process, set before the store is first used.

    Also gives Prometheus the multiprocess folder BentoML's ``/metrics`` expects (``bentoml serve`` sets one;
    in-process it must exist before ``prometheus_client`` is first imported).
    """
    home = tmp_path_factory.mktemp("bentoml-home")
    os.environ["BENTOML_HOME"] = str(home)
    prometheus = tmp_path_factory.mktemp("prometheus")
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(prometheus))
    return home


@contextlib.contextmanager
def patched_env(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def running_service(env: dict[str, str]) -> Iterator[object]:
    """The whole service (gateway + model service) in this process, behind a starlette TestClient."""
    import mlflow
    from starlette.testclient import TestClient

    from serving.service import Threatscore

    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with patched_env({**BASE_ENV, **env}):
        app = Threatscore.to_asgi()
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                yield client
        finally:  # the service points MLflow at its registry; give the other tests theirs back
            mlflow.set_tracking_uri(tracking)
            mlflow.set_registry_uri(registry)
            _reset_prometheus()


def _reset_prometheus() -> None:
    """Each in-process app registers BentoML's collectors in the process-wide Prometheus registry (one app per
    process when served); drop them so the next app of this test process can register its own."""
    import prometheus_client

    from serving import service

    for collector in list(prometheus_client.REGISTRY._collector_to_names):
        with contextlib.suppress(KeyError):
            prometheus_client.REGISTRY.unregister(collector)
    service._metrics.cache_clear()


@pytest.fixture(scope="module")
def service_env(tmp_path_factory: pytest.TempPathFactory, registered_tiny, bentoml_home) -> dict[str, str]:
    """Environment of a service on the tiny champion with its own SQLite database."""
    root = tmp_path_factory.mktemp("service")
    return {
        "THREATSCORE_DB_URL": f"sqlite:///{root / 'threatscore.db'}",
        "THREATSCORE_TRACKING_URI": registered_tiny["settings"].tracking_uri,
    }


@pytest.fixture(scope="module")
def client(service_env: dict[str, str]) -> Iterator[object]:
    """A TestClient on the running in-process service (module-wide: the model loads once per module)."""
    with running_service(service_env) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def engine(client, service_env: dict[str, str]):
    """An engine on the service's database (migrated by the service at start)."""
    from serving.db import make_engine

    eng = make_engine(service_env["THREATSCORE_DB_URL"])
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def keys(engine) -> dict[str, str]:
    """One key per role, by role name."""
    from serving.keys import ROLES, create_key

    return {role: create_key(engine, name=f"test-{role}", role=role).key for role in ROLES}


def auth(key: str) -> dict[str, str]:
    """The header that carries an API key."""
    return {"Authorization": f"Bearer {key}"}


# ------------------------------------------------------------------------------------------------ PostgreSQL


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (``tests.pg``: initdb + pg_ctl; as the postgres user when run
    as root). Yields the server URL without a database name. Skipped only when the PostgreSQL binaries are absent.
    """
    try:
        with postgres_cluster() as url:
            yield url
    except PostgresUnavailableError as exc:  # raised before the cluster starts, never around a test
        pytest.skip(str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, and a database on the throwaway PostgreSQL cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.db'}"
    return create_pg_database(request.getfixturevalue("postgres_server"))
