"""ACLED extracts (``acled_extracts/*.csv``): one row per event note.

Six public extracts in two codebook generations:

* new scheme (2019+ codebook; ``event_type`` + ``sub_event_type`` columns): Burkina Faso 1997-2020,
  a global slice of Apr-May 2020, Afghanistan Mar 2020;
* old scheme (2015-16 codebook; ``event_type`` only, e.g. "Remote violence", "Riots/Protests"): Africa
  Jun-Jul 2016, South and South-East Asia 2015, Nigeria 2014-16. Mapped to the current names by
  ``data/acled_old_scheme.yaml`` (``training.corpus.acled_scheme``).

Signals set here (rules table in ``data/README.md``): militant_attack, mass_casualty, territorial_control,
counter_terrorism, and all ten set to 0 for "calm protests" (a protest note with no armed actor and no
conflict vocabulary).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Final

import pandas as pd

from threatscore.taxonomy import EVENT_TYPE_GROUPS, EVENT_TYPE_PARENT, MASS_CASUALTY_MIN_FATALITIES
from training.corpus.acled_scheme import DEFAULT_MAPPING_PATH, load_mapping
from training.corpus.geo import country_to_iso2
from training.corpus.loadutils import blank_to_na, label, parse_dates, read_csv_str, to_int
from training.corpus.schema import SIGNAL_COLUMNS

logger = logging.getLogger(__name__)

SOURCE: Final = "acled"
FOLDER: Final = "acled_extracts"
DATE_FORMATS: Final = ("%Y-%m-%d", "%d %B %Y", "%d-%b-%y", "%d/%m/%Y", "%d/%m/%y", "%d-%B-%Y")
TIME_PRECISION: Final = {"1": "day", "2": "week", "3": "month"}

#: ACLED actor-type codes (inter1/inter2).
STATE: Final = frozenset({1, 8})  # state forces, external/other forces
NON_STATE_ARMED: Final = frozenset({2, 3, 4})  # rebel groups, political militias, identity militias

# ACLED's bracketed meta tags at the end of notes ("[size=no report]", "[women targeted: ...]"): a pure
# template cue for the event type, not article prose, so it is removed from the text.
_META_TAG_RE: Final = re.compile(r"\s*\[(?:size|women targeted)[^\]]*\]", re.IGNORECASE)
# "20 fatalities split up between 3 events": the note reports more deaths than this event row carries.
_SPLIT_FATALITIES_RE: Final = re.compile(r"\bfatalit\w*\b[^.]{0,40}\b(?:split|spread|divided)\b", re.IGNORECASE)
# Conflict vocabulary: a protest note containing any of these is not a "calm protest".
_CONFLICT_RE: Final = re.compile(
    r"\b(?:militan\w*|insurg\w*|terror\w*|jihad\w*|rebel\w*|gunm[ae]n|armed|ambush\w*|bomb\w*|ied|explos\w*|abduct\w*|"
    r"kidnap\w*|suicide|boko|shabaab|taliban|maoist\w*|naxal\w*|isis|isil|islamic state|al[- ]qaeda|army|military|"
    r"soldiers?|troops|security forces|police|raid\w*|arrest\w*|prison\w*|jail\w*|recruit\w*|border\w*|foreign|"
    r"claim\w*|insecurity|security|attack\w*|kill\w*|dead|death\w*|shot|shoot\w*|clash\w*|fight\w*|weapon\w*|"
    r"guns?|violen\w*|curfew|emergency|camp|base)\b",
    re.IGNORECASE,
)
_ARREST_RE: Final = re.compile(r"\b(?:arrest\w*|detain\w*|apprehend\w*|captured|in custody)\b", re.IGNORECASE)


def input_files(raw_dir: Path) -> list[Path]:
    """The CSV extracts this loader reads."""
    return sorted((raw_dir / FOLDER).glob("*.csv"))


def load(raw_dir: Path) -> pd.DataFrame:
    """All ACLED extracts as corpus rows (old-scheme types mapped to the current names)."""
    frames = [_load_file(path) for path in input_files(raw_dir)]
    if not frames:
        raise FileNotFoundError(f"no ACLED extracts under {raw_dir / FOLDER}")
    df = pd.concat(frames, ignore_index=True)
    before = len(df)
    # The same event (event_id_cnty) in two extracts: keep the first extract's copy (files sorted by name).
    df = df.drop_duplicates("source_id", keep="first").reset_index(drop=True)
    if before != len(df):
        logger.info("acled: %d events appear in two extracts; kept one copy each", before - len(df))
    return df


def _load_file(path: Path) -> pd.DataFrame:
    raw = read_csv_str(path)
    raw.columns = [c.strip().lower() for c in raw.columns]
    new_scheme = "sub_event_type" in raw.columns
    notes = raw["notes"].astype("string").fillna("")
    text = notes.str.replace(_META_TAG_RE, "", regex=True).str.strip()
    inter1 = pd.to_numeric(raw["inter1"], errors="coerce").fillna(0).astype(int)
    inter2 = pd.to_numeric(raw["inter2"], errors="coerce").fillna(0).astype(int)

    if new_scheme:
        event_type = blank_to_na(raw["event_type"])
        sub_event_type = blank_to_na(raw["sub_event_type"])
        source_label = (raw["event_type"].str.strip() + " / " + raw["sub_event_type"].str.strip()).astype("string")
        _validate_new_scheme(event_type, sub_event_type, path)
    else:
        mapping = load_mapping(DEFAULT_MAPPING_PATH)
        mapped = [
            mapping.map(old, note, i1, i2)
            for old, note, i1, i2 in zip(raw["event_type"], text, inter1, inter2, strict=True)
        ]
        event_type = pd.Series([m[0] for m in mapped], dtype="string")
        sub_event_type = pd.Series([m[1] for m in mapped], dtype="string")
        source_label = raw["event_type"].str.strip().astype("string")

    source_id = blank_to_na(raw["event_id_cnty"])
    fallback = pd.Series([f"{path.stem}:{i}" for i in range(len(raw))], dtype="string")
    source_id = source_id.fillna(fallback)

    fatalities = to_int(raw["fatalities"])
    df = pd.DataFrame(
        {
            "source": SOURCE,
            "source_id": source_id,
            "source_file": path.stem,
            "text": text,
            "event_date": parse_dates(raw["event_date"], DATE_FORMATS),
            "date_precision": raw["time_precision"].str.strip().map(TIME_PRECISION).astype("string"),
            "country_code": raw["country"].map(country_to_iso2).astype("string"),
            "admin1": blank_to_na(raw["admin1"]),
            "actor1": blank_to_na(raw["actor1"]),
            "actor2": blank_to_na(raw["actor2"]),
            "fatalities": fatalities,
            "event_type": event_type,
            "sub_event_type": sub_event_type,
            "source_label": source_label,
            "acled_scheme": "new" if new_scheme else "old",
        }
    )
    signals = signal_labels(df["event_type"], df["sub_event_type"], inter1, inter2, fatalities, text)
    for col in SIGNAL_COLUMNS:
        df[col] = signals[col]
    df["relevance"] = relevance_labels(df["event_type"], inter1, inter2, signals)
    return df[df["text"].str.len() > 0].reset_index(drop=True)


def _validate_new_scheme(event_type: pd.Series, sub: pd.Series, path: Path) -> None:
    bad_event = sorted(set(event_type.dropna()) - set(EVENT_TYPE_GROUPS))
    bad_sub = sorted(set(sub.dropna()) - set(EVENT_TYPE_PARENT))
    if bad_event or bad_sub:
        raise ValueError(f"{path.name}: unknown ACLED types {bad_event} / {bad_sub}")
    pairs = pd.DataFrame({"e": event_type, "s": sub}).dropna()
    wrong = pairs[[EVENT_TYPE_PARENT[s] != e for e, s in zip(pairs["e"], pairs["s"], strict=True)]]
    if len(wrong):
        raise ValueError(f"{path.name}: sub-event types under the wrong event type: {wrong.head().values.tolist()}")


#: Event types that are political violence by definition (DESIGN.md relevance).
VIOLENT_EVENT_TYPES: Final = ("Battles", "Explosions/Remote violence", "Violence against civilians", "Riots")


def relevance_labels(
    event_type: pd.Series, inter1: pd.Series, inter2: pd.Series, signals: dict[str, pd.Series]
) -> pd.Series:
    """``relevance`` = 1 for violent event types, events with a non-state armed actor, and events that carry
    a militant-attack, territorial-control or counter-terrorism signal; <NA> otherwise (a peaceful protest or
    a policy change may or may not be about political violence; ACLED never says it is not)."""
    idx = event_type.index
    positive = (
        event_type.astype("string").fillna("").isin(VIOLENT_EVENT_TYPES)
        | inter1.isin(NON_STATE_ARMED)
        | inter2.isin(NON_STATE_ARMED)
    )
    for col in ("sig_militant_attack", "sig_territorial_control", "sig_counter_terrorism"):
        positive |= signals[col].fillna(0).astype(int) == 1
    return label(positive, None, index=idx)


def signal_labels(
    event_type: pd.Series,
    sub_event_type: pd.Series,
    inter1: pd.Series,
    inter2: pd.Series,
    fatalities: pd.Series,
    notes: pd.Series,
) -> dict[str, pd.Series]:
    """The ``sig_*`` labels ACLED fields imply (the rules table of ``data/README.md``); <NA> elsewhere."""
    idx = event_type.index
    ev = event_type.astype("string").fillna("")
    sub = sub_event_type.astype("string").fillna("")
    i1_state, i2_state = inter1.isin(STATE), inter2.isin(STATE)
    i1_armed, i2_armed = inter1.isin(NON_STATE_ARMED), inter2.isin(NON_STATE_ARMED)
    notes_s = notes.astype("string").fillna("")

    calm_protest = (
        (ev == "Protests")
        & ~(i1_state | i2_state | i1_armed | i2_armed)
        & ~notes_s.str.contains(_CONFLICT_RE, regex=True)
    )
    militant_attack = (ev.isin(["Violence against civilians", "Explosions/Remote violence"]) & i1_armed) | (
        sub == "Non-state actor overtakes territory"
    )
    territorial = sub.isin(["Non-state actor overtakes territory", "Headquarters or base established"]) | (
        (sub == "Non-violent transfer of territory") & i1_armed
    )
    counter = (
        (sub == "Government regains territory")
        | (sub.isin(["Arrests", "Air/drone strike"]) & i1_state & i2_armed)
        | ((sub == "Disrupted weapons use") & i1_state)
        | ((ev == "Strategic developments") & i1_state & i2_armed & notes_s.str.contains(_ARREST_RE, regex=True))
    )
    fat = fatalities.astype("Float64")
    split_note = notes_s.str.contains(_SPLIT_FATALITIES_RE, regex=True)
    mass_pos = fat >= MASS_CASUALTY_MIN_FATALITIES
    mass_neg = (fat < MASS_CASUALTY_MIN_FATALITIES) & ~split_note

    out = {col: label(None, calm_protest, index=idx) for col in SIGNAL_COLUMNS}
    out["sig_militant_attack"] = label(militant_attack, calm_protest, index=idx)
    out["sig_territorial_control"] = label(territorial, calm_protest, index=idx)
    out["sig_counter_terrorism"] = label(counter, calm_protest, index=idx)
    out["sig_mass_casualty"] = label(mass_pos, mass_neg, index=idx)
    return out


#: New-scheme event type -> the old-scheme type it was split from (to test the old-scheme rules).
NEW_TO_OLD: Final[dict[str, str]] = {
    "Explosions/Remote violence": "Remote violence",
    "Violence against civilians": "Violence against civilians",
    "Strategic developments": "Strategic development",
    "Protests": "Riots/Protests",
    "Riots": "Riots/Protests",
}


def old_rule_agreement(raw_dir: Path) -> pd.DataFrame:
    """How the old-scheme rules do on the new-scheme extracts, whose sub-event types are known: each
    new-scheme event is mapped as if it were coded in its old type. Returns one row per event type with
    ``n``, ``event_type_accuracy``, ``sub_coverage`` (share given a sub-event type) and ``sub_precision``
    (share of those that equal ACLED's own)."""
    mapping = load_mapping(DEFAULT_MAPPING_PATH)
    rows = []
    seen: set[str] = set()
    for path in input_files(raw_dir):
        raw = read_csv_str(path)
        raw.columns = [c.strip().lower() for c in raw.columns]
        if "sub_event_type" not in raw.columns:
            continue
        for rec in raw.to_dict("records"):
            if rec["event_id_cnty"] in seen or rec["event_type"] not in NEW_TO_OLD:
                continue
            seen.add(rec["event_id_cnty"])
            note = _META_TAG_RE.sub("", rec["notes"]).strip()
            i1, i2 = _code(rec["inter1"]), _code(rec["inter2"])
            event, sub = mapping.map(NEW_TO_OLD[rec["event_type"]], note, i1, i2)
            rows.append((rec["event_type"], rec["sub_event_type"], event, sub))
    res = pd.DataFrame(rows, columns=["gold_event", "gold_sub", "event", "sub"])
    out = []
    for gold_event, g in res.groupby("gold_event", sort=True):
        resolved = g["sub"].notna()
        out.append(
            {
                "event_type": gold_event,
                "n": len(g),
                "event_type_accuracy": float((g["event"] == g["gold_event"]).mean()),
                "sub_coverage": float(resolved.mean()),
                "sub_precision": float((g.loc[resolved, "sub"] == g.loc[resolved, "gold_sub"]).mean())
                if resolved.any()
                else float("nan"),
            }
        )
    return pd.DataFrame(out)


def _code(value: str) -> int:
    """An ACLED inter code as int (empty -> 0)."""
    value = value.strip()
    return int(float(value)) if value else 0
