"""ASGI middlewares of the service: request body limit, ``/readyz`` detail, and JSON errors without traces."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from serving.config import get_service_settings

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a complete JSON response."""
    payload = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """Answer 413 (JSON) to a request whose declared ``Content-Length`` is over the limit, before reading it.

    Bodies sent without a length (chunked) are counted while the endpoint reads them (``read_body``).
    """

    def __init__(self, app: ASGIApp, max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes if max_bytes is not None else get_service_settings().max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name == b"content-length":
                    try:
                        length = int(value)
                    except ValueError:
                        await send_json(send, 400, {"error": "invalid Content-Length", "field": "content-length"})
                        return
                    if length > self.max_bytes:
                        await send_json(
                            send,
                            413,
                            {
                                "error": f"request body of {length:,} bytes is over the limit of {self.max_bytes:,}",
                                "field": "body",
                            },
                            [(b"connection", b"close")],
                        )
                        return
        await self.app(scope, receive, send)


class ReadyzDetail:
    """Give BentoML's ``/readyz`` a JSON body that says what is served and from where.

    BentoML decides the status (200 when the service and its dependencies are ready, else 503); this adds
    ``{"ready", "detail", "source", "model", ...}`` from the model service, e.g. that the registry was
    unreachable at start and the last imported model is being served from the BentoML model store.
    """

    def __init__(self, app: ASGIApp, path: str = "/readyz") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        status_holder: dict[str, int] = {}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])

        await self.app(scope, receive, capture)
        status = status_holder.get("status", 503)
        try:
            import bentoml

            detail = dict(await bentoml.get_current_service().readiness())
        except Exception as exc:  # the model service may be down: say so, no trace
            logger.warning("readiness detail unavailable: %s", exc)
            detail = {"ready": False, "detail": "model service not reachable"}
        if status != 200:
            detail["ready"] = False
        await send_json(send, status if status in (200, 503) else 503, detail)


class PlainErrorsToJson:
    """Turn the plain-text error pages of the routers underneath (404, 405, 500 ...) into JSON errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rewritten: dict[str, Any] = {}

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = dict(message.get("headers", []))
                content_type = headers.get(b"content-type", b"").decode("latin-1")
                if status >= 400 and not content_type.startswith("application/json"):
                    rewritten["status"] = status
                    rewritten["body"] = b""
                    rewritten["headers"] = [
                        (k, v) for k, v in message.get("headers", []) if k not in {b"content-type", b"content-length"}
                    ]
                    return
                await send(message)
            elif message["type"] == "http.response.body" and rewritten:
                rewritten["body"] += message.get("body", b"")
                if not message.get("more_body", False):
                    text = rewritten["body"].decode("utf-8", "replace").strip()
                    short = text if text and len(text) < 200 and "Traceback" not in text else "request failed"
                    await send_json(send, rewritten["status"], {"error": short, "field": None}, rewritten["headers"])
            else:
                await send(message)

        await self.app(scope, receive, rewrite)


class JsonErrors:
    """Last line of defence: an exception that escapes an endpoint becomes a 500 JSON without a trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await send_json(send, 500, {"error": "internal error; the server log has the details", "field": None})
