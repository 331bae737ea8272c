"""The regional risk index: stored assessments in, one row per (country, admin-1) and time window out.

``region_index(records, window="month")`` is what the service's ``GET /regions`` returns. It is a pure
function of the assessments it is given (no storage, no clock: ``now`` defaults to the newest article).

Per region and window (calendar month, or ISO week starting Monday) a :class:`RegionWindow` gives:

- ``articles``: articles that name the region (any of its ``regions``); ``primary_articles``: those where it
  is the primary region (where the event happened).
- ``signals``: per resurgence signal, the number of those articles in which the signal is *present*.
  An assessment carries no thresholds, so "present" is the model's own decision as it shows in the output:
  the signal has evidence sentences (models quote evidence only at or above their per-label decision
  threshold), or, for a model that quoted none, its probability is at least
  :data:`SIGNAL_PROBABILITY_THRESHOLD` (0.5).
- ``fatalities``: the sum of ``severity.fatalities`` (the number the text supports; ``null`` counts 0) over
  the articles where the region is *primary*, so an article about Murzuq that recalls Hasakah does not add
  Murzuq's dead to Hasakah.
- ``risk_index``: the sum of the per-article region risk (``regions[].risk.score``,
  ``threatscore.risk.region_risk``) over the window's articles: a risk-weighted article count, the
  "expected number of high-risk reports". A sum, not a mean or a max, because the index must grow with
  the volume of violent reporting (thirty high-risk reports from Sahel say more than one) while a pile of
  irrelevant or low-severity articles adds little (each contributes its risk, near 0 when irrelevant);
  a mention-only region contributes at half weight (``SECONDARY_FACTOR``). ``mean_risk`` / ``max_risk`` and
  ``level`` (``risk_level(mean_risk)``, the typical article's level) describe intensity separately.
- ``trend``: the window's ``risk_index`` against the region's own trailing baseline (the previous
  ``BASELINE_WINDOWS[window]`` windows: 6 months or 8 weeks), by an empirical-Bayes Gamma-Poisson surprise
  score; see :func:`surprise` (the index is first divided by its dispersion, sum(w^2)/sum(w) of the
  per-article risks, so that a risk-weighted count is tested like a count). ``rising`` when the upper tail
  probability of the observed index under the baseline's predictive distribution is below
  :data:`TREND_ALPHA` (0.05, one-sided), ``falling`` when the lower tail probability is, else ``stable``.
  ``surprise`` is the signed normal score of that tail probability. The trend *describes* the window
  against the region's past; the backtest found that it does not forecast next month (a region flagged
  ``rising`` is, if anything, less likely to rise again: regression to the mean).
- Minimum evidence: a trend needs at least :data:`MIN_BASELINE_WINDOWS` (3) windows of history before the
  window and at least :data:`MIN_ARTICLES` (3) articles either in the window or on average per baseline
  window; otherwise the trend is ``insufficient`` (never guessed as ``stable``). So one article after a
  quiet spell does not make "rising", and a store's first windows have no trend. History counts from the
  first window of any record given: the store was collecting then, so a region's silence is a true zero.

The window containing ``now`` is usually partial: its expected index is scaled by the elapsed share of the
window (``complete`` is ``False`` on it), so the middle of a month does not read as "falling".
Rows are emitted for every window from the region's first article (or ``since``) to ``now``, quiet windows
included (a region that goes quiet shows ``falling``, and its smoothed index decays); pass ``since`` to bound
the output.

``smoothed_index`` is the region's current level: an exponentially weighted mean of the window's and past
windows' ``risk_index`` with a half-life of :data:`HALF_LIFE` windows (12 months; 52 weeks, the same span),
normalised over the history available since the first window of any record (a partial window counts at
its elapsed-share rate). It is what the backtest (``threatscore backtest``, experiments/RESULTS.md "Region
index backtest") ranks regions by, and it ranks the regions whose fatalities rise next month above the
others better than last month's fatalities on all three backtest datasets. The half-life was chosen among
1, 2, 3, 6 and 12 months on the *first* half of each backtest dataset's months (12 won on all three, 6 within
0.004 AUC) and the index was judged on the second half.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal, Protocol

from threatscore.schemas import Assessment
from threatscore.taxonomy import SIGNALS, RiskLevel, risk_level

Window = Literal["week", "month"]
Trend = Literal["rising", "stable", "falling", "insufficient"]

#: A signal without evidence sentences counts as present at or above this probability.
SIGNAL_PROBABILITY_THRESHOLD: Final[float] = 0.5
#: Windows of trailing baseline per window kind.
BASELINE_WINDOWS: Final[dict[str, int]] = {"month": 6, "week": 8}
#: Fewest windows of history before a window for it to get a trend.
MIN_BASELINE_WINDOWS: Final[int] = 3
#: Fewest articles (in the window, or per baseline window on average) for a trend.
MIN_ARTICLES: Final[int] = 3
#: One-sided tail probability below which a window is rising / falling.
TREND_ALPHA: Final[float] = 0.05
#: Half-life, in windows, of ``smoothed_index`` (chosen on the backtest's first halves; see the module docstring).
HALF_LIFE: Final[dict[str, float]] = {"month": 12.0, "week": 52.0}
#: Weight, in windows, of the pooled (all regions) rate in each region's empirical-Bayes baseline.
PRIOR_WINDOWS: Final[float] = 1.0
#: Shape added to every baseline so that an all-quiet history still gives a proper predictive (Jeffreys).
PRIOR_SHAPE: Final[float] = 0.5

RegionKey = tuple[str, str | None]


class RegionMention(Protocol):
    """One (article, region) pair: all the index reads of a stored assessment.

    ``serving.db.RegionRow`` has this shape, so the service can pass its stored rows straight in (after keeping
    one assessment per article); :meth:`ScoredArticle.mentions` makes them from a full assessment.
    """

    @property
    def event_date(self) -> dt.date: ...
    @property
    def country_code(self) -> str: ...
    @property
    def admin1(self) -> str | None: ...
    @property
    def is_primary(self) -> bool: ...
    @property
    def risk_score(self) -> float: ...
    @property
    def fatalities(self) -> int | None: ...
    @property
    def signals_present(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class Mention:
    """A :class:`RegionMention` made from an assessment (with the country's name, which rows may lack)."""

    event_date: dt.date
    country_code: str
    admin1: str | None
    is_primary: bool
    risk_score: float
    fatalities: int | None
    signals_present: tuple[str, ...]
    country: str | None = None


@dataclass(frozen=True, slots=True)
class ScoredArticle:
    """A stored assessment and the date of its article (``published``, else the day it was scored)."""

    published: dt.date
    assessment: Assessment

    def mentions(self) -> list[Mention]:
        """One :class:`Mention` per region of the assessment; signals present by :func:`signal_present`."""
        a = self.assessment
        present = tuple(s for s, sig in a.signals.items() if signal_present(sig.probability, sig.evidence))
        return [
            Mention(
                self.published,
                r.country_code,
                r.admin1,
                r.primary,
                r.risk.score,
                a.severity.fatalities,
                present,
                r.country,
            )
            for r in a.regions
        ]

    @classmethod
    def of(cls, published: dt.date | str, assessment: Assessment | Mapping[str, Any]) -> ScoredArticle:
        """Build from a stored assessment dict (validated) or object and an ISO date or date."""
        day = dt.date.fromisoformat(published[:10]) if isinstance(published, str) else published
        if isinstance(day, dt.datetime):
            day = day.date()
        obj = assessment if isinstance(assessment, Assessment) else Assessment.model_validate(assessment)
        return cls(day, obj)


@dataclass(frozen=True, slots=True)
class RegionWindow:
    """One region in one window. ``admin1`` is ``None`` for articles that name only the country."""

    country_code: str
    country: str
    admin1: str | None
    window: Window
    start: dt.date
    end: dt.date  # last day of the window, inclusive
    complete: bool
    articles: int
    primary_articles: int
    signals: dict[str, int]
    fatalities: int
    risk_index: float
    mean_risk: float
    max_risk: float
    level: RiskLevel
    smoothed_index: float  # exponentially weighted level of risk_index (half-life HALF_LIFE windows)
    baseline: float | None  # expected risk_index from the trailing baseline (None: no history)
    baseline_windows: int
    surprise: float | None  # signed normal score of the window against the baseline (+ = above)
    trend: Trend

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (dates as ISO strings)."""
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        return out


@dataclass
class _Acc:
    articles: int = 0
    primary: int = 0
    fatalities: int = 0
    risk: float = 0.0
    risk_sq: float = 0.0
    max_risk: float = 0.0
    signals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0))


def window_start(day: dt.date, window: Window) -> dt.date:
    """First day of the window containing ``day``: the 1st of its month, or the Monday of its ISO week."""
    if window == "month":
        return day.replace(day=1)
    if window == "week":
        return day - dt.timedelta(days=day.weekday())
    raise ValueError(f"window must be 'week' or 'month', got {window!r}")


def shift_window(start: dt.date, window: Window, n: int) -> dt.date:
    """Start of the window ``n`` windows after (negative: before) the one starting at ``start``."""
    if window == "week":
        return start + dt.timedelta(weeks=n)
    months = start.year * 12 + start.month - 1 + n
    return dt.date(months // 12, months % 12 + 1, 1)


def window_end(start: dt.date, window: Window) -> dt.date:
    """Last day (inclusive) of the window starting at ``start``."""
    return shift_window(start, window, 1) - dt.timedelta(days=1)


def _country_name(code: str) -> str:
    """English short name of an ISO alpha-2 code (pycountry), else the code."""
    import pycountry

    found = pycountry.countries.get(alpha_2=code)
    return str(getattr(found, "name", code)) if found else code


def signal_present(probability: float, evidence: list[str]) -> bool:
    """The counting rule for signals: evidence quoted, or probability >= ``SIGNAL_PROBABILITY_THRESHOLD``."""
    return bool(evidence) or probability >= SIGNAL_PROBABILITY_THRESHOLD


def surprise(
    observed: float, baseline_total: float, baseline_windows: float, pooled_rate: float, exposure: float = 1.0
) -> tuple[float, float, float]:
    """Empirical-Bayes Gamma-Poisson surprise of ``observed`` against a region's trailing baseline.

    The region's rate per window has the posterior ``Gamma(shape = S + k*m + 1/2, rate = B + k)`` from its
    baseline total ``S`` over ``B`` windows, shrunk toward the pooled rate ``m`` of all regions with weight
    ``k = PRIOR_WINDOWS`` windows. The window's predictive distribution (its rate times ``exposure``, the
    elapsed share of a partial window) is negative binomial, read on its continuous extension (regularised
    incomplete beta) so that non-integer counts are allowed. ``region_index`` passes the risk index divided
    by its dispersion ``d = sum(w^2) / sum(w)`` (w: per-article risks), which turns the compound Poisson
    risk-weighted count into one whose variance equals its mean.

    Returns ``(expected, p_upper, p_lower)``: the predictive mean, ``P(Y >= observed)`` and
    ``P(Y <= observed)``.
    """
    from scipy.special import betainc

    if observed < 0 or baseline_total < 0 or baseline_windows < 0 or exposure <= 0:
        raise ValueError("counts and windows must be >= 0 and exposure > 0")
    shape = baseline_total + PRIOR_WINDOWS * pooled_rate + PRIOR_SHAPE
    rate = (baseline_windows + PRIOR_WINDOWS) / exposure
    expected = shape / rate
    q = 1.0 / (rate + 1.0)  # "failure" probability of the negative binomial NB(shape, p = rate / (rate + 1))
    p_upper = 1.0 if observed <= 0 else float(betainc(observed, shape, q))
    p_lower = float(betainc(shape, observed + 1.0, 1.0 - q))
    return expected, p_upper, p_lower


def _z(p: float) -> float:
    from scipy.stats import norm

    return float(norm.isf(min(max(p, 1e-12), 1.0)))


def region_index(
    records: Iterable[ScoredArticle | RegionMention],
    *,
    window: Window = "month",
    since: dt.date | None = None,
    country: str | None = None,
    now: dt.date | None = None,
    half_life: float | None = None,
) -> list[RegionWindow]:
    """Per (country, admin-1) and window: counts, fatalities, risk index and trend (see the module docstring).

    - ``records``: stored assessments with their dates (:class:`ScoredArticle`), or their (article, region)
      pairs (:class:`RegionMention`, e.g. the service's stored rows, one assessment per article), or both.
    - ``window``: ``"month"`` (calendar months) or ``"week"`` (ISO weeks, Monday to Sunday).
    - ``since``: only windows ending on or after this day are returned; earlier articles still feed the
      baselines and the smoothed index, so pass them in (at least ``BASELINE_WINDOWS`` windows before
      ``since``, better a year or more).
    - ``country``: only this ISO alpha-2 country.
    - ``now``: articles after it are ignored and its window is the last (partial) one; default the newest
      article's date.
    - ``half_life``: of ``smoothed_index``, in windows (default ``HALF_LIFE[window]``).

    Rows are sorted by window, country, admin-1.
    """
    if window not in BASELINE_WINDOWS:
        raise ValueError(f"window must be 'week' or 'month', got {window!r}")
    if half_life is not None and half_life <= 0:
        raise ValueError(f"half_life must be > 0, got {half_life}")
    wanted = country.upper() if country else None
    items = [
        m
        for rec in records
        for m in (rec.mentions() if isinstance(rec, ScoredArticle) else (rec,))
        if (wanted is None or m.country_code == wanted) and (now is None or m.event_date <= now)
    ]
    if not items:
        return []
    if now is None:
        now = max(m.event_date for m in items)
    acc: dict[tuple[RegionKey, dt.date], _Acc] = defaultdict(_Acc)
    names: dict[str, str] = {}
    for m in items:
        cell = acc[((m.country_code, m.admin1), window_start(m.event_date, window))]
        name = getattr(m, "country", None)
        if name:
            names.setdefault(m.country_code, name)
        cell.articles += 1
        cell.risk += m.risk_score
        cell.risk_sq += m.risk_score**2
        cell.max_risk = max(cell.max_risk, m.risk_score)
        for signal in m.signals_present:
            if signal in cell.signals:
                cell.signals[signal] += 1
        if m.is_primary:
            cell.primary += 1
            cell.fatalities += m.fatalities or 0
    first_window = min(start for _, start in acc)

    starts = [first_window]
    while (nxt := shift_window(starts[-1], window, 1)) <= now:
        starts.append(nxt)
    series = _series(acc, starts)
    pooled = _pooled_rates(series, len(starts), BASELINE_WINDOWS[window])
    last_end = window_end(starts[-1], window)
    # the window containing ``now`` counts for the elapsed share of its days
    exposure = ((now - starts[-1]).days + 1) / ((last_end - starts[-1]).days + 1)
    decay = 0.5 ** (1.0 / (half_life or HALF_LIFE[window]))

    out: list[RegionWindow] = []
    for key, ser in series.items():
        weighted = weights = 0.0
        for i, start in enumerate(starts):
            share = exposure if i == len(starts) - 1 else 1.0
            weighted = weighted * decay + ser.risk[i] / share
            weights = weights * decay + 1.0
            end = window_end(start, window)
            if i < ser.first or (since is not None and end < since):
                continue
            cell = acc.get((key, start)) or _Acc()
            expected, z, trend = _trend(ser, i, pooled[i], share, BASELINE_WINDOWS[window])
            mean_risk = min(1.0, cell.risk / cell.articles) if cell.articles else 0.0
            out.append(
                RegionWindow(
                    country_code=key[0],
                    country=names.get(key[0]) or _country_name(key[0]),
                    admin1=key[1],
                    window=window,
                    start=start,
                    end=end,
                    complete=end <= now,
                    articles=cell.articles,
                    primary_articles=cell.primary,
                    signals=dict(cell.signals),
                    fatalities=cell.fatalities,
                    risk_index=round(cell.risk, 4),
                    mean_risk=round(mean_risk, 4),
                    max_risk=round(cell.max_risk, 4),
                    level=risk_level(mean_risk),
                    smoothed_index=round(weighted / weights, 4),
                    baseline=None if expected is None else round(expected, 4),
                    baseline_windows=min(i, BASELINE_WINDOWS[window]),
                    surprise=z,
                    trend=trend,
                )
            )
    out.sort(key=lambda r: (r.start, r.country_code, r.admin1 or ""))
    return out


@dataclass
class _Series:
    """One region's per-window risk sums, sums of squared risks and article counts."""

    first: int
    risk: list[float]
    risk_sq: list[float]
    count: list[int]


def _series(acc: Mapping[tuple[RegionKey, dt.date], _Acc], starts: list[dt.date]) -> dict[RegionKey, _Series]:
    index = {s: i for i, s in enumerate(starts)}
    n = len(starts)
    out: dict[RegionKey, _Series] = {}
    for (key, start), cell in acc.items():
        s = out.setdefault(key, _Series(n, [0.0] * n, [0.0] * n, [0] * n))
        i = index[start]
        s.first = min(s.first, i)
        s.risk[i], s.risk_sq[i], s.count[i] = cell.risk, cell.risk_sq, cell.articles
    return out


def _pooled_rates(series: Mapping[RegionKey, _Series], n: int, n_base: int) -> list[float]:
    """Per window, the mean risk index per region-window over its baseline windows, all regions seen by then."""
    totals = [0.0] * n
    seen = [0] * n
    for s in series.values():
        for i in range(n):
            totals[i] += s.risk[i]
            seen[i] += i >= s.first
    rates = []
    for i in range(n):
        lo = max(0, i - n_base)
        windows = sum(seen[lo:i])
        rates.append(sum(totals[lo:i]) / windows if windows else 0.0)
    return rates


def _trend(
    s: _Series, i: int, pooled_rate: float, exposure: float, n_base: int
) -> tuple[float | None, float | None, Trend]:
    """Expected index from the baseline, signed surprise score and trend of window ``i`` of a region."""
    lo = max(0, i - n_base)
    n_windows = i - lo
    if n_windows == 0:
        return None, None, "insufficient"
    # Each article adds its risk w <= 1, so the index is a compound Poisson count: dividing it by the
    # dispersion d = sum(w^2) / sum(w) of the region's recent articles makes it Poisson-like.
    total, total_sq = sum(s.risk[lo : i + 1]), sum(s.risk_sq[lo : i + 1])
    d = total_sq / total if total > 0 else 1.0
    observed = s.risk[i]
    expected, p_up, p_down = surprise(
        observed / d, sum(s.risk[lo:i]) / d, n_windows, pooled_rate / d, exposure=exposure
    )
    expected *= d
    z = _z(p_up) if observed >= expected else -_z(p_down)
    enough = max(s.count[i], sum(s.count[lo:i]) / n_windows) >= MIN_ARTICLES
    trend: Trend = "insufficient"
    if n_windows >= MIN_BASELINE_WINDOWS and enough:
        trend = "rising" if p_up < TREND_ALPHA else "falling" if p_down < TREND_ALPHA else "stable"
    return expected, round(z, 3), trend
