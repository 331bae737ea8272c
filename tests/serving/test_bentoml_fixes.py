"""The request-timer fix for BentoML's TimeoutMiddleware: no timer outlives its request, failures do not wait
for the timeout, slow requests still get 504."""

from __future__ import annotations

import asyncio
import time

import pytest

from serving import bentoml_fixes


async def _call(app, path: str = "/") -> tuple[list[dict], float]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    started = time.monotonic()
    await app({"type": "http", "method": "GET", "path": path, "headers": []}, receive, send)
    return sent, time.monotonic() - started


async def ok_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def failing_app(scope, receive, send):
    raise RuntimeError("boom before any byte was sent")


async def slow_app(scope, receive, send):
    await asyncio.sleep(5)


def _live_timers(loop: asyncio.AbstractEventLoop) -> int:
    return sum(1 for handle in loop._scheduled if not handle.cancelled())  # type: ignore[attr-defined]


def test_no_timer_outlives_its_request():
    async def scenario():
        app = bentoml_fixes.TimeoutMiddleware(ok_app, timeout=300)
        loop = asyncio.get_running_loop()
        before = _live_timers(loop)
        for _ in range(200):
            sent, _ = await _call(app)
            assert sent[0]["status"] == 200
        return _live_timers(loop) - before

    assert asyncio.run(scenario()) == 0


def test_a_failing_handler_fails_at_once_not_after_the_timeout():
    async def scenario():
        app = bentoml_fixes.TimeoutMiddleware(failing_app, timeout=30)
        with pytest.raises(RuntimeError):
            await _call(app)

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 5


def test_a_slow_request_still_gets_504():
    async def scenario():
        app = bentoml_fixes.TimeoutMiddleware(slow_app, timeout=0.2)
        return await _call(app)

    sent, elapsed = asyncio.run(scenario())
    assert sent[0]["status"] == 504 and elapsed < 2


def test_the_served_app_uses_the_fixed_middleware():
    from bentoml._internal.server.http import traffic

    import serving.service  # noqa: F401 - installs the fix

    assert traffic.TimeoutMiddleware is bentoml_fixes.TimeoutMiddleware
    bentoml_fixes.install()  # idempotent
    assert traffic.TimeoutMiddleware is bentoml_fixes.TimeoutMiddleware
