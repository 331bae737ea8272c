"""RAND Database of Worldwide Terrorism Incidents descriptions, 1968-2009 (``rand_rdwti/*.txt``): one
incident per line, often prefixed with the country ("CHILE.  An explosion ..."). No dates, no labels beyond
the fact that each line is a terrorism incident, hence ``militant_attack`` = 1 and ``relevance`` = 1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pandas as pd

from training.corpus.geo import COUNTRY_ALIASES, country_to_iso2
from training.corpus.schema import SIGNAL_COLUMNS

SOURCE: Final = "rand"
FOLDER: Final = "rand_rdwti"
# "CHILE.  text", "UNITED STATES - text", "West Bank.  text": a short prefix before ". " / " - " / ": ".
_PREFIX_RE: Final = re.compile(r"^\s*([A-Za-z][A-Za-z .'&/()-]{1,40}?)\s*(?:\.\s|\s-\s|:\s)")


def input_files(raw_dir: Path) -> list[Path]:
    """The incident file(s) this loader reads."""
    return sorted((raw_dir / FOLDER).glob("*.txt"))


def country_prefix(line: str) -> str | None:
    """ISO code of the line's country prefix, or None when the line has no prefix naming a country."""
    m = _PREFIX_RE.match(line)
    if not m:
        return None
    prefix = m.group(1).strip()
    # Short prefixes ("It", "US") would hit pycountry's code lookup; only explicit aliases may be that short.
    if len(prefix) < 4 and prefix.lower() not in COUNTRY_ALIASES:
        return None
    return country_to_iso2(prefix)


def load(raw_dir: Path) -> pd.DataFrame:
    """RAND incidents as corpus rows; ``source_id`` is ``<file stem>:<line number>``."""
    rows = []
    for path in input_files(raw_dir):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                text = line.strip()
                if text:
                    rows.append(
                        {
                            "source_id": f"{path.stem}:{lineno}",
                            "source_file": path.stem,
                            "text": text,
                            "country_code": country_prefix(text),
                        }
                    )
    if not rows:
        raise FileNotFoundError(f"no RAND incident file under {raw_dir / FOLDER}")
    df = pd.DataFrame(rows)
    idx = df.index
    for col in SIGNAL_COLUMNS:
        df[col] = pd.Series(pd.NA, index=idx, dtype="Int8")
    df["sig_militant_attack"] = pd.Series(1, index=idx, dtype="Int8")
    df["relevance"] = pd.Series(1, index=idx, dtype="Int8")
    df["source"] = SOURCE
    return df
