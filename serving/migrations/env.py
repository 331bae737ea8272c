"""Alembic environment of the service's database.

``serving.db.migrate`` runs it with an open connection in ``config.attributes["connection"]``; run from the
command line (``alembic -x url=sqlite:///threatscore.db upgrade head`` with a script_location pointing here),
it connects to the ``url`` given with ``-x`` or to ``THREATSCORE_DB_URL``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from serving.db import Base, make_engine

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over the given connection, or over a new one to the configured URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from serving.config import db_url_from_env

    url = context.get_x_argument(as_dictionary=True).get("url") or db_url_from_env()
    engine = make_engine(url)
    with engine.begin() as new_connection:
        _run(new_connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run them against a database")
run_migrations_online()
