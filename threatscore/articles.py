"""Reading articles from files and client payloads, with errors that name the article and the field.

Bad items never stop a batch: every reader yields either an ``Article`` or an ``ArticleError``,
so the caller scores the good ones and reports the bad ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from threatscore.schemas import Article


@dataclass(frozen=True, slots=True)
class ArticleError:
    """Why one input item could not be scored: which article (id, or line when no id), which field, what."""

    article_id: str | None
    field: str | None
    message: str
    line: int | None = None

    def describe(self) -> str:
        """One human line: ``line 3, article 'a1', field 'text': text is empty``."""
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        where.append(f"article {self.article_id!r}" if self.article_id is not None else "article without id")
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the same shape the CLI, the batch jobs and the API report."""
        return {"id": self.article_id, "line": self.line, "field": self.field, "error": self.message}


def parse_article(item: object, line: int | None = None) -> Article | ArticleError:
    """Validate one decoded item into an ``Article``, or explain what is wrong with it."""
    if not isinstance(item, Mapping):
        return ArticleError(None, None, f"expected a JSON object, got {type(item).__name__}", line)
    raw_id = item.get("id")
    article_id = str(raw_id) if raw_id is not None else None
    try:
        return Article.model_validate(dict(item))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            message = "is required"
        elif first["type"] == "extra_forbidden":
            message = "is not an article field (allowed: id, text, title, published, source)"
        return ArticleError(article_id, field, message, line)


def parse_lines(lines: Iterable[bytes]) -> Iterator[Article | ArticleError]:
    """Parse JSON Lines given as raw bytes, one article per line; blank lines are skipped.

    Invalid UTF-8 and malformed JSON are reported per line, and the following lines are still read.
    """
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield ArticleError(None, None, f"invalid UTF-8 at byte {exc.start}", number)
            continue
        try:
            item = json.loads(decoded)
        except json.JSONDecodeError as exc:
            yield ArticleError(None, None, f"malformed JSON: {exc.msg} (column {exc.colno})", number)
            continue
        yield parse_article(item, number)


def read_articles(path: Path) -> Iterator[Article | ArticleError]:
    """Read articles from a file: ``.jsonl`` (one article per line), ``.json`` (one article or a list),
    anything else as one plain-text or HTML article whose id is the file's stem.
    """
    if path.suffix == ".jsonl":
        with path.open("rb") as handle:
            yield from parse_lines(handle)
        return
    data = path.read_bytes()
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield ArticleError(path.stem, "text", f"invalid UTF-8 at byte {exc.start} in {path.name}")
        return
    if path.suffix == ".json":
        try:
            loaded = json.loads(decoded)
        except json.JSONDecodeError as exc:
            yield ArticleError(None, None, f"malformed JSON in {path.name}: {exc.msg} (line {exc.lineno})")
            return
        items = loaded if isinstance(loaded, list) else [loaded]
        for index, item in enumerate(items, start=1):
            yield parse_article(item, index if isinstance(loaded, list) else None)
        return
    yield parse_article({"id": path.stem, "text": decoded})
