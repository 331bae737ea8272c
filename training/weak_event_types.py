"""ACLED sub-event types for news-style rows that carry another source's event label (weak labels).

The event-type heads learn only from ACLED's notes, a terse house style ("On 7 May 2020, IS militants killed
..."), and read news prose poorly: on wire-style items a suicide bombing came out as "Attack", a drone strike as
"Armed clash". Two sources label their incidents in news prose with a scheme that maps onto ACLED's where one
reading is clear:

* SATP (South Asia Terrorism Portal summaries) carries GTD attack types: a bombing is "Suicide bomb" when the text
  says suicide, "Grenade" when it names a grenade and no other device, else "Remote explosive/landmine/IED";
  a kidnapping or hijacking is "Abduction/forced disappearance"; an assassination an "Attack". "Armed Assault"
  (a clash or an attack on civilians), "Facility/Infrastructure Attack" and several types at once stay unlabelled.
* ISAF press releases: an air strike is "Air/drone strike", a detention "Arrests", insurgents killed in an
  operation an "Armed clash"; a release of several kinds or a civilian-casualty note stays unlabelled.

Only rows without a sub-event type get one; ACLED's own rows are never touched, so the ACLED benchmark slice is
the same. Off unless ``data.weak_event_types`` is set.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

import pandas as pd

logger = logging.getLogger(__name__)

_SUICIDE_RE = re.compile(r"\bsuicide\b", re.IGNORECASE)
_GRENADE_RE = re.compile(r"\bgrenades?\b", re.IGNORECASE)
_OTHER_DEVICE_RE = re.compile(
    r"\b(?:IEDs?|improvised|landmines?|land mines?|mines?|bombs?|explosives?)\b", re.IGNORECASE
)

SATP_TYPES = {
    "Kidnapping": "Abduction/forced disappearance",
    "Hijacking": "Abduction/forced disappearance",
    "Assassination": "Attack",
}
ISAF_KINDS = {
    "airstrike": "Air/drone strike",
    "detention": "Arrests",
    "insurgentskilled": "Armed clash",
    "captureandkill": "Armed clash",
}


def satp_event_type(attack_types: object, text: str) -> str | None:
    """The ACLED sub-event type a SATP row's GTD attack types imply, or None when there is no one clear reading."""
    if not isinstance(attack_types, (list, tuple)) or len(attack_types) != 1:
        return None
    kind = str(attack_types[0])
    if kind == "Bombing/Explosion":
        if _SUICIDE_RE.search(text):
            return "Suicide bomb"
        if _GRENADE_RE.search(text) and not _OTHER_DEVICE_RE.search(_GRENADE_RE.sub(" ", text)):
            return "Grenade"
        return "Remote explosive/landmine/IED"
    return SATP_TYPES.get(kind)


def isaf_event_type(source_label: object) -> str | None:
    """The ACLED sub-event type an ISAF release's kind implies (one kind only), or None."""
    if not isinstance(source_label, str) or ";" in source_label:
        return None
    return ISAF_KINDS.get(source_label)


def with_weak_event_types(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``sub_event_type`` filled for its SATP and ISAF rows that have none (a copy)."""
    out = frame.copy()
    missing = out["sub_event_type"].isna()
    filled = 0
    for idx in out.index[missing & (out["source"] == "satp")]:
        value = satp_event_type(out.at[idx, "attack_types"], str(out.at[idx, "text"]))
        if value is not None:
            out.at[idx, "sub_event_type"] = value
            filled += 1
    for idx in out.index[missing & (out["source"] == "isaf")]:
        value = isaf_event_type(out.at[idx, "source_label"])
        if value is not None:
            out.at[idx, "sub_event_type"] = value
            filled += 1
    logger.info("weak event types: %d SATP/ISAF rows labelled", filled)
    return out


def with_weak_event_rows(
    train: pd.DataFrame, dev: pd.DataFrame, mode: Literal["train", "train_and_dev"] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``train`` and ``dev`` with weak event types as ``data.weak_event_types`` asks: none (None), the train rows
    only ("train") or both ("train_and_dev")."""
    if mode is None:
        return train, dev
    return with_weak_event_types(train), with_weak_event_types(dev) if mode == "train_and_dev" else dev
