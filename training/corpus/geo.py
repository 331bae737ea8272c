"""Country names as the sources spell them -> ISO 3166-1 alpha-2 (via pycountry, plus explicit aliases)."""

from __future__ import annotations

import functools
import logging
from typing import Final

import pycountry

logger = logging.getLogger(__name__)

#: Names pycountry does not resolve (or resolves wrongly), lower-cased -> alpha-2, or None where no single
#: current ISO 3166-1 country applies (historic states, Kosovo, border areas).
COUNTRY_ALIASES: Final[dict[str, str | None]] = {
    # ACLED spellings
    "democratic republic of congo": "CD",
    "democratic republic of the congo": "CD",
    "republic of congo": "CG",
    "congo": "CG",
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
    "turkey": "TR",
    "palestine": "PS",
    "russia": "RU",
    "curacao": "CW",
    "kosovo": None,  # XK is not an ISO 3166-1 code
    "swaziland": "SZ",
    "eswatini": "SZ",
    "macedonia": "MK",
    "north macedonia": "MK",
    "cape verde": "CV",
    "east timor": "TL",
    "micronesia": "FM",
    "laos": "LA",
    "vietnam": "VN",
    "south korea": "KR",
    "north korea": "KP",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "syria": "SY",
    "iran": "IR",
    "moldova": "MD",
    "czech republic": "CZ",
    "bosnia and herzegovina": "BA",
    "united states": "US",
    "united kingdom": "GB",
    # SATP spellings
    "srilanka": "LK",
    # RAND RDWTI prefixes (1968-2009: historic states and territories)
    "federal republic of germany": "DE",
    "west germany": "DE",
    "german democratic republic": "DE",
    "east germany": "DE",
    "west berlin": "DE",
    "soviet union": None,
    "soviet republics": None,
    "ussr": None,
    "yugoslavia": None,
    "czechoslovakia": None,
    "zaire": "CD",
    "rhodesia": "ZW",
    "burma": "MM",
    "the netherlands": "NL",
    "holland": "NL",
    "corsica": "FR",
    "northern ireland": "GB",
    "canary islands": "ES",
    "gaza strip": "PS",
    "gaza": "PS",
    "west bank": "PS",
    "occupied territories": "PS",
    "chechnya": "RU",
    "trinidad": "TT",
    "guadaloupe": "GP",
    "bosnia": "BA",
    "bosnia/hercegovina": "BA",
    "bosnia-hercegovina": "BA",
    "bosnia-herzegovina": "BA",
    "kashmir": None,  # disputed between IN and PK
}


@functools.lru_cache(maxsize=4096)
def country_to_iso2(name: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code for a country name as a source spells it, or None when unknown or ambiguous.

    Explicit aliases (``COUNTRY_ALIASES``) win; otherwise pycountry's exact lookup (name, official name,
    common name, codes) is used. No fuzzy matching: an unresolved name stays None.
    """
    if name is None:
        return None
    key = " ".join(name.strip().lower().split())
    if not key:
        return None
    if key in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[key]
    try:
        country = pycountry.countries.lookup(key)
    except LookupError:
        logger.debug("no ISO 3166-1 code for country name %r", name)
        return None
    return str(country.alpha_2)
