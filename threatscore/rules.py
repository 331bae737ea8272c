"""Keyword rules for the resurgence signals that no corpus labels (and later, labeling functions).

A rule fires on a sentence when one of its patterns matches. It is transparent, and its evidence is
exactly the sentences that fired. The baseline uses rules only for signals without enough labelled
training data; the product model learns these signals from the team's gold set instead.
"""

from __future__ import annotations

import functools
import re
from typing import Final

# Non-state armed actors, generic and by name (the names news uses most for the groups we track).
_GROUPS: Final = (
    r"\b(?:militants?|insurgents?|jihadists?|terrorists?|gunmen|rebels?|extremists?|fighters|isis|isil|daesh|"
    r"islamic state|al[- ]shabaa?b|boko haram|iswap|jnim|taliban|al[- ]qaeda|aqim|ttp|maoists?|naxal(?:ite)?s?|"
    r"hts|militia(?:s|men)?)\b"
)

# Patterns are case-insensitive and matched on a single sentence. Written from DESIGN.md's definitions
# and the annotation guideline; never tuned on a benchmark's test split.
_SIGNAL_PATTERNS: Final[dict[str, tuple[str, ...]]] = {
    "militant_attack": (
        _GROUPS
        + r".{0,80}\b(?:attack(?:ed|s)?|ambush(?:ed)?|stormed|targeted|kidnapp?ed|abducted|bomb(?:ed|ing)?|killed|raided|assassinated)",
        r"\b(?:attack(?:ed|s)?|ambush(?:ed)?|targeted|stormed)\b.{0,80}\b(?:by|of)\s+(?:the\s+)?(?:militants?|insurgents?|terrorists?|gunmen|isis|islamic state|al[- ]shabaa?b|boko haram|taliban|al[- ]qaeda)",
        r"\b(?:suicide (?:bomb(?:er|ing)?|attack)|car bomb|ied|improvised explosive|roadside bomb|explosive device)\b",
    ),
    "claimed_responsibility": (
        r"\bclaim(?:ed|s|ing)?\s+(?:the\s+)?responsibility\b",
        r"\bresponsibility\s+(?:for|of)\b.{0,60}\b(?:claimed|was claimed)\b",
        r"\b(?:claimed|claims)\s+(?:the\s+)?(?:attack|bombing|killing|assault|kidnapping)\b",
        r"\b(?:blamed|attributed)\s+(?:the\s+)?(?:attack|bombing|killing|assault)\s+(?:on|to)\b",
    ),
    "territorial_control": (
        r"\b(?:seized|captured|overran|overrun|took control of|taken control of|seize control|controls?|holding|held)\b.{0,60}\b(?:town|village|city|district|base|territory|area|region|checkpoint|border crossing)s?\b",
        r"\b(?:set up|established|setting up)\b.{0,40}\b(?:base|camp|headquarters|checkpoints?|court|administration)\b",
        r"\b(?:impos(?:ed|ing)|collect(?:ed|ing))\b.{0,30}\b(?:taxe?s|zakat|levies)\b",
    ),
    "regrouping": (
        r"\b(?:regroup(?:ed|ing|s)?|reorganiz(?:e|ed|es|ing)|reorganis(?:e|ed|es|ing)|rebuil(?:d|t|ding)|resurgen(?:ce|t)|comeback|re-?emerg(?:e|ed|ing|ence)|revival|resurrect(?:ed|ion)?)\b",
        r"\b(?:new|sleeper)\s+cells?\b",
        r"\b(?:new (?:leader|commander|emir)|appointed (?:a )?(?:new )?(?:leader|emir|commander)|pledged allegiance|merged? with)\b",
        r"\b(?:preparing the ground for a return|return of (?:terrorism|the group|isis|militants))\b",
    ),
    "recruitment": (
        r"\b(?:recruit(?:ed|ing|s|ment|ers?)?|enlist(?:ed|ing)?|conscript(?:ed|ing)?)\b",
        r"\b(?:attract(?:ed|ing|s)?|lur(?:e|ed|ing))\s+(?:new\s+|young\s+|foreign\s+)?(?:fighters|members|youths?|recruits|militants)\b",
        r"\bforeign fighters\b|\bchild soldiers?\b",
    ),
    "prison_break": (
        r"\b(?:prison|jail|detention (?:centre|center|facility|camp)|penitentiary)\b.{0,80}\b(?:attack(?:ed)?|stormed|break|broke|escape[ds]?|freed|raid(?:ed)?|targeted)\b",
        r"\b(?:attack(?:ed)?|stormed|raid(?:ed)?|targeting|targeted|assault on)\b.{0,60}\b(?:prison|jail|detention (?:centre|center|facility|camp))\b",
        r"\b(?:jailbreak|prison break|inmates escaped|prisoners escaped|escaped (?:from )?(?:prison|jail))\b",
    ),
    "cross_border": (
        r"\b(?:cross(?:ed|ing)?[- ]border|across the border|from neighbou?ring|infiltrat(?:ed|ing|ion))\b",
        r"\b(?:smuggl(?:ed|ing)|trafficking)\b.{0,40}\b(?:weapons|arms|fighters|militants|explosives)\b",
        r"\b(?:coordinat(?:ion|ing|ed)|links?|ties|affiliate[ds]?|branch|province)\b.{0,80}\b(?:west africa province|iswap|islamic state (?:in|of) |al[- ]qaeda in |aqim|sahel|abroad|neighbou?ring countr)",
    ),
    "security_vacuum": (
        r"\b(?:security vacuum|power vacuum|lawless(?:ness)?|chaos|instability|lack of (?:stability|security)|absence of (?:the )?(?:state|security))\b",
        r"\b(?:political (?:division|divisions|crisis|deadlock|infighting)|divided government|rival governments?)\b",
        r"\b(?:withdraw(?:al|n|ing)?|pull(?:ed|ing)? out)\b.{0,40}\b(?:troops|forces|soldiers)\b",
        r"\b(?:taking advantage of|exploit(?:ed|ing|s)?)\b.{0,40}\b(?:chaos|vacuum|division|instability|unrest|weakness)\b",
    ),
    "counter_terrorism": (
        r"\b(?:army|military|troops|soldiers|security forces|police|forces)\b.{0,80}\b(?:operation|offensive|raid(?:ed)?|clear(?:ed|ing)?|arrest(?:ed)?|detain(?:ed)?|neutrali[sz]ed|killed|strikes?|airstrikes?)\b",
        r"\b(?:counter[- ]?terrorism|counter[- ]?insurgency|military operation|security operation|clearing operation|crackdown)\b",
        r"\b(?:air ?strikes?|drone strikes?)\b.{0,60}\b(?:militants?|insurgents?|terrorists?|isis|al[- ]shabaa?b|boko haram|taliban)\b",
    ),
    "mass_casualty": (
        r"\b(?:massacre|mass casualty|dozens (?:of people )?(?:were )?killed|scores (?:were )?killed|hundreds (?:were )?killed)\b",
    ),
}

