"""Initial schema: articles, assessments, assessment regions, feedback, API keys.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "articles",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(512), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.UniqueConstraint("article_id", "content_sha256", name="uq_articles_id_hash"),
    )
    op.create_index("ix_articles_article_id", "articles", ["article_id"])
    op.create_table(
        "assessments",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("article_pk", PK, sa.ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("model_alias", sa.String(64), nullable=True),
        sa.Column("scored_at", TS, nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("relevance", sa.Float(), nullable=False),
        sa.Column("resurgence_score", sa.Float(), nullable=False),
        sa.Column("severity_level", sa.String(16), nullable=False),
        sa.Column("fatalities", sa.Integer(), nullable=True),
        sa.Column("signals_present", sa.JSON(), nullable=False),
        sa.Column("assessment", sa.JSON(), nullable=False),
        sa.UniqueConstraint("article_pk", "model_name", "model_version", name="uq_assessments_article_model"),
    )
    op.create_index("ix_assessments_article_pk", "assessments", ["article_pk"])
    op.create_index("ix_assessments_event_date", "assessments", ["event_date"])
    op.create_table(
        "assessment_regions",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("assessment_pk", PK, sa.ForeignKey("assessments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("admin1", sa.String(200), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("risk_score", sa.Float(), nullable=False),
    )
    op.create_index("ix_assessment_regions_assessment_pk", "assessment_regions", ["assessment_pk"])
    op.create_index("ix_assessment_regions_place", "assessment_regions", ["country_code", "admin1"])
    op.create_table(
        "feedback",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(512), nullable=False),
        sa.Column("article_pk", PK, sa.ForeignKey("articles.id", ondelete="SET NULL"), nullable=True),
        sa.Column("signals", sa.JSON(), nullable=True),
        sa.Column("event_type", sa.String(100), nullable=True),
        sa.Column("severity", sa.String(16), nullable=True),
        sa.Column("regions", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
    )
    op.create_index("ix_feedback_article_id", "feedback", ["article_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("key_id", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )


def downgrade() -> None:
    """Drop the tables."""
    for table in ("api_keys", "feedback", "assessment_regions", "assessments", "articles"):
        op.drop_table(table)
