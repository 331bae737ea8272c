"""From an article to its regions: find place mentions, resolve each to one place, group, rank.

1. *Find*: one Aho–Corasick pass over the article's skeleton (see ``normalize``) gives every gazetteer
   key; each occurrence is checked on the original text (capitalisation, common English words, person
   names, case-sensitive abbreviations) and overlaps are resolved leftmost-longest.
2. *Resolve*: every mention has candidates (country, admin-1, town). A candidate's score is a prior
   (kind, population, exact spelling, "X province"/"city of X" hints) plus coherence with the rest of
   the article (countries and regions the other mentions point to, and "X, Y" containment such as
   "Tripoli, Lebanon"). Three rounds of coordinate ascent settle the choices.
3. *Rank*: resolved mentions are grouped by (country, admin-1); each mention weighs by where it sits
   (title and lead count more), whether its sentence reports an event (attack, killed, clash) or only
   speech (said, according to, officials in), and datelines count little. The region with the most
   weight, admin-1 known preferred over country-only, is primary.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from threatscore.geo import data
from threatscore.geo.gazetteer import (
    FLAG_ALTERNATE,
    FLAG_BLOCK,
    FLAG_CASE_SENSITIVE,
    FLAG_COMMON_NOUN,
    FLAG_CUE,
    FLAG_DEMONYM,
    FLAG_OUTLET,
    KIND_ADMIN1,
    KIND_ADMIN2,
    KIND_CITY,
    KIND_COUNTRY,
    Gazetteer,
)
from threatscore.geo.normalize import fold, normalize_text, skeleton
from threatscore.text import sentence_spans

MAX_REGIONS = 8
_ROUNDS = 3
_NO_FALLBACK_CUES = frozenset(fold(n) for n in data.NO_FALLBACK_CUES)

_EVENT_RE = re.compile(
    r"\b(?:attack\w*|kill\w*|clash\w*|target(?:ed|ing|s)?|operations?|bomb\w*|explo(?:sion|sive|ded|des)\w*|"
    r"ambush\w*|raid\w*|strikes?|airstrikes?|shell(?:ed|ing|s)|fight(?:ing|ers)?|offensive|kidnap\w*|"
    r"abduct\w*|detonat\w*|IEDs?|gunmen|militants?|insurgents?|dead|died|wounded|injured|casualt\w*|"
    r"fatalit\w*|massacre\w*|assault\w*|seiz\w*|captur\w*|overr[au]n|arrest\w*|detain\w*|protest\w*|"
    r"demonstrat\w*|riot\w*|loot\w*|burn\w*|shot|shooting|suicide|battles?|violence|mortars?|rockets?|"
    r"drones?|landmines?|gunfire|fired|stormed|besieged|siege|displaced|executed|beheaded|destroyed)\b",
    re.IGNORECASE,
)
# Words that make a following "in X" the seat of a speaker, not the scene of the event.
_SPEECH_BEFORE_RE = re.compile(
    r"\b(?:said|says|told|announced|stated|statement|spokes(?:man|woman|person)|officials?|ministry|"
    r"minister|government|authorities|embassy|parliament|conference|summit|talks|meeting|headquartered|"
    r"based|visit(?:ed|ing)?|press|interview|capital|court|tweeted|wrote)\b[^.;:!?]{0,40}?\b(?:in|from|at)\s+"
    r"(?:the\s+)?$",
    re.IGNORECASE,
)
# Used with ``match(doc, pos)``, which anchors at ``pos`` (a "^" would only match at the string start).
_SPEECH_AFTER_RE = re.compile(r"\s*,?\s*(?:said|says|told|announced|stated|reported|added|claimed)\b", re.IGNORECASE)
_SPEECH_SENTENCE_RE = re.compile(
    r"\b(?:said|says|told|according to|stated|announced|statement|believes|considers|described|adds)\b",
    re.IGNORECASE,
)
# "KABUL, Afghanistan (Jan. 25, 2013)" / "TRIPOLI —" at the head of a line near the top: a dateline.
_DATELINE_RE = re.compile(
    r"(?:^|(?<=[\n\r\u2028\u2029]))[ \t\xa0]*"
    r"(?P<head>[A-Z][A-Za-z.'\- ]{1,40}(?:,[ \t]*[A-Z][A-Za-z.'\- ]{1,40})?)[ \t\xa0]*(?:\(|—|–|--| - )"
)
# A country named alone in capitals as the text's heading ("TURKEY.  A bomb planted on …", "NIGERIA: Gunmen …"), as
# chronologies and digests open an entry: the entry's country, unlike a dateline, which says where the reporter sat.
_HEADING_RE = re.compile(r"^[ \t\xa0]*(?P<head>[A-Z][A-Z'’ -]{2,60}?)[ \t]*[.:][ \t\xa0]")
_PREV_WORD_RE = re.compile(r"([A-Za-z\u00c0-\u024f][\w'’\u00c0-\u024f]*)([ \t]+)$")
_ARTICLE_HEAD_RE = re.compile(r"^(?:al|el|ad|as|ar|an|at|az|ash|ed|es|en|ez|ul)[-\s]\S", re.IGNORECASE)
_NAME_PARTICLE_RE = re.compile(r"(?:\b(?:al|el|bin|ibn|abu|bint|abd|ben|van|von|de)[-\s])$", re.IGNORECASE)
_STRONG_PARTICLES = frozenset({"bin", "ibn", "abu", "bint", "abd"})
# Titles before a person's name: "Home Minister Amit Shah" is no town of Amit.
_PERSON_TITLES = frozenset(
    "minister president governor senator mr mrs ms dr sheikh prince princess king queen imam mullah maulana "
    "general colonel major captain commander spokesman spokesperson chairman chairperson mla mp".split()
)
_ADMIN_AFTER_RE = re.compile(r"[ \t]*(\w+)")
# "the province of Ghazni", "state of Georgia" (but not "a breakaway region of Georgia").
_OF_ADMIN_WORDS = frozenset("province governorate state district wilaya wilayah county department prefecture".split())
# A name used for an actor, not the scene: "US-led strikes", "Turkey-backed militia", "Russian-made rockets"
# (any place), and a country or demonym before force projected abroad or diplomacy: "Russian warplanes", "a US
# military base", "the Iranian embassy". Not "Pakistani soldiers", "the Nigerian army" or "Afghan police": a
# country's own forces are mostly at home, where the event is.
_ACTOR_SUFFIX_RE = re.compile(r"-(?:led|backed|supported|sponsored|funded|allied|trained|armed|made|aligned)\b", re.I)
_ACTOR_NOUN_AFTER_RE = re.compile(
    r"[”\"’']?[ \t]+(?:(?:(?:military|army|air|naval)[ \t]+)?bases?|warplanes|jets|aircraft|drones?|airstrikes?|"
    r"strikes|missiles?|coalition|embassy|envoy|ambassador|diplomats|advisers|advisors|contractors|mercenaries)\b",
    re.IGNORECASE,
)
# "Kashmir Road", "Bihar Colony", "Punjab Chowk": a street or quarter named after a region or country lies in some
# town, most often far from that region (Karachi's Kashmir Road).
_STREET_AFTER_RE = re.compile(
    r"[ \t]+(?:road|street|avenue|lane|colony|chowk|bazaar|bazar|mohalla|nagar|gate|market)\b", re.IGNORECASE
)
# "suburbs of Damascus", "countryside of Damascus": a named area led by a common noun.
_LOWER_HEADS = frozenset("countryside suburbs outskirts".split())
# "Operation Olive Branch", "the “Olive Branch” operation", "Euphrates Shield operation": a military operation's
# name, not a place. "reports Colombo Page": a newspaper cited as the source (SATP's house style), which says
# at most which country the story comes from.
_OPERATION_AFTER_RE = re.compile(r"[”\"'’]?[ \t]+operations?\b", re.IGNORECASE)
_OPERATION_BEFORE_RE = re.compile(r"\boperations?[ \t]+[“\"'‘]?$", re.IGNORECASE)
_MOVEMENT_AFTER_RE = re.compile(
    r"[ \t]+(?:National[ \t]+|People'?s[ \t]+)?(?:Liberation|Independence|Freedom)[ \t]+"
    r"(?:Army|Front|Movement|Forces?|Organi[sz]ation|Tigers)\b"
)
_THE_BEFORE_RE = re.compile(r"\bthe[ \t]+$", re.IGNORECASE)
_OUTLET_BEFORE_RE = re.compile(r"\breport(?:s|ed)[ \t]+(?:the[ \t]+)?$")
# A news outlet cited as the source: "reports Dawn", "according to the Kathmandu Post", "Pajhwok reported".
_CITED_BEFORE_RE = re.compile(
    r"\b(?:report(?:s|ed|ing)?|according[ \t]+to|quoted[ \t]+by|told|(?:said|says)[ \t]+in)[ \t,]+(?:the[ \t]+)?$",
    re.IGNORECASE,
)
_CITED_AFTER_RE = re.compile(r"[ \t]*,?[ \t]*(?:reported|reports|quoted|said|says|cited)\b", re.IGNORECASE)
_BORDER_BEFORE_RE = re.compile(
    r"\b(?:crossed|crossing|cross|fled|flee|fleeing|escaped|withdrew|retreated)[ \t]+(?:back[ \t]+)?(?:into|to)[ \t]+$"
    r"|\bacross[ \t]+the[ \t]+border[ \t]+(?:from|into|in|to)[ \t]+$|\bborder[ \t]+with[ \t]+$",
    re.IGNORECASE,
)
_OF_BEFORE_RE = re.compile(r"\b(\w+)[ \t]+of[ \t]+(?:the[ \t]+)?$", re.IGNORECASE)
# Between "X" and "Y" when Y contains X: "Tripoli, Lebanon", "Nahri Saraj district, Helmand",
# "Ouagadougou (Ouagadougou, Kadiogo)", "Puli Alam city, Logar", "Hasaka in Syria".
_CONTAINER_GAP_RE = re.compile(
    r"^\s*(?:(?:district|province|city|town|village|area|county|municipality|upazila|lga|region|governorate|"
    r"state|territory|sub-district|subdistrict|commune|department|prefecture)\s*)?[,(]\s*(?:in\s+)?$|^\s*,?\s+in\s+$",
    re.IGNORECASE,
)
# "Ghaziabad area of Kohat", "Bihar Colony area of Lyari town": the first lies in the second, said outright.
_PART_OF_GAP_RE = re.compile(
    r"^\s+(?-i:[A-Z][\w'’-]*\s+)?"  # at most one capitalised word of the quarter's name ("Bihar Colony")
    r"(?:area|areas|locality|neighbourhood|neighborhood|colony|sector|quarter|town|village|tehsil)\s+of\s+(?:the\s+)?$",
    re.IGNORECASE,
)
# Capitalised words that often precede a place without being part of a person's name.
_PLACE_PRECEDERS = frozenset(
    """in at near of from to into outside inside across around the northern southern eastern western central
    north south east west upper lower greater northeastern northwestern southeastern southwestern
    north-eastern north-western south-eastern south-western new old mount jabal jebel wadi lake port
    city town village province state district region county governorate""".split()
)
# Capitalised words that may follow a place name without making it part of a person's or group's name (a
# headline's "Afrin Battles" is fighting in Afrin).
_GEO_FOLLOWERS = frozenset(
    """valley river mountains mountain hills hill airport bridge road highway camp prison district area market
    dam lake bay coast island islands strip basin plain plains desert oasis border crossing gate square
    street avenue junction checkpoint station base port harbour harbor region city town village province
    state governorate county municipality division department countryside suburb suburbs outskirts
    battle battles front offensive siege clashes fighting massacre attack attacks bombing bombings""".split()
)
_DIRECTIONS = frozenset(
    "northern southern eastern western central north south east west northeastern northwestern southeastern "
    "southwestern north-eastern north-western south-eastern south-western".split()
)
_UNKNOWN_TOPONYM_RE = re.compile(
    r"\b(?:Jabal|Jebel|Djebel|Jbel|Mount|Mt\.|Wadi|Oued)[ \t]+(?:(?:al|el|ad|as|an|ar)[- ])?"
    r"(?P<a>[A-Z][A-Za-z'’\-]{2,})|\b(?P<b>[A-Z][a-z]{2,})[ \t]+(?:Mountains?|Valley|Hills?|Oasis)\b"
)
# A distance ("30 km", "12 miles") and a direction ("south of", "northeastern of") before the place they are from.
_DISTANCE = r"\d+\s*(?:km|kilometers|kilometres|miles)\s+"
_DIRECTION_OF = r"(?:north|south|east|west|northeast|northwest|southeast|southwest)(?:ern)?\s+of"
# Between an unknown toponym and a known place that locates it ("Tlul al-Safa, some 50 km east of Sweida").
_RELATION_RE = re.compile(
    rf"^\s*,?\s*(?:(?:some|about)\s+{_DISTANCE})?(?:{_DIRECTION_OF}|near|outside)\s+$",
    re.IGNORECASE,
)

# Between a place and a second one that only locates it: "Douma near Damascus", "Jaramana suburbs near the
# capital, Damascus", "Hajin, 30 km south of Deir ez-Zor", "the Eastern Ghouta of Damascus". The first is the scene.
# The relations above and more ("close to", "suburbs of", "of"), after at most two words.
_REFERENCE_GAP_RE = re.compile(
    rf"^\s*,?\s*(?:(?!(?:and|or|but|while)\b)[\w'’-]+\s+){{0,2}}?,?\s*(?:(?:(?:some|about)\s+)?{_DISTANCE})?"
    rf"(?:{_DIRECTION_OF}|near|outside|close\s+to|(?:suburbs?|outskirts|countryside|edge|vicinity)\s+of|of)\s+"
    r"(?:the\s+)?(?:(?:capital|city|town|provincial\s+capital)(?:\s+of)?\s*,?\s*)?$",
    re.IGNORECASE,
)
# The first letter of each sentence (after the start, a full stop, a question or exclamation mark, or a line break).
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?]\s+|\n)\W*([^\W\d_])")
#: A reference place's share of the weight it would have as the scene.
REFERENCE_WEIGHT = 0.5
#: Weight of a country named as the heading (``_HEADING_RE``): above any one mention in the text's first sentences
#: (at most 3.75). The heading's country also ranks first (``_group``), even when its first sentence names places
#: abroad ("ITALY.  An El Al plane flying from Rome to Tel Aviv …"); the weight sets its score (and so its risk).
HEADING_WEIGHT = 4.0
#: A city at least this large, named exactly, outranks a second-level region of its name abroad (``_candidates``).
BIG_CITY_POP = 250_000
#: A city at least this large, named exactly, is read as the city rather than a first-level region of its name
#: that it is not part of (``_candidates``).
METRO_POP = 1_000_000
#: A second-level region's prior over a town of the default population.
ADMIN2_BONUS = 0.8
#: A village is no larger than this: a larger reading of "Baanu village" or "the village of Pansi" is a namesake.
VILLAGE_MAX_POP = 100_000
#: A town or district smaller than this, in a country that nothing else in the text supports, may be a namesake
#: (``_homonym_abroad``, ``_abroad_of_cues``); a larger one is read as itself.
NAMESAKE_MAX_POP = 200_000
# A short word with a capital after a lower-case letter ("JaS", "HaY"): an acronym, as no place name is written so.
_INNER_CAPITAL_RE = re.compile(r"[A-Z][a-z]+[A-Z]")


@dataclass(slots=True)
class Candidate:
    """One reading of a mention: a gazetteer place with its prior score."""

    place: int
    kind: int
    cc: str
    admin1: int
    pop: int
    exact: bool
    demonym: bool
    needs_support: bool
    prior: float
    cue: bool = False  # a context cue ("Houthi"): country evidence only, never a region
    alternate: bool = False  # matched only through an alternate name ("Yadin" for Aden)


@dataclass(slots=True)
class Mention:
    """A place name as written in the article, with its candidates and context."""

    start: int
    end: int
    surface: str
    key: int
    sentence: int
    candidates: list[Candidate]
    weight: float = 1.0
    container: int | None = None  # index of the mention that contains this one ("X, Y")
    paren: bool = False  # the container follows in parentheses ("Kain (Kain, Yatenga)"): the areas around it
    part_of: bool = False  # the text says outright that this place lies in its container ("X area of Y")
    contained: list[int] = field(default_factory=list)
    choice: Candidate | None = None


@dataclass(frozen=True, slots=True)
class RegionScore:
    """A region with the evidence behind it, before it becomes a public ``ResolvedRegion``."""

    country_code: str
    admin1: str | None
    places: tuple[str, ...]
    score: float


class Resolver:
    """Finds and resolves the places of one article against a gazetteer."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gaz = gazetteer

    # -- public ---------------------------------------------------------------------------------------
    def regions(self, text: str, title: str | None = None) -> list[RegionScore]:
        """Regions of an article, best first (the first is the primary region)."""
        doc, title_end = _compose(text, title)
        if not doc.strip():
            return []
        mentions = self.find_mentions(doc)
        if not mentions:
            return []
        sentences = sentence_spans(doc)
        starts = [s.start for s in sentences]
        for m in mentions:
            m.sentence = max(0, bisect.bisect_right(starts, m.start) - 1)
        self._link_containers(doc, mentions)
        kept = self._disambiguate(mentions)
        if not kept:
            return []
        heading = _heading(doc, kept)
        self._weigh(doc, kept, sentences, starts, title_end, heading)
        return self._group(doc, kept, sentences, starts, heading.choice.cc if heading and heading.choice else None)

    # -- 1. find -----------------------------------------------------------------------------------------
    def find_mentions(self, doc: str) -> list[Mention]:
        """Gazetteer mentions in ``doc`` that pass the surface checks, leftmost-longest, without overlaps."""
        gaz = self.gaz
        norm = normalize_text(doc)
        case_informative = _case_informative(doc)
        found: list[Mention] = []
        for s, e, key in gaz.iter_matches(norm.skeleton):
            a, b = norm.span(s, e)
            surface = doc[a:b]
            if case_informative and _generic_tail(surface):
                continue  # "Hyderabad city": the name "Hyderabad" and its hint, not GeoNames' "Hyderabad City" (Sindh)
            flags = gaz.key_flags[key]  # of all its readings
            if case_informative and not flags & FLAG_COMMON_NOUN and not _looks_capitalised(surface):
                continue
            if flags & FLAG_BLOCK:
                found.append(Mention(a, b, surface, key, 0, []))  # takes the span, resolves to nothing
                continue
            before = doc[max(0, a - 20) : a]
            operation = _OPERATION_AFTER_RE.match(doc, b) or _OPERATION_BEFORE_RE.search(before)
            actor = _ACTOR_SUFFIX_RE.match(doc, b) or (
                _ACTOR_NOUN_AFTER_RE.match(doc, b) and self._names_a_country(key)
            )
            street = _STREET_AFTER_RE.match(doc, b) and self._names_a_region(key)
            # An operation named for a cue ("the “Jazeera Storm” operation" of the SDF) still tells its country.
            if (operation and not flags & FLAG_CUE) or actor or street:
                found.append(Mention(a, b, surface, key, 0, []))  # takes the span, resolves to nothing
                continue
            cands = self._candidates(doc, a, b, surface, key, case_informative)
            if _MOVEMENT_AFTER_RE.match(doc, b):
                # A movement named for the land it claims ("West Papua Liberation Army") hints at that land, as
                # weakly as a demonym: it is not where the movement's fighters were seen.
                cands = [dataclasses.replace(c, demonym=True) for c in cands if c.kind in (KIND_COUNTRY, KIND_ADMIN1)]
            if _OUTLET_BEFORE_RE.search(before):
                # A newspaper ("Dhaka Tribune", "Republica"): a famous place in its name hints at the country only.
                cands = [
                    dataclasses.replace(c, demonym=True, kind=KIND_COUNTRY, admin1=-1)
                    for c in cands
                    if c.kind in (KIND_COUNTRY, KIND_ADMIN1) or c.pop >= 100_000
                ]
            if cands:
                found.append(Mention(a, b, surface, key, 0, cands))
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        out: list[Mention] = []
        last_end = -1
        for m in found:
            if m.start >= last_end:
                out.append(m)
                last_end = m.end
        return [m for m in out if m.candidates]

    def _readings(self, key: int) -> Iterator[tuple[int, int]]:
        """(flags, place kind) of each reading of the name ``key`` (one that reads as a place: blocks are handled
        before any reading is asked for)."""
        gaz = self.gaz
        for i in range(gaz.entry_start[key], gaz.entry_start[key + 1]):
            yield gaz.entry_flags[i], gaz.place_kind[gaz.entry_place[i]]

    def _names_a_region(self, key: int) -> bool:
        """Whether some reading of the name ``key`` is a country or a first-level region ("Kashmir", "Bihar")."""
        return any(kind in (KIND_COUNTRY, KIND_ADMIN1) for _, kind in self._readings(key))

    def _names_a_country(self, key: int) -> bool:
        """Whether some reading of the name ``key`` is a country or a demonym ("US", "Cuban")."""
        return any(flags & FLAG_DEMONYM or kind == KIND_COUNTRY for flags, kind in self._readings(key))

    def _candidates(self, doc: str, a: int, b: int, surface: str, key: int, case_informative: bool) -> list[Candidate]:
        gaz = self.gaz
        folded = fold(surface)
        bare = _strip_article_folded(folded)
        stopped = folded in data.STOP_NAMES or bare in data.STOP_NAMES
        if stopped and not gaz.key_flags[key] & FLAG_DEMONYM:
            return []  # every reading would be skipped below ("The", "It", "Monday": a third of the calls)
        # Short all-caps words in mixed-case text are acronyms (SOHR, SDF, ANSF), not towns.
        # So are short words with a capital inside ("JaS", "HaY"), which no place name writes that way.
        acronym = (
            case_informative
            and len(surface.replace(".", "")) <= 4
            and (surface.isupper() or _INNER_CAPITAL_RE.match(surface))
        )
        zipf = max(gaz.zipf(folded), gaz.zipf(bare)) if case_informative else gaz.zipf(bare) + 0.5
        after = _ADMIN_AFTER_RE.match(doc, b, min(len(doc), b + 40))
        word_after = after.group(1) if after else ""
        before = doc[max(0, a - 40) : a]
        of_before = _OF_BEFORE_RE.search(before)
        word_of = of_before.group(1).lower() if of_before else ""
        admin_hint = word_after.lower() in data.ADMIN1_WORDS or word_of in _OF_ADMIN_WORDS
        city_hint = word_after.lower() in data.CITY_WORDS or word_of in data.CITY_WORDS
        village = word_after.lower() == "village" or word_of in ("village", "villages")
        in_name = case_informative and _in_person_name(before, gaz)
        # "crossed into Niger", "fighters from across the border in Niger": a border is crossed into a country.
        border = bool(_BORDER_BEFORE_RE.search(before))
        # "Matiur Rahman": followed by a capitalised word that is no geographic term -> likely a name.
        name_follows = (
            case_informative
            and doc[b : b + 1] == " "
            and word_after[:1].isupper()
            and not word_after.isupper()
            and fold(word_after) not in _GEO_FOLLOWERS
            and gaz.zipf(fold(word_after)) < 4.5
        )
        macro = bare in data.MACRO_REGION_NAMES
        if bare in data.TRANSNATIONAL_REGION_NAMES and not admin_hint and _THE_BEFORE_RE.search(before):
            return []  # "the war in the Sahel" is the belt across five countries, not Burkina Faso's Sahel region
        short = len(bare.replace(" ", "")) <= 4
        cited: bool | None = None  # whether the name stands as a cited source; computed for outlets only
        # Uncapitalised in a text that capitalises names: only a common-noun cue reads ("tambon", not Tambon town).
        common_only = case_informative and not _looks_capitalised(surface)
        best: dict[int, Candidate] = {}
        for i in range(gaz.entry_start[key], gaz.entry_start[key + 1]):
            flags = gaz.entry_flags[i]
            form = gaz.entry_form[i]
            if common_only and not flags & FLAG_COMMON_NOUN:
                continue
            if flags & FLAG_OUTLET:
                if cited is None:
                    cited = bool(_CITED_BEFORE_RE.search(before) or _CITED_AFTER_RE.match(doc, b, b + 30))
                if not cited:
                    continue  # "at dawn", "the Hindu community": an outlet's name counts only as the source
            if flags & FLAG_CASE_SENSITIVE:
                # The span ends at the last letter: "CPI (M" is the whole "CPI (M)". (A full stop is not let off the
                # same way: "U.S." as written is mostly an actor, "the U.S. embassy", not the scene.)
                if surface != form and form != f"{surface})":
                    continue
                exact = True
            else:
                exact = form in (folded, bare)
            place = gaz.entry_place[i]
            kind = gaz.place_kind[place]
            named_acronym = kind == KIND_ADMIN1 and flags & FLAG_CASE_SENSITIVE  # "FATA", "NWFP"
            if acronym and not (exact and kind == KIND_COUNTRY) and not flags & FLAG_CUE and not named_acronym:
                continue  # but "IRAN." heading a report is the country, "DMK" a Tamil party and "FATA" a region
            demonym = bool(flags & FLAG_DEMONYM)
            if stopped and not demonym:
                continue
            pop = gaz.place_pop[place]
            needs_support = macro
            if demonym or flags & FLAG_CASE_SENSITIVE:
                pass
            elif flags & FLAG_ALTERNATE and zipf >= 3.5:
                continue  # a common word that is only some town's alternate name ("Port" for Perth)
            elif in_name:
                # "Othman Baraka", "Ahmed Sultan": part of a person's name unless the place is famous.
                # An alternate name is not famous ("Dure Kamil": Kamil is another name of a Chinese county).
                famous = exact and not flags & FLAG_ALTERNATE and pop >= 100_000 and zipf < 3.0
                if not ((kind == KIND_COUNTRY and zipf < 4.0) or famous):
                    continue
            elif kind == KIND_COUNTRY:
                if zipf >= 5.5:
                    continue
            elif kind in (KIND_ADMIN1, KIND_ADMIN2):
                if zipf >= 5.0 and not admin_hint:
                    continue
                if zipf >= 4.0 and not admin_hint:
                    needs_support = True
            else:
                # A frequent word is no town, unless the text says it is one ("the Tank town of Tank District").
                if zipf >= 4.5 and pop < 1_000_000 and not city_hint:
                    continue
                if (zipf >= 3.5 and pop < 100_000) or (zipf >= 2.8 and pop < 10_000):
                    needs_support = True
            weak_form = (short and pop < 10_000) or (not exact and pop < 20_000) or (name_follows and pop < 100_000)
            if weak_form and kind != KIND_COUNTRY and not demonym and not admin_hint:
                needs_support = True
            prior = 0.45 * math.log10(pop + 10)
            if kind == KIND_COUNTRY:
                prior += 2.5 + (2.0 if border else 0.0)
            elif kind == KIND_ADMIN1:
                prior += 1.2 + (3.0 if admin_hint else 0.0) - (1.0 if city_hint else 0.0)
            elif kind == KIND_ADMIN2:
                prior += ADMIN2_BONUS + (2.5 if admin_hint else 0.0) - (1.0 if city_hint else 0.0)
            elif city_hint:
                prior += 1.5
            if exact:
                prior += 1.2
            if flags & FLAG_ALTERNATE:
                prior -= 0.3
            previous = best.get(place)
            if previous is None or prior > previous.prior:
                best[place] = Candidate(
                    place, kind, gaz.place_cc[place], gaz.place_admin1[place], pop, exact, demonym,
                    needs_support and (previous is None or previous.needs_support), prior, bool(flags & FLAG_CUE),
                    bool(flags & FLAG_ALTERNATE) and (previous is None or previous.alternate),
                )  # fmt: skip
        # A city of millions written exactly is not a village of the same name or spelling that only a country
        # named elsewhere could support ("Pakistan crushed India by ten wickets in Dubai" is not India's Dubai), nor
        # a town that once bore its name ("ABUJA" is not Suleja, Abuja until 1976).
        readings = list(best.values())
        largest = max((c.pop for c in readings if c.exact and c.kind == KIND_CITY), default=0)
        if largest >= 1_000_000:
            readings = [
                c
                for c in readings
                if c.kind != KIND_CITY or c.pop * 10 >= largest or (c.exact and not c.needs_support and not c.alternate)
            ]
        # A second-level region has no population of its own in the gazetteer (each gets the same default), so its
        # bonus over a town would also rank Athens County (Ohio) above Athens: abroad, a large city named exactly
        # keeps its rank (dev, country: +4 / -0 at 250,000; at 100,000 Zambia's Mansa takes India's Mansa district).
        named = [c for c in readings if c.exact and c.kind == KIND_CITY and not c.alternate]
        city = max(named, key=lambda c: c.pop, default=None)
        if city is not None and city.pop >= BIG_CITY_POP:
            readings = [
                replace(c, prior=c.prior - ADMIN2_BONUS) if c.kind == KIND_ADMIN2 and c.cc != city.cc else c
                for c in readings
            ]
        # A city of millions named as such is the city, not a first-level region of its name that it is not part
        # of: "Kyiv" is Kyiv City, not the Kyiv Oblast around it; "Sofia" Bulgaria's capital, not Madagascar's
        # Sofia region. Named with an administrative word ("Kyiv Oblast", "the region of X") it is still the region.
        if city is not None and city.pop >= METRO_POP and not admin_hint:
            readings = [
                replace(c, prior=min(c.prior, city.prior - 0.01))
                if c.kind == KIND_ADMIN1 and (c.cc, c.admin1) != (city.cc, city.admin1)
                else c
                for c in readings
            ]
        if village:
            # "Baanu village" is no city of a million; a region or people named as an adjective stays ("a Haryana
            # village", "a Berom village").
            readings = [
                c
                for c in readings
                if c.demonym
                or c.cue
                or (c.kind in (KIND_COUNTRY, KIND_ADMIN1) and c.exact and not c.alternate)
                or c.pop < VILLAGE_MAX_POP
            ]
        return readings

    # -- 2. resolve ------------------------------------------------------------------------------------------
    @staticmethod
    def _link_containers(doc: str, mentions: list[Mention]) -> None:
        """ "Tripoli, Lebanon", "Ghazni (Andar, Ghazni)", "Hasaka, Syria", "Ghaziabad area of Kohat": the second
        contains the first."""
        for i in range(len(mentions) - 1):
            m, n = mentions[i], mentions[i + 1]
            if n.start - m.end > 24 or all(c.demonym for c in n.candidates):
                continue  # too far apart; or "in Afrin city, Turkish forces try …": an adjective contains no place
            gap = doc[m.end : n.start]
            part_of = bool(_PART_OF_GAP_RE.match(gap))
            if part_of or _CONTAINER_GAP_RE.match(gap):
                m.container = i + 1
                m.paren = "(" in gap
                m.part_of = part_of
                n.contained.append(i)

    def _disambiguate(self, mentions: list[Mention]) -> list[Mention]:
        # ACLED's "Kain (Kain, Yatenga)": the parentheses name the areas around a place, so only its readings in
        # a country the outermost area can be in are left (not Myanmar's Kayin); a name with none is dropped.
        for m in mentions:
            anchor = _paren_anchor(mentions, m)
            if anchor is not None:
                countries = {c.cc for c in anchor.candidates}
                m.candidates = [c for c in m.candidates if c.cc in countries]
        for m in mentions:
            m.choice = max(m.candidates, key=lambda c: c.prior) if m.candidates else None
        # "Rupnagar, Punjab": start each named pair from its best joint reading. Chosen one at a time, the larger
        # Punjab (Pakistan's) would pull Rupnagar to a Pakistani namesake and the two would then hold each other.
        for m in mentions:
            if m.container is not None and m.candidates and mentions[m.container].candidates:
                around = mentions[m.container]
                m.choice, around.choice = max(
                    ((i, o) for i in m.candidates for o in around.candidates),
                    key=lambda pair: pair[0].prior + pair[1].prior + _contains(pair[1], pair[0]),
                )
        country_ev: dict[str, float] = {}
        admin_ev: dict[int, float] = {}
        for _ in range(_ROUNDS):
            country_ev, admin_ev, by_key = _evidence(mentions)
            for idx, m in enumerate(mentions):
                own_c, own_a = by_key.get(m.key, ({}, {}))
                best, best_score = m.choice, -1e9
                for c in m.candidates:
                    cs = country_ev.get(c.cc, 0.0) - own_c.get(c.cc, 0.0)
                    # A country named elsewhere in the article is strong evidence ("... northern Lebanon").
                    score = c.prior + 3.0 * (1.0 - math.exp(-cs))
                    if c.admin1 >= 0:
                        s_a = admin_ev.get(c.admin1, 0.0) - own_a.get(c.admin1, 0.0)
                        score += 1.5 * (1.0 - math.exp(-s_a))
                    score += _containment_bonus(c, mentions, m, idx)
                    if score > best_score:
                        best, best_score = c, score
                m.choice = best
        country_ev, admin_ev, by_key = _evidence(mentions)
        cue_ccs = _cue_countries(mentions)
        kept: list[Mention] = []
        for m in mentions:
            if m.choice is None:
                continue
            own_c, _ = by_key.get(m.key, ({}, {}))
            inner_ccs, outer = _neighbours(m, mentions)
            c = m.choice
            support = _support(c, country_ev, own_c, inner_ccs, outer)
            if c.needs_support and support < 0.5:
                # "in Delhi": the territory's name is a frequent word (the city is famous), so alone it needs
                # support; the city of the same name inside it does not. Only a reading in the same region that
                # stands alone replaces the one that fell (never a namesake elsewhere: "Bina" is a person).
                alone = [d for d in m.candidates if not d.needs_support and (d.cc, d.admin1) == (c.cc, c.admin1)]
                if not alone:
                    continue
                c = m.choice = max(alone, key=lambda d: d.prior)
                support = _support(c, country_ev, own_c, inner_ccs, outer)
            if outer is not None and (_conflicts(outer, c) or (m.part_of and outer.cc != c.cc)):
                # "Nadir Shah Kot district, Khost": a namesake elsewhere is not this place; nor is India's
                # Ghaziabad the "Ghaziabad area of Kohat" (Pakistan), though a town does not rank above a town.
                continue
            if _homonym_abroad(c, support, country_ev, own_c):
                continue
            if _abroad_of_cues(c, support, cue_ccs):
                continue
            kept.append(m)
        return _without_fallen_vouchers(kept, mentions)

    # -- 3. weigh and group --------------------------------------------------------------------------------
    def _weigh(
        self,
        doc: str,
        mentions: list[Mention],
        sentences: list,
        starts: list[int],
        title_end: int,
        heading: Mention | None = None,
    ) -> None:
        dateline_spans = _datelines(doc[: min(len(doc), 600)])
        # Per sentence: 1.5 when it reports an event, else 0.7 when it reports speech, else 1 (speech is only
        # looked for when there is no event).
        sentence_factor: dict[int, float] = {}
        for k, m in enumerate(mentions):
            c = m.choice
            assert c is not None
            if m is heading:
                m.weight = HEADING_WEIGHT
                continue
            factor = sentence_factor.get(m.sentence)
            if factor is None:
                sent = sentences[m.sentence].of(doc) if sentences else doc
                factor = 1.5 if _EVENT_RE.search(sent) else 0.7 if _SPEECH_SENTENCE_RE.search(sent) else 1.0
                sentence_factor[m.sentence] = factor
            w = (3.0 if m.start < title_end else 1.0 + 1.5 / (1.0 + m.sentence)) * factor
            sent_start = starts[m.sentence] if starts else 0
            before = doc[max(sent_start, m.start - 80) : m.start]
            if _SPEECH_BEFORE_RE.search(before) or _SPEECH_AFTER_RE.match(doc, m.end, min(len(doc), m.end + 30)):
                w *= 0.4
            if any(a <= m.start < b for a, b in dateline_spans):
                w *= 0.1
            if k and _locates(doc, mentions[k - 1], m):
                w *= REFERENCE_WEIGHT
            if c.demonym:
                w *= 0.3
            elif c.kind == KIND_COUNTRY:
                w *= 0.5
            elif c.kind == KIND_ADMIN1:
                w *= 1.3  # a region named outright is firmer evidence than a town inside it
            elif c.kind == KIND_ADMIN2:
                w *= 1.1
            m.weight = w

    def _group(
        self, doc: str, mentions: list[Mention], sentences: list, starts: list[int], heading_country: str | None = None
    ) -> list[RegionScore]:
        gaz = self.gaz
        score: dict[tuple[str, int], float] = defaultdict(float)
        places: dict[tuple[str, int], list[str]] = defaultdict(list)
        seen_place: dict[tuple[str, int], set[int]] = defaultdict(set)
        first_pos: dict[tuple[str, int], int] = {}
        # Of the places named in a region: whether one is named by its own name (not a variant or an old name),
        # and the largest population.
        largest: dict[tuple[str, int], tuple[bool, int]] = defaultdict(lambda: (False, 0))
        demonym_only: dict[str, bool] = {}
        for m in mentions:
            c = m.choice
            assert c is not None
            if c.cue:
                continue
            admin = c.admin1 if c.kind != KIND_COUNTRY else -1
            key = (c.cc, admin)
            score[key] += m.weight
            first_pos.setdefault(key, m.start)
            if not c.demonym:
                demonym_only[c.cc] = False
                largest[key] = max(largest[key], (c.exact and not c.alternate, c.pop))
            else:
                demonym_only.setdefault(c.cc, True)
            if c.demonym or c.place in seen_place[key]:
                continue
            if any(p.casefold() == m.surface.casefold() for p in places[key]):
                continue
            seen_place[key].add(c.place)
            places[key].append(m.surface)
        self._attach_unknown_toponyms(doc, mentions, sentences, starts, score, places)
        if all(admin < 0 for _, admin in score):
            # No place named: a party or group rooted in one country or region is the best evidence left
            # ("DMK workers protested ..." is Tamil Nadu). Counted like a demonym, so cues pointing at two
            # countries make no region. Where only countries are named ("clashes between the TNLA and the Burmese
            # army"), only a group rooted in one region of a named country adds something: that region.
            named_countries = {cc for cc, _ in score}
            for m in mentions:
                c = m.choice
                assert c is not None
                if not c.cue or fold(m.surface) in _NO_FALLBACK_CUES:
                    continue
                if named_countries and (c.cc not in named_countries or c.kind == KIND_COUNTRY):
                    continue
                key = (c.cc, c.admin1 if c.kind != KIND_COUNTRY else -1)
                score[key] += m.weight
                first_pos.setdefault(key, m.start)
                demonym_only.setdefault(c.cc, True)

        with_admin = {cc for cc, admin in score if admin >= 0}
        regions: list[tuple[float, int, tuple[bool, int], RegionScore]] = []
        for (cc, admin), value in score.items():
            if admin < 0 and cc in with_admin:
                continue
            if admin < 0 and demonym_only.get(cc, False) and len(score) > 1:
                continue  # "Nigerian troops" in an article about Mali is no Nigerian region
            total = value
            if admin >= 0:
                total += 0.25 * score.get((cc, -1), 0.0)
            rank = total * (1.0 if admin >= 0 else 0.7)
            name = gaz.admin1_name[admin] if admin >= 0 else None
            region = RegionScore(cc, name, tuple(places[(cc, admin)]), total)
            regions.append((rank, -first_pos[(cc, admin)], largest[(cc, admin)], region))
        # Equal evidence in two countries: first the country of a place named by its own name (not "Jinnah" for
        # Jena), then of the larger place ("Maritime workers protest … in Lagos" is Lagos, not Togo's Maritime
        # region); within a country, the region named first ("the countryside of Idlib and Hama").
        country_largest: dict[tuple[float, str], tuple[bool, int]] = defaultdict(lambda: (False, 0))
        for rank, _, named, region in regions:
            country_largest[(rank, region.country_code)] = max(country_largest[(rank, region.country_code)], named)
        regions.sort(key=lambda t: (t[0], country_largest[(t[0], t[3].country_code)], t[1]), reverse=True)
        if heading_country is not None:
            # The heading names the entry's country: its regions come first, the others keep their order.
            regions.sort(key=lambda t: t[3].country_code != heading_country)
        return [r for *_, r in regions[:MAX_REGIONS]]

    def _attach_unknown_toponyms(
        self,
        doc: str,
        mentions: list[Mention],
        sentences: list,
        starts: list[int],
        score: dict[tuple[str, int], float],
        places: dict[tuple[str, int], list[str]],
    ) -> None:
        """Mountains and wadis the gazetteer lacks ("Jabal Asida, south of Qatrun") join the region of the
        place they are located against, or the only region named in their sentence."""
        if not sentences:
            return
        occurrences: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
        spans = [(m.start, m.end) for m in mentions]
        for match in _UNKNOWN_TOPONYM_RE.finditer(doc):
            a, b = match.span()
            if any(s < b and a < e for s, e in spans):
                continue
            core = skeleton(match.group("a") or match.group("b") or "")
            if core:
                occurrences[core].append((match.group(0), a, b))
        if not occurrences:
            return
        mention_starts = [m.start for m in mentions]
        for _core, occ in occurrences.items():
            votes: dict[tuple[str, int], float] = defaultdict(float)
            for _surface, a, b in occ:
                # "X, south of Qatrun": the anchor is the next mention after a relation phrase.
                j = bisect.bisect_left(mention_starts, b)
                if j < len(mentions) and _RELATION_RE.match(doc[b : mentions[j].start]):
                    votes[_region_key(mentions[j])] += 2.0
                    continue
                sent = max(0, bisect.bisect_right(starts, a) - 1)
                keys = {
                    _region_key(m)
                    for m in mentions
                    if m.sentence == sent and m.choice and m.choice.kind != KIND_COUNTRY
                }
                if len(keys) == 1:
                    votes[next(iter(keys))] += 1.0
            if not votes:
                continue
            target = max(votes, key=lambda k: votes[k])
            if target not in score:
                continue
            surface = occ[0][0]
            if all(p.casefold() != surface.casefold() for p in places[target]):
                places[target].append(surface)
            score[target] += 0.5 * len(occ)


