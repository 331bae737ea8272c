"""The regional index (threatscore.region_index) and the per-article risk it aggregates (threatscore.risk)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from typing import Any

import pytest

from threatscore.region_index import (
    MIN_ARTICLES,
    SIGNAL_PROBABILITY_THRESHOLD,
    RegionWindow,
    ScoredArticle,
    region_index,
    shift_window,
    signal_present,
    surprise,
    window_end,
    window_start,
)
from threatscore.risk import GROWTH_WEIGHTS, SECONDARY_FACTOR, growth_score, region_risk
from threatscore.schemas import Assessment
from threatscore.taxonomy import EVENT_TYPES, RISK_CUTOFFS, RISK_LEVELS, SEVERITY_LEVELS, SIGNALS, risk_level

D = dt.date


def assessment(
    regions: list[tuple[str, str | None, float, bool]],
    *,
    fatalities: int | None = None,
    signals: dict[str, tuple[float, list[str]]] | None = None,
    ident: str = "a",
) -> dict[str, Any]:
    """A valid assessment dict; ``regions`` as (country_code, admin1, risk score, primary)."""
    sig = {s: {"probability": 0.01, "evidence": []} for s in SIGNALS}
    for name, (p, ev) in (signals or {}).items():
        sig[name] = {"probability": p, "evidence": ev}
    return {
        "id": ident,
        "model": {"name": "threatscore", "version": "1", "alias": None},
        "language": "en",
        "warnings": [],
        "relevance": 0.9,
        "resurgence": {"score": 0.5, "level": "elevated"},
        "signals": sig,
        "event_types": dict.fromkeys(EVENT_TYPES, 0.04),
        "severity": {
            "level": "low",
            "fatalities": fatalities,
            "probabilities": dict(zip(SEVERITY_LEVELS, (0.1, 0.7, 0.1, 0.1), strict=True)),
        },
        "regions": [
            {
                "country_code": cc,
                "country": {"LY": "Libya", "SY": "Syria", "NG": "Nigeria"}.get(cc, cc),
                "admin1": admin1,
                "places": [],
                "primary": primary,
                "risk": {"score": score, "level": risk_level(score)},
            }
            for cc, admin1, score, primary in regions
        ],
    }


def art(day: dt.date, cc: str = "LY", admin1: str | None = "Murzuq", risk: float = 0.5, **kw: Any) -> ScoredArticle:
    """One article with one (primary) region."""
    return ScoredArticle.of(day, assessment([(cc, admin1, risk, True)], **kw))


def monthly(first: dt.date, per_month: list[int], **kw: Any) -> list[ScoredArticle]:
    """``per_month[i]`` articles on the 10th of month ``first + i``."""
    out = []
    for i, n in enumerate(per_month):
        day = shift_window(first, "month", i).replace(day=10)
        out += [art(day, **kw) for _ in range(n)]
    return out


def rows_for(rows: list[RegionWindow], admin1: str | None) -> list[RegionWindow]:
    return [r for r in rows if r.admin1 == admin1]


# -- windows -------------------------------------------------------------------------------------------------


def test_windows_month_and_iso_week() -> None:
    assert window_start(D(2022, 1, 29), "month") == D(2022, 1, 1)
    assert window_start(D(2022, 1, 29), "week") == D(2022, 1, 24)  # a Saturday -> its Monday
    assert window_start(D(2022, 1, 24), "week") == D(2022, 1, 24)
    assert window_end(D(2022, 2, 1), "month") == D(2022, 2, 28)
    assert window_end(D(2024, 2, 1), "month") == D(2024, 2, 29)
    assert window_end(D(2022, 1, 24), "week") == D(2022, 1, 30)
    assert shift_window(D(2021, 12, 1), "month", 1) == D(2022, 1, 1)
    assert shift_window(D(2022, 1, 1), "month", -13) == D(2020, 12, 1)
    assert shift_window(D(2022, 1, 3), "week", -2) == D(2021, 12, 20)
    with pytest.raises(ValueError):
        window_start(D(2022, 1, 1), "year")  # type: ignore[arg-type]


def test_counts_risk_fatalities_and_signals_per_window() -> None:
    sigs = {
        "militant_attack": (0.9, ["ISIS attacked a patrol."]),
        "recruitment": (0.6, []),  # no evidence but >= 0.5: present
        "regrouping": (0.4, []),  # below 0.5, no evidence: absent
        "prison_break": (0.2, ["It recalls the attack on Ghweran prison."]),  # evidence: present
    }
    seed = ScoredArticle.of(
        "2022-01-29",
        assessment([("LY", "Murzuq", 0.8, True), ("SY", "Al-Hasakah", 0.4, False)], fatalities=27, signals=sigs),
    )
    other = art(D(2022, 1, 3), risk=0.2, fatalities=None)
    later = art(D(2022, 2, 2), risk=0.6, fatalities=3)
    rows = region_index([seed, other, later], window="month")
    murzuq = rows_for(rows, "Murzuq")
    assert [(r.start, r.articles, r.fatalities) for r in murzuq] == [(D(2022, 1, 1), 2, 27), (D(2022, 2, 1), 1, 3)]
    jan = murzuq[0]
    assert jan.risk_index == pytest.approx(1.0)
    assert jan.mean_risk == pytest.approx(0.5)
    assert jan.max_risk == pytest.approx(0.8)
    assert jan.level == risk_level(0.5) == "elevated"
    assert jan.primary_articles == 2
    assert jan.end == D(2022, 1, 31) and jan.complete
    assert jan.signals["militant_attack"] == 1 and jan.signals["recruitment"] == 1
    assert jan.signals["prison_break"] == 1 and jan.signals["regrouping"] == 0
    hasakah = rows_for(rows, "Al-Hasakah")[0]
    # a mentioned region counts the article and its signals, but not the primary region's dead
    assert (hasakah.country_code, hasakah.country, hasakah.articles, hasakah.primary_articles) == ("SY", "Syria", 1, 0)
    assert hasakah.fatalities == 0 and hasakah.signals["militant_attack"] == 1
    # too little history: no trend
    assert {r.trend for r in rows} == {"insufficient"}

    weeks = region_index([seed, other, later], window="week")
    assert [(r.start, r.articles) for r in rows_for(weeks, "Murzuq") if r.articles] == [
        (D(2022, 1, 3), 1),
        (D(2022, 1, 24), 1),
        (D(2022, 1, 31), 1),
    ]


def test_signal_rule() -> None:
    assert signal_present(SIGNAL_PROBABILITY_THRESHOLD, [])
    assert not signal_present(SIGNAL_PROBABILITY_THRESHOLD - 1e-6, [])
    assert signal_present(0.1, ["a sentence"])


def test_country_level_region_and_to_dict() -> None:
    rows = region_index([art(D(2022, 1, 5), admin1=None)], window="month")
    assert len(rows) == 1 and rows[0].admin1 is None
    data = rows[0].to_dict()
    assert data["start"] == "2022-01-01" and data["trend"] == "insufficient"
    json.dumps(data)  # JSON-ready
    assert set(data["signals"]) == set(SIGNALS)


def test_empty_input() -> None:
    assert region_index([], window="week") == []


# -- trend ---------------------------------------------------------------------------------------------------


def test_rising_stable_falling() -> None:
    first = D(2021, 1, 1)
    steady = monthly(first, [5, 5, 5, 5, 5, 5, 5])
    end = D(2021, 7, 31)
    assert rows_for(region_index(steady, window="month", now=end), "Murzuq")[-1].trend == "stable"
    # by default ``now`` is the newest article (10 July): July is then a third elapsed, and 5 is a lot for that
    assert rows_for(region_index(steady, window="month"), "Murzuq")[-1].complete is False

    surge = monthly(first, [5, 5, 5, 5, 5, 5, 20])
    last = rows_for(region_index(surge, window="month", now=end), "Murzuq")[-1]
    assert last.trend == "rising" and last.surprise is not None and last.surprise > 1.64
    assert last.baseline == pytest.approx(2.5, rel=0.15)  # ~5 articles x 0.5 risk per month

    # goes quiet: a row with no articles still appears and reads "falling"
    quiet = monthly(first, [8, 8, 8, 8, 8, 8])
    rows = rows_for(region_index(quiet, window="month", now=D(2021, 7, 31)), "Murzuq")
    assert rows[-1].start == D(2021, 7, 1) and rows[-1].articles == 0
    assert rows[-1].trend == "falling" and rows[-1].surprise is not None and rows[-1].surprise < 0


def test_same_count_higher_risk_rises() -> None:
    """The trend follows the risk index, not only the article count."""
    first = D(2021, 1, 1)
    records = monthly(first, [6] * 6, risk=0.1) + monthly(shift_window(first, "month", 6), [6], risk=0.9)
    assert rows_for(region_index(records, window="month", now=D(2021, 7, 31)), "Murzuq")[-1].trend == "rising"


def test_minimum_evidence() -> None:
    first = D(2021, 1, 1)
    # one article after a quiet spell is not a trend
    lone = [*monthly(first, [1, 0, 0, 0, 0, 0], admin1="Ghat"), art(D(2021, 7, 3), admin1="Ghat", risk=0.9)]
    assert rows_for(region_index(lone, window="month"), "Ghat")[-1].trend == "insufficient"
    # a burst with too little history (the store began a month before) is not a trend either
    young = monthly(first, [2, 40], admin1="Sabha")
    sabha = rows_for(region_index(young, window="month"), "Sabha")[-1]
    assert sabha.baseline_windows == 1 and sabha.trend == "insufficient"
    # while a region that was silent for months in a store that was collecting does have a history
    silent = monthly(first, [0, 0, 0, 0, 0, 40], admin1="Sabha") + monthly(first, [3] * 6)
    sabha = rows_for(region_index(silent, window="month"), "Sabha")[-1]
    assert sabha.baseline_windows == 5 and sabha.trend == "rising"
    # MIN_ARTICLES in the window is enough when the history is long enough
    assert MIN_ARTICLES == 3
    enough = monthly(first, [0, 0, 0, 0, 0, 0, 4], admin1="Sabha") + monthly(first, [3] * 7)
    assert rows_for(region_index(enough, window="month", now=D(2021, 7, 31)), "Sabha")[-1].trend == "rising"


def test_partial_window_is_scaled() -> None:
    first = D(2021, 1, 1)
    records = monthly(first, [10] * 6) + [art(D(2021, 7, d)) for d in (1, 3, 5)]  # ~10 a month, 3 by the 6th
    rows = rows_for(region_index(records, window="month", now=D(2021, 7, 6)), "Murzuq")
    assert not rows[-1].complete and rows[-1].trend == "stable"
    full = rows_for(region_index(records, window="month", now=D(2021, 7, 31)), "Murzuq")
    assert full[-1].complete and full[-1].trend == "falling"


def test_surprise_is_monotone_and_centred() -> None:
    expected, up, down = surprise(3.0, baseline_total=18.0, baseline_windows=6, pooled_rate=3.0)
    assert expected == pytest.approx((18 + 3 + 0.5) / 7)
    assert 0.3 < up < 0.8 and 0.3 < down < 0.8
    ups = [surprise(y, 18.0, 6, 3.0)[1] for y in (0.0, 1.0, 3.0, 6.0, 12.0)]
    downs = [surprise(y, 18.0, 6, 3.0)[2] for y in (0.0, 1.0, 3.0, 6.0, 12.0)]
    assert ups == sorted(ups, reverse=True) and downs == sorted(downs)
    assert ups[0] == 1.0
    with pytest.raises(ValueError):
        surprise(-1.0, 1.0, 1, 1.0)


# -- filters -------------------------------------------------------------------------------------------------


def test_filters_country_since_now() -> None:
    first = D(2021, 1, 1)
    records = monthly(first, [5] * 6 + [20]) + monthly(first, [2] * 7, cc="SY", admin1="Idlib")
    everything = region_index(records, window="month")
    assert {r.country_code for r in everything} == {"LY", "SY"}

    libya = region_index(records, window="month", country="ly")
    assert {r.country_code for r in libya} == {"LY"}

    recent = region_index(records, window="month", since=D(2021, 7, 15))
    assert {r.start for r in recent} == {D(2021, 7, 1)}
    # earlier articles still feed the baseline: same trend as without the filter
    by_key = {(r.admin1, r.start): r for r in everything}
    for r in recent:
        assert r.trend == by_key[(r.admin1, r.start)].trend
        assert r.surprise == by_key[(r.admin1, r.start)].surprise

    past = region_index(records, window="month", now=D(2021, 3, 31))
    assert max(r.start for r in past) == D(2021, 3, 1)
    assert sum(r.articles for r in past if r.admin1 == "Murzuq") == 15

    rows = region_index(records, window="month")
    assert rows == sorted(rows, key=lambda r: (r.start, r.country_code, r.admin1 or ""))


def test_accepts_objects_and_dicts() -> None:
    raw = assessment([("LY", "Murzuq", 0.5, True)])
    a = ScoredArticle.of("2022-01-29", raw)
    b = ScoredArticle.of(dt.datetime(2022, 1, 29, 12), Assessment.model_validate(raw))
    assert a == b


# -- per-article risk (threatscore.risk) and its levels (taxonomy.risk_level) ----------------------------------


def test_risk_level_cutoffs() -> None:
    assert list(RISK_CUTOFFS) == list(RISK_LEVELS)
    assert [RISK_CUTOFFS[level] for level in RISK_LEVELS] == [0.0, 0.35, 0.6, 0.85]
    for low, high in itertools.pairwise(RISK_LEVELS):
        assert risk_level(RISK_CUTOFFS[high]) == high
        assert risk_level(RISK_CUTOFFS[high] - 1e-9) == low
    assert risk_level(0.0) == "low" and risk_level(1.0) == "critical"
    for bad in (-0.01, 1.01):
        with pytest.raises(ValueError):
            risk_level(bad)


SEV_HIGH = {"none": 0.0, "low": 0.0, "medium": 0.0, "high": 1.0}
SEV_NONE = {"none": 1.0, "low": 0.0, "medium": 0.0, "high": 0.0}


def test_region_risk_formula_and_bounds() -> None:
    assert region_risk(1.0, SEV_HIGH, 1.0, primary=True) == 1.0
    assert region_risk(0.0, SEV_HIGH, 1.0, primary=True) == 0.0
    assert region_risk(1.0, SEV_NONE, 0.0, primary=True) == 0.0
    assert region_risk(0.8, SEV_HIGH, 0.5, primary=True) == pytest.approx(0.8 * (0.5 + 0.25))
    assert region_risk(0.8, SEV_HIGH, 0.5, primary=False) == pytest.approx(0.8 * 0.75 * SECONDARY_FACTOR)
    # the seed article's primary region: relevant, certain "high", strong resurgence -> critical
    assert risk_level(region_risk(0.99, SEV_HIGH, 0.91, primary=True)) == "critical"
    # a mentioned region of the same article stays below the primary one
    assert risk_level(region_risk(0.99, SEV_HIGH, 0.91, primary=False)) == "elevated"


def test_region_risk_is_monotone() -> None:
    grid = [0.0, 0.25, 0.5, 0.75, 1.0]
    for primary in (True, False):
        for other in grid:
            by_rel = [region_risk(r, SEV_HIGH, other, primary) for r in grid]
            by_res = [region_risk(other, SEV_HIGH, s, primary) for s in grid]
            assert by_rel == sorted(by_rel) and by_res == sorted(by_res)
    # moving probability mass up the severity levels never lowers risk
    ladders = [dict(zip(SEVERITY_LEVELS, (1.0 if i == k else 0.0 for i in range(4)), strict=True)) for k in range(4)]
    by_sev = [region_risk(0.9, sev, 0.3, primary=True) for sev in ladders]
    assert by_sev == sorted(by_sev) and by_sev[0] < by_sev[-1]
    for rel in grid:
        assert region_risk(rel, SEV_HIGH, 0.6, primary=False) <= region_risk(rel, SEV_HIGH, 0.6, primary=True)


def test_growth_score_monotone_and_counter_terrorism_is_not_growth() -> None:
    zero = dict.fromkeys(SIGNALS, 0.0)
    assert growth_score(zero, 1.0) == 0.0
    assert GROWTH_WEIGHTS["counter_terrorism"] == 0.0
    assert growth_score({**zero, "counter_terrorism": 1.0}, 1.0) == 0.0
    for name in SIGNALS:
        if GROWTH_WEIGHTS[name] > 0:
            assert growth_score({**zero, name: 1.0}, 1.0) > growth_score({**zero, name: 0.5}, 1.0) > 0
    everything = dict.fromkeys(SIGNALS, 1.0)
    assert 0.0 < growth_score(everything, 0.5) < growth_score(everything, 1.0) <= 1.0


def test_smoothed_index() -> None:
    first = D(2021, 1, 1)
    end = D(2021, 7, 31)
    steady = rows_for(region_index(monthly(first, [4] * 7), window="month", now=end), "Murzuq")
    assert all(r.smoothed_index == pytest.approx(2.0) for r in steady)  # 4 articles x 0.5 risk, every month
    spike = rows_for(region_index(monthly(first, [4] * 6 + [20]), window="month", now=end), "Murzuq")
    assert 2.0 < spike[-1].smoothed_index < spike[-1].risk_index == pytest.approx(10.0)
    fast = rows_for(region_index(monthly(first, [4] * 6 + [20]), window="month", now=end, half_life=1), "Murzuq")
    assert fast[-1].smoothed_index > spike[-1].smoothed_index  # a shorter half-life follows the spike more
    # a partial window counts at its rate: 2 articles in the first 15 of July's 31 days ~ 4 a month
    partial = [*monthly(first, [4] * 6), art(D(2021, 7, 2)), art(D(2021, 7, 9))]
    last = rows_for(region_index(partial, window="month", now=D(2021, 7, 15)), "Murzuq")[-1]
    assert last.risk_index == pytest.approx(1.0) and last.smoothed_index == pytest.approx(2.0, rel=0.05)
    with pytest.raises(ValueError):
        region_index(partial, window="month", half_life=0)


@dataclasses.dataclass(frozen=True)
class StoredRow:
    """The shape of the service's stored (assessment, region) rows (serving.db.RegionRow)."""

    article_id: str
    event_date: dt.date
    country_code: str
    admin1: str | None
    is_primary: bool
    risk_score: float
    fatalities: int | None
    signals_present: tuple[str, ...]


def test_stored_rows_give_the_same_index_as_assessments() -> None:
    sigs = {"militant_attack": (0.9, ["ISIS attacked a patrol."])}
    articles = [
        ScoredArticle.of(
            D(2021, 1, 1) + dt.timedelta(days=9 * i),
            assessment([("NG", "Borno", 0.2 + 0.01 * i, True), ("NG", "Yobe", 0.1, False)], fatalities=i, signals=sigs),
        )
        for i in range(40)
    ]
    rows = [
        StoredRow(
            f"a{i}", m.event_date, m.country_code, m.admin1, m.is_primary, m.risk_score, m.fatalities, m.signals_present
        )
        for i, a in enumerate(articles)
        for m in a.mentions()
    ]
    from_articles = region_index(articles, window="month")
    from_rows = region_index(rows, window="month")
    assert [r.to_dict() for r in from_rows] == [r.to_dict() for r in from_articles]
    assert {r.country for r in from_rows} == {"Nigeria"}  # rows carry no name: it comes from pycountry
    assert sum(r.fatalities for r in from_rows if r.admin1 == "Yobe") == 0
