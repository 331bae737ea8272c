"""SATP (South Asia Terrorism Portal) paragraphs annotated on TagTog (``satp_snowood1/p*.csv``).

Each paragraph carries the annotators' ``is_relevant`` flag (does it report an attack event) and, for
relevant ones, lists of attack types, perpetrators, targets, places and dates. All paragraphs come from a
terrorism/insurgency portal, so ``relevance`` (political violence or armed-group activity, DESIGN.md) is 1.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path
from typing import Final

import pandas as pd

from training.corpus.geo import country_to_iso2
from training.corpus.loadutils import label, read_csv_str
from training.corpus.schema import SIGNAL_COLUMNS

logger = logging.getLogger(__name__)

SOURCE: Final = "satp"
FOLDER: Final = "satp_snowood1"
#: Attack types that name a concrete attack (SATP/GTD vocabulary); "Unknown"/"NotSpecified" do not.
CONCRETE_ATTACK_TYPES: Final = frozenset(
    {
        "Armed Assault",
        "Bombing/Explosion",
        "Facility/Infrastructure Attack",
        "Kidnapping",
        "Assassination",
        "Unarmed Assault",
        "Hijacking",
        "Barricade Incident",
    }
)
_STATE_ACTOR_RE: Final = re.compile(
    r"\b(police|sfs?|security forces?|army|troops|crpf|bsf|rangers|fc|jawans|commandos|stf|drg|rab|military|"
    r"cops?|forces|itbp|ssb|cobra|soldiers|troopers)\b",
    re.IGNORECASE,
)
_MONTH_NAMES: Final = (
    *("january", "february", "march", "april", "may", "june"),
    *("july", "august", "september", "october", "november", "december"),
)
_MONTHS: Final = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_MONTH_DAY_RE: Final = re.compile(r"^\s*([A-Za-z]+)\s*(\d{1,2})?(?:st|nd|rd|th)?\s*$")
_DAY_RE: Final = re.compile(r"^\s*(\d{1,2})(?:st|nd|rd|th)?\s*$")


def input_files(raw_dir: Path) -> list[Path]:
    """The 15 annotation batches, in numeric order (p1 ... p15)."""
    files = list((raw_dir / FOLDER).glob("p*.csv"))
    return sorted(files, key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))


def load(raw_dir: Path) -> pd.DataFrame:
    """All SATP paragraphs as corpus rows."""
    frames = []
    for path in input_files(raw_dir):
        raw = read_csv_str(path)
        raw["_file"] = path.stem
        frames.append(raw)
    if not frames:
        raise FileNotFoundError(f"no SATP batches under {raw_dir / FOLDER}")
    raw = pd.concat(frames, ignore_index=True)

    base_id = raw["_file"] + ":" + raw["id"].str.strip()
    repeat = base_id.groupby(base_id).cumcount()
    source_id = base_id.where(repeat == 0, base_id + "#" + repeat.astype(str))

    relevant = raw["is_relevant"].str.strip().str.lower().eq("true")
    types = raw["action_type"].map(_literal_list)
    perpetrators = raw["source"].map(_literal_list)
    attack_types: list[list[str] | None] = []
    for rel, ts in zip(relevant, types, strict=True):
        if not rel:
            attack_types.append([])
        elif ts:
            attack_types.append(sorted(set(ts)))
        else:
            attack_types.append(None)

    concrete = pd.Series([bool(set(t or ()) & CONCRETE_ATTACK_TYPES) for t in attack_types])
    state_only = pd.Series([bool(p) and all(_STATE_ACTOR_RE.search(x) for x in p) for p in perpetrators])
    idx = raw.index
    df = pd.DataFrame(
        {
            "source": SOURCE,
            "source_id": source_id.astype("string"),
            "source_file": raw["_file"],
            "text": raw["news"].astype("string").str.strip(),
            "event_date": [_event_date(d, y) for d, y in zip(raw["date"], raw["year"], strict=True)],
            "country_code": raw["country"].map(country_to_iso2).astype("string"),
            "relevance": pd.Series(1, index=idx, dtype="Int8"),
            "attack_types": pd.Series(attack_types, index=idx, dtype="object"),
            "source_label": [
                ("relevant: " + ";".join(t)) if t else ("relevant" if r else "not relevant")
                for r, t in zip(relevant, attack_types, strict=True)
            ],
        }
    )
    df["date_precision"] = pd.Series("day", index=idx, dtype="string").mask(df["event_date"].isna())
    for col in SIGNAL_COLUMNS:
        df[col] = pd.Series(pd.NA, index=idx, dtype="Int8")
    df["sig_militant_attack"] = label(relevant & concrete & ~state_only, ~relevant, index=idx)
    return df[df["text"].str.len() > 0].reset_index(drop=True)


def _literal_list(cell: str) -> list[str]:
    cell = cell.strip()
    if not cell:
        return []
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        return []
    return [str(v).strip() for v in value if str(v).strip()] if isinstance(value, list) else []


def _event_date(cell: str, year: str) -> pd.Timestamp | None:
    """First "Month Day" in the annotated date list (day may be the next item: ['August', '27th'])."""
    items = _literal_list(cell)
    try:
        y = int(float(year))
    except ValueError:
        return None
    for i, item in enumerate(items):
        m = _MONTH_DAY_RE.match(item)
        if not m or m.group(1).lower() not in _MONTHS:
            continue
        day_text = m.group(2)
        if day_text is None and i + 1 < len(items):
            d = _DAY_RE.match(items[i + 1])
            day_text = d.group(1) if d else None
        if day_text is None:
            continue
        try:
            return pd.Timestamp(year=y, month=_MONTHS[m.group(1).lower()], day=int(day_text))
        except ValueError:
            continue
    return None