def _paren_anchor(mentions: list[Mention], m: Mention) -> Mention | None:
    """The outermost area of an ACLED-style "X (A, B)": for X, A and B, the last of the chain of containers
    when the parentheses hold at least two names ("Solle (Solle, Loroum)" -> Loroum, for both Solles). A single
    name in parentheses may be another name of the place ("Ras al-Ain (Serekaniye)"): no anchor then."""
    chain = [m]
    for _ in range(len(mentions)):  # containers point forward, so the chain ends; the bound is a guard
        nxt = chain[-1].container
        if nxt is None:
            break
        chain.append(mentions[nxt])
    opened = next((i for i, x in enumerate(chain) if x.paren), None)
    if opened is not None:
        inside = len(chain) - 1 - opened  # names after the parenthesis
    elif any(mentions[j].paren for j in m.contained):
        inside = len(chain)  # ``m`` is the first name inside the parentheses
    else:
        return None
    return chain[-1] if inside >= 2 else None


def _locates(doc: str, place: Mention, reference: Mention) -> bool:
    """Whether ``reference`` only says where ``place``, just before it in the same sentence, lies ("Douma near
    Damascus"): ``place`` must be a place read as such in the same country, not a country, a demonym or a group's
    name, and at most two words may stand between it and the relation ("Jaramana suburbs near")."""
    c, r = place.choice, reference.choice
    if c is None or c.cue or c.demonym or c.kind == KIND_COUNTRY or place.sentence != reference.sentence:
        return False
    if r is None or r.cc != c.cc:  # "Badia and Amukoko areas of Lagos": an Italian Badia locates nothing
        return False
    return bool(_REFERENCE_GAP_RE.match(doc[place.end : reference.start]))


