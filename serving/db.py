"""What the service keeps: articles, their assessments (with the model version that made them), analysts'
feedback and API keys. SQLAlchemy 2 models, SQLite by default, PostgreSQL by URL; Alembic owns the schema
(``serving/migrations``, applied with ``migrate`` when the service starts).

Idempotency: an article is one row per (client id, content hash); an assessment is one row per
(article row, model name, model version). Scoring the same article again with the same model inserts nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from threatscore.schemas import Article

logger = logging.getLogger(__name__)

#: Primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
_PK = BigInteger().with_variant(Integer(), "sqlite")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (stored as such in every timestamp column)."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class ArticleRow(Base):
    """One article as received: client id + content hash identify it."""

    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("article_id", "content_sha256", name="uq_articles_id_hash"),)

    id: Mapped[int] = mapped_column(_PK, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(String(512), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    published: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AssessmentRow(Base):
    """One model's assessment of one article, with the columns the region index reads."""

    __tablename__ = "assessments"
    __table_args__ = (
        UniqueConstraint("article_pk", "model_name", "model_version", name="uq_assessments_article_model"),
    )

    id: Mapped[int] = mapped_column(_PK, primary_key=True, autoincrement=True)
    article_pk: Mapped[int] = mapped_column(_PK, ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(64))
    model_alias: Mapped[str | None] = mapped_column(String(64))
    scored_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: The article's date (``published``), else the day it was scored: what time windows group by.
    event_date: Mapped[dt.date] = mapped_column(Date, index=True)
    relevance: Mapped[float] = mapped_column(Float)
    resurgence_score: Mapped[float] = mapped_column(Float)
    severity_level: Mapped[str] = mapped_column(String(16))
    fatalities: Mapped[int | None] = mapped_column(Integer)
    #: Signals at or over the model's decision threshold.
    signals_present: Mapped[list[str]] = mapped_column(JSON)
    assessment: Mapped[dict[str, Any]] = mapped_column(JSON)


