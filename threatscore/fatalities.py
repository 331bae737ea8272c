"""Fatality counts read from the text: a rule, because counting is what rules do honestly.

``fatalities`` in an assessment is the number the text supports: the sum of the distinct death counts
it reports ("killing 4 army men ... killed 23 terrorists" → 27). A count repeated later in the article
("the operation resulted in the killing of 23 ISIS militants") is the same count, not a new one.
Wounded/injured counts are never fatalities.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from threatscore.text import Span

_UNITS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "dozen": 12,
    "dozens": 24,
    "scores": 40,
    "hundreds": 200,
}
# "11 goats were killed" (but "Two cattle thieves were killed" are people).
_ANIMALS_RE = re.compile(
    r"\b(?:goats?|cattle|cows?|sheep|camels?|animals?|livestock|dogs?|donkeys?|horses?)\s+"
    r"(?:were|was|have|had|are|killed|dead|died|slain)\b",
    re.IGNORECASE,
)
_A_FEW = {"a dozen": 12, "half a dozen": 6, "a hundred": 100, "an hundred": 100, "half a hundred": 50}
_NUMBER = (
    r"(?:(?:half\s+)?an?\s+(?:dozen|hundred)\b|\d{1,3}(?:,\d{3})+|\d+|(?:"
    + "|".join(sorted((k for k in _UNITS if k not in {"a", "an"}), key=len, reverse=True))
    + r")(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)"
)
# "Two years after the attack that killed 300": a span of time is no death count.
_NOT_TIME = r"(?!(?:years?|months?|weeks?|days?|hours?|minutes?|decades?|percent)\b)"
# Words that may stand between a number and the death word: "4 army men", "23 ISIS militants".
# A word may hold dots ("U.S.", "No.1") but not end a sentence: "robbed 2 motorbikes. The victim died" is one death.
_FILLER = r"(?:(?:(?:[A-Z]\.)+|[\w'’-]+(?:\.[\w'’-]+)*)\s+){0,5}?"
_DEATH_AFTER = r"(?:were|was|have been|had been|are|been)?\s*(?:killed|dead|died|die|slain|lost their lives|perished|executed|beheaded|massacred|murdered|shot dead|bodies|(?:shot|stabbed|beaten|hacked|burned|burnt|stoned|lynched|bludgeoned|chopped|tortured|crushed)\s+to\s+death)"
# "at least 23", "more than 1,200": a qualifier before a count.
_QUALIFIER = r"(?:(?:at least|some|about|around|nearly|more than|over|up to)\s+)?"
_PATTERNS = [
    # "killing 4 army men", "killed at least 23 terrorists", "the killing of 23 ISIS militants"
    re.compile(
        r"\b(?:killing|killed|kill|kills|left|leaving|claimed the lives of|death of|deaths of|killing of)\s+"
        + _QUALIFIER
        + r"("
        + _NUMBER
        + r")\b(?!\s*(?:%|percent|years?|months?|days?|hours?|km|kilomet))",
        re.IGNORECASE,
    ),
    # "23 militants were killed", "four dead", "12 people died"
    re.compile(r"\b(" + _NUMBER + r")\s+" + _NOT_TIME + _FILLER + _DEATH_AFTER + r"\b", re.IGNORECASE),
    # "one confirmed death", "one police death", "Ten deaths were reported"
    re.compile(
        r"\b(" + _NUMBER + r")\s+(?:\w+\s+)?deaths?\b(?!\s+(?:of|threats?|penalty|sentences?|toll))",
        re.IGNORECASE,
    ),
    # "death toll rose to 30", "toll of 15"
    re.compile(
        r"\b(?:death toll|toll|fatalities|deaths)\s+(?:\w+\s+){0,5}?(?:to|of|at|reached|stands at|is)\s+("
        + _NUMBER
        + r")\b",
        re.IGNORECASE,
    ),
]
# Counts followed by these words (before any death word) are injuries, arrests or something else, not deaths:
# "5 injured", but not "12 soldiers dead and 20 wounded".
_NOT_DEATH = re.compile(
    r"^\W*(?:(?!(?:dead|killed|died)\b)\w+\s+){0,4}?"
    r"(?:wounded|injured|hurt|arrested|captured|detained|abducted|kidnapped)\b"
    # "20 people were killed and injured": dead and wounded together, no death count.
    r"|^\W*(?:\w+\s+){0,4}?(?:killed|dead)\s+(?:and|or|&)\s+(?:wounded|injured|hurt)\b",
    re.IGNORECASE,
)
_LEFT_NEEDS_DEATH = re.compile(r"^\W*(?:\w+\s+){0,4}?(?:dead|killed)\b", re.IGNORECASE)


# Enumerations of the dead: "killing one soldier, six Koglweogo and two civilians", "One soldier and eight
# militants were killed", "shot dead a policeman and an accompanying civilian". An item is a count and at most four
# more words; "a"/"an" counts as one only before a person ("killed a civilian", not "killed a number of").
_ITEM_RE = re.compile(
    _QUALIFIER + r"[\"“‘']?(?P<n>" + _NUMBER + r"|an?)\b[\"”’']?"
    r"(?P<words>(?:\s+(?!(?:and|were|was|have|had|are|is|died|dead|perished|lost|in|at|on|near|during|when|after|"
    r"while|by|including|from|with|who)\b)[\w'’()./-]+){0,4})",
    re.IGNORECASE,
)
_SEPARATOR_RE = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+", re.IGNORECASE)
_KILL_VERB_RE = re.compile(
    r"\b(?:killing|killed|kills|kill|shot dead|shot and killed|gunned down|beheaded|beheading|executed|executing|"
    r"murdered|massacred|lynched)\s+",
    re.IGNORECASE,
)
_DIED_RE = re.compile(
    r"\s+(?:(?:were|was|have been|had been|are)\s+(?:all\s+)?(?:killed|shot dead|slain|beheaded|executed|murdered"
    r"|(?:\w+\s+)?(?:stabbed|beaten|hacked|burned|burnt|stoned|lynched|bludgeoned|chopped|tortured|crushed)\s+to\s+death)"
    r"|died|dead|perished|lost their lives)\b(?!\s+(?:and|or|&)\s+(?:wounded|injured|hurt)\b)",
    re.IGNORECASE,
)
_INJURED_AFTER_RE = re.compile(
    r"\s+(?:were|was|are|have been|had been)\s+(?:\w+\s+)?(?:wounded|injured|hurt|arrested|abducted|kidnapped)\b",
    re.IGNORECASE,
)
_CLAUSE_MARKS = ".;:!?\n"  # an enumeration closed by a death verb is read back to the last of these
_PERSON_SINGULAR = frozenset(
    """civilian soldier policeman policewoman officer militant fighter rebel insurgent terrorist jihadist man woman
    child boy girl villager worshipper student pupil teacher farmer herder trader passenger miner worker member
    jawan cadre protester protestor demonstrator pilgrim tourist resident guard gunman attacker bandit hostage
    relative gendarme commander leader bomber official employee journalist priest doctor nurse infant baby person
    individual victim recruit militiaman combatant volunteer driver shopkeeper businessman chief elder imam
    informer informant servant""".split()
)
_NOT_PEOPLE = frozenset(
    "wounded injured hurt arrested captured detained abducted kidnapped houses homes vehicles cattle years months "
    "days hours weeks percent".split()
)


def _item_count(match: re.Match[str]) -> int | None:
    """The number of people an enumeration item counts, or None when it counts no people."""
    words = [w.strip("().'’").lower() for w in match.group("words").split()]
    if any(w in _NOT_PEOPLE for w in words) or words[:2] in (["of", "them"], ["of", "whom"]):
        return None  # "10 people, two of them children": a part of the count before, not more dead
    token = match.group("n").lower()
    if token in {"a", "an"}:
        return 1 if words and words[-1] in _PERSON_SINGULAR else None
    return parse_number(token)


def _enumeration_after(text: str, pos: int) -> tuple[list[tuple[int, bool]], int, int]:
    """The items a kill verb at ``pos`` governs: ([(count, is_article)], start, end)."""
    items: list[tuple[int, bool]] = []
    start = end = pos
    while (match := _ITEM_RE.match(text, pos)) is not None and (value := _item_count(match)) is not None:
        if _INJURED_AFTER_RE.match(text, match.end()):
            break  # "killed 3 soldiers and 5 civilians were wounded"
        items.append((value, match.group("n").lower() in {"a", "an"}))
        end = match.end()
        separator = _SEPARATOR_RE.match(text, end)
        if separator is None:
            break
        pos = separator.end()
    return items, start, end


def _enumeration_before(text: str, pos: int) -> tuple[list[tuple[int, bool]], bool, int]:
    """The items a death verb at ``pos`` closes, read back to the start of the clause: ([(count, is_article)],
    whether an "including ..." aside was passed, start)."""
    offset = max(max(text.rfind(mark, 0, pos) for mark in _CLAUSE_MARKS) + 1, pos - 300)
    while offset < pos and text[offset].isspace():
        offset += 1
    segment_ends = [offset] + [m for sep in _SEPARATOR_RE.finditer(text, offset, pos) for m in (sep.start(), sep.end())]
    segment_ends.append(pos)
    segments = [(segment_ends[i], segment_ends[i + 1]) for i in range(0, len(segment_ends) - 1, 2)]
    items: list[tuple[int, bool]] = []
    aside = False
    start = pos
    for a, b in reversed(segments):
        piece = text[a:b]
        if not piece.strip():
            continue  # the comma that closes an aside: "Seven people, including four children, were killed"
        if piece.lower().startswith("including ") and not items:
            aside, start = True, a
            continue
        match = _ITEM_RE.fullmatch(piece)
        if match is None or (value := _item_count(match)) is None:
            break
        items.append((value, match.group("n").lower() in {"a", "an"}))
        start = a
    return items, aside, start


def _enumerations(text: str) -> list[tuple[int, int, int]]:
    """(total, start, end) of each enumeration of the dead that single counts miss: two or more items, one
    "a"/"an" person, or a count with an "including ..." aside ("Seven people, including four children, died")."""
    found: list[tuple[int, int, int]] = []
    for verb in _KILL_VERB_RE.finditer(text):
        items, start, end = _enumeration_after(text, verb.end())
        # One number after "killed"/"killing" is the single-count patterns' job; after "beheaded" it is ours.
        single = len(items) == 1 and (items[0][1] or not verb.group(0).lower().startswith("kill"))
        if len(items) >= 2 or single:
            found.append((sum(v for v, _ in items), start, end))
    for died in _DIED_RE.finditer(text):
        items, aside, start = _enumeration_before(text, died.start())
        if len(items) >= 2 or (len(items) == 1 and (items[0][1] or aside)):
            found.append((sum(v for v, _ in items), start, died.end()))
    return found


@dataclass(frozen=True, slots=True)
class FatalityMention:
    """One reported death count and where the text says it."""

    count: int
    span: Span


def parse_number(token: str) -> int | None:
    """Parse "23", "1,200", "four", "twenty-three" or "dozens" into an int; None if it is not a number."""
    token = " ".join(token.strip().lower().split())
    if token in _A_FEW:
        return _A_FEW[token]
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+|\d+", token):
        return int(token.replace(",", ""))
    parts = re.split(r"[- ]", token)
    if not parts or any(p not in _UNITS for p in parts):
        return None
    return sum(_UNITS[p] for p in parts)


#: The patterns that start with the number: tried only where a number starts, not at every word (the number
#: alternation is long; tried everywhere, these two took most of the rule's time on a long article).
_NUMBER_FIRST = frozenset({1, 2})
_WORD_RE = re.compile(r"[^\W_]+")
_NUMBER_WORDS = frozenset(k for k in _UNITS if k not in {"a", "an"}) | {"half"}


def _number_starts(text: str) -> list[int]:
    """Where a word that may begin a count starts: a digit, a number word, or "a"/"an" before dozen/hundred."""
    starts = []
    for word in _WORD_RE.finditer(text):
        token = word.group()
        low = token.lower()
        following = text[word.end() : word.end() + 10].lstrip().lower()
        article = low in {"a", "an"} and following.startswith(("dozen", "hundred"))
        if token[0].isdigit() or low in _NUMBER_WORDS or article:
            starts.append(word.start())
    return starts


def _number_first(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for a pattern that starts with the number: matches tried at ``starts`` only, and,
    like finditer, none that begins inside the previous match."""
    end = 0
    for pos in starts:
        if pos < end:
            continue
        match = pattern.match(text, pos)
        if match is not None:
            end = match.end()
            yield match


