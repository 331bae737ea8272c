"""One job at a time: a named lock row in the service database, with heartbeats and a stale-lock timeout.

``acquire`` inserts the row (the primary key makes two inserts race safely: one wins, on SQLite and on
PostgreSQL alike). A row whose heartbeat is older than ``stale_after`` belongs to a holder that died without
releasing it; it is taken over with a compare-and-swap UPDATE on the old holder, so two jobs that both find
it stale cannot both win. ``JobLock`` wraps it as a context manager with a heartbeat thread; when the
heartbeat finds the row taken by someone else, ``lost`` is set and the job must not publish anything.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from serving.db import JobLockRow, utcnow

logger = logging.getLogger(__name__)


class LockHeldError(RuntimeError):
    """Another live job holds the lock."""

    def __init__(self, name: str, holder: str, host: str, pid: int, heartbeat_at: dt.datetime) -> None:
        self.name, self.holder, self.host, self.pid, self.heartbeat_at = name, holder, host, pid, heartbeat_at
        super().__init__(
            f"lock {name!r} is held by job {holder} (host {host}, pid {pid}; "
            f"last heartbeat {heartbeat_at.isoformat(timespec='seconds')})"
        )


@dataclass(frozen=True)
class Acquired:
    """A lock this process now holds; ``took_over`` names the stale holder it replaced, if any."""

    name: str
    holder: str
    took_over: str | None = None


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they are stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def current_lock(engine: Engine, name: str) -> dict[str, Any] | None:
    """The lock row of ``name`` as a dict (timestamps timezone-aware), or None when nobody holds it."""
    with engine.connect() as connection:
        row = connection.execute(select(JobLockRow.__table__).where(JobLockRow.name == name)).first()
    if row is None:
        return None
    found = dict(row._mapping)
    found["acquired_at"] = _aware(found["acquired_at"])
    found["heartbeat_at"] = _aware(found["heartbeat_at"])
    return found


def acquire(
    engine: Engine, name: str, holder: str, *, stale_after: dt.timedelta, now: dt.datetime | None = None
) -> Acquired:
    """Take lock ``name`` for ``holder``, taking over a stale one; raises ``LockHeldError`` when it is live."""
    now = now or utcnow()
    values = {"holder": holder, "host": socket.gethostname()[:255], "pid": os.getpid()}
    try:
        with engine.begin() as connection:
            connection.execute(insert(JobLockRow).values(name=name, acquired_at=now, heartbeat_at=now, **values))
        logger.info("lock %r acquired by %s", name, holder)
        return Acquired(name, holder)
    except IntegrityError:
        pass  # held (or just released: the next attempt will tell)
    existing = current_lock(engine, name)
    if existing is None:  # released between our insert and our look: try once more from the start
        return acquire(engine, name, holder, stale_after=stale_after, now=now)
    if existing["heartbeat_at"] > now - stale_after:
        raise LockHeldError(name, existing["holder"], existing["host"], existing["pid"], existing["heartbeat_at"])
    with engine.begin() as connection:
        taken = connection.execute(
            update(JobLockRow)
            .where(
                JobLockRow.name == name,
                JobLockRow.holder == existing["holder"],
                JobLockRow.heartbeat_at < now - stale_after,
            )
            .values(acquired_at=now, heartbeat_at=now, **values)
        ).rowcount
    if taken != 1:  # someone else took it over first
        fresh = current_lock(engine, name) or existing
        raise LockHeldError(name, fresh["holder"], fresh["host"], fresh["pid"], fresh["heartbeat_at"])
    logger.warning(
        "lock %r: took over the stale lock of job %s (no heartbeat since %s)",
        name,
        existing["holder"],
        existing["heartbeat_at"].isoformat(timespec="seconds"),
    )
    return Acquired(name, holder, took_over=str(existing["holder"]))


def heartbeat(engine: Engine, name: str, holder: str, *, now: dt.datetime | None = None) -> bool:
    """Refresh the holder's heartbeat; False when the lock is no longer ``holder``'s."""
    with engine.begin() as connection:
        result = connection.execute(
            update(JobLockRow)
            .where(JobLockRow.name == name, JobLockRow.holder == holder)
            .values(heartbeat_at=now or utcnow())
        )
    return int(result.rowcount) == 1


def release(engine: Engine, name: str, holder: str) -> bool:
    """Drop the lock if ``holder`` still holds it; returns whether it did."""
    with engine.begin() as connection:
        result = connection.execute(delete(JobLockRow).where(JobLockRow.name == name, JobLockRow.holder == holder))
    released = int(result.rowcount) == 1
    if released:
        logger.info("lock %r released by %s", name, holder)
    return released


class JobLock:
    """``with JobLock(engine, "retrain", stale_after=...) as lock:`` — held for the block, heartbeat in a thread."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        stale_after: dt.timedelta,
        heartbeat_seconds: float,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder or uuid.uuid4().hex
        self.stale_after = stale_after
        self.heartbeat_seconds = heartbeat_seconds
        #: Set when a heartbeat found the lock held by someone else (this job was presumed dead).
        self.lost = threading.Event()
        self.acquired: Acquired | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> JobLock:
        self.acquired = acquire(self.engine, self.name, self.holder, stale_after=self.stale_after)
        self._thread = threading.Thread(target=self._beat, name=f"lock-heartbeat-{self.name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        release(self.engine, self.name, self.holder)

    def check(self) -> None:
        """Raise when the lock was lost: a job presumed dead must not register or promote anything."""
        if self.lost.is_set() or not heartbeat(self.engine, self.name, self.holder):
            self.lost.set()
            raise RuntimeError(f"lost lock {self.name!r}: another job took it over as stale; stopping")

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                if not heartbeat(self.engine, self.name, self.holder):
                    logger.error("lock %r is no longer held by %s", self.name, self.holder)
                    self.lost.set()
                    return
            except Exception:  # a database hiccup: the next beat retries; staleness allows many misses
                logger.warning("lock %r: heartbeat failed", self.name, exc_info=True)
