"""The HTTP API through BentoML's ASGI app: scoring, storage, model card, regions, health, docs."""

from __future__ import annotations

import datetime as dt

from mlflow.tracking import MlflowClient

from serving import db
from tests.serving.conftest import auth
from threatscore.schemas import Assessment
from threatscore.taxonomy import EVENT_TYPES, SIGNALS


def test_score_returns_valid_assessments_and_keeps_them(client, keys, engine, seed_text, registered_tiny):
    article = {"id": "seed-article", "text": seed_text, "title": "ISIS in Libya", "published": "2022-01-29"}
    response = client.post("/score", json={"articles": [article]}, headers=auth(keys["score"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == []
    (assessment,) = body["assessments"]
    parsed = Assessment.model_validate(assessment)
    assert parsed.id == "seed-article"
    assert parsed.model.name == "threatscore"
    assert parsed.model.version == registered_tiny["result"].version
    assert parsed.model.alias == "champion"
    assert set(parsed.signals) == set(SIGNALS) and set(parsed.event_types) == set(EVENT_TYPES)
    assert parsed.severity.fatalities == 27
    assert ("seed-article", parsed.model.version) in db.stored_article_keys(engine)


def test_rescoring_the_same_article_does_not_duplicate(client, keys, engine):
    article = {"id": "dup-1", "text": "Gunmen killed three villagers near Maiduguri on Sunday."}
    before = (db.count_rows(engine, db.ArticleRow), db.count_rows(engine, db.AssessmentRow))
    for _ in range(3):
        assert client.post("/score", json={"articles": [article]}, headers=auth(keys["score"])).status_code == 200
    after = (db.count_rows(engine, db.ArticleRow), db.count_rows(engine, db.AssessmentRow))
    assert after == (before[0] + 1, before[1] + 1)
    # the same id with new content is a new article version, kept next to the first
    changed = {**article, "text": article["text"] + " Two more died in hospital."}
    assert client.post("/score", json={"articles": [changed]}, headers=auth(keys["score"])).status_code == 200
    assert db.count_rows(engine, db.ArticleRow) == before[0] + 2


def test_a_batch_scores_the_good_articles_and_names_the_bad_ones(client, keys, engine):
    articles = [
        {"id": "good-1", "text": "A car bomb exploded at a checkpoint in Mogadishu, killing 12 people."},
        {"id": "bad-1", "text": ""},
        {"id": "bad-2", "title": "no text"},
        {"id": "bad-3", "text": "x", "published": "03/04/2021"},
        {"id": "good-2", "text": "Police arrested four suspected militants in Peshawar."},
        "not an object",
    ]
    response = client.post("/score", json={"articles": articles}, headers=auth(keys["score"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [a["id"] for a in body["assessments"]] == ["good-1", "good-2"]
    errors = {e["index"]: e for e in body["errors"]}
    assert errors[1] == {"index": 1, "id": "bad-1", "field": "articles[1].text", "error": "text is empty"}
    assert errors[2]["field"] == "articles[2].text" and errors[2]["error"] == "is required"
    assert errors[3]["field"] == "articles[3].published" and "YYYY-MM-DD" in errors[3]["error"]
    assert errors[5]["field"] == "articles[5]" and errors[5]["id"] is None
    stored = {article_id for article_id, _ in db.stored_article_keys(engine)}
    assert {"good-1", "good-2"} <= stored and not {"bad-1", "bad-2", "bad-3"} & stored


def test_model_card_has_version_manifest_and_metrics(client, keys, registered_tiny):
    response = client.get("/model", headers=auth(keys["score"]))
    assert response.status_code == 200, response.text
    card = response.json()
    result = registered_tiny["result"]
    run = MlflowClient().get_run(result.run_id)
    assert card["name"] == "threatscore" and card["version"] == result.version and card["alias"] == "champion"
    assert card["run_id"] == result.run_id
    assert card["data_manifest_sha256"] == run.data.tags["data.manifest_sha256"]
    assert card["metrics"] and all(k.startswith("eval.") and k.count(".") == 2 for k in card["metrics"])
    assert card["metrics"] == {k: v for k, v in run.data.metrics.items() if k.startswith("eval.") and k.count(".") == 2}
    assert card["source"] == "registry" and card["store_tag"].startswith("threatscore:v")


def test_regions_gives_the_index_of_what_was_stored(client, keys, seed_text):
    article = {"id": "regions-1", "text": seed_text, "published": "2022-01-29"}
    scored = client.post("/score", json={"articles": [article]}, headers=auth(keys["score"])).json()
    (assessment,) = scored["assessments"]
    response = client.get("/regions?since=2022-01-01&window=month", headers=auth(keys["score"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["since"] == "2022-01-01" and body["window"] == "month" and body["history_from"] == "2021-01-01"
    january = [r for r in body["regions"] if r["start"] == "2022-01-01"]
    for region in assessment["regions"]:
        match = [r for r in january if (r["country_code"], r["admin1"]) == (region["country_code"], region["admin1"])]
        assert len(match) == 1
        assert match[0]["articles"] >= 1 and match[0]["risk_index"] >= region["risk"]["score"] - 1e-9
        assert match[0]["trend"] in {"rising", "stable", "falling", "insufficient"}
        if region["primary"]:
            assert match[0]["fatalities"] >= assessment["severity"]["fatalities"]
    if assessment["regions"]:
        country = assessment["regions"][0]["country_code"]
        only = client.get(
            f"/regions?country={country.lower()}&since=2022-01-01&window=week", headers=auth(keys["score"])
        ).json()
        assert only["country"] == country and {r["country_code"] for r in only["regions"]} == {country}
        assert {r["window"] for r in only["regions"]} == {"week"}
        assert dt.date.fromisoformat(only["regions"][0]["start"]).weekday() == 0


def test_health_metrics_and_docs_need_no_key(client):
    assert client.get("/livez").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    detail = ready.json()
    assert detail["ready"] is True and detail["source"] == "registry" and "serving threatscore" in detail["detail"]
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "threatscore_articles_total" in metrics.text
    spec = client.get("/docs.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert {"/score", "/feedback", "/regions", "/model", "/admin/reload", "/livez", "/readyz", "/metrics"} <= set(paths)
    assert "requestBody" in paths["/score"]["post"]


def test_cors_is_off_by_default(client, keys):
    headers = {**auth(keys["score"]), "Origin": "https://evil.example"}
    response = client.get("/model", headers=headers)
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/score", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
