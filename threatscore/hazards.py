"""Harm from natural hazards and accidents, told apart from political violence.

The relevance head learned "conflict or politics" from its corpora, none of which holds a flood or a bus crash: it
reads "Floods ... have killed at least 40 people" as 0.99 relevant (and the death count makes it severe). DESIGN.md
defines relevance as reporting political violence, armed-group activity or the response to it. So a model may cap
the relevance of an article that reports harm from a hazard or an accident and names no violence, no armed actor,
no protest and no politics at all (``threatscore.scorer.ScorerConfig.hazard_relevance_cap``).

The test is deliberately one-sided: any word of violence, protest or politics anywhere in the article leaves its
relevance to the model ("floods displaced thousands as militants attacked ..." is not capped, nor is "the minister
announced flood relief", which the BBC benchmark counts as politics).

The words are versioned like the keyword rules (a model records the version it was calibrated with,
``ScorerConfig.hazard_rules_version``). Version 1 (models of 28 Nov 2026, versions 5 and 6): police, soldiers or a
government named anywhere left the article to the model, so "a bus plunged into a gorge, killing 22, police said" and
"army helicopters rescued villagers stranded by floods" still read as relevant (and as militant attacks). Version 2:
security forces and "government" / "president" no longer count (they are the rescuers and the sources of disaster
news; "minister", parliament, elections and parties still do), a deliberate or intentional act, a fire that was set,
a landmine or people taking to the streets do, and vehicle accidents ("plunged", "overturned", "collided") and
accidental fires ("a fire at a garment factory", "fire broke out") are hazards. Version 3 (28 Nov 2026, evening):
what version 2 still left to the model in reports written for the check: a ferry that sank, a named storm
("Storm Daniel") and burst dams, a mine or a wall that collapsed, a plane that crashed, epidemics; and accidental
explosions ("a gas cylinder explosion", "an explosion at a chemical plant"), whose explosion no longer counts as
violence — any other word of violence in the article still does.
"""

from __future__ import annotations

import re
from typing import Final

from threatscore.rules import ARMED_ACTORS_V4


