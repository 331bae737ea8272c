"""Helpers shared by the source loaders and the benchmark reader: raw file readers, label builders."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from training.corpus.schema import SIGNAL_COLUMNS


def read_csv_str(path: Path, **kwargs: object) -> pd.DataFrame:
    """Read a CSV with every cell as a string and empty cells as ``""`` (never NaN)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8", **kwargs)


def read_tsv_noheader(path: Path) -> pd.DataFrame:
    """Read a header-less, unquoted TSV (ConfliBERT's format) with every cell as a string."""
    return pd.read_csv(
        path,
        sep="\t",
        header=None,
        quoting=csv.QUOTE_NONE,
        dtype=str,
        keep_default_na=False,
        encoding="utf-8",
    )


def blank_to_na(values: pd.Series) -> pd.Series:
    """Strip strings and turn empty ones into ``<NA>`` (nullable string dtype)."""
    out = values.astype("string").str.strip()
    return out.mask(out == "", pd.NA)


def parse_dates(values: pd.Series, formats: Sequence[str]) -> pd.Series:
    """Parse date strings trying whole formats in order: the format that parses most values is applied
    first, then the others fill what is still missing (an extract may mix "01/01/2014" and "4/3/16").
    Explicit formats, never per-cell guessing, keep dd/mm vs mm/dd fixed per source. Unparsed -> NaT."""
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    parsed = {fmt: pd.to_datetime(text.where(present), format=fmt, errors="coerce") for fmt in formats}
    order = sorted(formats, key=lambda f: (-int(parsed[f].notna().sum()), formats.index(f)))
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for fmt in order:
        out = out.fillna(parsed[fmt])
    return out.astype("datetime64[ns]")


def to_int(values: pd.Series) -> pd.Series:
    """Numbers as nullable Int64 (``"3.0"`` -> 3, ``""`` -> <NA>)."""
    num = pd.to_numeric(values.astype("string").str.strip().replace("", pd.NA), errors="coerce")
    return num.round().astype("Int64")


def int8(values: Iterable[object] | pd.Series, index: pd.Index | None = None) -> pd.Series:
    """A nullable Int8 series from 0/1/None values."""
    if isinstance(values, pd.Series):
        return values.astype("Int8")
    return pd.Series(list(values), index=index, dtype="Int8")


def all_signals(df: pd.DataFrame, value: int | None, mask: pd.Series | None = None) -> None:
    """Set every ``sig_*`` column of ``df`` to ``value`` (where ``mask`` is true, or everywhere)."""
    for col in SIGNAL_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series(pd.NA, index=df.index, dtype="Int8")
        if mask is None:
            df[col] = pd.Series(value if value is not None else pd.NA, index=df.index, dtype="Int8")
        else:
            df.loc[mask, col] = value if value is not None else pd.NA
            df[col] = df[col].astype("Int8")


def label(positive: pd.Series | None = None, negative: pd.Series | None = None, *, index: pd.Index) -> pd.Series:
    """Int8 label: 1 where ``positive``, else 0 where ``negative``, else <NA> (missing is never 0)."""
    pos = _bool(positive, index)
    neg = _bool(negative, index) & ~pos
    out = pd.Series(pd.NA, index=index, dtype="Int8")
    out[neg] = 0
    out[pos] = 1
    return out


def _bool(values: pd.Series | None, index: pd.Index) -> pd.Series:
    if values is None:
        return pd.Series(False, index=index)
    return pd.Series(values, index=index).astype("boolean").fillna(False).astype(bool)