def _region_key(m: Mention) -> tuple[str, int]:
    c = m.choice
    assert c is not None
    return c.cc, (c.admin1 if c.kind != KIND_COUNTRY else -1)


def _evidence(
    mentions: list[Mention],
) -> tuple[dict[str, float], dict[int, float], dict[int, tuple[dict[str, float], dict[int, float]]]]:
    """Country and admin-1 evidence of the current choices, in total and per key (so a mention can
    discount its own name: "Tripoli" repeated five times is one piece of evidence, not five)."""
    country: dict[str, float] = defaultdict(float)
    admin: dict[int, float] = defaultdict(float)
    per_key: dict[int, tuple[dict[str, float], dict[int, float]]] = {}
    seen: set[tuple[int, int]] = set()
    for m in mentions:
        c = m.choice
        # A reading that itself needs support (a common word, a tiny namesake) cannot lend any.
        if c is None or c.needs_support:
            continue
        # Each distinct name counts once however often it is repeated.
        if (m.key, c.place) in seen:
            continue
        seen.add((m.key, c.place))
        w = 0.6 if c.demonym else 1.0
        own_c, own_a = per_key.setdefault(m.key, (defaultdict(float), defaultdict(float)))
        # A group that fights in several countries ("JNIM": Mali, Burkina Faso, Niger) is evidence for each.
        ccs = {d.cc for d in m.candidates if d.cue} if c.cue else {c.cc}
        for cc in ccs:
            country[cc] += w
            own_c[cc] += w
        if c.admin1 >= 0 and c.kind != KIND_COUNTRY:
            admin[c.admin1] += w
            own_a[c.admin1] += w
    return country, admin, per_key


