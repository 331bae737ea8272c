"""``threatscore keys ...`` and ``threatscore serve``: the scoring service's commands.

BentoML and SQLAlchemy are imported inside the commands, so ``threatscore --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

keys_app = typer.Typer(
    help="API keys of the scoring service (stored hashed in THREATSCORE_DB_URL).", no_args_is_help=True
)

_DB_HELP = "Database URL (default: THREATSCORE_DB_URL, else sqlite:///threatscore.db)."


def _engine(db_url: str | None) -> Engine:
    from serving.config import db_url_from_env
    from serving.db import make_engine, migrate

    engine = make_engine(db_url or db_url_from_env())
    migrate(engine)
    return engine


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="score, feedback or admin (each includes the ones before it).")],
    name: Annotated[str, typer.Option(help="Who or what uses the key, e.g. 'desk-analyst-1'.")],
    db_url: Annotated[str | None, typer.Option("--db-url", help=_DB_HELP)] = None,
) -> None:
    """Create a key and print it once; only its salted hash is stored."""
    from serving.keys import ROLES, create_key

    if role not in ROLES:
        typer.echo(f"error: unknown role {role!r}; choose one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(2)
    created = create_key(_engine(db_url), name=name, role=role)
    typer.echo(created.key)
    typer.echo(
        f"key {created.key_id} for {created.name!r} with role {created.role}. It is shown only now: store it safely.",
        err=True,
    )


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key id (12 hex characters) or the name of the key(s) to revoke.")],
    db_url: Annotated[str | None, typer.Option("--db-url", help=_DB_HELP)] = None,
) -> None:
    """Revoke a key by id, or every key with a name."""
    from serving.keys import revoke_key

    count = revoke_key(_engine(db_url), key)
    if count == 0:
        typer.echo(f"error: no active key with id or name {key!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {count} key(s)")


@keys_app.command("list")
def keys_list(
    db_url: Annotated[str | None, typer.Option("--db-url", help=_DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List keys (id, name, role, created, revoked); never the secrets."""
    from serving.db import list_api_keys

    for row in list_api_keys(_engine(db_url)):
        created = row["created_at"].isoformat(timespec="seconds")
        revoked = row["revoked_at"].isoformat(timespec="seconds") if row["revoked_at"] else None
        if as_json:
            typer.echo(json.dumps({**row, "created_at": created, "revoked_at": revoked}))
        else:
            state = f"revoked {revoked}" if revoked else "active"
            typer.echo(f"{row['key_id']}  {row['role']:<8}  {row['name']}  created {created}  {state}")


def serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 3000,
    host: Annotated[str, typer.Option(help="Interface to listen on (keep 127.0.0.1 unless behind a proxy).")] = (
        "127.0.0.1"
    ),
    poll_seconds: Annotated[
        float | None, typer.Option(help="Check the registry alias this often (default 60; 0: only on reload).")
    ] = None,
) -> None:
    """Start the scoring service (BentoML) on http://HOST:PORT, serving models:/threatscore@champion."""
    from threatscore.settings import apply_offline_env

    apply_offline_env()
    env = dict(os.environ)
    if poll_seconds is not None:
        env["THREATSCORE_POLL_SECONDS"] = str(poll_seconds)
    command = [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "serving.service:Threatscore",
        "--host",
        host,
        "--port",
        str(port),
    ]
    typer.echo(f"starting the scoring service on http://{host}:{port} (docs: /docs.json, health: /readyz)", err=True)
    try:
        code = subprocess.call(command, env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)
