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
  score; see :func:`surprise`. ``rising`` when the upper tail probability of the observed index under the
  baseline's predictive distribution is below :data:`TREND_ALPHA` (0.05, one-sided), ``falling`` when the
  lower tail probability is, else ``stable``.
- Minimum evidence: a trend needs at least :data:`MIN_BASELINE_WINDOWS` (3) windows of history before the
  window and at least :data:`MIN_ARTICLES` (3) articles either in the window or on average per baseline
  window; otherwise the trend is ``insufficient`` (never guessed as ``stable``). So one article after a
  quiet spell does not make "rising", and a store's first windows have no trend. History counts from the
  first window of any record given: the store was collecting then, so a region's silence is a true zero.

The window containing ``now`` is usually partial: its expected index is scaled by the elapsed share of the
window (``complete`` is ``False`` on it), so the middle of a month does not read as "falling".
Rows are emitted for every window, from ``since`` on, in which the region has articles or had articles in its
baseline windows (so a region that goes quiet shows ``falling`` before it drops out).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

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
#: Weight, in windows, of the pooled (all regions) rate in each region's empirical-Bayes baseline.
PRIOR_WINDOWS: Final[float] = 1.0
#: Shape added to every baseline so that an all-quiet history still gives a proper predictive (Jeffreys).
PRIOR_SHAPE: Final[float] = 0.5

RegionKey = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class ScoredArticle:
    """A stored assessment and the date of its article (``published``, else the day it was scored)."""

    published: dt.date
    assessment: Assessment

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
    records: Iterable[ScoredArticle],
    *,
    window: Window = "month",
    since: dt.date | None = None,
    country: str | None = None,
    now: dt.date | None = None,
) -> list[RegionWindow]:
    """Per (country, admin-1) and window: counts, fatalities, risk index and trend (see the module docstring).

    ``records``: stored assessments with their dates. ``window``: ``"month"`` or ``"week"``. ``since``: only
    windows ending on or after this day are returned (earlier articles still feed the baselines).
    ``country``: only this ISO alpha-2 country. ``now``: articles after it are ignored and its window is the
    last (partial) one; default the newest article's date. Rows are sorted by window, country, admin-1.
    """
    if window not in BASELINE_WINDOWS:
        raise ValueError(f"window must be 'week' or 'month', got {window!r}")
    wanted = country.upper() if country else None
    items = [r for r in records if (now is None or r.published <= now)]
    if now is None:
        if not items:
            return []
        now = max(r.published for r in items)
    acc: dict[tuple[RegionKey, dt.date], _Acc] = defaultdict(_Acc)
    names: dict[str, str] = {}
    first_window: dt.date | None = None
    for rec in items:
        start = window_start(rec.published, window)
        a = rec.assessment
        present = [s for s, sig in a.signals.items() if signal_present(sig.probability, sig.evidence)]
        for region in a.regions:
            if wanted and region.country_code != wanted:
                continue
            first_window = start if first_window is None else min(first_window, start)
            names.setdefault(region.country_code, region.country)
            cell = acc[((region.country_code, region.admin1), start)]
            cell.articles += 1
            cell.risk += region.risk.score
            cell.risk_sq += region.risk.score**2
            cell.max_risk = max(cell.max_risk, region.risk.score)
            for s in present:
                cell.signals[s] += 1
            if region.primary:
                cell.primary += 1
                cell.fatalities += a.severity.fatalities or 0
    if first_window is None:
        return []

    last = window_start(now, window)
    starts: list[dt.date] = []
    cursor = first_window
    while cursor <= last:
        starts.append(cursor)
        cursor = shift_window(cursor, window, 1)
    index = {s: i for i, s in enumerate(starts)}
    regions = sorted({key for key, _ in acc}, key=lambda k: (k[0], k[1] or ""))
    risk = {key: [0.0] * len(starts) for key in regions}
    risk_sq = {key: [0.0] * len(starts) for key in regions}
    count = {key: [0] * len(starts) for key in regions}
    for (key, start), cell in acc.items():
        risk[key][index[start]] = cell.risk
        risk_sq[key][index[start]] = cell.risk_sq
        count[key][index[start]] = cell.articles
    # Pooled rate per region-window over all regions seen so far, by window (for the empirical-Bayes prior).
    n_base = BASELINE_WINDOWS[window]
    totals = [sum(risk[k][i] for k in regions) for i in range(len(starts))]
    seen = [sum(1 for k in regions if any(count[k][: i + 1])) for i in range(len(starts))]

    out: list[RegionWindow] = []
    window_days = {s: (window_end(s, window) - s).days + 1 for s in starts}
    for i, start in enumerate(starts):
        end = window_end(start, window)
        if since is not None and end < since:
            continue
        lo = max(0, i - n_base)
        complete = end <= now
        exposure = 1.0 if complete else ((now - start).days + 1) / window_days[start]
        pooled_windows = sum(seen[lo:i])
        pooled_rate = sum(totals[lo:i]) / pooled_windows if pooled_windows else 0.0
        for key in regions:
            n_now = count[key][i]
            base_counts = count[key][lo:i]
            if n_now == 0 and not any(base_counts):
                continue
            cell = acc.get((key, start)) or _Acc()
            n_windows = i - lo
            expected: float | None = None
            z: float | None = None
            trend: Trend = "insufficient"
            if n_windows > 0:
                # Each article adds its risk w <= 1, so the index is a compound Poisson count: dividing it by
                # the dispersion d = sum(w^2) / sum(w) of the region's recent articles makes it Poisson-like.
                total, total_sq = sum(risk[key][lo : i + 1]), sum(risk_sq[key][lo : i + 1])
                d = total_sq / total if total > 0 else 1.0
                expected, p_up, p_down = surprise(
                    cell.risk / d, sum(risk[key][lo:i]) / d, n_windows, pooled_rate / d, exposure=exposure
                )
                expected *= d
                z = _z(p_up) if cell.risk >= expected else -_z(p_down)
                enough = max(n_now, sum(base_counts) / n_windows) >= MIN_ARTICLES
                if n_windows >= MIN_BASELINE_WINDOWS and enough:
                    trend = "rising" if p_up < TREND_ALPHA else "falling" if p_down < TREND_ALPHA else "stable"
            mean_risk = cell.risk / cell.articles if cell.articles else 0.0
            out.append(
                RegionWindow(
                    country_code=key[0],
                    country=names[key[0]],
                    admin1=key[1],
                    window=window,
                    start=start,
                    end=end,
                    complete=complete,
                    articles=cell.articles,
                    primary_articles=cell.primary,
                    signals=dict(cell.signals),
                    fatalities=cell.fatalities,
                    risk_index=round(cell.risk, 4),
                    mean_risk=round(min(1.0, mean_risk), 4),
                    max_risk=round(cell.max_risk, 4),
                    level=risk_level(min(1.0, max(0.0, mean_risk))),
                    baseline=None if expected is None else round(expected, 4),
                    baseline_windows=n_windows,
                    surprise=None if z is None or math.isnan(z) else round(z, 3),
                    trend=trend,
                )
            )
    out.sort(key=lambda r: (r.start, r.country_code, r.admin1 or ""))
    return out