def _support(
    c: Candidate, country_ev: dict[str, float], own_c: dict[str, float], inner_ccs: set[str], outer: Candidate | None
) -> float:
    """Evidence for ``c``'s country from the rest of the article (its own name discounted), plus one for a name it
    contains or is contained in: "Tripoli, Lebanon" / "Gwoza (Borno)" support each other."""
    return (
        country_ev.get(c.cc, 0.0)
        - own_c.get(c.cc, 0.0)
        + (c.cc in inner_ccs)
        + (outer is not None and outer.cc == c.cc)
    )


def _heading(doc: str, mentions: list[Mention]) -> Mention | None:
    """The mention that is the text's heading: a country alone in capitals before its first full stop or colon."""
    match = _HEADING_RE.match(doc)
    if match is None:
        return None
    span = match.span("head")
    for m in mentions:
        c = m.choice
        if (m.start, m.end) == span and c is not None and c.kind == KIND_COUNTRY and not c.demonym:
            return m
    return None


def _neighbours(
    m: Mention, mentions: list[Mention], among: set[int] | None = None
) -> tuple[set[str], Candidate | None]:
    """The countries of the names ``m`` contains and the reading of the name that contains it ("Tripoli, Lebanon"),
    counting only mentions whose ``id`` is in ``among`` when it is given."""
    inner_ccs: set[str] = set()
    for j in m.contained:
        inner = mentions[j]
        if inner.choice is not None and (among is None or id(inner) in among):
            inner_ccs.add(inner.choice.cc)
    container = mentions[m.container] if m.container is not None else None
    outer = container.choice if container is not None and (among is None or id(container) in among) else None
    return inner_ccs, outer


