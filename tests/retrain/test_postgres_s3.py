"""Beyond one laptop: the retraining job against an MLflow tracking server on PostgreSQL with artifacts proxied to
S3, and the service database on PostgreSQL too.

Everything is real and local: a throwaway PostgreSQL cluster (``tests.pg``), an S3 endpoint (moto's server), and
``mlflow server --backend-store-uri postgresql+psycopg://… --artifacts-destination s3://… --serve-artifacts`` as
a subprocess. The job runs as the ``threatscore`` command with only the tracking URI and the database URL (it
holds no S3 credentials: the server proxies the artifacts); the promoted model is then loaded back by alias.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import yaml

from serving import db
from tests.pg import (
    PostgresUnavailableError,
    create_pg_database,
    free_port,
    postgres_cluster,
    stop_process_group,
)
from tests.retrain.conftest import write_experiment
from threatscore.schemas import Article

pytestmark = pytest.mark.slow

BUCKET = "threatscore-mlflow"
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
START_TIMEOUT_S = 180


def _wait_for_health(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"mlflow server did not answer /health in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """PostgreSQL + S3 (moto) + an MLflow tracking server over them; yields their URLs."""
    import boto3
    from moto.server import ThreadedMotoServer

    root = tmp_path_factory.mktemp("stack")
    with contextlib.ExitStack() as cleanup:
        try:
            pg = cleanup.enter_context(postgres_cluster())
        except PostgresUnavailableError as exc:
            pytest.skip(str(exc))
        s3_port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
        moto.start()
        cleanup.callback(moto.stop)
        s3_url = f"http://127.0.0.1:{s3_port}"
        boto3.client("s3", endpoint_url=s3_url, **_boto_credentials()).create_bucket(Bucket=BUCKET)
        mlflow_db = create_pg_database(pg)
        port = free_port()
        log = root / "mlflow-server.log"
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "mlflow"),
                "server",
                "--backend-store-uri",
                mlflow_db,
                "--artifacts-destination",
                f"s3://{BUCKET}/artifacts",
                "--serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            # The server's job executor (huey consumers for MLflow's GenAI jobs) is not needed: keep 2 cores free.
            env={
                **os.environ,
                **S3_ENV,
                "MLFLOW_S3_ENDPOINT_URL": s3_url,
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            },
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown stops the server and its workers
        )
        cleanup.callback(stop_process_group, server)
        tracking = f"http://127.0.0.1:{port}"
        _wait_for_health(tracking, server, log)
        yield {"tracking": tracking, "s3": s3_url, "mlflow_db": mlflow_db, "service_db": create_pg_database(pg)}


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_ENV["AWS_DEFAULT_REGION"],
    }


def _store_feedback(db_url: str) -> None:
    """One scored article and an analyst's correction, stored through ``serving.db`` as the service does."""
    engine = db.make_engine(db_url)
    db.migrate(engine)
    assessment = {
        "model": {"name": "threatscore-pg", "version": "0", "alias": None},
        "relevance": 0.9,
        "resurgence": {"score": 0.4},
        "severity": {"level": "low", "fatalities": 2},
        "regions": [],
    }
    article = Article(id="desk-1", text="Militants recruited fighters in Kidal and crossed into Niger; two died.")
    db.store_scored(engine, [db.Scored(article, assessment, [])])
    db.store_feedback(
        engine,
        {
            "article_id": "desk-1",
            "article_pk": db.find_article_pk(engine, "desk-1"),
            "signals": {"recruitment": True, "cross_border": True},
            "event_type": "Attack",
            "severity": "low",
            "submitted_by": "analyst",
            "key_id": "k1",
            "submitted_at": db.utcnow(),
        },
    )
    engine.dispose()


def test_retrain_against_postgres_and_s3_then_load_the_champion(stack, tiny_processed, tmp_path):
    import boto3
    import psycopg
    from sqlalchemy import select

    name = "threatscore-pg"
    experiment = write_experiment(tmp_path / "experiment.yaml", tiny_processed, name)
    config = tmp_path / "retrain.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "experiment": str(experiment),
                "output_dir": str(tmp_path / "out"),
                "policy": {"min_new_feedback": 1},
                "drift": {"min_articles": 4},
                "evaluation": {"annotations": None, "latency_sample": 10, "latency_repeats": 1},
            }
        ),
        encoding="utf-8",
    )
    _store_feedback(stack["service_db"])
    # The job gets the tracking server and the database, nothing else: no S3 endpoint, no AWS credentials.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_S3_", "THREATSCORE_"))}
    env.update({"THREATSCORE_TRACKING_URI": stack["tracking"], "THREATSCORE_DB_URL": stack["service_db"]})
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "threatscore"), "retrain", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "promoted to champion" in done.stdout  # the first model of this registry
    assert time.monotonic() - started < 600

    # The registry lives in PostgreSQL ...
    plain = stack["mlflow_db"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as connection:
        aliases = dict(
            connection.execute(
                "SELECT alias, version FROM registered_model_aliases WHERE name = %s", (name,)
            ).fetchall()
        )
    assert aliases == {"champion": 1, "challenger": 1}
    # ... the artifacts in S3 (the model, the snapshot, the report) ...
    s3 = boto3.client("s3", endpoint_url=stack["s3"], **_boto_credentials())
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET) for o in page["Contents"]]
    assert any(k.endswith("/MLmodel") for k in keys)
    assert any(k.endswith("retrain/report.md") for k in keys) and any(
        k.endswith("snapshot/manifest.json") for k in keys
    )
    # ... the job's bookkeeping in the service database on PostgreSQL, which gave the run its feedback.
    engine = db.make_engine(stack["service_db"])
    with engine.connect() as connection:
        runs = connection.execute(select(db.RetrainRunRow.status, db.RetrainRunRow.feedback_total)).all()
        locks = connection.execute(select(db.JobLockRow.name)).all()
    engine.dispose()
    assert [tuple(r) for r in runs] == [("promoted", 1)] and locks == []

    # The promoted model loads back through the server by alias and scores.
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    try:
        mlflow.set_tracking_uri(stack["tracking"])
        mlflow.set_registry_uri(stack["tracking"])
        from threatscore.registry import load_model

        model = load_model(f"models:/{name}@champion")
        (out,) = model.predict(
            [{"id": "a", "text": "Gunmen attacked a police post near Gao, killing 4.", "published": "2024-01-02"}]
        )
    finally:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
    assert out["model"] == {"name": name, "version": "1", "alias": "champion"}
    assert out["severity"]["fatalities"] == 4
