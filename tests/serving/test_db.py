"""The database on SQLite and on a real PostgreSQL cluster: migrations, idempotent storage, regions, feedback."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import inspect, text

from serving import db
from serving.keys import KeyVerifier, create_key, revoke_key
from threatscore.schemas import Article

TEXTS = {
    "d1": "ISIS fighters attacked an army patrol near Qatrun in Murzuq, killing four soldiers.",
    "d2": "A suicide bomber killed 12 people at a market in Maiduguri, Borno State.",
    "d3": "The football club won the league on Saturday.",
}


@pytest.fixture(scope="module")
def scored(registered_tiny) -> list[db.Scored]:
    """Real assessments of three articles by the tiny registered model."""
    from threatscore.registry import load_model

    model = load_model(f"models:/threatscore/{registered_tiny['result'].version}")
    articles = [Article(id=k, text=v, published=dt.date(2022, 1, 29)) for k, v in TEXTS.items()]
    results = model.predict([a.model_dump(mode="json") for a in articles])
    return [
        db.Scored(a, r, [s for s, v in r["signals"].items() if v["evidence"]])
        for a, r in zip(articles, results, strict=True)
    ]


@pytest.fixture
def engine(db_url):
    eng = db.make_engine(db_url)
    db.migrate(eng)
    yield eng
    eng.dispose()


def _with_version(item: db.Scored, version: str) -> db.Scored:
    assessment = {**item.assessment, "model": {**item.assessment["model"], "version": version}}
    return db.Scored(item.article, assessment, item.signals_present)


def test_migrations_create_the_schema_and_are_rerunnable(engine):
    db.migrate(engine)  # a second start changes nothing
    tables = set(inspect(engine).get_table_names())
    assert {"articles", "assessments", "assessment_regions", "feedback", "api_keys", "alembic_version"} <= tables
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0002_retrain_jobs"


def test_storing_is_idempotent_on_article_content_and_model_version(engine, scored):
    first = db.store_scored(engine, scored)
    assert first == db.StoreResult(articles_added=3, assessments_added=3)
    assert db.store_scored(engine, scored) == db.StoreResult(0, 0)
    assert db.store_scored(engine, scored + scored) == db.StoreResult(0, 0)  # duplicates inside one call too
    assert db.store_scored(engine, [_with_version(s, "99") for s in scored]) == db.StoreResult(0, 3)
    edited = db.Scored(
        scored[0].article.model_copy(update={"text": scored[0].article.text + " Two more died."}),
        scored[0].assessment,
        scored[0].signals_present,
    )
    assert db.store_scored(engine, [edited]) == db.StoreResult(1, 1)
    assert db.count_rows(engine, db.ArticleRow) == 4
    assert db.count_rows(engine, db.AssessmentRow) == 7
    region_rows = sum(len(s.assessment["regions"]) for s in scored) * 2 + len(scored[0].assessment["regions"])
    assert db.count_rows(engine, db.AssessmentRegionRow) == region_rows


def test_concurrent_writers_do_not_duplicate(engine, scored):
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: db.store_scored(engine, scored), range(8)))
    assert sum(r.assessments_added for r in results) == 3
    assert db.count_rows(engine, db.AssessmentRow) == 3


def test_region_rows_come_back_with_dates_and_signals(engine, scored):
    db.store_scored(engine, scored)
    rows = db.fetch_region_rows(engine, since=dt.date(2022, 1, 1), until=dt.date(2022, 2, 1))
    expected = {(s.article.id, r["country_code"], r["admin1"]) for s in scored for r in s.assessment["regions"]}
    assert {(r.article_id, r.country_code, r.admin1) for r in rows} == expected
    for row in rows:
        assert row.event_date == dt.date(2022, 1, 29) and row.scored_at.tzinfo is not None
        source = next(s for s in scored if s.article.id == row.article_id)
        assert row.signals_present == tuple(source.signals_present)
    assert db.fetch_region_rows(engine, since=dt.date(2022, 2, 1), until=dt.date(2022, 3, 1)) == []
    if rows:
        country = rows[0].country_code
        only = db.fetch_region_rows(engine, since=dt.date(2022, 1, 1), until=dt.date(2022, 2, 1), country=country)
        assert only and {r.country_code for r in only} == {country}


def test_feedback_and_keys_round_trip(engine, scored):
    db.store_scored(engine, scored)
    pk = db.find_article_pk(engine, "d1")
    assert pk is not None and db.find_article_pk(engine, "missing") is None
    feedback_id = db.store_feedback(
        engine,
        {
            "article_id": "d1",
            "article_pk": pk,
            "signals": {"militant_attack": True},
            "event_type": "Armed clash",
            "severity": "medium",
            "regions": [{"country_code": "LY", "admin1": "Murzuq", "primary": True}],
            "note": None,
            "model_version": "1",
            "submitted_by": "analyst",
            "key_id": "0123456789ab",
            "submitted_at": db.utcnow(),
        },
    )
    (row,) = db.list_feedback(engine, "d1")
    assert (
        row["id"] == feedback_id
        and row["signals"] == {"militant_attack": True}
        and row["regions"][0]["admin1"] == "Murzuq"
    )
    created = create_key(engine, name="pg-user", role="admin")
    verifier = KeyVerifier(engine, cache_seconds=0)
    assert verifier.verify(created.key).role == "admin"
    assert revoke_key(engine, created.key_id) == 1 and verifier.verify(created.key) is None
    assert [k["name"] for k in db.list_api_keys(engine)] == ["pg-user"]


def test_postgres_urls_use_psycopg():
    assert db.normalize_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.normalize_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.normalize_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(ValueError, match="in-memory"):
        db.make_engine("sqlite://")
