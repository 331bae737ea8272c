"""Fatality counts read from the text: a rule, because counting is what rules do honestly.

``fatalities`` in an assessment is the number the text supports: the sum of the distinct death counts
it reports ("killing 4 army men ... killed 23 terrorists" → 27). A count repeated later in the article
("the operation resulted in the killing of 23 ISIS militants") is the same count, not a new one.
Wounded/injured counts are never fatalities.
"""

from __future__ import annotations

import re
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
_NUMBER = (
    r"(?:\d{1,3}(?:,\d{3})+|\d+|(?:"
    + "|".join(sorted((k for k in _UNITS if k not in {"a", "an"}), key=len, reverse=True))
    + r")(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)"
)
# Words that may stand between a number and the death word: "4 army men", "23 ISIS militants".
_FILLER = r"(?:[\w'’.-]+\s+){0,5}?"
_DEATH_AFTER = r"(?:were|was|have been|had been|are|been)?\s*(?:killed|dead|died|die|slain|lost their lives|perished|executed|beheaded|massacred|murdered|shot dead|bodies)"
_PATTERNS = [
    # "killing 4 army men", "killed at least 23 terrorists", "the killing of 23 ISIS militants"
    re.compile(
        r"\b(?:killing|killed|kill|kills|left|leaving|claimed the lives of|death of|deaths of|killing of)\s+"
        r"(?:at least\s+|some\s+|about\s+|around\s+|nearly\s+|more than\s+|over\s+|up to\s+)?("
        + _NUMBER
        + r")\b(?!\s*(?:%|percent|years?|months?|days?|hours?|km|kilomet))",
        re.IGNORECASE,
    ),
    # "23 militants were killed", "four dead", "12 people died"
    re.compile(r"\b(" + _NUMBER + r")\s+" + _FILLER + _DEATH_AFTER + r"\b", re.IGNORECASE),
    # "death toll rose to 30", "toll of 15"
    re.compile(
        r"\b(?:death toll|toll|fatalities|deaths)\s+(?:\w+\s+){0,3}?(?:to|of|at|reached|stands at|is)\s+("
        + _NUMBER
        + r")\b",
        re.IGNORECASE,
    ),
]
# Counts followed by these words are injuries, arrests or something else, not deaths.
_NOT_DEATH = re.compile(
    r"^\W*(?:\w+\s+){0,4}?(?:wounded|injured|hurt|arrested|captured|detained|abducted|kidnapped)\b", re.IGNORECASE
)
_LEFT_NEEDS_DEATH = re.compile(r"^\W*(?:\w+\s+){0,4}?(?:dead|killed)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FatalityMention:
    """One reported death count and where the text says it."""

    count: int
    span: Span


def parse_number(token: str) -> int | None:
    """Parse "23", "1,200", "four", "twenty-three" or "dozens" into an int; None if it is not a number."""
    token = token.strip().lower()
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+|\d+", token):
        return int(token.replace(",", ""))
    parts = re.split(r"[- ]", token)
    if not parts or any(p not in _UNITS for p in parts):
        return None
    return sum(_UNITS[p] for p in parts)


def find_fatalities(text: str) -> list[FatalityMention]:
    """Every death count the text reports, in order of appearance (one per number, overlaps removed)."""
    found: dict[int, FatalityMention] = {}
    for pattern_index, pattern in enumerate(_PATTERNS):
        for match in pattern.finditer(text):
            count = parse_number(match.group(1))
            if count is None or count > 100_000:
                continue
            after = text[match.end(1) : match.end(1) + 60]
            if _NOT_DEATH.match(after) and not match.group(0).lower().startswith(("killing", "killed", "kill")):
                continue
            lead = match.group(0).lower()
            if pattern_index == 0 and lead.startswith(("left", "leaving")) and not _LEFT_NEEDS_DEATH.match(after):
                continue  # "leaving 5 injured" is not a death count
            start = match.start(1)
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
