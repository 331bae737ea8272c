"""The regional counts over stored rows (the function ``GET /regions`` calls)."""

from __future__ import annotations

import datetime as dt

import pytest

from serving.db import RegionRow
from serving.regions import newest_per_article, region_counts

T0 = dt.datetime(2022, 2, 1, tzinfo=dt.UTC)


def row(
    article, day, country="LY", admin1="Murzuq", primary=True, fatalities=None, signals=(), risk=0.5, at=T0, digest="h1"
):
    return RegionRow(
        article, digest, at, dt.date(2022, 1, day), country, admin1, primary, risk, fatalities, tuple(signals)
    )


def test_counts_per_region_and_window():
    rows = [
        row("a", 3, fatalities=27, signals=("militant_attack", "regrouping"), risk=0.8),
        row(
            "a",
            3,
            country="SY",
            admin1="Al-Hasakah",
            primary=False,
            fatalities=27,
            signals=("militant_attack", "regrouping"),
            risk=0.4,
        ),
        row("b", 5, fatalities=2, signals=("militant_attack",), risk=0.6),
        row("c", 12, fatalities=1, risk=0.2),
        row("d", 30, country="NG", admin1="Borno", fatalities=12, signals=("mass_casualty",)),
    ]
    out = {
        (w.country_code, w.admin1, w.window_start.day): w
        for w in region_counts(rows, since=dt.date(2022, 1, 1), until=dt.date(2022, 2, 1), window_days=10)
    }
    murzuq = out[("LY", "Murzuq", 1)]
    assert (murzuq.articles, murzuq.primary_articles, murzuq.fatalities) == (2, 2, 29)
    assert (
        murzuq.signals["militant_attack"] == 2
        and murzuq.signals["regrouping"] == 1
        and murzuq.signals["prison_break"] == 0
    )
    assert murzuq.mean_risk == pytest.approx(0.7)
    assert murzuq.window_end == dt.date(2022, 1, 11)
    hasakah = out[("SY", "Al-Hasakah", 1)]
    assert (hasakah.articles, hasakah.primary_articles, hasakah.fatalities) == (
        1,
        0,
        0,
    )  # mentioned, not where it happened
    assert out[("LY", "Murzuq", 11)].articles == 1
    assert out[("NG", "Borno", 21)].fatalities == 12
    assert list(out) == sorted(out, key=lambda k: (k[0], k[1], k[2]))


def test_an_article_counts_once_by_its_newest_assessment():
    old = row("a", 3, fatalities=4, signals=("militant_attack",), at=T0)
    new = row("a", 3, fatalities=27, signals=("mass_casualty",), at=T0 + dt.timedelta(hours=1), digest="h2")
    assert newest_per_article([old, new]) == [new]
    (window,) = region_counts([old, new, new], since=dt.date(2022, 1, 1), until=dt.date(2022, 2, 1), window_days=31)
    assert window.articles == 1 and window.fatalities == 27 and window.signals["mass_casualty"] == 1
    assert window.signals["militant_attack"] == 0


def test_rows_outside_the_range_are_left_out_and_bad_windows_refused():
    assert region_counts([row("a", 3)], since=dt.date(2022, 1, 10), until=dt.date(2022, 2, 1), window_days=7) == []
    with pytest.raises(ValueError):
        region_counts([], since=dt.date(2022, 1, 1), until=dt.date(2022, 2, 1), window_days=0)
