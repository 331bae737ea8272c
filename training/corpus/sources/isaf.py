"""ISAF press releases, Afghanistan 2009-2013 (``isaf_press_releases/*.jsonl``; only the test file of the
fine-tuning set is staged). Each line is a chat-format record: the press release (human turn) and its
structured annotation (gpt turn: event types, province, target group, minimum killed/captured).

Every release reports an ISAF/Afghan operation against insurgents, so ``counter_terrorism`` = 1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

import pandas as pd

from threatscore.taxonomy import MASS_CASUALTY_MIN_FATALITIES
from training.corpus.loadutils import label
from training.corpus.schema import SIGNAL_COLUMNS

SOURCE: Final = "isaf"
FOLDER: Final = "isaf_press_releases"
_PREFIX_RE: Final = re.compile(r"^\s*PRESS RELEASE TEXT:\s*")
#: Annotated "provinces" that are not an Afghan province.
_NOT_ADMIN1: Final = frozenset({"", "??", "southern afghanistan"})


def input_files(raw_dir: Path) -> list[Path]:
    """The JSONL file(s) this loader reads."""
    return sorted((raw_dir / FOLDER).glob("*.jsonl"))


def load(raw_dir: Path) -> pd.DataFrame:
    """ISAF press releases as corpus rows; ``source_id`` is ``<file stem>:<line number>``."""
    rows: list[dict[str, Any]] = []
    for path in input_files(raw_dir):
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    rows.append(_row(json.loads(line), f"{path.stem}:{lineno}", path.stem))
    if not rows:
        raise FileNotFoundError(f"no ISAF press releases under {raw_dir / FOLDER}")
    df = pd.DataFrame(rows)
    idx = df.index
    for col in SIGNAL_COLUMNS:
        df[col] = pd.Series(pd.NA, index=idx, dtype="Int8")
    has_event = df.pop("_has_event").astype(bool)
    civ = df.pop("_civilian_casualty").astype(bool)
    killed = df["fatalities"].astype("Float64")
    df["sig_counter_terrorism"] = label(has_event, None, index=idx)
    df["sig_mass_casualty"] = label(
        killed >= MASS_CASUALTY_MIN_FATALITIES, (killed < MASS_CASUALTY_MIN_FATALITIES) & ~civ, index=idx
    )
    df["relevance"] = pd.Series(1, index=idx, dtype="Int8")
    df["source"] = SOURCE
    return df


def _row(record: dict[str, Any], source_id: str, stem: str) -> dict[str, Any]:
    turns = {t["from"]: t["value"] for t in record["conversations"]}
    text = _PREFIX_RE.sub("", turns["human"]).strip()
    ann = json.loads(turns["gpt"])
    events = sorted({e for raw in ann.get("event_type", []) for e in str(raw).split(";") if e})
    provinces = [str(p).strip() for p in ann.get("province", []) if str(p).strip().lower() not in _NOT_ADMIN1]
    civilian = "civiliancasualty" in events
    killed = ann.get("min_killed")
    start = pd.to_datetime(ann.get("start_date"), errors="coerce")
    return {
        "source_id": source_id,
        "source_file": stem,
        "text": text,
        "event_date": start,
        "date_precision": "day" if pd.notna(start) else None,
        "country_code": "AF",
        "admin1": provinces[0] if len(provinces) == 1 else None,
        # min_killed counts insurgents killed; a civilian-casualty release may report other deaths.
        "fatalities": int(killed) if isinstance(killed, int) and not civilian else None,
        "source_label": ";".join(events) if events else None,
        "_has_event": bool(events),
        "_civilian_casualty": civilian,
    }