#: Compiled patterns, one tuple per signal.
SIGNAL_RULES: Final[dict[str, tuple[re.Pattern[str], ...]]] = {
    signal: tuple(re.compile(p, re.IGNORECASE) for p in patterns) for signal, patterns in _SIGNAL_PATTERNS.items()
}

# One alternation per signal: a single search answers "does one of its patterns match somewhere?", exactly as
# searching with each pattern in turn does (a match of the alternation at a position is a match of one of its
# branches there), in 0.63x the time on the sentences of 24 medium articles (13.1 against 20.8 ms; the eleventh-session
# section of benchmarks/results/served-path-changes.md).
_SIGNAL_ANY: Final[dict[str, re.Pattern[str]]] = {
    signal: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    for signal, patterns in _SIGNAL_PATTERNS.items()
}

_NEGATED_CLAIM = re.compile(
    r"\b(?:no (?:group|one|organi[sz]ation)|nobody)\b.{0,40}\b(?:claimed|has claimed|took|have claimed)\b|\bnot (?:yet )?(?:been )?claimed\b",
    re.IGNORECASE,
)


#: (signal, sentence) answers ``rule_fires`` remembers.
RULE_CACHE_SIZE: Final = 1 << 16


# The scorer asks about each sentence up to six times per call: in its chunk (the encoder's rule blend), in the
# whole article (the TF-IDF heads' rules), and for the evidence shortlist and the quotes (both rule sets each time).
# The answer depends on the two strings only (the patterns are constants), so it is computed once: the rules had
# taken 95 ms of a 1 s call on 24 medium articles, most of it asking again (benchmarks/results/served-path-changes.md,
# 27 Nov, ninth session). 64k answers take about 12 MB (10 MB of entries, measured with tracemalloc, and the
# sentences they keep) and hold the eight rule signals of about 250 medium or 40 long articles; beyond that the
# oldest are forgotten.
@functools.lru_cache(maxsize=RULE_CACHE_SIZE)
def rule_fires(signal: str, sentence: str) -> bool:
    """True when one of ``signal``'s patterns matches ``sentence`` (and it is not a negated claim). Memoised."""
    if signal == "claimed_responsibility" and _NEGATED_CLAIM.search(sentence):
        return False
    pattern = _SIGNAL_ANY.get(signal)
    return pattern is not None and pattern.search(sentence) is not None