def _words(*alternatives: str) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of ``alternatives`` as whole words."""
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


_NATURAL_HAZARDS: Final = (
    r"floods?|flooding|flash[- ]floods?|floodwaters?|earthquakes?|quakes?|aftershocks?|tsunamis?|landslides?|"
    r"landslips?|mudslides?|avalanches?|cyclones?|hurricanes?|typhoons?|tornado(?:es)?|tropical storms?|"
    r"thunderstorms?|snowstorms?|dust storms?|hailstorms?|blizzards?|(?:heavy|torrential|monsoon|incessant) rains?|"
    r"rainstorms?|downpours?|cloudbursts?|droughts?|wildfires?|forest fires?|bush ?fires?|heat ?waves?|cold waves?|"
    r"lightning strikes?|struck by lightning|volcanic"
)
_ACCIDENTS: Final = (
    r"(?:road|traffic|car|bus|truck|lorry|train|rail|railway|plane|air|aviation|boat|ferry|mining|mine|industrial) "
    r"(?:accidents?|crash(?:es)?|collisions?|disasters?)|"
    r"capsized|derailed|derailment|building collapsed?|collapse of (?:a|the) (?:building|bridge|house)|stampedes?|"
    r"drowned"
)
# Version 2: vehicle accidents told by what the vehicle did, and accidental fires.
_ACCIDENTS_V2: Final = (
    r"plunged|overturned|skidded|collided|head-on collision|fire broke out|blaze|caught fire|gutted|"
    r"fire (?:at|in) (?:a|an|the) (?:\w+ )?(?:factory|building|market|hospital|hotel|warehouse|house|home|slum|camp|"
    r"school|mine)|(?:factory|building|market|hospital|hotel|warehouse|house|forest) fires?"
)
# Version 3: sinkings, storms, burst dams, collapses, crashes told as a verb, epidemics.
# ("Sunk" is left out: "ships damaged or sunk" is how war at sea is told; a "storm drain" is no storm; "crashed" is
# said of civilian craft only, as a helicopter that crashed at an airbase in a war is the war's.)
_HAZARDS_V3: Final = (
    r"sank|sinking|shipwrecks?|storms?(?! (?:water|drains?|sewers?))|dams? (?:burst|collapsed|breached|failed)|"
    r"(?:mine|tunnel|wall|roof|bridge|dam|building|house|tower|crane|stand|shaft|pit)s? (?:had )?collapsed|"
    r"(?:plane|airliner|aircraft|bus|minibus|train|car|truck|lorry|van|boat|ferry)s? (?:had )?(?:crashed|crash-landed)|"
    r"epidemics?|outbreaks? of (?:cholera|ebola|measles|dengue|malaria|meningitis|diphtheria|"
    r"lassa fever|mpox)|(?:cholera|ebola|measles|dengue|malaria|meningitis|diphtheria|lassa fever|mpox) outbreaks?"
)
# Version 3: an explosion of an accident's kind; the phrase is a hazard and is left out of the violence check.
_ACCIDENTAL_EXPLOSION_WORDS: Final = (
    r"(?:gas|boiler|cylinder|chemical|industrial|factory|pipeline|tanker|fuel|methane|coal dust|firework|fireworks|"
    r"firecracker|firecrackers|reactor) (?:explosions?|blasts?)|"
    r"explosions? (?:at|in|inside|ripped through) (?:a|an|the) (?:\w+ )?(?:factory|plant|refinery|warehouse|mine|"
    r"pipeline|restaurant|kitchen|workshop|laboratory|port|fireworks)"
)
_ACCIDENTAL_EXPLOSIONS: Final = _words(_ACCIDENTAL_EXPLOSION_WORDS)
# People harmed or places destroyed: a hazard named in passing ("a flood of applications") is no report of harm.
_HARM: Final = _words(
    r"killed|kills|killing|dead|deaths?|died|dies|dying|injured|injuries|hurt|missing|displaced|homeless|"
    r"destroyed|damaged|victims?|casualt\w*|bodies|drowned|swept away|trapped|stranded|evacuat\w*|rescu\w*"
)
# Violence, weapons, protest: any one of them leaves the article to the model.
_VIOLENCE: Final = (
    r"attack\w*|assault\w*|ambush\w*|raid\w*|clash\w*|fight\w*|battle\w*|combat\w*|offensive|shell(?:s|ed|ing)|"
    r"air ?strikes?|drone strikes?|bomb\w*|blasts?|explosi\w*|ieds?|grenades?|rockets?|missiles?|mortars?|artillery|"
    r"guns?|gunfire|gunshots?|shot|shoot\w*|sniper\w*|fired (?:at|on|upon)|opened fire|weapons?|arms|ammunition|"
    r"rifles?|pirates?|sabot(?:ag\w*|eurs?)|burn\w*|kidnap\w*|abduct\w*|hostages?|assassinat\w*|execut\w*|behead\w*|"
    r"massacre\w*|lynch\w*|murder\w*|stabb\w*|beat|beaten|beating|mobs?|pelt\w*|stones?|torch\w*|arson|"
    r"set (?:alight|ablaze|fire)|vandal\w*|loot\w*|extort\w*|threat\w*|intimidat\w*|riot\w*|protest\w*|"
    r"demonstrat\w*|rall(?:y|ies|ied)|marched|sit-ins?|block(?:ed|ing|ades?|aders?)|hartals?|bandhs?|barricad\w*|"
    r"demand\w*|strikes?|wars?|warfare|conflict\w*|violen\w*|ceasefire|truce|insurrection|coup|unrest|arrest\w*|"
    r"detain\w*|crackdown|curfew|armed"
)
# Version 2: what else makes harm someone's doing.
_VIOLENCE_V2: Final = r"landmines?|took to the streets|intentional\w*|deliberate\w*|fires? (?:was|were) set"
# Version 3: bullets (a body "bullet-riddled" is a killing) and mines laid at sea or on roads.
_VIOLENCE_V3: Final = r"bullet\w*|mine[- ]?lay\w*|mines? (?:were|was) laid"
# Version 1 only: security forces and a government or president (version 2 reads them as the rescuers and sources).
_SECURITY_AND_GOVERNMENT: Final = (
    r"troops|soldiers?|army|military|security forces|police|gendarm\w*|government|president\w*"
)
# Politics, which the BBC benchmark counts as relevant.
_POLITICS: Final = (
    r"ministers?|parliament\w*|elect\w*|part(?:y|ies)|chancellor|senat\w*|congress|opposition|mps?|politic\w*"
)
#: Per version, the hazard words and the words that leave an article to the model.
HAZARD_RULE_VERSIONS: Final[dict[int, tuple[re.Pattern[str], re.Pattern[str]]]] = {
    1: (_words(_NATURAL_HAZARDS, _ACCIDENTS), _words(_VIOLENCE, _SECURITY_AND_GOVERNMENT, _POLITICS)),
    2: (_words(_NATURAL_HAZARDS, _ACCIDENTS, _ACCIDENTS_V2), _words(_VIOLENCE, _VIOLENCE_V2, _POLITICS)),
    3: (
        _words(_NATURAL_HAZARDS, _ACCIDENTS, _ACCIDENTS_V2, _HAZARDS_V3, _ACCIDENTAL_EXPLOSION_WORDS),
        _words(_VIOLENCE, _VIOLENCE_V2, _VIOLENCE_V3, _POLITICS),
    ),
}
#: Versions whose accidental explosions are left out of the violence check.
_MASKS_ACCIDENTAL_EXPLOSIONS: Final = frozenset({3})


def reports_only_hazard_harm(text: str, version: int = 1) -> bool:
    """Whether ``text`` reports harm from a natural hazard or an accident and names no violence, armed actor,
    protest or politics anywhere (as the words of ``version`` have it; version 1 also security forces)."""
    hazard, not_only_hazard = HAZARD_RULE_VERSIONS[version]
    # "A gas cylinder explosion killed nine": the accident's explosion is no violence (any other violent word is).
    rest = _ACCIDENTAL_EXPLOSIONS.sub(" ", text) if version in _MASKS_ACCIDENTAL_EXPLOSIONS else text
    return bool(
        hazard.search(text)
        and _HARM.search(text)
        and not not_only_hazard.search(rest)
        and not ARMED_ACTORS_V4.search(text)
    )
