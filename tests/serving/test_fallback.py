"""Registry unreachable at start: serve the last imported model from the BentoML model store and say so;
switch back to the registry when it answers; without any local copy, be not-ready and say why."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from serving.keys import create_key
from tests.serving.conftest import auth, free_port, running_service

ARTICLE = {"id": "fallback-probe", "text": "Militants attacked a checkpoint near Mopti, killing three."}


def _key(db_url: str) -> str:
    from serving.db import make_engine

    engine = make_engine(db_url)
    try:
        return create_key(engine, name="fallback", role="admin").key
    finally:
        engine.dispose()


#: A tracking server that is down: nothing listens on the port; MLflow gives up at once.
def _down_registry() -> dict[str, str]:
    return {
        "THREATSCORE_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "3",
    }


def _import_champion(service_env) -> None:
    with running_service(service_env) as client:  # a normal start imports the champion into the store
        assert client.get("/readyz").json()["source"] == "registry"


def test_unreachable_registry_serves_the_last_imported_model(service_env, registered_tiny):
    version = registered_tiny["result"].version
    _import_champion(service_env)
    with running_service({**service_env, **_down_registry()}) as client:
        key = _key(service_env["THREATSCORE_DB_URL"])
        ready = client.get("/readyz")
        assert ready.status_code == 200
        detail = ready.json()
        assert detail["ready"] is True and detail["source"] == "model store" and detail["degraded"] is True
        assert "registry unreachable" in detail["detail"] and "BentoML model store" in detail["detail"]
        assert detail["model"]["version"] == version
        scored = client.post("/score", json={"articles": [ARTICLE]}, headers=auth(key))
        assert scored.status_code == 200 and scored.json()["assessments"][0]["model"]["version"] == version
        card = client.get("/model", headers=auth(key)).json()
        assert card["degraded"] is True and card["data_manifest_sha256"] and card["metrics"]
        assert card["source"] == "model store"
        reload = client.post("/admin/reload", headers=auth(key))  # still down: keeps serving, says why
        assert reload.status_code == 503 and reload.json()["reload"]["current"] == version


def test_the_service_returns_to_the_registry_when_it_answers(service_env, registered_tiny, tmp_path):
    version = registered_tiny["result"].version
    _import_champion(service_env)
    registry_file = Path(registered_tiny["settings"].tracking_uri.removeprefix("sqlite:///"))
    later = tmp_path / "not-yet" / "mlflow.db"
    env = {**service_env, "THREATSCORE_TRACKING_URI": f"sqlite:///{later}", "THREATSCORE_POLL_SECONDS": "0.3"}
    with running_service(env) as client:
        detail = client.get("/readyz").json()
        assert detail["source"] == "model store" and detail["degraded"] is True
        # the registry comes back (here: its database appears where the service looks for it)
        later.parent.mkdir(exist_ok=True)
        with sqlite3.connect(registry_file) as source, sqlite3.connect(later) as target:
            source.backup(target)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and client.get("/readyz").json()["source"] != "registry":
            time.sleep(0.2)
        detail = client.get("/readyz").json()
        assert detail["source"] == "registry" and detail["degraded"] is False and detail["model"]["version"] == version


def test_no_registry_and_no_stored_copy_is_not_ready(service_env, tmp_path):
    env = {
        **service_env,
        **_down_registry(),
        "THREATSCORE_MODEL_URI": "models:/never-registered@champion",
    }
    with running_service(env) as client:
        key = _key(service_env["THREATSCORE_DB_URL"])
        ready = client.get("/readyz")
        assert ready.status_code == 503
        detail = ready.json()
        assert detail["ready"] is False and "no model loaded" in detail["detail"]
        assert "unreachable" in detail["detail"]
        assert client.get("/livez").status_code == 200
        response = client.post("/score", json={"articles": [ARTICLE]}, headers=auth(key))
        assert response.status_code == 503 and "no model" in response.json()["error"]
        assert client.get("/model", headers=auth(key)).status_code == 503