def find_fatalities(text: str) -> list[FatalityMention]:
    """Every death count the text reports, in order of appearance (one per number, overlaps removed)."""
    found: dict[int, FatalityMention] = {}
    covered: list[tuple[int, int]] = []
    for total, start, end in _enumerations(text):
        if total and total <= 100_000 and not any(a <= start < b for a, b in covered):
            found[start] = FatalityMention(total, Span(start, end))
            covered.append((start, end))
    starts = _number_starts(text)
    for pattern_index, pattern in enumerate(_PATTERNS):
        for match in _number_first(pattern, text, starts) if pattern_index in _NUMBER_FIRST else pattern.finditer(text):
            count = parse_number(match.group(1))
            if count is None or count > 100_000:
                continue
            after = text[match.end(1) : match.end(1) + 60]
            if _NOT_DEATH.match(after) and not match.group(0).lower().startswith(("killing", "killed", "kill")):
                continue
            lead = match.group(0).lower()
            if _ANIMALS_RE.search(lead):
                continue
            if pattern_index == 0 and lead.startswith(("left", "leaving")) and not _LEFT_NEEDS_DEATH.match(after):
                continue  # "leaving 5 injured" is not a death count
            start = match.start(1)
            if any(a <= start < b for a, b in covered):
                continue  # one item of an enumeration already counted whole
            if start not in found:
                found[start] = FatalityMention(count, Span(match.start(), match.end()))
    return [found[k] for k in sorted(found)]


def total_fatalities(text: str) -> int | None:
    """The number of deaths the text supports: the sum of its distinct reported counts, or None if it reports none.

    Distinct, because news repeats a count ("killed 23 ... the killing of 23 ISIS militants") far more often
    than it reports two separate events with exactly the same toll.
    """
    mentions = find_fatalities(text)
    if not mentions:
        return None
    return sum({m.count for m in mentions})