def _without_fallen_vouchers(kept: list[Mention], mentions: list[Mention]) -> list[Mention]:
    """``kept`` less the namesakes abroad that only dropped readings had vouched for: "Cabo" (of "Cabo Ligado", a
    Brazilian town) had made a Brazilian "Palma" look supported in a report on Cabo Delgado. Each kept reading is
    checked once more against the evidence of the kept ones alone."""
    country_ev, _, by_key = _evidence(kept)
    kept_ids = {id(m) for m in kept}
    final = []
    for m in kept:
        reading = m.choice
        assert reading is not None
        own_c, _ = by_key.get(m.key, ({}, {}))
        inner_ccs, outer = _neighbours(m, mentions, kept_ids)
        if not _homonym_abroad(reading, _support(reading, country_ev, own_c, inner_ccs, outer), country_ev, own_c):
            final.append(m)
    return final


def _homonym_abroad(c: Candidate, support: float, country_ev: dict[str, float], own_c: dict[str, float]) -> bool:
    """Whether reading ``c`` is most likely a namesake abroad rather than the place the text means."""
    # A town or district in a country nothing else in the article points to, while another country is well
    # attested, is most likely a homonym ("al-Marj" in a Syrian report is not Libya's).
    other = max((v - own_c.get(k, 0.0) for k, v in country_ev.items() if k != c.cc), default=0.0)
    weak = c.kind != KIND_COUNTRY and (c.pop < NAMESAKE_MAX_POP or c.alternate) and support < 0.3
    if weak and other >= 0.6 and other > country_ev.get(c.cc, 0.0):
        return True
    # A spelling variant or another name of a small place abroad ("Modi" for Moody, South Dakota; "Pika" for Pike)
    # while the text names another country outright (a demonym is not enough: "Turkish forces near Jisr
    # al-Shughur"): a person, a gun or a word, not that place.
    if weak and other >= 1.0 and (not c.exact or c.alternate) and c.pop < 100_000:
        return True
    return c.kind == KIND_CITY and not c.exact and c.pop < 5_000 and support < 0.3


