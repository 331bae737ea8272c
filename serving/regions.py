"""The regional view behind ``GET /regions``: the risk index (``threatscore.region_index``) over stored rows.

The service stores one row per (assessment, region) (``serving.db.RegionRow``). ``regional_index`` keeps each
article's newest assessment (an article re-scored by a new model, or sent again with new content under the same
id, counts once), then hands the rows to ``threatscore.region_index.region_index``, which gives per region and
calendar window (month, or ISO week) the article and signal counts, fatalities, the risk index, its smoothed
level and a trend against the region's own trailing baseline, with the minimum-evidence rule (too little history
or too few articles: ``insufficient``, never a guessed ``stable``).

The baseline and the smoothed level need the windows *before* ``since``: ``history_start`` says how far back
rows are fetched (``HISTORY_WINDOWS``: a year of months or weeks, one half-life of the smoothed index); only
windows ending on or after ``since`` are returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final

from serving.db import RegionRow
from threatscore.region_index import RegionWindow, Window, region_index, shift_window, window_start

#: Windows of history fetched before ``since`` for the trailing baseline and the smoothed index.
HISTORY_WINDOWS: Final[dict[str, int]] = {"month": 12, "week": 52}


def newest_per_article(rows: Iterable[RegionRow]) -> list[RegionRow]:
    """Keep, per client article id, only the rows of its most recently scored assessment."""
    rows = list(rows)
    newest: dict[str, tuple[dt.datetime, str]] = {}
    for row in rows:
        stamp = (row.scored_at, row.content_sha256)
        if row.article_id not in newest or stamp > newest[row.article_id]:
            newest[row.article_id] = stamp
    return [r for r in rows if newest[r.article_id] == (r.scored_at, r.content_sha256)]


def history_start(since: dt.date, window: Window) -> dt.date:
    """First day of the rows to fetch so that the windows from ``since`` on have their full baseline."""
    return shift_window(window_start(since, window), window, -HISTORY_WINDOWS[window])


def regional_index(
    rows: Iterable[RegionRow], *, window: Window, since: dt.date, now: dt.date, country: str | None = None
) -> list[RegionWindow]:
    """The index per (country, admin1) and window from ``since``'s window to ``now``'s (partial) window.

    ``rows`` should reach back to ``history_start(since, window)``; rows dated after ``now`` are ignored.
    """
    latest = newest_per_article(rows)
    # One row per (article, region): an assessment that somehow listed a region twice still counts once.
    unique = list({(r.article_id, r.country_code, r.admin1): r for r in latest}.values())
    return region_index(unique, window=window, since=since, country=country, now=now)
