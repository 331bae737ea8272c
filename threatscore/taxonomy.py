"""The threatscore taxonomy, defined once: signals, ACLED event types, severity and risk levels.

Everything that names a label imports it from here, so the model, the schemas, the loaders and the
service can never disagree on a label's spelling or order.
"""

from __future__ import annotations

from typing import Final, Literal

#: The ten resurgence signals, in the fixed order every model head and report uses.
SIGNALS: Final[tuple[str, ...]] = (
    "militant_attack",
    "claimed_responsibility",
    "mass_casualty",
    "territorial_control",
    "regrouping",
    "recruitment",
    "prison_break",
    "cross_border",
    "security_vacuum",
    "counter_terrorism",
)

#: One-line definitions (DESIGN.md); the annotation guideline expands on them.
SIGNAL_DEFINITIONS: Final[dict[str, str]] = {
    "militant_attack": "a non-state armed group attacking: armed assault, bombing/IED, suicide attack, "
    "ambush, kidnapping, assassination",
    "claimed_responsibility": "a group claiming, or being officially credited with, an attack",
    "mass_casualty": "10 or more people killed in one event or one connected series",
    "territorial_control": "a group seizing or holding ground: overrunning a town or base, setting up a "
    "base/HQ, checkpoints, taxing or governing",
    "regrouping": "a group reorganizing or rebuilding: new cells, new leaders, mergers, relocation, "
    "'resurgence'/'comeback' after defeat",
    "recruitment": "recruiting or attracting fighters, including foreign fighters, child soldiers, "
    "recruitment propaganda",
    "prison_break": "an attack on a prison or detention site, or an escape that frees members",
    "cross_border": "fighters, weapons or coordination moving across a border, or links to another "
    "branch/affiliate abroad",
    "security_vacuum": "instability the group exploits: political division, withdrawal of forces, absent "
    "or failing security institutions",
    "counter_terrorism": "state or allied forces acting against the group: raids, clearing operations, "
    "strikes, arrests",
}

#: ACLED's six event types and their 25 sub-event types, by ACLED's own (current) names.
EVENT_TYPE_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "Battles": (
        "Armed clash",
        "Government regains territory",
        "Non-state actor overtakes territory",
    ),
    "Explosions/Remote violence": (
        "Chemical weapon",
        "Air/drone strike",
        "Suicide bomb",
        "Shelling/artillery/missile attack",
        "Remote explosive/landmine/IED",
        "Grenade",
    ),
    "Violence against civilians": (
        "Sexual violence",
        "Attack",
        "Abduction/forced disappearance",
    ),
    "Protests": (
        "Peaceful protest",
        "Protest with intervention",
        "Excessive force against protesters",
    ),
    "Riots": (
        "Violent demonstration",
        "Mob violence",
    ),
    "Strategic developments": (
        "Agreement",
        "Arrests",
        "Change to group/activity",
        "Disrupted weapons use",
        "Headquarters or base established",
        "Looting/property destruction",
        "Non-violent transfer of territory",
        "Other",
    ),
}

#: The 25 sub-event types in a fixed order (the ``event_types`` keys of every assessment).
EVENT_TYPES: Final[tuple[str, ...]] = tuple(s for subs in EVENT_TYPE_GROUPS.values() for s in subs)

#: Sub-event type -> its event type.
EVENT_TYPE_PARENT: Final[dict[str, str]] = {sub: group for group, subs in EVENT_TYPE_GROUPS.items() for sub in subs}

SeverityLevel = Literal["none", "low", "medium", "high"]
RiskLevel = Literal["low", "elevated", "high", "critical"]

#: Severity levels by reported fatalities: none 0, low 1-2, medium 3-9, high 10+.
SEVERITY_LEVELS: Final[tuple[SeverityLevel, ...]] = ("none", "low", "medium", "high")
#: Lowest fatality count of each severity level.
SEVERITY_MIN_FATALITIES: Final[dict[SeverityLevel, int]] = {"none": 0, "low": 1, "medium": 3, "high": 10}

#: Risk levels, ordered. A score maps to the highest level whose lower cut-off it reaches.
RISK_LEVELS: Final[tuple[RiskLevel, ...]] = ("low", "elevated", "high", "critical")
#: Lower cut-off of each level on a score in [0, 1]; fixed and documented (README, "Levels").
RISK_CUTOFFS: Final[dict[RiskLevel, float]] = {"low": 0.0, "elevated": 0.35, "high": 0.6, "critical": 0.85}

#: ``mass_casualty`` threshold (DESIGN.md): 10 or more killed.
MASS_CASUALTY_MIN_FATALITIES: Final[int] = 10


def severity_level(fatalities: int) -> SeverityLevel:
    """Map a fatality count to its severity level (none 0, low 1-2, medium 3-9, high 10+)."""
    if fatalities < 0:
        raise ValueError(f"fatalities must be >= 0, got {fatalities}")
    level: SeverityLevel = "none"
    for name in SEVERITY_LEVELS:
        if fatalities >= SEVERITY_MIN_FATALITIES[name]:
            level = name
    return level


def risk_level(score: float) -> RiskLevel:
    """Map a score in [0, 1] to a risk level by the fixed cut-offs in ``RISK_CUTOFFS``."""
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score}")
    level: RiskLevel = "low"
    for name in RISK_LEVELS:
        if score >= RISK_CUTOFFS[name]:
            level = name
    return level
