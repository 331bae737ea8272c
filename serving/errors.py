"""Error answers: always JSON ``{"error": <what is wrong>, "field": <which field, or null>}``, never a trace.

Some errors add ``details`` (every problem found, each ``{"field", "error"}``) or ``errors`` (per-article
problems of a batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error the API answers with ``status`` and a JSON body naming the field."""

    def __init__(self, status: int, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return {"error": self.message, "field": self.field, **self.extra}

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        """The HTTP response."""
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def field_path(loc: Sequence[Any], prefix: str | None = None) -> str | None:
    """Render a pydantic error location as ``articles[3].text`` / ``regions[0].country_code``."""
    out = prefix or ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"body", "query"} and not out:
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or None


def _message(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not an allowed field"
    return str(error.get("msg", "is invalid")).removeprefix("Value error, ")


def from_validation_error(
    exc: ValidationError | Sequence[Any], status: int = 422, prefix: str | None = None
) -> ApiError:
    """One ``ApiError`` for a pydantic/FastAPI validation failure: the first problem as ``error``/``field``,
    all of them in ``details``."""
    errors = exc.errors() if isinstance(exc, ValidationError) else list(exc)
    details = [{"field": field_path(e.get("loc", ()), prefix), "error": _message(e)} for e in errors]
    if not details:
        return ApiError(status, "invalid request", prefix)
    first = details[0]
    return ApiError(status, first["error"] or "invalid", first["field"], details=details)
