"""The regional view behind ``GET /regions``: per (country, admin1) and time window, what the stored
assessments say.

``region_counts`` takes stored rows (``serving.db.RegionRow``) and nothing else, so the places work's risk
index (with its trend against each region's own baseline) can replace it without touching the endpoint:
anything with the signature of ``RegionIndexFn`` fits.

Counting rules (until the index lands):
- each article counts once per region, by its newest assessment (an article re-scored by a new model, or sent
  again with new content under the same id, is not counted twice);
- ``articles`` counts every article naming the region, ``primary_articles`` those where it is the primary one;
- ``signals`` counts, per signal, the articles naming the region whose assessment has it at or over the
  model's decision threshold;
- ``fatalities`` sums the reported deaths of the articles where the region is primary (an article mentioning
  Hasakah in passing does not move Hasakah's toll);
- ``mean_risk`` is the mean per-article region risk (``threatscore.risk.region_risk``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from serving.db import RegionRow
from threatscore.taxonomy import SIGNALS


@dataclass
class RegionWindow:
    """What the stored assessments say about one region in one time window."""

    country_code: str
    admin1: str | None
    window_start: dt.date
    window_end: dt.date
    articles: int = 0
    primary_articles: int = 0
    signals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0))
    fatalities: int = 0
    mean_risk: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (dates as YYYY-MM-DD)."""
        return {
            "country_code": self.country_code,
            "admin1": self.admin1,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "articles": self.articles,
            "primary_articles": self.primary_articles,
            "signals": dict(self.signals),
            "fatalities": self.fatalities,
            "mean_risk": round(self.mean_risk, 4),
        }


class RegionIndexFn(Protocol):
    """The shape of a regional index function: stored rows in, one summary per region and window out."""

    def __call__(
        self, rows: Iterable[RegionRow], *, since: dt.date, until: dt.date, window_days: int
    ) -> list[RegionWindow]: ...


def newest_per_article(rows: Iterable[RegionRow]) -> list[RegionRow]:
    """Keep, per client article id, only the rows of its most recently scored assessment."""
    rows = list(rows)
    newest: dict[str, tuple[dt.datetime, str]] = {}
    for row in rows:
        stamp = (row.scored_at, row.content_sha256)
        if row.article_id not in newest or stamp > newest[row.article_id]:
            newest[row.article_id] = stamp
    return [r for r in rows if newest[r.article_id] == (r.scored_at, r.content_sha256)]


def region_counts(rows: Iterable[RegionRow], *, since: dt.date, until: dt.date, window_days: int) -> list[RegionWindow]:
    """Counts per (country, admin1) and window of ``window_days`` days from ``since`` (rows before ``until``)."""
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    out: dict[tuple[str, str | None, dt.date], RegionWindow] = {}
    risks: dict[tuple[str, str | None, dt.date], list[float]] = defaultdict(list)
    seen: set[tuple[str, str | None, str]] = set()
    for row in newest_per_article(rows):
        if not since <= row.event_date < until:
            continue
        if (row.country_code, row.admin1, row.article_id) in seen:
            continue
        seen.add((row.country_code, row.admin1, row.article_id))
        offset = (row.event_date - since).days // window_days
        start = since + dt.timedelta(days=offset * window_days)
        key = (row.country_code, row.admin1, start)
        window = out.get(key)
        if window is None:
            window = out[key] = RegionWindow(
                row.country_code, row.admin1, start, start + dt.timedelta(days=window_days)
            )
        window.articles += 1
        if row.is_primary:
            window.primary_articles += 1
            window.fatalities += row.fatalities or 0
        for name in row.signals_present:
            if name in window.signals:
                window.signals[name] += 1
        risks[key].append(row.risk_score)
    for key, window in out.items():
        window.mean_risk = sum(risks[key]) / len(risks[key])
    return sorted(out.values(), key=lambda w: (w.country_code, w.admin1 or "", w.window_start))
