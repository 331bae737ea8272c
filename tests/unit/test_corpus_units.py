"""Unit tests of the corpus building blocks on small hand-written inputs (no raw data needed)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from training.corpus.acled_scheme import OldSchemeMapping, load_mapping, parse_mapping
from training.corpus.build import assemble
from training.corpus.geo import country_to_iso2
from training.corpus.loadutils import label, parse_dates
from training.corpus.manifest import frame_content_hash, warn_on_input_changes
from training.corpus.schema import COLUMNS, SIGNAL_COLUMNS, conform, empty_frame
from training.corpus.sources.acled import signal_labels
from training.corpus.sources.rand import country_prefix
from training.corpus.sources.satp import _event_date
from training.corpus.splits import (
    connected_groups,
    drop_exact_duplicates,
    hash_split,
    resolve_groups,
    strongest,
    time_split,
)
from training.corpus.summary import summarise
from training.corpus.textnorm import fix_mojibake, fix_transliterated_nbsp, near_key, normalise, text_key

# --- ACLED old scheme ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mapping() -> OldSchemeMapping:
    return load_mapping()


@pytest.mark.parametrize(
    ("old", "event", "sub"),
    [
        ("Battle-No change of territory", "Battles", "Armed clash"),
        ("Battle-Government regains territory", "Battles", "Government regains territory"),
        ("Battle-Non-state actor overtakes territory", "Battles", "Non-state actor overtakes territory"),
        ("Battle-Non-state actors overtake territory", "Battles", "Non-state actor overtakes territory"),
        ("Headquarters or base established", "Strategic developments", "Headquarters or base established"),
        ("Non-violent transfer of territory", "Strategic developments", "Non-violent transfer of territory"),
    ],
)
def test_one_to_one_old_types(mapping: OldSchemeMapping, old: str, event: str, sub: str) -> None:
    assert mapping.map(old, "Anything at all happened.", 1, 2) == (event, sub)


@pytest.mark.parametrize(
    ("note", "sub"),
    [
        ("A suicide bomber detonated an IED at a checkpoint.", "Suicide bomb"),  # suicide wins over IED
        ("An IED planted on the road exploded near a patrol.", "Remote explosive/landmine/IED"),
        ("A landmine killed two herders.", "Remote explosive/landmine/IED"),
        ("An explosive device went off in the market.", "Remote explosive/landmine/IED"),
        ("Military airstrikes hit militant positions.", "Air/drone strike"),
        ("A US drone killed three fighters.", "Air/drone strike"),
        ("Militants shelled the town overnight.", "Shelling/artillery/missile attack"),
        ("Two mortar rounds landed near the base.", "Shelling/artillery/missile attack"),
        ("Rebels fired grenade launchers at army positions.", "Shelling/artillery/missile attack"),
        ("A grenade was thrown into a shop.", "Grenade"),
        ("A bomb exploded.", None),  # no rule names the device
        ("Mortar shells and an airstrike hit the village.", None),  # two sub-types match: ambiguous
    ],
)
def test_remote_violence_keywords(mapping: OldSchemeMapping, note: str, sub: str | None) -> None:
    assert mapping.map("Remote violence", note, 2, 7) == ("Explosions/Remote violence", sub)


@pytest.mark.parametrize(
    ("note", "sub"),
    [
        ("Gunmen abducted a village chief.", "Abduction/forced disappearance"),
        ("Gunmen shot dead a trader.", "Attack"),
        ("Gunmen abducted and killed a trader.", None),
        ("Soldiers raped a woman.", "Sexual violence"),
    ],
)
def test_violence_against_civilians_keywords(mapping: OldSchemeMapping, note: str, sub: str | None) -> None:
    assert mapping.map("Violence against civilians", note, 3, 7) == ("Violence against civilians", sub)


@pytest.mark.parametrize(
    ("inter1", "inter2", "event", "sub"),
    [
        (6, 0, "Protests", "Peaceful protest"),
        (6, 6, "Protests", "Peaceful protest"),
        (6, 1, "Protests", None),
        (5, 0, "Riots", "Violent demonstration"),
        (5, 1, "Riots", None),
        (1, 5, "Riots", None),
        (1, 2, None, None),
    ],
)
def test_riots_protests_by_interaction(
    mapping: OldSchemeMapping, inter1: int, inter2: int, event: str | None, sub: str | None
) -> None:
    assert mapping.map("Riots/Protests", "People gathered.", inter1, inter2) == (event, sub)


def test_unknown_old_type_is_an_error(mapping: OldSchemeMapping) -> None:
    with pytest.raises(KeyError):
        mapping.map("Something new", "note", 1, 2)


def test_mapping_rejects_names_outside_the_taxonomy() -> None:
    with pytest.raises(ValueError, match="unknown sub-event type"):
        parse_mapping({"old_event_types": {"X": {"event_type": "Battles", "sub_event_type": "Firefight"}}})
    with pytest.raises(ValueError, match="not under"):
        parse_mapping({"old_event_types": {"X": {"event_type": "Riots", "sub_event_type": "Armed clash"}}})


# --- ACLED signals ---------------------------------------------------------------------------------------


def test_acled_signal_rules() -> None:
    frame = pd.DataFrame(
        [
            # event_type, sub, inter1, inter2, fatalities, note
            ("Violence against civilians", "Attack", 2, 7, 12, "Rebels killed 12 villagers."),
            ("Battles", "Non-state actor overtakes territory", 2, 1, 3, "Rebels took the town."),
            ("Battles", "Government regains territory", 1, 2, 0, "The army retook the town."),
            ("Strategic developments", "Arrests", 1, 3, 0, "Police arrested three militia members."),
            ("Protests", "Peaceful protest", 6, 0, 0, "Teachers protested over unpaid salaries."),
            ("Protests", "Peaceful protest", 6, 0, 0, "Residents protested against militant attacks."),
            ("Battles", "Armed clash", 1, 2, 7, "Clashes left 20 dead; 20 fatalities split between 3 events."),
        ],
        columns=["event_type", "sub", "inter1", "inter2", "fatalities", "note"],
    )
    sig = signal_labels(
        frame["event_type"],
        frame["sub"],
        frame["inter1"],
        frame["inter2"],
        frame["fatalities"].astype("Int64"),
        frame["note"],
    )
    assert sig["sig_militant_attack"].tolist() == [1, 1, pd.NA, pd.NA, 0, pd.NA, pd.NA]
    assert sig["sig_territorial_control"].tolist() == [pd.NA, 1, pd.NA, pd.NA, 0, pd.NA, pd.NA]
    assert sig["sig_counter_terrorism"].tolist() == [pd.NA, pd.NA, 1, 1, 0, pd.NA, pd.NA]
    assert sig["sig_mass_casualty"].tolist() == [1, 0, 0, 0, 0, 0, pd.NA]
    assert sig["sig_recruitment"].tolist() == [pd.NA, pd.NA, pd.NA, pd.NA, 0, pd.NA, pd.NA]


def test_label_helper_never_turns_missing_into_zero() -> None:
    idx = pd.RangeIndex(3)
    out = label(pd.Series([True, False, False]), pd.Series([True, True, False]), index=idx)
    assert out.tolist() == [1, 0, pd.NA]
    assert str(out.dtype) == "Int8"


# --- country codes and dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Nigeria", "NG"),
        ("Democratic Republic of Congo", "CD"),
        ("Republic of Congo", "CG"),
        ("Ivory Coast", "CI"),
        ("Turkey", "TR"),
        ("Syria", "SY"),
        ("Iran", "IR"),
        ("Palestine", "PS"),
        ("Russia", "RU"),
        ("Kosovo", None),
        ("srilanka", "LK"),
        ("pakistan", "PK"),
        ("FEDERAL REPUBLIC OF GERMANY", "DE"),
        ("Soviet Union", None),
        ("", None),
        (None, None),
        ("Atlantis", None),
    ],
)
def test_country_to_iso2(name: str | None, code: str | None) -> None:
    assert country_to_iso2(name) == code


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("CHILE.  An explosion went off.", "CL"),
        ("UNITED STATES - A bomb was defused.", "US"),
        ("West Bank.  A settler was shot.", "PS"),
        ("A bomb exploded.  Nobody was hurt.", None),
        ("It. was a bomb.", None),
    ],
)
def test_rand_country_prefix(line: str, code: str | None) -> None:
    assert country_prefix(line) == code


def test_parse_dates_mixed_formats_stay_day_first() -> None:
    values = pd.Series(["01/02/2014", "4/3/16", "", "not a date"])
    parsed = parse_dates(values, ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y"))
    assert parsed.iloc[0] == pd.Timestamp("2014-02-01")
    assert parsed.iloc[1] == pd.Timestamp("2016-03-04")
    assert parsed.iloc[2:].isna().all()


def test_satp_event_date() -> None:
    assert _event_date("['December 6']", "2016") == pd.Timestamp("2016-12-06")
    assert _event_date("['August', '27th']", "2016") == pd.Timestamp("2016-08-27")
    assert _event_date("['February 30']", "2016") is None
    assert _event_date("", "2016") is None


# --- text keys ------------------------------------------------------------------------------------------


def test_fix_mojibake() -> None:
    assert fix_mojibake("the partyâ€™s â€œplanâ€\ufffd") == "the party\u2019s \u201cplan\u201d"
    assert fix_mojibake("CafÃ©") == "Caf\u00e9"
    assert fix_mojibake("governmentaEUR(tm)s aEURoeno") == "government\u2019s \u201cno"
    assert fix_transliterated_nbsp("the reportA said so") == "the report  said so"
    assert fix_mojibake("plain text stays") == "plain text stays"


def test_normalised_keys() -> None:
    assert normalise("The  People\u2019s  FRONT, (PF)!") == "the peoples front pf"
    assert text_key("The People's Front.") == text_key("the peoples   front")
    assert text_key("5 killed in Kabul") != text_key("7 killed in Kabul")
    assert near_key("On 3 March 2020, 5 killed in Kabul") == near_key("On 21st May 2019, 17 killed in Kabul")
    assert near_key("5 killed in Kabul") != near_key("5 killed in Kandahar")


# --- dedup and splits -----------------------------------------------------------------------------------


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_exact_duplicates_keep_first_and_inherit_strongest_split() -> None:
    df = _frame(
        [
            {"source": "satp", "text_key": "a", "split": None},
            {"source": "conflibert/satp_relevant", "text_key": "a", "split": "test"},
            {"source": "conflibert/BBC_News", "text_key": "b", "split": "train"},
            {"source": "conflibert/BBC_News", "text_key": "b", "split": "dev"},
            {"source": "rand", "text_key": "c", "split": None},
        ]
    )
    kept, pairs = drop_exact_duplicates(df)
    assert kept["source"].tolist() == ["satp", "conflibert/BBC_News", "rand"]
    assert kept["split"].tolist()[:2] == ["test", "dev"]
    assert pd.isna(kept["split"].iloc[2])
    assert pairs.to_dict("records") == [
        {"dropped": "conflibert/satp_relevant", "kept": "satp"},
        {"dropped": "conflibert/BBC_News", "kept": "conflibert/BBC_News"},
    ]


def test_strongest_split() -> None:
    assert strongest(["train", "test", "dev"]) == "test"
    assert strongest([None, pd.NA]) is None


def test_time_split_cuts_between_dates() -> None:
    dates = pd.Series(pd.to_datetime([f"2020-01-{d:02d}" for d in range(1, 21)] * 5 + [None]))
    out = time_split(dates)
    assert pd.isna(out.iloc[-1])
    by_date = pd.DataFrame({"d": dates, "s": out}).dropna().groupby("d")["s"].nunique()
    assert (by_date == 1).all()  # one date, one split
    shares = out.value_counts(normalize=True)
    assert shares["test"] == pytest.approx(0.15, abs=0.03)
    assert shares["dev"] == pytest.approx(0.15, abs=0.03)
    latest = dates.dropna().max()
    assert out[dates == latest].eq("test").all()


def test_hash_split_is_deterministic() -> None:
    keys = pd.Series([f"k{i}" for i in range(2000)])
    a, b = hash_split(keys), hash_split(keys.copy())
    assert a.equals(b)
    assert a.value_counts(normalize=True)["test"] == pytest.approx(0.15, abs=0.03)
    assert set(hash_split(keys, train_dev_only=True)) == {"train", "dev"}


def test_connected_groups_link_through_either_key() -> None:
    near = pd.Series(["n1", "n1", "n2", "n3", "n4"])
    lead = pd.Series([None, None, "l1", "l1", None], dtype="object")
    groups = connected_groups([near, lead.astype("string")])
    assert groups[0] == groups[1]
    assert groups[2] == groups[3]
    assert len(set(groups)) == 3


def test_resolve_groups_pin_then_majority() -> None:
    proposed = pd.Series(["train", "test", "train", "train", "dev", "dev"], dtype="string")
    pinned = pd.Series([None, None, "dev", None, None, None], dtype="string")
    groups = pd.Series(["a", "a", "b", "b", "c", "d"], dtype="string")
    out = resolve_groups(proposed, pinned, groups)
    assert out.tolist() == ["test", "test", "dev", "dev", "dev", "dev"]  # a: tie -> test; b: pin wins


_WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa "
    "quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber basalt cobalt dune ember"
).split()


def test_assemble_keeps_near_duplicate_groups_together() -> None:
    rows = []
    for day in range(1, 29):
        rows.append(
            {
                "source": "acled",
                "source_id": f"E{day}",
                "source_file": "extract",
                "text": f"On {day} February 2020, protesters gathered in Ouagadougou over fuel prices.",
                "event_date": pd.Timestamp(2020, 2, day),
            }
        )
        rows.append(
            {
                "source": "acled",
                "source_id": f"U{day}",
                "source_file": "extract",
                "text": f"Unrelated note about {_WORDS[day % len(_WORDS)]} and {_WORDS[(day * 7) % len(_WORDS)]}.",
                "event_date": pd.Timestamp(2020, 2, day),
            }
        )
    rows.append({"source": "rand", "source_id": "r1", "text": "CHILE.  A bomb went off."})
    rows.append({"source": "rand", "source_id": "r2", "text": "chile - a bomb went off!"})  # exact duplicate
    raw = conform(pd.DataFrame(rows))
    corpus, removed, _moved = assemble(raw)
    assert removed == {"rand": 1}
    assert list(corpus.columns) == list(COLUMNS)
    protests = corpus[corpus["source_id"].str.startswith("E")]
    assert protests["split"].nunique() == 1  # the templated notes form one group
    for key in ("text_key", "near_key", "group_key"):
        assert (corpus.groupby(key)["split"].nunique() == 1).all()
    unrelated = corpus[corpus["source_id"].str.startswith("U")]
    assert set(unrelated["split"]) == {"train", "dev", "test"}
    assert (unrelated["split_rule"] == "time").all()


# --- schema, summary, manifest --------------------------------------------------------------------------


def test_conform_fills_missing_labels_with_na() -> None:
    df = conform(pd.DataFrame({"source": ["x"], "source_id": ["1"], "text": ["t"]}))
    assert list(df.columns) == list(COLUMNS)
    for col in ("relevance", *SIGNAL_COLUMNS):
        assert df[col].isna().all()
        assert str(df[col].dtype) == "Int8"
    with pytest.raises(ValueError, match="not in the corpus schema"):
        conform(pd.DataFrame({"surprise": [1]}))
    assert len(empty_frame(2)) == 2


def test_summary_render_and_counts() -> None:
    df = empty_frame(4)
    df["source"] = ["acled", "acled", "rand", "rand"]
    df["split"] = ["train", "test", "train", "dev"]
    df["relevance"] = pd.array([1, 0, None, 1], dtype="Int8")
    summary = summarise(df, {"rand": 2}, 1, {"BBC_News": {"train": 3}})
    assert summary.total == 4
    assert summary.labels["relevance"]["train"] == (1, 0)
    assert summary.labels["relevance"]["test"] == (0, 1)
    text = summary.render()
    assert "TOTAL" in text and "relevance" in text and "BBC_News" in text
    assert str(summary) == text


def test_manifest_warns_when_an_input_changed(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    committed = {"inputs": {"a.csv": "0" * 64, "b.csv": "1" * 64}}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(committed))
    with caplog.at_level(logging.WARNING):
        changed = warn_on_input_changes(committed, {"a.csv": "0" * 64, "b.csv": "2" * 64, "c.csv": "3" * 64}, path)
    assert changed == ["b.csv", "c.csv"]
    assert "b.csv changed" in caplog.text
    assert warn_on_input_changes(None, {"a.csv": "x"}, path) == []


def test_frame_content_hash_ignores_row_order() -> None:
    df = pd.DataFrame({"id": ["b", "a"], "split": ["train", "test"], "x": pd.array([1, None], dtype="Int8")})
    assert frame_content_hash(df, ["id", "split", "x"]) == frame_content_hash(df.iloc[::-1], ["id", "split", "x"])
    changed = df.assign(split=["train", "dev"])
    assert frame_content_hash(df, ["id", "split"]) != frame_content_hash(changed, ["id", "split"])
