"""The regional index over stored rows (the function ``GET /regions`` calls)."""

from __future__ import annotations

import datetime as dt

import pytest

from serving.db import RegionRow
from serving.regions import history_start, newest_per_article, regional_index

T0 = dt.datetime(2022, 2, 1, tzinfo=dt.UTC)
D = dt.date


def row(
    article,
    day: dt.date,
    country="LY",
    admin1="Murzuq",
    primary=True,
    fatalities=None,
    signals=(),
    risk=0.5,
    at=T0,
    digest="h1",
):
    return RegionRow(article, digest, at, day, country, admin1, primary, risk, fatalities, tuple(signals))


def by_key(windows):
    return {(w.country_code, w.admin1, w.start): w for w in windows}


def test_index_per_region_and_calendar_month():
    rows = [
        row("a", D(2022, 1, 3), fatalities=27, signals=("militant_attack", "regrouping"), risk=0.8),
        row("a", D(2022, 1, 3), "SY", "Al-Hasakah", primary=False, fatalities=27, risk=0.4),
        row("b", D(2022, 1, 5), fatalities=2, signals=("militant_attack",), risk=0.6),
        row("c", D(2022, 2, 12), fatalities=1, risk=0.2),
        row("d", D(2022, 1, 30), "NG", "Borno", fatalities=12, signals=("mass_casualty",)),
    ]
    out = by_key(regional_index(rows, window="month", since=D(2022, 1, 1), now=D(2022, 2, 28)))
    murzuq = out[("LY", "Murzuq", D(2022, 1, 1))]
    assert (murzuq.articles, murzuq.primary_articles, murzuq.fatalities) == (2, 2, 29)
    assert murzuq.signals["militant_attack"] == 2 and murzuq.signals["regrouping"] == 1
    assert murzuq.signals["prison_break"] == 0
    assert murzuq.risk_index == pytest.approx(1.4) and murzuq.mean_risk == pytest.approx(0.7)
    assert murzuq.end == D(2022, 1, 31) and murzuq.complete
    # Mentioned, not where it happened: no fatalities, and a single article makes no trend.
    hasakah = out[("SY", "Al-Hasakah", D(2022, 1, 1))]
    assert (hasakah.articles, hasakah.primary_articles, hasakah.fatalities) == (1, 0, 0)
    assert hasakah.trend == "insufficient"
    assert out[("LY", "Murzuq", D(2022, 2, 1))].articles == 1
    assert out[("NG", "Borno", D(2022, 1, 1))].fatalities == 12


def test_an_article_counts_once_by_its_newest_assessment():
    old = row("a", D(2022, 1, 3), fatalities=4, signals=("militant_attack",), at=T0)
    new = row("a", D(2022, 1, 3), fatalities=27, signals=("mass_casualty",), at=T0 + dt.timedelta(hours=1), digest="h2")
    assert newest_per_article([old, new]) == [new]
    (window,) = regional_index([old, new, new], window="month", since=D(2022, 1, 1), now=D(2022, 1, 31))
    assert window.articles == 1 and window.fatalities == 27 and window.signals["mass_casualty"] == 1
    assert window.signals["militant_attack"] == 0


def test_history_before_since_feeds_the_baseline_but_is_not_returned():
    since = D(2022, 7, 1)
    assert history_start(since, "month") == D(2021, 7, 1)
    assert history_start(D(2022, 7, 6), "week") == D(2021, 7, 5)  # Monday, 52 weeks before
    steady = [row(f"s{m}-{i}", D(2022, m, 10), risk=0.5) for m in range(1, 7) for i in range(4)]
    surge = [row(f"j{i}", D(2022, 7, 1 + i), risk=0.9) for i in range(25)]
    out = regional_index(steady + surge, window="month", since=since, now=D(2022, 7, 31))
    (july,) = out
    assert july.start == since and july.articles == 25
    assert july.baseline_windows == 6 and july.trend == "rising" and july.surprise > 0
    # Without the history the same window has nothing to compare with.
    (alone,) = regional_index(surge, window="month", since=since, now=D(2022, 7, 31))
    assert alone.trend == "insufficient"


def test_country_filter_and_rows_after_now():
    rows = [row("a", D(2022, 1, 3)), row("b", D(2022, 1, 4), "NG", "Borno"), row("c", D(2022, 3, 1))]
    out = regional_index(rows, window="month", since=D(2022, 1, 1), now=D(2022, 1, 31), country="NG")
    assert {(w.country_code, w.admin1) for w in out} == {("NG", "Borno")}
    everything = regional_index(rows, window="month", since=D(2022, 1, 1), now=D(2022, 1, 31))
    assert sum(w.articles for w in everything) == 2  # "c" is after now