def _cue_countries(mentions: list[Mention]) -> set[str]:
    """The countries the article's context cues point to (a group or institution rooted in one country, or a
    Sahel group in its three) and their neighbours; a cue for a group that also fights further abroad ("ISWAP",
    "Hezbollah") points nowhere. Empty when the text has no such cue."""
    ccs: set[str] = set()
    for m in mentions:
        c = m.choice
        if c is None or not c.cue:
            continue
        countries = {d.cc for d in m.candidates if d.cue}
        if fold(m.surface) in _NO_FALLBACK_CUES and len(countries) < 2:
            continue
        ccs |= countries
    return ccs.union(*(data.NEIGHBOURS.get(cc, ()) for cc in ccs))


def _abroad_of_cues(c: Candidate, support: float, cue_ccs: set[str]) -> bool:
    """Whether ``c`` is a small place that nothing in the text supports, in a country that neither the text's
    cues point to nor borders one: "Bajrang Dal members protested ... the Goseva commission" is not Russia's
    Goseva, "Boko Haram attacks Dille" not Ethiopia's."""
    return (
        bool(cue_ccs)
        and c.cc not in cue_ccs
        and not c.cue
        and not c.demonym
        and c.kind != KIND_COUNTRY
        and c.pop < NAMESAKE_MAX_POP
        and support < 0.3
    )


