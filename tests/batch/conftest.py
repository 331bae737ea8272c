"""Fixtures of the archive-scoring tests: a few dozen articles (good and bad) written as JSONL and Parquet, and the
tiny registered model (``registered_tiny``) as the model to score with."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.fixtures.tiny_corpus import tiny_corpus
from threatscore.registry import configure_tracking

#: Rows that must end up in the errors output, by id (None: the row has no id), with the field named.
BAD_ROWS: list[dict[str, Any]] = [
    {"id": "bad-empty", "text": "   "},
    {"id": "bad-date", "text": "Gunmen attacked a police post.", "published": "03/04/2021"},
    {"text": "An article without an id."},
    {"id": "bad-long", "text": "word " * 40_001},
]
BAD_FIELDS = {"bad-empty": "text", "bad-date": "published", None: "id", "bad-long": "text"}


@pytest.fixture(autouse=True)
def _batch_registry(registered_tiny: dict) -> None:
    # Other packages may point MLflow elsewhere in this process; every batch test scores from the tiny registry.
    configure_tracking(registered_tiny["settings"])


@pytest.fixture(scope="session")
def model_uri(registered_tiny: dict) -> str:
    """The tiny baseline, pinned (so nothing another test does to an alias can change it)."""
    return f"models:/threatscore/{registered_tiny['result'].version}"


@pytest.fixture(scope="session")
def good_articles(seed_text: str) -> list[dict[str, Any]]:
    """24 valid articles: the seed article, tiny-corpus texts, HTML, non-ASCII, all optional fields."""
    texts = tiny_corpus()["text"].tolist()[:20]
    rows: list[dict[str, Any]] = [{"id": "seed", "text": seed_text, "published": "2022-01-29", "source": "seed"}]
    for i, text in enumerate(texts):
        row: dict[str, Any] = {"id": f"tiny-{i:02d}", "text": text}
        if i % 3 == 0:
            row["title"] = f"Report {i}"
        if i % 4 == 0:
            row["published"] = f"2021-0{1 + i % 9}-1{i % 10}"
        rows.append(row)
    rows.append({"id": "html", "text": "<p>Gunmen <b>attacked</b> a convoy near Gao, killing 5 soldiers.</p>"})
    rows.append({"id": "accents", "text": "Des hommes armés ont attaqué Kidal; 3 soldats tués à l'aube."})
    rows.append({"id": "mass", "text": "ISIS fighters stormed the prison in Hasakah, killing 27 guards."})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]], *, extra_lines: dict[int, str] | None = None) -> Path:
    """Rows as JSON Lines; ``extra_lines`` inserts raw lines (blank, malformed) before the given row index."""
    lines = []
    for i, row in enumerate(rows):
        if extra_lines and i in extra_lines:
            lines.append(extra_lines[i])
        lines.append(json.dumps(row, ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_parquet(
    path: Path, rows: list[dict[str, Any]], *, row_group_size: int | None = None, dates: bool = True
) -> Path:
    """Rows as Parquet with typed columns: ``published`` as a date, as archives store it (``dates=False``: as
    the strings given, which may be bad)."""
    columns: dict[str, list[Any]] = {name: [] for name in ("id", "text", "title", "published", "source")}
    for row in rows:
        for name, values in columns.items():
            value = row.get(name)
            if name == "published" and value is not None and dates:
                value = dt.date.fromisoformat(value)
            values.append(value)
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("title", pa.string()),
            ("published", pa.date32() if dates else pa.string()),
            ("source", pa.string()),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pydict(columns, schema=schema), path, row_group_size=row_group_size)
    return path


@pytest.fixture
def mixed_jsonl(tmp_path: Path, good_articles: list[dict[str, Any]]) -> Path:
    """The good articles with the bad rows spread among them, a blank line and a malformed line."""
    rows = list(good_articles)
    for k, bad in enumerate(BAD_ROWS):
        rows.insert(3 + 6 * k, bad)
    return write_jsonl(tmp_path / "in" / "articles.jsonl", rows, extra_lines={5: "", 11: "{not json"})


def read_output(folder: Path) -> list[dict[str, Any]]:
    """All assessment rows of an output folder, in part-file order (pyarrow skips _errors/, _manifest...)."""
    return ds.dataset(folder, format="parquet").to_table().to_pylist()


def read_errors(folder: Path) -> list[dict[str, Any]]:
    """All error rows of an output folder, in part-file order."""
    return [
        json.loads(line) for p in sorted((folder / "_errors").glob("*.jsonl")) for line in p.read_text().splitlines()
    ]


def assert_same_rows(left: list[dict[str, Any]], right: list[dict[str, Any]], tol: float = 1e-9) -> None:
    """Row for row: same ids in the same order, floats within ``tol``, everything else (JSON columns) equal."""
    assert [r["id"] for r in left] == [r["id"] for r in right]
    for a, b in zip(left, right, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float) or isinstance(b[key], float):
                assert math.isclose(a[key], b[key], rel_tol=0.0, abs_tol=tol), (a["id"], key, a[key], b[key])
            else:
                assert a[key] == b[key], (a["id"], key, a[key], b[key])
