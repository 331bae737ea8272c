"""A targeted fix for BentoML 1.4's ``TimeoutMiddleware`` (checked against bentoml 1.4.40).

Upstream, every request schedules ``loop.call_later(timeout, ...)`` and never cancels it. Until the timer fires
(``traffic.timeout`` seconds later) the handle keeps the request's context alive: its OpenTelemetry span, headers,
request objects, ~17 KB per request. At 100 requests/s and a 300 s timeout that is ~0.5 GB per process, growing
for the first ``timeout`` seconds of load. Upstream also leaves a request whose handler fails before sending
anything waiting until the timeout. The replacement below cancels the timer when the request ends and wakes up
as soon as the handler finishes; otherwise it behaves the same (504 JSON when nothing was sent in time).

``install()`` swaps the class in BentoML's module; it runs when ``serving.service`` is imported, i.e. before
BentoML builds the service's ASGI app, in every process that serves it. It changes nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TimeoutMiddleware:
    """Time to first response byte is limited to ``timeout`` seconds (504 JSON otherwise); nothing outlives
    the request."""

    threatscore_fixed = True

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    @staticmethod
    def _set_timer_out(waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter.set_exception(TimeoutError())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from starlette.responses import JSONResponse

        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

        async def _send(message: Message) -> None:
            if not waiter.done():
                waiter.set_result(None)
            await send(message)

        def _finished(_: asyncio.Future[None]) -> None:
            if not waiter.done():
                waiter.set_result(None)

        task: asyncio.Future[None] = asyncio.ensure_future(self.app(scope, receive, _send))
        task.add_done_callback(_finished)
        try:
            await waiter
        except TimeoutError:
            if task.cancel():
                response = JSONResponse(
                    {"error": f"Not able to process the request in {self.timeout} seconds", "field": None},
                    status_code=504,
                )
                await response(scope, receive, send)
        else:
            await task
        finally:
            timer.cancel()


def install() -> None:
    """Use ``TimeoutMiddleware`` above in place of BentoML's (idempotent; skipped if BentoML changed shape)."""
    try:
        from bentoml._internal.server.http import traffic
    except ImportError:  # pragma: no cover - a BentoML without this module needs no fix
        return
    current = getattr(traffic, "TimeoutMiddleware", None)
    if current is None or getattr(current, "threatscore_fixed", False):
        return
    if not hasattr(current, "_set_timer_out"):
        logger.warning("BentoML's TimeoutMiddleware changed; the timer fix is not applied")
        return
    traffic.TimeoutMiddleware = TimeoutMiddleware  # type: ignore[misc,assignment]
