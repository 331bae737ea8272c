"""Retraining bookkeeping: the job lock and one row per retraining run.

Revision ID: 0002_retrain_jobs
Revises: 0001_initial
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_retrain_jobs"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``job_locks`` and ``retrain_runs``."""
    op.create_table(
        "job_locks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
    )
    op.create_table(
        "retrain_runs",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), nullable=False, unique=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("feedback_watermark", PK, nullable=True),
        sa.Column("feedback_total", sa.Integer(), nullable=True),
        sa.Column("feedback_new", sa.Integer(), nullable=True),
        sa.Column("drift_auc", sa.Float(), nullable=True),
        sa.Column("mlflow_run_id", sa.String(64), nullable=True),
        sa.Column("model_name", sa.String(200), nullable=True),
        sa.Column("challenger_version", sa.String(64), nullable=True),
        sa.Column("champion_before", sa.String(64), nullable=True),
        sa.Column("champion_after", sa.String(64), nullable=True),
        sa.Column("report_path", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
    )
    op.create_index("ix_retrain_runs_status", "retrain_runs", ["status"])


def downgrade() -> None:
    """Drop the retraining tables."""
    op.drop_index("ix_retrain_runs_status", table_name="retrain_runs")
    op.drop_table("retrain_runs")
    op.drop_table("job_locks")