def _containment_bonus(c: Candidate, mentions: list[Mention], m: Mention, idx: int) -> float:
    bonus = 0.0
    if m.container is not None:
        outer = mentions[m.container].choice
        if outer is not None:
            bonus += _contains(outer, c)
    for j in m.contained:
        inner = mentions[j].choice
        if inner is not None:
            bonus += _contains(c, inner)
    return bonus


def _ranks_above(outer: Candidate, inner: Candidate) -> bool:
    """Whether ``outer`` is a level that can contain ``inner`` (country > admin-1 > admin-2 > town)."""
    return _LEVEL[outer.kind] < _LEVEL[inner.kind]


_LEVEL = {KIND_COUNTRY: 0, KIND_ADMIN1: 1, KIND_ADMIN2: 2, KIND_CITY: 3}


def _contains(outer: Candidate, inner: Candidate) -> float:
    if outer.cc != inner.cc or not _ranks_above(outer, inner):
        return 0.0
    if outer.kind == KIND_COUNTRY:
        return 3.0
    if outer.admin1 >= 0 and outer.admin1 == inner.admin1:
        return 3.0
    return 0.0


def _conflicts(outer: Candidate, inner: Candidate) -> bool:
    """True when ``outer`` is a region that should contain ``inner`` but does not."""
    if not _ranks_above(outer, inner):
        return False
    return outer.cc != inner.cc or (outer.kind != KIND_COUNTRY and outer.admin1 != inner.admin1)


