"""Feedback: corrected labels validated against the taxonomy and stored with who and when."""

from __future__ import annotations

import datetime as dt

import pytest

from serving import db
from tests.serving.conftest import auth

ARTICLE = {"id": "fb-article", "text": "Militants overran an army base near Gao and set up checkpoints, killing 14."}


@pytest.fixture(scope="module")
def scored(client, keys):
    response = client.post("/score", json={"articles": [ARTICLE]}, headers=auth(keys["score"]))
    assert response.status_code == 200
    return response.json()["assessments"][0]


def test_feedback_is_stored_with_who_and_when(client, keys, engine, scored):
    correction = {
        "article_id": "fb-article",
        "signals": {"territorial_control": True, "mass_casualty": True, "recruitment": False},
        "event_type": "Non-state actor overtakes territory",
        "severity": "high",
        "regions": [{"country_code": "ML", "admin1": "Gao", "primary": True}],
        "note": "base overrun, 14 killed",
        "model_version": scored["model"]["version"],
    }
    before = dt.datetime.now(dt.UTC)
    response = client.post("/feedback", json=correction, headers=auth(keys["feedback"]))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["article_id"] == "fb-article" and body["submitted_by"] == "test-feedback"
    (row,) = [r for r in db.list_feedback(engine, "fb-article") if r["id"] == body["id"]]
    assert row["signals"] == {"territorial_control": True, "mass_casualty": True, "recruitment": False}
    assert row["event_type"] == "Non-state actor overtakes territory" and row["severity"] == "high"
    assert row["regions"] == [{"country_code": "ML", "admin1": "Gao", "primary": True}]
    assert row["submitted_by"] == "test-feedback" and row["key_id"] == keys["feedback"].split("_")[1]
    assert row["article_pk"] is not None
    submitted = row["submitted_at"] if row["submitted_at"].tzinfo else row["submitted_at"].replace(tzinfo=dt.UTC)
    assert before - dt.timedelta(seconds=1) <= submitted <= dt.datetime.now(dt.UTC)


def test_one_correction_is_enough(client, keys, scored):
    response = client.post(
        "/feedback", json={"article_id": "fb-article", "severity": "none"}, headers=auth(keys["admin"])
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "field", "fragment"),
    [
        (
            {"article_id": "fb-article", "signals": {"resurgence_vibes": True}},
            422,
            "signals.resurgence_vibes",
            "unknown signal",
        ),
        ({"article_id": "fb-article", "signals": {"regrouping": "yes"}}, 422, "signals.regrouping", "bool"),
        ({"article_id": "fb-article", "event_type": "Attack on a base"}, 422, "event_type", "ACLED"),
        ({"article_id": "fb-article", "severity": "catastrophic"}, 422, "severity", ""),
        ({"article_id": "fb-article", "regions": [{"country_code": "XX"}]}, 422, "regions[0].country_code", "ISO"),
        ({"article_id": "fb-article", "regions": [{"country_code": "ly"}]}, 422, "regions[0].country_code", ""),
        ({"article_id": "fb-article", "regions": [{"admin1": "Gao"}]}, 422, "regions[0].country_code", "required"),
        (
            {
                "article_id": "fb-article",
                "regions": [{"country_code": "ML", "primary": True}, {"country_code": "NE", "primary": True}],
            },
            422,
            None,
            "primary",
        ),
        ({"article_id": "fb-article"}, 422, None, "at least one correction"),
        ({"article_id": "fb-article", "severity": "low", "who": "me"}, 422, "who", "not an allowed field"),
        ({"severity": "low"}, 422, "article_id", "required"),
        ({"article_id": "  ", "severity": "low"}, 422, "article_id", "blank"),
        ({"article_id": "never-scored", "severity": "low"}, 404, "article_id", "no article"),
        (["fb-article"], 422, "body", "object"),
    ],
)
def test_bad_feedback_names_the_field(client, keys, scored, body, status, field, fragment):
    response = client.post("/feedback", json=body, headers=auth(keys["feedback"]))
    assert response.status_code == status, response.text
    error = response.json()
    assert error["field"] == field
    assert fragment.lower() in error["error"].lower()
