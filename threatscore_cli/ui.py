"""``threatscore ui``: the model comparison web app (``ui.app``) on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from threatscore.settings import apply_offline_env, get_settings


def ui(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8050,
    host: Annotated[str, typer.Option(help="Interface to listen on (keep 127.0.0.1 unless behind a proxy).")] = (
        "127.0.0.1"
    ),
    db_url: Annotated[
        str | None,
        typer.Option("--db-url", help="The service's key store, for promotions (default THREATSCORE_DB_URL)."),
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Where downloaded evaluation artifacts are kept (default: a temp folder).")
    ] = None,
) -> None:
    """Serve the model comparison UI on http://HOST:PORT: versions, benchmarks side by side, disagreements,
    both models on a pasted article, and promotion with an admin key."""
    apply_offline_env()
    import uvicorn

    from ui.app import create_app
    from ui.data import redact_uri

    settings = get_settings()
    app = create_app(settings, db_url=db_url, cache_dir=cache_dir)
    typer.echo(
        f"comparison UI for {settings.model_name} ({redact_uri(settings.tracking_uri)}) on http://{host}:{port}",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
