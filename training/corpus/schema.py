"""The unified corpus schema: column names, dtypes and the function that makes a frame conform to them.

Every source loader returns a frame with (a subset of) these columns; ``conform`` adds the missing ones as
all-missing and casts every column to its dtype, so missing labels are ``<NA>``, never 0.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from threatscore.taxonomy import EVENT_TYPE_GROUPS, EVENT_TYPES, SIGNALS

SPLITS: Final[tuple[str, ...]] = ("train", "dev", "test")

#: ``sig_<signal>`` for each of the ten signals, in taxonomy order.
SIGNAL_COLUMNS: Final[tuple[str, ...]] = tuple(f"sig_{s}" for s in SIGNALS)

#: Binary label columns (Int8, values 0/1/<NA>).
BINARY_LABEL_COLUMNS: Final[tuple[str, ...]] = ("relevance", *SIGNAL_COLUMNS)

#: Categorical label columns and their allowed values.
CATEGORICAL_LABELS: Final[dict[str, tuple[str, ...]]] = {
    "event_type": tuple(EVENT_TYPE_GROUPS),
    "sub_event_type": EVENT_TYPES,
}

#: Column -> pandas dtype, in output order. ``object`` columns hold Python lists (or None).
COLUMNS: Final[dict[str, str]] = {
    "id": "string",
    "source": "string",
    "source_id": "string",
    "source_file": "string",
    "text": "string",
    "title": "string",
    "published": "datetime64[ns]",
    "event_date": "datetime64[ns]",
    "date_precision": "string",
    "country_code": "string",
    "admin1": "string",
    "actor1": "string",
    "actor2": "string",
    "fatalities": "Int64",
    "split": "string",
    "split_rule": "string",
    "relevance": "Int8",
    "event_type": "string",
    "sub_event_type": "string",
    **{c: "Int8" for c in SIGNAL_COLUMNS},
    "attack_types": "object",
    "source_label": "string",
    "acled_scheme": "string",
    "text_key": "string",
    "near_key": "string",
    "group_key": "string",
}

#: Columns every loader must fill (non-null) itself.
REQUIRED_FROM_LOADER: Final[tuple[str, ...]] = ("source", "source_id", "text")

#: Columns the build computes; loaders may leave them out (``split`` may be pre-set to the source's own split).
BUILD_COLUMNS: Final[tuple[str, ...]] = ("id", "split_rule", "text_key", "near_key", "group_key")

DATE_PRECISIONS: Final[tuple[str, ...]] = ("day", "week", "month", "year")


def empty_frame(n: int = 0) -> pd.DataFrame:
    """An all-missing frame of ``n`` rows with every corpus column at its dtype."""
    return conform(pd.DataFrame(index=pd.RangeIndex(n)))


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the corpus columns, in order, each cast to its dtype.

    Missing columns are added as all-missing. Unknown columns raise ``ValueError`` so that a loader cannot
    silently add a column the rest of the pipeline does not know.
    """
    unknown = sorted(set(df.columns) - set(COLUMNS))
    if unknown:
        raise ValueError(f"columns not in the corpus schema: {unknown}")
    out = pd.DataFrame(index=df.index)
    for name, dtype in COLUMNS.items():
        if name in df.columns:
            col = df[name]
        elif dtype == "object":
            col = pd.Series([None] * len(df), index=df.index, dtype="object")
        else:
            col = pd.Series(pd.NA, index=df.index)
        out[name] = _cast(col, dtype)
    return out


def _cast(col: pd.Series, dtype: str) -> pd.Series:
    if dtype == "datetime64[ns]":
        return pd.to_datetime(col, errors="raise").astype("datetime64[ns]")
    if dtype == "object":
        return col.astype("object")
    if dtype in ("Int8", "Int64"):
        return pd.to_numeric(col, errors="raise").astype(dtype)
    return col.astype(dtype)
