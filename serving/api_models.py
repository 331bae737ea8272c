"""Request and response bodies of the HTTP API, and how raw request bodies become them.

``POST /score``
    request ``{"articles": [Article, ...]}`` (1 to 256 articles);
    response 200 ``{"assessments": [Assessment, ...], "errors": [{"index", "id", "field", "error"}, ...]}``:
    every valid article is scored and stored, every invalid one is listed in ``errors`` with its position in
    the request and the field at fault (``articles[3].text``). When no article is valid the answer is 422 with
    the first problem as ``error``/``field`` and all of them in ``errors``.
``POST /feedback``
    request ``FeedbackRequest``; response 201 ``{"id", "article_id", "submitted_by", "submitted_at"}``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from serving.config import MAX_BATCH
from serving.errors import ApiError, from_validation_error
from threatscore.articles import ArticleError, parse_article
from threatscore.schemas import Article, Assessment
from threatscore.taxonomy import EVENT_TYPES, SIGNALS, SeverityLevel

# ------------------------------------------------------------------------------------------------ bodies


def decode_json(body: bytes) -> Any:
    """Bytes to JSON, or a 400 naming what is wrong (invalid UTF-8, malformed JSON, empty body)."""
    if not body.strip():
        raise ApiError(400, "the request body is empty; send a JSON object", "body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"invalid UTF-8 at byte {exc.start}", "body") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", "body") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply", "body") from None


# ------------------------------------------------------------------------------------------------ /score


class ItemError(BaseModel):
    """Why one article of a batch was not scored."""

    index: int
    id: str | None
    field: str | None
    error: str


class ScoreRequest(BaseModel):
    """The body of ``POST /score`` (documentation: the service validates each article on its own)."""

    model_config = ConfigDict(extra="forbid")

    articles: Annotated[list[Article], Field(min_length=1, max_length=MAX_BATCH)]


class ScoreResponse(BaseModel):
    """The answer of ``POST /score``."""

    assessments: list[Assessment]
    errors: list[ItemError]


def parse_score_request(payload: Any) -> list[Article | ItemError]:
    """Validate a decoded ``POST /score`` body; per-article problems become ``ItemError``s in place."""
    if not isinstance(payload, dict):
        raise ApiError(422, f"the body must be a JSON object with 'articles', got {_json_type(payload)}", "body")
    unknown = sorted(set(payload) - {"articles"})
    if unknown:
        raise ApiError(422, "is not a request field (allowed: articles)", unknown[0])
    if "articles" not in payload:
        raise ApiError(422, "is required: a list of 1 to 256 articles", "articles")
    articles = payload["articles"]
    if not isinstance(articles, list):
        raise ApiError(422, f"must be a list of articles, got {_json_type(articles)}", "articles")
    if not articles:
        raise ApiError(422, f"empty batch: send 1 to {MAX_BATCH} articles", "articles")
    if len(articles) > MAX_BATCH:
        raise ApiError(422, f"{len(articles)} articles; the limit is {MAX_BATCH} per request", "articles")
    out: list[Article | ItemError] = []
    for index, item in enumerate(articles):
        parsed = parse_article(item)
        if isinstance(parsed, ArticleError):
            field = f"articles[{index}]" + (f".{parsed.field}" if parsed.field else "")
            out.append(ItemError(index=index, id=parsed.article_id, field=field, error=parsed.message))
        else:
            out.append(parsed)
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


# ------------------------------------------------------------------------------------------------ /feedback

#: One optional boolean per signal; any other key is an error naming it.
SignalLabels = create_model(  # type: ignore[call-overload]
    "SignalLabels",
    __config__=ConfigDict(extra="forbid"),
    __doc__="Corrected presence of each signal (true/false); leave out the ones not being corrected.",
    **dict.fromkeys(SIGNALS, (StrictBool | None, None)),
)
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class RegionLabel(BaseModel):
    """A region the article is about: ISO 3166-1 alpha-2 country and, optionally, its first-level region."""

    model_config = ConfigDict(extra="forbid")

    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, e.g. LY")]
    admin1: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    primary: StrictBool = False

    @field_validator("country_code")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if pycountry.countries.get(alpha_2=value) is None:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
        return value


class FeedbackRequest(BaseModel):
    """An analyst's corrected labels for one stored article. Give at least one correction."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    article_id: Annotated[str, Field(min_length=1, max_length=512)]
    signals: SignalLabels | None = None
    event_type: Annotated[EventType | None, Field(description="ACLED sub-event type, by ACLED's name")] = None
    severity: SeverityLevel | None = None
    regions: Annotated[list[RegionLabel] | None, Field(max_length=50)] = None
    note: Annotated[str | None, Field(max_length=5000)] = None
    model_version: Annotated[str | None, Field(max_length=64, description="the version whose output is corrected")] = (
        None
    )

    @field_validator("article_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("article_id must not be blank")
        return value

    @model_validator(mode="after")
    def _something_corrected(self) -> FeedbackRequest:
        labels = self.signal_labels()
        if not labels and self.event_type is None and self.severity is None and self.regions is None:
            raise ValueError("give at least one correction: signals, event_type, severity or regions")
        if self.regions and sum(r.primary for r in self.regions) > 1:
            raise ValueError("at most one region can be primary")
        return self

    def signal_labels(self) -> dict[str, bool]:
        """The signals given, by name."""
        if self.signals is None:
            return {}
        return {k: v for k, v in self.signals.model_dump().items() if v is not None}


class FeedbackResponse(BaseModel):
    """The stored feedback's id and who/when."""

    id: int
    article_id: str
    submitted_by: str
    submitted_at: str


def parse_feedback(payload: Any) -> FeedbackRequest:
    """Validate a decoded ``POST /feedback`` body, or a 422 naming the field (``signals.not_a_signal``)."""
    if not isinstance(payload, dict):
        raise ApiError(422, f"the body must be a JSON object, got {_json_type(payload)}", "body")
    try:
        return FeedbackRequest.model_validate(payload)
    except ValidationError as exc:
        error = from_validation_error(exc)
        if error.field and error.field.startswith("signals.") and error.message == "is not an allowed field":
            error.message = f"unknown signal; the signals are: {', '.join(SIGNALS)}"
        elif error.field == "event_type":
            error.message = "unknown event type; use one of ACLED's 25 sub-event types (see GET /docs.json)"
        raise error from None


# ------------------------------------------------------------------------------------------------ /regions


class RegionSummary(BaseModel):
    """One region in one window: ``threatscore.region_index.RegionWindow`` (its docstring defines each field)."""

    country_code: str
    country: str
    admin1: str | None
    window: Literal["week", "month"]
    start: str
    end: str
    complete: bool
    articles: int
    primary_articles: int
    signals: dict[str, int]
    fatalities: int
    risk_index: float
    mean_risk: float
    max_risk: float
    level: str
    smoothed_index: float
    baseline: float | None
    baseline_windows: int
    surprise: float | None
    trend: Literal["rising", "stable", "falling", "insufficient"]


class RegionsResponse(BaseModel):
    """The answer of ``GET /regions``: windows ending on or after ``since``, up to ``until`` (today, partial)."""

    since: str
    until: str
    history_from: str
    window: Literal["week", "month"]
    country: str | None
    regions: list[RegionSummary]


class ErrorBody(BaseModel):
    """Every error answer."""

    error: str
    field: str | None
