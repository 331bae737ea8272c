"""Pydantic models of the product's input (``Article``) and output (``Assessment``), as DESIGN.md writes them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS, RiskLevel, SeverityLevel

#: Longest accepted article text, in characters (~20,000 words of news prose fit well inside).
MAX_TEXT_CHARS = 200_000
#: Most evidence sentences quoted per signal.
MAX_EVIDENCE = 3

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Article(BaseModel):
    """One news article to score. ``text`` is plain text or HTML (tags are stripped before scoring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    id: Annotated[str, Field(min_length=1, max_length=512)]
    text: str
    title: str | None = None
    published: dt.date | None = None
    source: str | None = None

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("id must not be blank")
        return value

    @field_validator("text")
    @classmethod
    def _text_present_and_bounded(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        if len(value) > MAX_TEXT_CHARS:
            raise ValueError(f"text has {len(value):,} characters; the limit is {MAX_TEXT_CHARS:,}")
        return value

    @field_validator("published", mode="before")
    @classmethod
    def _strict_iso_date(cls, value: object) -> object:
        # Only YYYY-MM-DD is accepted: "03/04/2021" is ambiguous and must not be guessed.
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value) if len(value) == 10 else _bad_date(value)
            except ValueError:
                _bad_date(value)
        return value


def _bad_date(value: str) -> dt.date:
    raise ValueError(f"published must be a date as YYYY-MM-DD, got {value!r}")


class ModelInfo(BaseModel):
    """Which registered model produced an assessment."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    name: str
    version: str | None = None
    alias: str | None = None


class Score(BaseModel):
    """A score in [0, 1] and its level by the fixed cut-offs in ``threatscore.taxonomy``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: Probability
    level: RiskLevel


class Signal(BaseModel):
    """One resurgence signal: calibrated probability and up to three verbatim evidence sentences."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    probability: Probability
    evidence: Annotated[list[str], Field(max_length=MAX_EVIDENCE)] = []


class Severity(BaseModel):
    """Severity by reported fatalities (none 0, low 1-2, medium 3-9, high 10+)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: SeverityLevel
    fatalities: Annotated[int, Field(ge=0)] | None
    probabilities: dict[SeverityLevel, Probability]

    @field_validator("probabilities")
    @classmethod
    def _all_levels(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(SEVERITY_LEVELS):
            raise ValueError(f"probabilities must have exactly the keys {list(SEVERITY_LEVELS)}")
        return {k: value[k] for k in SEVERITY_LEVELS}


class Region(BaseModel):
    """A country (ISO 3166-1 alpha-2) and optionally a first-level region, with its per-article risk."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    country: str
    admin1: str | None = None
    places: list[str] = []
    primary: bool = False
    risk: Score


class Assessment(BaseModel):
    """The answer for one article. Every key is always present, so clients never branch on missing keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    model: ModelInfo
    language: str
    warnings: list[str] = []
    relevance: Probability
    resurgence: Score
    signals: dict[str, Signal]
    event_types: dict[str, Probability]
    severity: Severity
    regions: list[Region] = []

    @field_validator("signals")
    @classmethod
    def _all_signals(cls, value: dict[str, Signal]) -> dict[str, Signal]:
        if set(value) != set(SIGNALS):
            missing, extra = set(SIGNALS) - set(value), set(value) - set(SIGNALS)
            raise ValueError(f"signals must have exactly the ten keys (missing {missing}, unknown {extra})")
        return {k: value[k] for k in SIGNALS}

    @field_validator("event_types")
    @classmethod
    def _all_event_types(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(EVENT_TYPES):
            missing, extra = set(EVENT_TYPES) - set(value), set(value) - set(EVENT_TYPES)
            raise ValueError(f"event_types must have the 25 ACLED sub-event types (missing {missing}, unknown {extra})")
        return {k: value[k] for k in EVENT_TYPES}

    @model_validator(mode="after")
    def _one_primary(self) -> Assessment:
        if self.regions and sum(r.primary for r in self.regions) != 1:
            raise ValueError("exactly one region must be primary when regions are given")
        return self
