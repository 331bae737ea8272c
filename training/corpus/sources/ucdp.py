"""UCDP GED 19.1 events in Syria 2016-2019 (``ucdp_ged_syria/*.csv``): one row per source article.

UCDP codes several events from one article (one per location/dyad), all carrying the article's headline.
The text we have is that headline, so events are grouped by (headline, source date) into one row:
fatalities is the sum of the events' ``best`` estimates, admin1 the governorate when all events share one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pandas as pd

from threatscore.taxonomy import MASS_CASUALTY_MIN_FATALITIES
from training.corpus.loadutils import label, read_csv_str
from training.corpus.schema import SIGNAL_COLUMNS

SOURCE: Final = "ucdp"
FOLDER: Final = "ucdp_ged_syria"
VIOLENCE_TYPES: Final = {1: "state-based", 2: "non-state", 3: "one-sided"}
#: UCDP date_prec: 1 exact day, 2 2-6 days, 3 week, 4 month, 5 longer.
DATE_PRECISION: Final = {1: "day", 2: "week", 3: "week", 4: "month", 5: "year"}


def input_files(raw_dir: Path) -> list[Path]:
    """The UCDP CSV(s) this loader reads."""
    return sorted((raw_dir / FOLDER).glob("*.csv"))


def load(raw_dir: Path) -> pd.DataFrame:
    """UCDP Syria events grouped into one corpus row per source article (headline + source date)."""
    files = input_files(raw_dir)
    if not files:
        raise FileNotFoundError(f"no UCDP CSV under {raw_dir / FOLDER}")
    raw = pd.concat([read_csv_str(p).assign(_file=p.stem) for p in files], ignore_index=True)
    ev = pd.DataFrame(
        {
            "id": pd.to_numeric(raw["id"], errors="coerce").astype("Int64"),
            "file": raw["_file"],
            "headline": raw["source_headline"].str.strip(),
            "source_date": raw["source_date"].str.strip(),
            "published": pd.to_datetime(raw["source_date"].str.split(";").str[0].str.strip(), errors="coerce"),
            "date_start": pd.to_datetime(raw["date_start"], errors="coerce"),
            "date_prec": pd.to_numeric(raw["date_prec"], errors="coerce").fillna(5).astype(int),
            "adm_1": raw["adm_1"].str.strip(),
            "side_a": raw["side_a"].str.strip(),
            "side_b": raw["side_b"].str.strip(),
            "country": raw["country"].str.strip(),
            "type": pd.to_numeric(raw["type_of_violence"], errors="coerce").fillna(0).astype(int),
            "best": pd.to_numeric(raw["best"], errors="coerce").fillna(0).round().astype(int),
        }
    )
    ev = ev[ev["headline"] != ""].copy()
    ev["one_sided_by_group"] = (ev["type"] == 3) & ~ev["side_a"].str.startswith("Government of")
    ev["adm_1"] = ev["adm_1"].replace("", None)
    ev["dyad"] = ev["side_a"] + "\x1f" + ev["side_b"]
    for t, name in VIOLENCE_TYPES.items():
        ev[name] = ev["type"] == t
    g = ev.groupby(["headline", "source_date"], sort=False)
    agg = g.agg(
        min_id=("id", "min"),
        source_file=("file", "first"),
        published=("published", "min"),
        event_date=("date_start", "min"),
        date_prec=("date_prec", "max"),
        n_adm=("adm_1", "nunique"),
        adm_1=("adm_1", "first"),
        n_dyads=("dyad", "nunique"),
        dyad=("dyad", "first"),
        n_countries=("country", "nunique"),
        country=("country", "first"),
        fatalities=("best", "sum"),
        max_best=("best", "max"),
        one_sided_by_group=("one_sided_by_group", "any"),
        **{name: (name, "any") for name in VIOLENCE_TYPES.values()},
    ).reset_index()
    # source_date carries data-entry errors (years 1753, 2109): a report dated more than a year away from
    # its event is not a publication date we can use.
    gap = (agg["published"] - agg["event_date"]).abs()
    agg["published"] = agg["published"].where(gap <= pd.Timedelta(days=366))
    agg = agg.sort_values("min_id", kind="stable").reset_index(drop=True)
    idx = agg.index
    single_dyad = agg["n_dyads"] == 1
    sides = agg["dyad"].str.split("\x1f", n=1, expand=True)
    types = agg[list(VIOLENCE_TYPES.values())]
    df = pd.DataFrame(
        {
            "source": SOURCE,
            # each event is in exactly one group, so the group's smallest event id is unique
            "source_id": agg["min_id"].astype("string"),
            "source_file": agg["source_file"],
            "text": agg["headline"],
            "published": agg["published"],
            "event_date": agg["event_date"],
            "date_precision": agg["date_prec"].map(DATE_PRECISION).fillna("year"),
            "country_code": pd.Series("SY", index=idx).where((agg["n_countries"] == 1) & (agg["country"] == "Syria")),
            "admin1": agg["adm_1"].where(agg["n_adm"] == 1),
            "actor1": sides[0].where(single_dyad),
            "actor2": sides[1].where(single_dyad),
            "fatalities": agg["fatalities"].astype("Int64"),
            "relevance": pd.Series(1, index=idx, dtype="Int8"),
            "source_label": [";".join(c for c in types.columns if row[c]) for _, row in types.iterrows()],
        }
    )
    fat = df["fatalities"].astype("Float64")
    for col in SIGNAL_COLUMNS:
        df[col] = pd.Series(pd.NA, index=idx, dtype="Int8")
    df["sig_mass_casualty"] = label(
        agg["max_best"] >= MASS_CASUALTY_MIN_FATALITIES, fat < MASS_CASUALTY_MIN_FATALITIES, index=idx
    )
    df["sig_militant_attack"] = label(agg["one_sided_by_group"], None, index=idx)
    return df
