"""Model updates without downtime: the champion alias moves, ``POST /admin/reload`` swaps, requests keep being
answered during the switch, and a model that fails the smoke check never serves."""

from __future__ import annotations

import threading
import time

import mlflow
import mlflow.pyfunc
from mlflow.tracking import MlflowClient

from tests.serving.conftest import auth

ARTICLE = {"id": "reload-probe", "text": "Gunmen ambushed a convoy near Diffa, killing seven soldiers."}


class BrokenModel(mlflow.pyfunc.PythonModel):
    """A pyfunc that loads fine but answers nonsense: it must fail the smoke check."""

    def predict(self, context, model_input, params=None):
        return [{"id": "not-an-assessment"}]


def _move_champion(version: str) -> None:
    MlflowClient().set_registered_model_alias("threatscore", "champion", version)


def _score_version(client, keys) -> str:
    response = client.post("/score", json={"articles": [ARTICLE]}, headers=auth(keys["score"]))
    assert response.status_code == 200, response.text
    return response.json()["assessments"][0]["model"]["version"]


def test_reload_swaps_to_the_new_champion_while_answering(client, keys, registered_tiny):
    old = registered_tiny["result"].version
    assert _score_version(client, keys) == old
    new = str(mlflow.register_model(registered_tiny["result"].model_uri, "threatscore").version)
    answers: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    def keep_scoring() -> None:
        while not stop.is_set():
            response = client.post("/score", json={"articles": [ARTICLE]}, headers=auth(keys["score"]))
            version = response.json()["assessments"][0]["model"]["version"] if response.status_code == 200 else None
            answers.append((time.monotonic(), response.status_code, version))

    worker = threading.Thread(target=keep_scoring)
    try:
        _move_champion(new)
        worker.start()
        time.sleep(0.2)
        started = time.monotonic()
        reload = client.post("/admin/reload", headers=auth(keys["admin"]))
        finished = time.monotonic()
        time.sleep(0.2)
        stop.set()
        worker.join()
        assert reload.status_code == 200, reload.text
        assert reload.json()["changed"] is True
        assert (reload.json()["previous"], reload.json()["current"]) == (old, new)
        assert answers and all(status == 200 for _, status, _ in answers)
        assert {version for _, _, version in answers} <= {old, new}
        assert any(started <= at <= finished for at, _, _ in answers), "no request was answered during the reload"
        assert answers[-1][2] == new
        card = client.get("/model", headers=auth(keys["score"])).json()
        assert card["version"] == new and card["source"] == "registry"
        again = client.post("/admin/reload", headers=auth(keys["admin"])).json()
        assert again["changed"] is False
    finally:
        stop.set()
        if worker.is_alive():
            worker.join()
        _move_champion(old)
        client.post("/admin/reload", headers=auth(keys["admin"]))
    assert _score_version(client, keys) == old


def test_a_model_failing_the_smoke_check_never_serves(client, keys, registered_tiny):
    old = registered_tiny["result"].version
    with mlflow.start_run(run_name="broken"):
        info = mlflow.pyfunc.log_model(name="model", python_model=BrokenModel())
    broken = str(mlflow.register_model(info.model_uri, "threatscore").version)
    try:
        _move_champion(broken)
        reload = client.post("/admin/reload", headers=auth(keys["admin"]))
        assert reload.status_code == 503
        body = reload.json()
        assert body["reload"]["changed"] is False and body["reload"]["current"] == old
        assert "smoke check" in body["error"] and body["reload"]["error"]
        assert _score_version(client, keys) == old
        assert client.get("/model", headers=auth(keys["score"])).json()["version"] == old
        ready = client.get("/readyz").json()
        assert ready["ready"] is True and ready["model"]["version"] == old and "load" in ready["last_error"]
        import bentoml

        assert not [m for m in bentoml.models.list() if m.tag.version.startswith(f"v{broken}-")]
    finally:
        _move_champion(old)