class AssessmentRegionRow(Base):
    """One region of one assessment (denormalised so regions can be filtered in SQL)."""

    __tablename__ = "assessment_regions"
    __table_args__ = (Index("ix_assessment_regions_place", "country_code", "admin1"),)

    id: Mapped[int] = mapped_column(_PK, primary_key=True, autoincrement=True)
    assessment_pk: Mapped[int] = mapped_column(_PK, ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    country_code: Mapped[str] = mapped_column(String(2))
    admin1: Mapped[str | None] = mapped_column(String(200))
    is_primary: Mapped[bool] = mapped_column(Boolean)
    risk_score: Mapped[float] = mapped_column(Float)


class FeedbackRow(Base):
    """An analyst's corrected labels for one article, with who sent them and when."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(_PK, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(String(512), index=True)
    article_pk: Mapped[int | None] = mapped_column(_PK, ForeignKey("articles.id", ondelete="SET NULL"))
    signals: Mapped[dict[str, bool] | None] = mapped_column(JSON)
    event_type: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str | None] = mapped_column(String(16))
    regions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(64))
    submitted_by: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(32))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    """An API key: only a salted HMAC-SHA256 of its secret is stored, never the key."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(_PK, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    salt: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class JobLockRow(Base):
    """A named lock held by one running job (``retrain``): one row per held lock, deleted on release.

    The holder refreshes ``heartbeat_at`` while it runs; a lock whose heartbeat is older than the job's stale
    timeout may be taken over (the holder crashed without releasing it). Used by ``training.job_lock``.
    """

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RetrainRunRow(Base):
    """One retraining job run: what it read (the feedback watermark), what it decided and what it registered.

    The newest run that completed (``kept`` or ``promoted``) marks where "feedback since the last run" starts.
    """

    __tablename__ = "retrain_runs"

    id: Mapped[int] = mapped_column(_PK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: running | skipped | kept | promoted | failed
    status: Mapped[str] = mapped_column(String(16), index=True)
    #: Highest feedback id the run's snapshot includes.
    feedback_watermark: Mapped[int | None] = mapped_column(_PK)
    feedback_total: Mapped[int | None] = mapped_column(Integer)
    feedback_new: Mapped[int | None] = mapped_column(Integer)
    drift_auc: Mapped[float | None] = mapped_column(Float)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    model_name: Mapped[str | None] = mapped_column(String(200))
    challenger_version: Mapped[str | None] = mapped_column(String(64))
    champion_before: Mapped[str | None] = mapped_column(String(64))
    champion_after: Mapped[str | None] = mapped_column(String(64))
    report_path: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)


# --------------------------------------------------------------------------------------------- engine


def _table(model: type[Base]) -> Table:
    """The Core table of a mapped class (typed: ``__table__`` is declared as a generic ``FromClause``)."""
    return cast(Table, model.__table__)


def normalize_url(url: str) -> str:
    """Use the psycopg (3) driver for ``postgresql://`` and ``postgres://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url``. SQLite gets WAL, a busy timeout and foreign keys; PostgreSQL a checked pool."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        if url in {"sqlite://", "sqlite:///:memory:"}:
            raise ValueError("an in-memory SQLite database cannot be shared by the service; use a file")
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a crash of the service loses nothing committed; only an OS crash or power loss
            # can drop the last transactions. FULL would fsync every commit and cap writes at the disk's pace.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (``upgrade head``); safe to run at every start."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two workers starting together must not both create the tables.
            connection.execute(text("SELECT pg_advisory_xact_lock(7160417)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    logger.info("database schema is at head (%s)", engine.url.render_as_string(hide_password=True))


def _insert(connection: Connection, table: Any) -> Any:
    """A dialect-specific INSERT that supports ``on_conflict_do_nothing``."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# --------------------------------------------------------------------------------------------- scoring


def content_sha256(article: Article) -> str:
    """Hash of what the article says (text, title, date, source): the same id with new content is a new row."""
    payload = {
        "text": article.text,
        "title": article.title,
        "published": article.published.isoformat() if article.published else None,
        "source": article.source,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Scored:
    """One article and the assessment a model made of it."""

    article: Article
    assessment: Mapping[str, Any]
    signals_present: Sequence[str]


@dataclass(frozen=True)
class StoreResult:
    """How many rows one ``store_scored`` call added."""

    articles_added: int
    assessments_added: int


def store_scored(engine: Engine, items: Sequence[Scored], *, now: dt.datetime | None = None) -> StoreResult:
    """Keep articles and assessments, in one transaction, without duplicating anything already stored."""
    if not items:
        return StoreResult(0, 0)
    now = now or utcnow()
    hashes = [content_sha256(i.article) for i in items]
    with engine.begin() as connection:
        article_rows: dict[tuple[str, str], dict[str, Any]] = {}
        for item, digest in zip(items, hashes, strict=True):
            article_rows.setdefault(
                (item.article.id, digest),
                {
                    "article_id": item.article.id,
                    "content_sha256": digest,
                    "title": item.article.title,
                    "published": item.article.published,
                    "source": item.article.source,
                    "text": item.article.text,
                    "received_at": now,
                },
            )
        table = _table(ArticleRow)
        inserted = connection.execute(
            _insert(connection, table)
            .values(list(article_rows.values()))
            .on_conflict_do_nothing(index_elements=["article_id", "content_sha256"])
            .returning(table.c.id)
        ).all()
        ids = sorted({i.article.id for i in items})
        pks = {
            (row.article_id, row.content_sha256): row.id
            for row in connection.execute(
                select(ArticleRow.id, ArticleRow.article_id, ArticleRow.content_sha256).where(
                    ArticleRow.article_id.in_(ids)
                )
            )
        }
        assessment_rows: dict[tuple[int, str, str], dict[str, Any]] = {}
        regions_by_key: dict[tuple[int, str, str], list[Mapping[str, Any]]] = {}
        for item, digest in zip(items, hashes, strict=True):
            assessment = item.assessment
            model = assessment["model"]
            key = (pks[(item.article.id, digest)], model["name"], model.get("version") or "")
            if key in assessment_rows:
                continue
            assessment_rows[key] = {
                "article_pk": key[0],
                "model_name": key[1],
                "model_version": key[2],
                "model_alias": model.get("alias"),
                "scored_at": now,
                "event_date": item.article.published or now.date(),
                "relevance": float(assessment["relevance"]),
                "resurgence_score": float(assessment["resurgence"]["score"]),
                "severity_level": assessment["severity"]["level"],
                "fatalities": assessment["severity"]["fatalities"],
                "signals_present": list(item.signals_present),
                "assessment": dict(assessment),
            }
            regions_by_key[key] = list(assessment.get("regions") or [])
        atable = _table(AssessmentRow)
        added = connection.execute(
            _insert(connection, atable)
            .values(list(assessment_rows.values()))
            .on_conflict_do_nothing(index_elements=["article_pk", "model_name", "model_version"])
            .returning(atable.c.id, atable.c.article_pk, atable.c.model_name, atable.c.model_version)
        ).all()
        region_rows = [
            {
                "assessment_pk": row.id,
                "country_code": region["country_code"],
                "admin1": region.get("admin1"),
                "is_primary": bool(region.get("primary")),
                "risk_score": float(region["risk"]["score"]),
            }
            for row in added
            for region in regions_by_key[(row.article_pk, row.model_name, row.model_version)]
        ]
        if region_rows:
            connection.execute(_table(AssessmentRegionRow).insert(), region_rows)
    return StoreResult(len(inserted), len(added))


def count_rows(engine: Engine, table: type[Base]) -> int:
    """Number of rows in one of the service's tables."""
    from sqlalchemy import func

    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def stored_article_keys(engine: Engine) -> set[tuple[str, str]]:
    """(article id, model version) of every stored assessment; what the load test checks nothing was lost."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(ArticleRow.article_id, AssessmentRow.model_version).join(
                AssessmentRow, AssessmentRow.article_pk == ArticleRow.id
            )
        )
        return {(r.article_id, r.model_version) for r in rows}


# --------------------------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class RegionRow:
    """One (assessment, region) pair as stored: the input of the region index."""

    article_id: str
    content_sha256: str
    scored_at: dt.datetime
    event_date: dt.date
    country_code: str
    admin1: str | None
    is_primary: bool
    risk_score: float
    fatalities: int | None
    signals_present: tuple[str, ...]


def fetch_region_rows(engine: Engine, *, since: dt.date, until: dt.date, country: str | None = None) -> list[RegionRow]:
    """Every stored (assessment, region) whose article date falls in ``[since, until)``."""
    query = (
        select(
            ArticleRow.article_id,
            ArticleRow.content_sha256,
            AssessmentRow.scored_at,
            AssessmentRow.event_date,
            AssessmentRow.fatalities,
            AssessmentRow.signals_present,
            AssessmentRegionRow.country_code,
            AssessmentRegionRow.admin1,
            AssessmentRegionRow.is_primary,
            AssessmentRegionRow.risk_score,
        )
        .join(AssessmentRow, AssessmentRow.article_pk == ArticleRow.id)
        .join(AssessmentRegionRow, AssessmentRegionRow.assessment_pk == AssessmentRow.id)
        .where(AssessmentRow.event_date >= since, AssessmentRow.event_date < until)
    )
    if country:
        query = query.where(AssessmentRegionRow.country_code == country)
    with engine.connect() as connection:
        return [
            RegionRow(
                article_id=r.article_id,
                content_sha256=r.content_sha256,
                scored_at=_aware(r.scored_at),
                event_date=r.event_date,
                country_code=r.country_code,
                admin1=r.admin1,
                is_primary=bool(r.is_primary),
                risk_score=float(r.risk_score),
                fatalities=r.fatalities,
                signals_present=tuple(r.signals_present or ()),
            )
            for r in connection.execute(query)
        ]


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they were stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# --------------------------------------------------------------------------------------------- feedback


def find_article_pk(engine: Engine, article_id: str) -> int | None:
    """The newest stored row of the article with client id ``article_id``, if any."""
    with engine.connect() as connection:
        return connection.execute(
            select(ArticleRow.id).where(ArticleRow.article_id == article_id).order_by(ArticleRow.id.desc()).limit(1)
        ).scalar_one_or_none()


def store_feedback(engine: Engine, values: Mapping[str, Any]) -> int:
    """Insert one feedback row; returns its id."""
    table = _table(FeedbackRow)
    with engine.begin() as connection:
        return int(connection.execute(table.insert().values(**values).returning(table.c.id)).scalar_one())


def list_feedback(engine: Engine, article_id: str | None = None) -> list[dict[str, Any]]:
    """Stored feedback rows as dicts, oldest first (what a retraining job reads)."""
    table = _table(FeedbackRow)
    query = select(*table.c).order_by(table.c.id)
    if article_id is not None:
        query = query.where(table.c.article_id == article_id)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


# --------------------------------------------------------------------------------------------- keys


def insert_api_key(engine: Engine, values: Mapping[str, Any]) -> None:
    """Insert one API key row."""
    with engine.begin() as connection:
        connection.execute(_table(ApiKeyRow).insert().values(**values))


def get_api_key(engine: Engine, key_id: str) -> dict[str, Any] | None:
    """The stored row of ``key_id`` as a dict, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(*_table(ApiKeyRow).c).where(ApiKeyRow.key_id == key_id)).first()
        return dict(row._mapping) if row else None


def revoke_api_keys(engine: Engine, *, key_id: str | None = None, name: str | None = None) -> int:
    """Revoke keys by id or by name; returns how many were revoked (already revoked ones are not counted)."""
    if (key_id is None) == (name is None):
        raise ValueError("give exactly one of key_id or name")
    table = _table(ApiKeyRow)
    condition = table.c.key_id == key_id if key_id is not None else table.c.name == name
    with engine.begin() as connection:
        result = connection.execute(
            table.update().where(condition, table.c.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
        return int(result.rowcount)


def list_api_keys(engine: Engine) -> list[dict[str, Any]]:
    """Every key (never the secret or its hash): id, name, role, created, revoked."""
    table = _table(ApiKeyRow)
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.key_id, table.c.name, table.c.role, table.c.created_at, table.c.revoked_at).order_by(
                table.c.id
            )
        )
        return [dict(r._mapping) for r in rows]


def iter_tables() -> Iterable[str]:
    """Names of the service's tables, in creation order."""
    return [t.name for t in Base.metadata.sorted_tables]
