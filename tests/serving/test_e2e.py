"""End to end: ``threatscore serve`` (``bentoml serve`` underneath) as a real server on a free port, with the tiny
registered model, called with ``bentoml.SyncHTTPClient``; the champion alias moves and the server follows it;
schemathesis fuzzes the published OpenAPI spec and finds no 5xx."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from mlflow.tracking import MlflowClient
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from serving import db
from serving.keys import create_key
from tests.pg import free_port, stop_process_group
from tests.serving.conftest import auth
from threatscore.schemas import Assessment

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def server(tmp_path_factory, registered_tiny) -> Iterator[dict]:
    """The service served by ``threatscore serve`` on 127.0.0.1:<free port>; yields its URL, keys and DB."""
    root = tmp_path_factory.mktemp("served")
    port = free_port()
    db_url = f"sqlite:///{root / 'served.db'}"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        {
            "THREATSCORE_TRACKING_URI": registered_tiny["settings"].tracking_uri,
            "THREATSCORE_DB_URL": db_url,
            "THREATSCORE_KEY_CACHE_SECONDS": "0",
            "BENTOML_HOME": str(root / "bentoml"),
        }
    )
    command = [str(Path(sys.executable).with_name("threatscore")), "serve", "--port", str(port), "--poll-seconds", "1"]
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server was not ready in {START_TIMEOUT_S} s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        engine = db.make_engine(db_url)
        keys = {role: create_key(engine, name=f"e2e-{role}", role=role).key for role in ("score", "feedback", "admin")}
        yield {"url": url, "keys": keys, "engine": engine, "log": log_path}
        engine.dispose()
    finally:
        stop_process_group(process)


def test_served_service_scores_and_keeps_what_it_scored(server, seed_text, registered_tiny):
    import bentoml

    with bentoml.SyncHTTPClient(server["url"], token=server["keys"]["score"], server_ready_timeout=30) as client:
        assert client.is_ready()
        response = client.request("POST", "/score", json={"articles": [{"id": "e2e-seed", "text": seed_text}]})
        assert response.status_code == 200, response.text
        assessment = Assessment.model_validate(response.json()["assessments"][0])
        assert assessment.model.version == registered_tiny["result"].version
        assert assessment.severity.fatalities == 27
        batch = [{"id": f"e2e-batch-{i}", "text": f"Rebels attacked the town, killing {i + 1}."} for i in range(40)]
        big = client.request("POST", "/score", json={"articles": batch})  # a batch already: scored directly
        assert big.status_code == 200 and [a["id"] for a in big.json()["assessments"]] == [b["id"] for b in batch]
        card = client.request("GET", "/model").json()
        assert card["version"] == registered_tiny["result"].version and card["data_manifest_sha256"]
        ready = client.request("GET", "/readyz").json()
        assert ready["ready"] is True and ready["source"] == "registry"
    assert ("e2e-seed", registered_tiny["result"].version) in db.stored_article_keys(server["engine"])
    assert httpx.post(f"{server['url']}/score", json={"articles": []}).status_code == 401


def test_concurrent_requests_are_batched_and_all_stored(server):
    import bentoml

    def worker(index: int, out: list[int]) -> None:
        with bentoml.SyncHTTPClient(server["url"], token=server["keys"]["score"], server_ready_timeout=0) as client:
            for j in range(4):
                article = {"id": f"conc-{index}-{j}", "text": f"Gunmen killed {index + 2} people near Gao on day {j}."}
                out.append(client.request("POST", "/score", json={"articles": [article]}).status_code)

    statuses: list[int] = []
    threads = [threading.Thread(target=worker, args=(i, statuses)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 48
    stored = {article_id for article_id, _ in db.stored_article_keys(server["engine"])}
    assert {f"conc-{i}-{j}" for i in range(12) for j in range(4)} <= stored
    metrics = httpx.get(f"{server['url']}/metrics").text
    assert "threatscore_articles_total" in metrics
    # BentoML's adaptive batching merged requests: fewer model calls than requests
    calls = _metric(metrics, "bentoml_service_adaptive_batch_size_count", 'method_name="predict"')
    merged = _metric(metrics, "bentoml_service_adaptive_batch_size_sum", 'method_name="predict"')
    assert 1 <= calls < merged  # overlapping requests were merged into fewer model calls


def _metric(text: str, name: str, label: str) -> float:
    values = [
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{") and label in line
    ]
    assert values, f"{name} not on /metrics"
    return sum(values)


def test_served_service_follows_the_champion_alias(server, registered_tiny):
    old = registered_tiny["result"].version
    new = str(mlflow.register_model(registered_tiny["result"].model_uri, "threatscore").version)
    headers = auth(server["keys"]["score"])
    article = {"articles": [{"id": "alias-probe", "text": "Rebels shelled the town of Kidal, killing two."}]}
    seen: list[tuple[int, str | None]] = []
    try:
        MlflowClient().set_registered_model_alias("threatscore", "champion", new)
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=server["url"], headers=headers, timeout=30) as client:
            while time.monotonic() < deadline:
                response = client.post("/score", json=article)
                version = response.json()["assessments"][0]["model"]["version"] if response.status_code == 200 else None
                seen.append((response.status_code, version))
                if version == new:
                    break
                time.sleep(0.1)
        assert seen[-1] == (200, new), seen[-5:]
        assert all(status == 200 for status, _ in seen)
    finally:
        MlflowClient().set_registered_model_alias("threatscore", "champion", old)


def _published_schema():
    """The OpenAPI spec the service publishes at ``/docs.json`` (built from the same code, no server needed
    to collect the tests; the requests go to the served instance)."""
    from serving.service import Threatscore

    config = SchemathesisConfig.from_str(
        "seed = 20260125\n[generation]\nmax-examples = 30\n[phases.stateful]\nenabled = false\n"
    )
    return schemathesis.openapi.from_dict(Threatscore.openapi_spec.asdict(), config=config)


schema = _published_schema()


@schema.parametrize()
@settings(max_examples=30, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_fuzzing_the_openapi_spec_finds_no_server_error(case, server):
    response = case.call(base_url=server["url"], headers=auth(server["keys"]["admin"]), timeout=60)
    case.validate_response(response, checks=(not_a_server_error,))


def test_the_served_spec_is_the_fuzzed_one(server):
    served = httpx.get(f"{server['url']}/docs.json").json()
    assert set(served["paths"]) == set(schema.raw_schema["paths"])
