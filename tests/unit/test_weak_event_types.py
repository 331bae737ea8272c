"""SATP attack types and ISAF release kinds as ACLED sub-event types (training.weak_event_types)."""

from __future__ import annotations

import pandas as pd
import pytest

from training.weak_event_types import isaf_event_type, satp_event_type, with_weak_event_rows, with_weak_event_types


@pytest.mark.parametrize(
    ("types", "text", "expected"),
    [
        (["Bombing/Explosion"], "A suicide bomber killed 28 people at a mosque.", "Suicide bomb"),
        (["Bombing/Explosion"], "Unidentified persons hurled a grenade at the police station.", "Grenade"),
        (["Bombing/Explosion"], "A grenade and an IED were found near the camp.", "Remote explosive/landmine/IED"),
        (["Bombing/Explosion"], "An IED exploded under a vehicle.", "Remote explosive/landmine/IED"),
        (["Kidnapping"], "Militants abducted two engineers.", "Abduction/forced disappearance"),
        (["Assassination"], "Gunmen shot dead a local leader.", "Attack"),
        (["Armed Assault"], "Militants attacked a police post.", None),  # a clash or an attack on civilians
        (["Armed Assault", "Bombing/Explosion"], "Militants attacked and bombed a post.", None),
        (None, "No label.", None),
    ],
)
def test_satp_attack_types_map_only_where_one_reading_is_clear(types, text, expected):
    assert satp_event_type(types, text) == expected


def test_isaf_kinds_map_single_kinds_only():
    assert isaf_event_type("airstrike") == "Air/drone strike"
    assert isaf_event_type("detention") == "Arrests"
    assert isaf_event_type("insurgentskilled") == "Armed clash"
    assert isaf_event_type("airstrike;detention") is None
    assert isaf_event_type("civiliancasualty") is None
    assert isaf_event_type(None) is None


def test_only_unlabelled_satp_and_isaf_rows_are_filled():
    frame = pd.DataFrame(
        {
            "source": ["acled", "satp", "satp", "isaf", "ucdp"],
            "text": ["On 7 May, a suicide bomber ...", "A suicide bomber struck.", "Talks held.", "x", "y"],
            "sub_event_type": ["Attack", None, None, None, None],
            "attack_types": [None, ["Bombing/Explosion"], ["Armed Assault"], None, None],
            "source_label": [None, "relevant: Bombing/Explosion", "relevant", "airstrike", "state-based"],
        }
    )
    out = with_weak_event_types(frame)
    assert out["sub_event_type"].tolist() == ["Attack", "Suicide bomb", None, "Air/drone strike", None]
    assert frame["sub_event_type"].isna().sum() == 4  # the input is not changed


def test_modes_choose_which_split_gets_weak_event_types():
    rows = pd.DataFrame(
        {
            "source": ["isaf"],
            "text": ["x"],
            "sub_event_type": [None],
            "attack_types": [None],
            "source_label": ["airstrike"],
        }
    )
    train, dev = with_weak_event_rows(rows, rows, None)
    assert train is rows and dev is rows
    train, dev = with_weak_event_rows(rows, rows, "train")
    assert train["sub_event_type"].tolist() == ["Air/drone strike"] and dev is rows
    train, dev = with_weak_event_rows(rows, rows, "train_and_dev")
    assert dev["sub_event_type"].tolist() == ["Air/drone strike"]
