"""API keys: hashed at rest, roles, required everywhere but health/metrics/docs, revocation, CLI."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from serving import db
from serving.keys import KeyVerifier, create_key, revoke_key
from tests.serving.conftest import auth

PROTECTED = [
    ("POST", "/score"),
    ("POST", "/feedback"),
    ("GET", "/regions"),
    ("GET", "/model"),
    ("POST", "/admin/reload"),
]


def test_keys_are_stored_hashed_and_salted(engine):
    first = create_key(engine, name="analyst", role="score")
    second = create_key(engine, name="analyst", role="score")
    with engine.connect() as connection:
        rows = {r.key_id: r for r in connection.execute(select(db.ApiKeyRow.__table__))}
    for created in (first, second):
        row = rows[created.key_id]
        secret = created.key.split("_", 2)[2]
        stored = " ".join(str(v) for v in row)
        assert secret not in stored and created.key not in stored
        assert row.key_hash != hashlib.sha256(secret.encode()).hexdigest()
    assert rows[first.key_id].salt != rows[second.key_id].salt


def test_verifier_accepts_good_keys_and_rejects_the_rest(engine):
    created = create_key(engine, name="verifier", role="feedback")
    verifier = KeyVerifier(engine, cache_seconds=0)
    principal = verifier.verify(created.key)
    assert principal is not None and principal.role == "feedback" and principal.name == "verifier"
    assert principal.allows("score") and principal.allows("feedback") and not principal.allows("admin")
    tampered = created.key[:-2] + ("AA" if not created.key.endswith("AA") else "BB")
    for bad in (None, "", "nope", tampered, "ts_000000000000_" + "a" * 43):
        assert verifier.verify(bad) is None
    assert revoke_key(engine, created.key_id) == 1
    assert verifier.verify(created.key) is None
    assert revoke_key(engine, created.key_id) == 0


def test_create_key_refuses_unknown_roles(engine):
    with pytest.raises(ValueError, match="unknown role"):
        create_key(engine, name="x", role="root")


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_endpoint_needs_a_key(client, method, path):
    response = client.request(method, path, json={})
    assert response.status_code == 401
    assert response.json()["field"] == "authorization"
    assert response.headers["www-authenticate"] == "Bearer"
    bad = client.request(method, path, json={}, headers=auth("ts_0123456789ab_" + "x" * 43))
    assert bad.status_code == 401


@pytest.mark.parametrize("path", ["/livez", "/healthz", "/readyz", "/metrics", "/docs.json"])
def test_health_metrics_and_docs_are_open(client, path):
    assert client.get(path).status_code == 200


def test_roles_limit_what_a_key_can_do(client, keys):
    feedback = {"article_id": "never-scored", "severity": "low"}
    assert client.post("/feedback", json=feedback, headers=auth(keys["score"])).status_code == 403
    assert client.post("/feedback", json=feedback, headers=auth(keys["feedback"])).status_code == 404
    assert client.post("/admin/reload", headers=auth(keys["feedback"])).status_code == 403
    assert client.post("/admin/reload", headers=auth(keys["admin"])).status_code == 200
    for role in ("score", "feedback", "admin"):
        assert client.get("/model", headers=auth(keys[role])).status_code == 200


def test_x_api_key_header_works_too(client, keys):
    assert client.get("/model", headers={"X-API-Key": keys["score"]}).status_code == 200


def test_a_revoked_key_is_refused(client, engine):
    created = create_key(engine, name="leaving", role="score")
    assert client.get("/model", headers=auth(created.key)).status_code == 200
    assert revoke_key(engine, "leaving") == 1
    assert client.get("/model", headers=auth(created.key)).status_code == 401


def test_keys_cli_create_list_revoke(tmp_path, monkeypatch):
    from threatscore_cli.main import app

    url = f"sqlite:///{tmp_path / 'keys.db'}"
    monkeypatch.setenv("THREATSCORE_DB_URL", url)
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--role", "feedback", "--name", "desk-1"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert key.startswith("ts_")
    engine = db.make_engine(url)
    principal = KeyVerifier(engine, 0).verify(key)
    assert principal is not None and principal.role == "feedback" and principal.name == "desk-1"
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and "desk-1" in listed.stdout and key not in listed.stdout
    assert runner.invoke(app, ["keys", "revoke", principal.key_id]).exit_code == 0
    assert KeyVerifier(engine, 0).verify(key) is None
    assert runner.invoke(app, ["keys", "revoke", "nobody"]).exit_code == 1
    assert runner.invoke(app, ["keys", "create", "--role", "root", "--name", "x"]).exit_code == 2
    engine.dispose()