def _compose(text: str, title: str | None) -> tuple[str, int]:
    text = text if isinstance(text, str) else ""
    if title and isinstance(title, str) and title.strip():
        head = title.strip()
        return f"{head}\n\n{text}", len(head)
    return text, 0


def _case_informative(doc: str) -> bool:
    """False for ALL-CAPS or all-lower-case text, where capitalisation says nothing about names. A lower-case
    text is known by its sentences, most of which start in lower case: a few capitalised words in it (a trailer
    such as "Facebook Twitter Linkedin Mail") do not make its names capitalised."""
    sample = doc[:20_000]
    letters = sum(map(str.isalpha, sample))
    if letters < 20:
        return any(map(str.isupper, sample))
    upper = sum(map(str.isupper, sample))
    if not 0.005 < upper / letters < 0.6:
        return False
    starts = _SENTENCE_START_RE.findall(sample)
    return len(starts) < 3 or sum(ch.isupper() for ch in starts) >= 0.5 * len(starts)


def _generic_tail(surface: str) -> bool:
    """Whether a name of several words ends in a lower-case "city", "town" or "village" in cased text: the shorter
    name before it is what the text names, with a hint of its kind (alternate names such as "Hyderabad City" would
    otherwise outrank it, being longer). Not "district": "Bara District" and "Parsa District" are GeoNames' names of
    Nepal's districts, and the bare "Bara" and "Parsa" read as towns in India (dev rows lost when tried)."""
    words = surface.split()
    if len(words) < 2 or not words[0][:1].isupper():
        return False
    return words[-1].islower() and words[-1] in data.CITY_WORDS


def _looks_capitalised(surface: str) -> bool:
    head = surface[:1]
    if head.isalpha() and head.isupper() and head not in "Tt":
        return True  # most calls: neither "the …" below nor a lower-case first letter
    if head.islower() and surface.isalpha():
        return False  # one lower-case word ("army", "town"): no rule below can read it as a name
    words = surface.split()
    if len(words) > 1 and words[0].lower() == "the":
        # "The farmers" opening a sentence is no name ("The Farmers" is another name of Weston, Massachusetts);
        # "The Hague" is.
        return words[1][:1].isupper()
    first = next((ch for ch in surface if ch.isalpha()), "")
    if first.isupper():
        return True
    if len(words) > 1 and words[0].lower() in _LOWER_HEADS and words[-1][:1].isupper():
        return True  # "suburbs of Damascus", "countryside of Damascus": a named area led by a common noun
    return bool(_ARTICLE_HEAD_RE.match(surface)) and any(ch.isupper() for ch in surface[:6])


def _strip_article_folded(folded: str) -> str:
    for article in data.ARABIC_ARTICLES:
        if folded.startswith(article) and len(folded) - len(article) >= 3:
            return folded[len(article) :]
    return folded


def _in_person_name(before: str, gaz: Gazetteer) -> bool:
    """True when the name directly follows a capitalised word that is neither a common word nor a
    preposition/direction ("Othman Baraka", "Khaled al-Mahjoub"), or a name particle ("bin Ziyad")."""
    particle = _NAME_PARTICLE_RE.search(before)
    if particle:
        if particle.group(0).strip(" -").lower() in _STRONG_PARTICLES:
            return True
        before = before[: particle.start()]
    match = _PREV_WORD_RE.search(before)
    if match is None:
        return False
    word = match.group(1)
    if word.lower().rstrip(".") in _PERSON_TITLES:
        return True
    if not word[:1].isupper() or word.isupper():
        return False
    if word.endswith(("'s", "’s")):
        return False  # "Libya's Murzuq", "Nigeria's Borno": a possessive, not a first name
    low = fold(word)
    if low in _PLACE_PRECEDERS or low in data.ADMIN1_WORDS:
        return False
    head = before[: match.start()].rstrip()
    if not head or head[-1] in '.!?\n"“:':
        return False  # the previous word starts the sentence: its capital says nothing
    return gaz.zipf(low) < 4.5


def _datelines(head: str) -> list[tuple[int, int]]:
    return [m.span("head") for m in _DATELINE_RE.finditer(head)]
