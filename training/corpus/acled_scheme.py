"""The explicit mapping of ACLED's 2015-16 ("old") event types to the current ACLED names.

The mapping table is ``data/acled_old_scheme.yaml`` (documented in ``data/README.md``). A 1:many old type
keeps only ``event_type`` unless a keyword rule on the note or an interaction-code rule resolves the
sub-event type unambiguously.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

from threatscore.taxonomy import EVENT_TYPE_GROUPS, EVENT_TYPE_PARENT

#: The mapping file, in the repository's ``data/`` folder.
DEFAULT_MAPPING_PATH: Final[Path] = Path(__file__).resolve().parents[2] / "data" / "acled_old_scheme.yaml"


@dataclass(frozen=True)
class KeywordRule:
    """Sub-event types recognised by regexes on the note; see ``resolve``."""

    patterns: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]
    precedence: tuple[str, ...]

    def resolve(self, note: str) -> str | None:
        """The one sub-event type whose patterns match ``note``; a ``precedence`` type wins when it matches;
        None when nothing or more than one type matches."""
        hits = [sub for sub, regexes in self.patterns if any(r.search(note) for r in regexes)]
        for sub in self.precedence:
            if sub in hits:
                return sub
        return hits[0] if len(hits) == 1 else None


@dataclass(frozen=True)
class InteractionRule:
    """Event/sub-event types decided by ACLED's actor-type codes (inter1, inter2)."""

    event_type: tuple[tuple[frozenset[int], str], ...]
    sub_event_type: tuple[tuple[frozenset[int], frozenset[int], str], ...]

    def resolve(self, inter1: int, inter2: int) -> tuple[str | None, str | None]:
        """(event_type, sub_event_type) for the codes; first matching rule wins; None where no rule matches."""
        event = next((value for codes, value in self.event_type if inter1 in codes or inter2 in codes), None)
        sub = next(
            (value for c1, c2, value in self.sub_event_type if inter1 in c1 and inter2 in c2),
            None,
        )
        if sub is not None and event is not None and EVENT_TYPE_PARENT[sub] != event:
            sub = None
        return event, sub


@dataclass(frozen=True)
class OldTypeMapping:
    """How one old event type maps."""

    event_type: str | None
    sub_event_type: str | None
    keyword_rule: KeywordRule | None
    interaction_rule: InteractionRule | None


@dataclass(frozen=True)
class OldSchemeMapping:
    """The whole old-scheme mapping table."""

    types: dict[str, OldTypeMapping]

    def map(self, old_event_type: str, note: str, inter1: int, inter2: int) -> tuple[str | None, str | None]:
        """Map one old-scheme event to (event_type, sub_event_type) by the current names.

        Raises ``KeyError`` for an old event type the table does not know (a new extract must be added to the
        table on purpose, never guessed).
        """
        rule = self.types[old_event_type.strip()]
        event, sub = rule.event_type, rule.sub_event_type
        if rule.interaction_rule is not None:
            event_i, sub_i = rule.interaction_rule.resolve(inter1, inter2)
            event = event or event_i
            sub = sub or sub_i
        if sub is None and rule.keyword_rule is not None:
            sub = rule.keyword_rule.resolve(note)
        if sub is not None and event is not None and EVENT_TYPE_PARENT[sub] != event:
            raise ValueError(f"mapping gives {sub!r} under {event!r} for {old_event_type!r}")
        return event, sub


def _compile(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def _check_sub(sub: str) -> str:
    if sub not in EVENT_TYPE_PARENT:
        raise ValueError(f"unknown sub-event type in mapping: {sub!r}")
    return sub


def _check_event(event: str) -> str:
    if event not in EVENT_TYPE_GROUPS:
        raise ValueError(f"unknown event type in mapping: {event!r}")
    return event


def parse_mapping(raw: dict[str, Any]) -> OldSchemeMapping:
    """Build the mapping from the parsed YAML document, validating every name against the taxonomy."""
    keyword_rules: dict[str, KeywordRule] = {}
    for name, spec in (raw.get("keyword_rules") or {}).items():
        patterns = tuple((_check_sub(sub), _compile(list(regexes))) for sub, regexes in spec["patterns"].items())
        precedence = tuple(_check_sub(s) for s in spec.get("precedence") or [])
        keyword_rules[name] = KeywordRule(patterns=patterns, precedence=precedence)
    interaction_rules: dict[str, InteractionRule] = {}
    for name, spec in (raw.get("interaction_rules") or {}).items():
        events = tuple((frozenset(int(c) for c in r["any"]), _check_event(r["value"])) for r in spec["event_type"])
        subs = tuple(
            (frozenset(int(c) for c in r["inter1"]), frozenset(int(c) for c in r["inter2"]), _check_sub(r["value"]))
            for r in spec.get("sub_event_type") or []
        )
        interaction_rules[name] = InteractionRule(event_type=events, sub_event_type=subs)
    types: dict[str, OldTypeMapping] = {}
    for old, spec in raw["old_event_types"].items():
        event = spec.get("event_type")
        sub = spec.get("sub_event_type")
        types[old] = OldTypeMapping(
            event_type=_check_event(event) if event else None,
            sub_event_type=_check_sub(sub) if sub else None,
            keyword_rule=keyword_rules[spec["keyword_rules"]] if spec.get("keyword_rules") else None,
            interaction_rule=interaction_rules[spec["interaction_rules"]] if spec.get("interaction_rules") else None,
        )
        if event and sub and EVENT_TYPE_PARENT[sub] != event:
            raise ValueError(f"{old!r}: {sub!r} is not under {event!r}")
    return OldSchemeMapping(types=types)


@lru_cache(maxsize=4)
def load_mapping(path: Path = DEFAULT_MAPPING_PATH) -> OldSchemeMapping:
    """Read and validate the old-scheme mapping YAML (cached per path)."""
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return parse_mapping(raw)
