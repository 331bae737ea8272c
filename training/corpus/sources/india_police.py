"""India Police Events (Halterman et al. 2021; ``india_police_events/docs.csv`` + ``metadata.csv``): Times of
India articles from March 2002 (Gujarat violence), labelled for police actions (KILL, ARREST, FAIL, FORCE,
ANY_ACTION). Those labels describe police behaviour, not our signals, so they are kept only in
``source_label`` (and in the ``IndiaPoliceEvents_docs`` benchmark). The same 1,257 documents are ConfliBERT's
IndiaPoliceEvents_docs benchmark; the build gives each document the benchmark's split.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pandas as pd

from training.corpus.loadutils import read_csv_str

SOURCE: Final = "india_police"
FOLDER: Final = "india_police_events"
LABELS: Final = ("KILL", "ARREST", "ANY_ACTION", "FAIL", "FORCE")
_SLUG_RE: Final = re.compile(r"/([^/]+)/articleshow/")


def input_files(raw_dir: Path) -> list[Path]:
    """The document and metadata CSVs (the sentence-level file is not read: it repeats the documents)."""
    return [raw_dir / FOLDER / "docs.csv", raw_dir / FOLDER / "metadata.csv"]


def load(raw_dir: Path) -> pd.DataFrame:
    """India Police Events documents as corpus rows (no taxonomy labels)."""
    docs_path, meta_path = input_files(raw_dir)
    docs = read_csv_str(docs_path)
    meta = read_csv_str(meta_path)[["doc_id", "date", "url"]].drop_duplicates("doc_id")
    docs = docs.merge(meta, on="doc_id", how="left", validate="many_to_one")
    labels = [
        ";".join(lab for lab in LABELS if str(row.get(lab, "0")).strip() in ("1", "1.0"))
        for row in docs[list(LABELS)].to_dict("records")
    ]
    published = pd.to_datetime(docs["date"].fillna(""), format="%Y-%m-%d", errors="coerce")
    return pd.DataFrame(
        {
            "source": SOURCE,
            "source_id": docs["doc_id"].str.strip(),
            "source_file": docs_path.stem,
            "text": docs["doc_text"].astype("string").str.strip(),
            "title": docs["url"].fillna("").map(_title_from_url),
            "published": published,
            "date_precision": pd.Series("day", index=docs.index, dtype="string").mask(published.isna()),
            "country_code": "IN",
            "source_label": [lab or "none" for lab in labels],
        }
    )


def _title_from_url(url: str) -> str | None:
    """The headline slug of a Times of India URL ("Jilani-seeks-ban-on-VHP-programme" -> words)."""
    m = _SLUG_RE.search(url)
    if m is None:
        return None
    title = m.group(1).replace("-", " ").strip()
    return title or None
