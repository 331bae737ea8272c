"""Keyword rules for the resurgence signals that no corpus labels (and later, labeling functions).

A rule fires on a sentence when one of its patterns matches. It is transparent, and its evidence is
exactly the sentences that fired. The baseline uses rules only for signals without enough labelled
training data; the product model learns these signals from the team's gold set instead.

The rules are versioned (``RULE_VERSIONS``): a model is calibrated for the rules it was trained with, so it records
their version (``threatscore.heads.RuleSignal.version``) and keeps reading them after newer ones are written.
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
# and the annotation guideline; never tuned on a benchmark's test split. Version 1: the models up to 28 Nov 2026.
_RULES_V1: Final[dict[str, tuple[str, ...]]] = {
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

# What a ground-taking verb may take in version 2's territorial_control (a bare "held" or "captured" took protests and
# persons: "held a protest in the city", "captured a Taliban leader in Maiwand district").
_PLACES: Final = (
    r"(?:towns?|villages?|city|cities|districts?|bases?|territory|territories|areas?|regions?|checkpoints?|"
    r"border crossings?|headquarters|outposts?|military posts?|positions?)"
)

# Version 2 (28 Nov 2026): three signals' rules rewritten for precision, measured on the gold train and dev parts
# (`python -m training.rule_precision`; experiments/RESULTS.md, "Keyword rules, version 2"); the other seven as in
# version 1.
_RULES_V2: Final[dict[str, tuple[str, ...]]] = (
    _RULES_V1
    | {
        "territorial_control": (
            # a ground-taking verb and, within three words, a place ("seized the district headquarters")
            r"\b(?:seiz(?:ed|ing)|captur(?:ed|ing)|overran|overrun|took (?:full |complete )?control of|"
            r"tak(?:en|ing) (?:full |complete )?control of|seize control of|gain(?:ed|ing)? control of|"
            r"(?:are|is|were|was|remain(?:ed|s)?) in control of|(?<!line of )control(?:s|led|ling)?)\s+(?:\S+\s+){0,3}?"
            + _PLACES
            + r"\b",
            _RULES_V1["territorial_control"][1],  # set up bases, camps, checkpoints, courts
            _RULES_V1["territorial_control"][2],  # taxes and levies
            r"\b(?:under (?:the )?control of|controlled by|held by|in the hands of|stronghold of)\s+(?:the\s+)?"
            + _GROUPS,
            # a named group holding or taking ground
            _GROUPS
            + r"\s+(?:\S+\s+){0,3}?(?:(?:took|taken) over|(?:tak(?:e|es|ing|en)|took) (?:full |complete )?control|controls?|"
            r"controlled|occup(?:y|ied|ies|ying))\b",
            _GROUPS
            + r"\s+(?:\S+\s+){0,3}?(?:seized|captured|overran|held|hold|holds)\s+(?:\S+\s+){0,3}?"
            + _PLACES
            + r"\b",
            r"\b(?:is|isis|isil|daesh|rebels?|militants?|insurgents?|jihadists?|taliban|opposition|kurd(?:ish)?|shabaab|"
            r"boko haram|houthis?|maoists?)[- ](?:held|controlled|run)\b",  # "IS-held town", "rebel-held Ghouta"
        ),
        "cross_border": (
            # "crossed the border"; infiltration only from somewhere ("infiltrated state institutions" is not)
            r"\b(?:cross(?:ed|ing)?[- ]border|across the (?:border|frontier)|cross(?:ed|es|ing)? (?:the |a )?(?:border|frontier)|"
            r"cross(?:ed|ing)? (?:over )?(?:from|into)|from (?:a |the )?neighbou?ring countr(?:y|ies)|"
            r"infiltrat(?:ed|ing|ion|ors?) (?:from|into|across|bids?|attempts?)|infiltrators?)\b",
            _RULES_V1["cross_border"][1],
            _RULES_V1["cross_border"][2],
        ),
        "security_vacuum": (
            _RULES_V1["security_vacuum"][0],  # vacuum, lawlessness, chaos, instability
            # no "political division/crisis" (right on 0 of 12 gold train items) or "withdrawal of troops" (2 of 32);
            # a withdrawal that militants follow is the guideline's own example
            _RULES_V1["security_vacuum"][3],  # taking advantage of the chaos
            r"\b(?:after|since|following)\s+(?:the\s+)?(?:\S+\s+){0,2}?(?:troops|forces|army|soldiers|police)\s+"
            r"(?:withdrew|pulled out|left|had withdrawn|were withdrawn)\b",
            r"\b(?:no|absence of|lack of)\s+(?:police|security|state|government)\s+(?:presence|forces)\b|\bungoverned\b|"
            r"\brival governments?\b",
        ),
    }
)

# Version 3 (28 Nov 2026, eighteenth session): regrouping, recruitment and prison_break rewritten for precision the same
# way (`python -m training.rule_precision`; experiments/RESULTS.md, "Keyword rules, version 3"). Their words are
# ordinary English: a comeback, a revival or rebuilding took sport, business and reconstruction ("a resurgent Wales",
# "rebuilding Aceh"); recruiting took teachers, police and army recruits. So both now fire only where the sentence
# also names an armed actor (``_ARMED_ACTORS``, below), and recruiting by the state or an employer is vetoed. A prison
# or jail "attacked" within 80 characters took attacks on prison officers' homes and sentences ("seven years in
# prison for his role in the attack"): the prison must now be what is attacked, or people escape from it.
_PRISONS: Final = r"(?:prisons?|jails?|penitentiar(?:y|ies)|detention (?:centres?|centers?|facilit(?:y|ies)|camps?))"
# "prison" naming the people or things of a prison, not the prison ("prison officers", "a prison van").
_NOT_PRISON_PEOPLE: Final = (
    r"\b(?!\s+(?:officers?|officials?|guards?|staff|wardens?|vans?|authorities|personnel|employees?|sentences?|"
    r"terms?|records?)\b)"
)
_RULES_V3: Final[dict[str, tuple[str, ...]]] = _RULES_V2 | {
    "prison_break": (
        # the prison is what is attacked ("stormed the central prison"; not "attacks on prison officers' homes")
        r"\b(?:attack(?:ed|s|ing)?|storm(?:ed|ing|s)?|raid(?:ed|ing|s)?|assault(?:ed|s)?(?: on)?|target(?:ed|ing)|"
        r"bomb(?:ed|ing)?)\s+(?:on\s+|of\s+)?(?:a\s+|the\s+)?(?:(?!(?:inside|in|at|near|outside|occurred)\s)\S+\s+){0,3}?"
        + _PRISONS
        + _NOT_PRISON_PEOPLE,
        _PRISONS + _NOT_PRISON_PEOPLE + r"\s+(?:\S+\s+){0,4}?(?:was|were|is|has been|had been)\s+(?:\S+\s+)?"
        r"(?:attacked|stormed|raided|assaulted|bombed|overrun)\b",
        # people get out: a jailbreak, inmates escaping or freed in numbers
        r"\b(?:jail ?breaks?|prison ?breaks?|(?:inmates|prisoners|detainees|convicts)\s+(?:\S+\s+){0,2}?"
        r"(?:escaped|fled|broke out|were freed)|escap(?:ed|es|ing|e)\s+(?:\S+\s+){0,2}?from\s+(?:\S+\s+){0,3}?"
        r"(?:prisons?|jails?|custody|penitentiar(?:y|ies)|detention)|escaped (?:prison|jail)|"
        r"(?:freed|freeing|free|releas(?:ed|ing))\s+(?:more than |over |about |at least |some |around |nearly )?"
        r"(?:\d[\d,]*|hundreds|dozens|scores|several|all(?: the)?|its)\s+(?:\S+\s+)?"
        r"(?:inmates|prisoners|detainees))\b",
    ),
}

#: The rules by version: a model reads the version it was trained with (``threatscore.heads.RuleSignal.version``).
RULE_VERSIONS: Final[dict[int, dict[str, tuple[str, ...]]]] = {1: _RULES_V1, 2: _RULES_V2, 3: _RULES_V3, 4: _RULES_V3}
#: The newest version, for new experiments.
LATEST_RULES: Final = 4


def signal_rules(version: int) -> dict[str, tuple[re.Pattern[str], ...]]:
    """The compiled patterns of rules ``version``, one tuple per signal (a ``KeyError`` for an unknown version)."""
    return {s: tuple(re.compile(p, re.IGNORECASE) for p in ps) for s, ps in RULE_VERSIONS[version].items()}


# One alternation per signal: a single search answers "does one of its patterns match somewhere?", exactly as
# searching with each pattern in turn does (a match of the alternation at a position is a match of one of its
# branches there), in 0.63x the time on the sentences of 24 medium articles (13.1 against 20.8 ms; the eleventh-session
# section of benchmarks/results/served-path-changes.md).
_SIGNAL_ANY: Final[dict[int, dict[str, re.Pattern[str]]]] = {
    version: {
        signal: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) for signal, patterns in rules.items()
    }
    for version, rules in RULE_VERSIONS.items()
}

_NEGATED_CLAIM = re.compile(
    r"\b(?:no (?:group|one|organi[sz]ation)|nobody)\b.{0,40}\b(?:claimed|has claimed|took|have claimed)\b|\bnot (?:yet )?(?:been )?claimed\b",
    re.IGNORECASE,
)

# State forces taking or holding ground are counter-terrorism, not a group's territorial control (the guideline's
# exclusion): "the regime forces control a new village", "Syria Democratic Forces control 3 villages". Version 2
# drops a territorial_control hit in a sentence where state forces come up to eight words before such a verb.
_STATE_GAINS = re.compile(
    r"\b(?:regime|government|army|troops|soldiers|security forces|coalition|syrian? democratic forces|sdf|police|"
    r"military|forces)\b(?:\W+\w+){0,8}?\W+(?:seiz\w*|captur\w*|overr[au]n\w*|took|take[ns]?|taking|gain\w*|"
    r"control\w*|hold\w*|held|impos\w*|expand\w*|advanc\w*)\b",
    re.IGNORECASE,
)


# Recruiting by the state or an employer (police and army recruits, a recruitment policy, enlisted men): version 3
# drops a recruitment hit in such a sentence. Version 4 leaves out child soldiers ("the RSF is recruiting child
# soldiers" is a group's recruiting), so the soldiers' alternative is the one part that differs.
def _state_recruiting(soldiers: str) -> re.Pattern[str]:
    return re.compile(
        r"\b(?:police|army|military|armed forces|security forces|paramilitary|government|crpf|bsf|inec|immigration|"
        r"teachers?|doctors?|employees?|company|companies)\b(?:\W+\w+){0,3}?\W+(?:recruit\w*|conscript\w*|enlist\w*)|"
        r"\b(?:recruit\w*|conscript\w*|enlist\w*)\s+(?:\S+\s+){0,4}?(?:police\w*|army|"
        + soldiers
        + r"|personnel|teachers?|doctors?|constables?|spos?|battalions?|guards?|wardens?|pilots?|candidates|employees?|"
        r"inspectors?)\b|\b(?:recruitment|recruiting)\s+(?:polic(?:y|ies)|process|exams?|examinations?|rules?|board|"
        r"scam|exercise|practices?|law|fees?|office|station|sergeant)\b|\benlisted (?:man|men)\b",
        re.IGNORECASE,
    )


_STATE_RECRUITING = _state_recruiting("soldiers")
_STATE_RECRUITING_V4 = _state_recruiting("(?<!child )soldiers")

# A regrouping denied, prevented or only feared is none ("no Naxal resurgence", "preventing a possible regrouping of
# LTTE sympathisers", "we will not allow the guerrillas to regroup"): version 3's regrouping.
_DENIED_REGROUPING = re.compile(
    r"\b(?:no|not|never|prevent\w*|possible|foil\w*|thwart\w*)\b(?:\W+\w+){0,4}?\W+"
    r"(?:regroup\w*|resurg\w*|reorgani[sz]\w*|re-?emerg\w*|reviv\w*|resurrect\w*|comeback)",
    re.IGNORECASE,
)

# A foiled or denied break-out is none (version 3's prison_break).
_FOILED_BREAK = re.compile(
    r"\b(?:foil(?:ed|s)?|thwart(?:ed|s)?|avert(?:ed|s)?|denied|prevent(?:ed|s)?)\b.{0,40}"
    r"\b(?:jail ?break|prison ?break|escape)",
    re.IGNORECASE,
)

# Each version's vetoes are the previous version's with its own added or replaced.
_VETOES_V1: Final = {"claimed_responsibility": _NEGATED_CLAIM}
_VETOES_V2: Final = _VETOES_V1 | {"territorial_control": _STATE_GAINS}
_VETOES_V3: Final = _VETOES_V2 | {
    "regrouping": _DENIED_REGROUPING,
    "recruitment": _STATE_RECRUITING,
    "prison_break": _FOILED_BREAK,
}
#: Per version, the sentences on which a signal's rule does not fire even where a pattern matches.
_VETOES: Final[dict[int, dict[str, re.Pattern[str]]]] = {
    1: _VETOES_V1,
    2: _VETOES_V2,
    3: _VETOES_V3,
    4: _VETOES_V3 | {"recruitment": _STATE_RECRUITING_V4},
}

# Armed actors in the guideline's wide sense (insurgents, militias, gangs, cartels, their cells and operatives; "the
# group" a sentence goes on about). Version 3's regrouping and recruitment fire only in a sentence that names one.
# Acronyms that are also English words (IS, IM, LeT, ETA, IRA) count only in capitals.
_ARMED_ACTORS = re.compile(
    _GROUPS
    + r"|\b(?:gangs?|gangsters?|cartels?|mafias?|outfits?|guerrill?as?|militan(?:cy|t)|insurgency|terror(?:ism|ist)?s?|"
    r"separatists?|jihad(?:i|is|ist|ists)?|mujahid(?:ee|i)n|caliphate|cadres?|operatives?|modules?|sleeper|"
    r"armed (?:groups?|men|wing)|self-defen[cs]e groups?|traffickers|narco\w*|hezbollah|hizb\w*|hamas|houthis?|"
    r"lashkar\w*|jaish\w*|farc|ltte|pkk|ulfa|nscn|simi|ndfb|gnla|hnlc|jmb|aqis|ansar\w*|shabaab|"
    r"(?:the|this|that|its|new|banned|militant|armed|rebel|criminal|terror|jihadi|extremist|insurgent|separatist)\s+"
    r"(?:groups?|outfits?|organi[sz]ations?|networks?|movements?|factions?|wings?))\b"
    r"|(?-i:\b(?:IS|IM|LeT|JeM|ELN|ETA|IRA|ISGS|MS-?13)\b)",
    re.IGNORECASE,
)

# Version 4 (28 Nov 2026, eighteenth session): version 3's list knew the armed actors of the gold set's regions, not
# those of every region the product reads. Written from the actor names of ACLED's other theatres, not from gold
# items: Nigeria's and the Sahel's bandits, the Wagner group (and any "<Name> group"), Sudan's RSF and Janjaweed,
# Congo's ADF, M23 and Mai-Mai, the Central African Séléka and anti-balaka, the Philippines' NPA, BIFF and Abu Sayyaf,
# Ethiopia's Fano, OLA and TPLF, Syria's YPG, the Islamic State's provinces (ISKP, ISCAP), death squads.
ARMED_ACTORS_V4 = re.compile(
    _ARMED_ACTORS.pattern
    + r"|\b(?:bandits?|banditry|wagner|mai-?mai|janjaweed|anti-?balaka|s[eé]l[eé]ka|abu sayyaf|fano|death squads?)\b"
    r"|(?-i:\b(?:RSF|ADF|M23|NPA|BIFF|OLA|TPLF|YPG|ISKP|IS-K|ISCAP|CODECO)\b|\b[A-Z][\w'’-]+ group\b)",
    re.IGNORECASE,
)

#: Per version, what a sentence must also name for a signal's rule to fire there.
_REQUIRES: Final[dict[int, dict[str, re.Pattern[str]]]] = {
    1: {},
    2: {},
    3: {"regrouping": _ARMED_ACTORS, "recruitment": _ARMED_ACTORS},
    4: {"regrouping": ARMED_ACTORS_V4, "recruitment": ARMED_ACTORS_V4},
}


#: (signal, sentence) answers ``rule_fires`` remembers.
RULE_CACHE_SIZE: Final = 1 << 16


# The scorer asks about each sentence up to six times per call: in its chunk (the encoder's rule blend), in the
# whole article (the TF-IDF heads' rules), and for the evidence shortlist and the quotes (both rule sets each time).
# The answer depends on the two strings and the version only (the patterns are constants), so it is computed once:
# the rules had taken 95 ms of a 1 s call on 24 medium articles, most of it asking again
# (benchmarks/results/served-path-changes.md, 27 Nov, ninth session). 64k answers take about 12 MB (10 MB of entries, measured with tracemalloc, and the
# sentences they keep) and hold the eight rule signals of about 250 medium or 40 long articles; beyond that the
# oldest are forgotten.
@functools.lru_cache(maxsize=RULE_CACHE_SIZE)
def rule_fires(signal: str, sentence: str, version: int) -> bool:
    """True when one of ``signal``'s patterns of rules ``version`` matches ``sentence``, no veto of that version does
    (a negated claim; from version 2, state forces taking ground; from version 3, recruiting by the state, a denied
    regrouping and a foiled break-out) and the sentence names what the version requires (from version 3, an armed
    actor for regrouping and recruitment; version 4 knows more of them). Memoised."""
    veto = _VETOES[version].get(signal)
    if veto is not None and veto.search(sentence):
        return False
    required = _REQUIRES[version].get(signal)
    if required is not None and not required.search(sentence):
        return False
    pattern = _SIGNAL_ANY[version].get(signal)
    return pattern is not None and pattern.search(sentence) is not None
