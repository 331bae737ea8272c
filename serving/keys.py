"""API keys: created once and shown once, stored only as a salted HMAC-SHA256, checked on every request.

A key reads ``ts_<key id>_<secret>``. The key id (12 hex characters) is public and finds the row; the secret
(256 random bits) is never stored: the row holds a per-key random salt and ``HMAC-SHA256(salt, secret)``.
Secrets are random, not passwords, so a fast keyed hash is the right tool (no dictionary to slow down).

Roles are ordered: ``score`` < ``feedback`` < ``admin``. A key may call every endpoint its role or a lower one
needs: ``score`` scores, reads regions and the model card; ``feedback`` may also send corrections; ``admin``
may also reload the model.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Final, Literal, get_args

from sqlalchemy.engine import Engine

from serving import db

Role = Literal["score", "feedback", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
_KEY = re.compile(r"^ts_(?P<key_id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, name and role."""

    key_id: str
    name: str
    role: Role

    def allows(self, needed: Role) -> bool:
        """True when this key's role is ``needed`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(needed)


@dataclass(frozen=True)
class CreatedKey:
    """A new key. ``key`` is the only time the secret exists outside the caller's hands."""

    key_id: str
    name: str
    role: Role
    key: str


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode("utf-8"), hashlib.sha256).hexdigest()


def create_key(engine: Engine, *, name: str, role: str) -> CreatedKey:
    """Create and store a key for ``name`` with ``role``; returns the plaintext key (shown once)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > 200:
        raise ValueError("name must be 1 to 200 characters")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    db.insert_api_key(
        engine,
        {
            "key_id": key_id,
            "name": name,
            "role": role,
            "salt": salt,
            "key_hash": _digest(salt, secret),
            "created_at": db.utcnow(),
            "revoked_at": None,
        },
    )
    return CreatedKey(key_id, name, role, f"ts_{key_id}_{secret}")


def revoke_key(engine: Engine, key_id_or_name: str) -> int:
    """Revoke the key with this id, or else every key with this name; returns how many were revoked."""
    if re.fullmatch(r"[0-9a-f]{12}", key_id_or_name) and db.get_api_key(engine, key_id_or_name):
        return db.revoke_api_keys(engine, key_id=key_id_or_name)
    return db.revoke_api_keys(engine, name=key_id_or_name)


class KeyVerifier:
    """Checks presented keys against the database, remembering good answers for ``cache_seconds``.

    Revoking a key therefore takes effect within ``cache_seconds`` (0: immediately, one query per request).
    Only a SHA-256 of a presented key is kept in memory, never the key.
    """

    def __init__(self, engine: Engine, cache_seconds: float = 10.0) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def verify(self, presented: str | None) -> Principal | None:
        """The principal of a valid, unrevoked key, else None."""
        if not presented:
            return None
        match = _KEY.match(presented.strip())
        if match is None:
            return None
        cache_key = hashlib.sha256(presented.encode("utf-8")).hexdigest()
        now = time.monotonic()
        if self.cache_seconds > 0:
            with self._lock:
                hit = self._cache.get(cache_key)
            if hit is not None and now - hit[0] < self.cache_seconds:
                return hit[1]
        principal = self._lookup(match["key_id"], match["secret"])
        if self.cache_seconds > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[cache_key] = (now, principal)
        return principal

    def _lookup(self, key_id: str, secret: str) -> Principal | None:
        row = db.get_api_key(self.engine, key_id)
        if row is None or row["revoked_at"] is not None or row["role"] not in ROLES:
            return None
        if not hmac.compare_digest(_digest(row["salt"], secret), row["key_hash"]):
            return None
        return Principal(key_id=row["key_id"], name=row["name"], role=row["role"])
