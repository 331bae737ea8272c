"""The threatscore scoring service (BentoML >= 1.4, class-based): ``bentoml serve serving.service:Threatscore``.

Two services, one process each when served:

``ThreatscoreModel``
    holds the model (``serving.model_manager``: registry alias -> BentoML model store -> smoke check -> atomic
    swap; polling and reload) and exposes ``predict`` as a *batchable* BentoML API over a list of article dicts,
    so BentoML's adaptive batching merges the articles of concurrent requests into one model call. It is only
    reachable by the gateway (BentoML serves dependencies on their own sockets, not on the public port).
``Threatscore``
    the public HTTP API (a FastAPI app mounted on the BentoML service, so the request/response shapes, API keys,
    error bodies and status codes are ours while BentoML provides ``/livez``, ``/readyz``, ``/metrics``,
    ``/docs.json`` and the serving runtime). It validates, authenticates, calls the model service, and keeps
    every article and assessment in the database.

Endpoints (all need an API key, as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, except
``/livez``, ``/healthz``, ``/readyz``, ``/metrics``, ``/docs.json`` and ``/``):

- ``POST /score`` (role score): ``{"articles": [...]}`` -> ``{"assessments": [...], "errors": [...]}``
- ``POST /feedback`` (role feedback): corrected labels for a stored article -> 201 ``{"id", ...}``
- ``GET /regions?country=&since=&window=`` (role score): per region and window, counts over stored assessments
- ``GET /model`` (role score): the served model's name, version, alias, data manifest hash, headline metrics
- ``POST /admin/reload`` (role admin): check the registry now and swap to the alias's version if it moved

Errors are JSON ``{"error": ..., "field": ...}`` (``serving.errors``).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from typing import Annotated, Any, Literal, cast

import aiohttp
import anyio
import bentoml
from bentoml.exceptions import ServiceUnavailable
from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from serving import bentoml_fixes, db
from serving.api_models import (
    ErrorBody,
    FeedbackRequest,
    FeedbackResponse,
    ItemError,
    RegionsResponse,
    ScoreRequest,
    ScoreResponse,
    decode_json,
    parse_feedback,
    parse_score_request,
)
from serving.config import get_service_settings
from serving.errors import ApiError, from_validation_error
from serving.keys import KeyVerifier, Principal, Role
from serving.middleware import BodyLimit, JsonErrors, PlainErrorsToJson, ReadyzDetail
from serving.model_manager import ModelManager, NoModelError
from serving.regions import history_start, regional_index
from threatscore.schemas import Article
from threatscore.settings import apply_offline_env, get_settings

logger = logging.getLogger(__name__)

# Before BentoML builds this module's ASGI apps: a request-timer fix (see serving/bentoml_fixes.py).
bentoml_fixes.install()

#: Articles per model call when BentoML merges requests (the pyfunc scores in batches of 64 too).
MAX_MODEL_BATCH = 64
#: BentoML's latency budget for a merged batch. The adaptive dispatcher learns how long to hold requests to
#: form batches from this budget (a large one makes idle requests wait long), and rejects requests it cannot
#: serve within it; those are then scored directly (``predict_direct``), so a tight budget costs no errors.
MAX_BATCH_LATENCY_MS = 1_000
#: Requests with at least this many articles are a batch already: they skip the dispatcher.
DIRECT_MIN_ARTICLES = 32
#: Tries of one model-service call when its connection drops.
MODEL_CALL_ATTEMPTS = 3
#: Oldest ``since`` accepted by ``GET /regions`` and most windows one answer may hold.
REGIONS_MAX_WINDOWS = 600


# ================================================================================================ model service


@bentoml.service(
    workers=1,
    threads=1,
    traffic={"timeout": 300},
    # The gateway's client would renew its connection pool every 100 calls, closing it under calls in flight
    # (bentoml/BentoML#4971): keep one pool; ``Threatscore._predict`` retries the rare dropped connection.
    runner_connection={"max_requests": 1_000_000_000, "max_age": 31_536_000.0},
)
class ThreatscoreModel:
    """Holds the served model; ``predict`` is batchable so BentoML batches concurrent requests."""

    def __init__(self) -> None:
        apply_offline_env()
        settings = get_service_settings()
        self.manager = ModelManager(
            settings.model_uri, get_settings(), poll_seconds=settings.poll_seconds, store_keep=settings.model_store_keep
        )
        self.manager.start()

    @bentoml.api(batchable=True, max_batch_size=MAX_MODEL_BATCH, max_latency_ms=MAX_BATCH_LATENCY_MS)
    async def predict(self, articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Score valid article dicts: ``{"result": assessment, "signals_present": [...]}`` per article, or
        ``{"unavailable": reason}`` per article when no model is loaded."""
        try:
            return await anyio.to_thread.run_sync(self.manager.predict, articles)
        except NoModelError as exc:
            return [{"unavailable": str(exc)} for _ in articles]

    @bentoml.api
    async def predict_direct(self, articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``predict`` without adaptive batching: for requests that are batches already, and for those the
        dispatcher could not fit in its latency budget."""
        try:
            return await anyio.to_thread.run_sync(self.manager.predict, articles)
        except NoModelError as exc:
            return [{"unavailable": str(exc)} for _ in articles]

    @bentoml.api
    async def status(self) -> dict[str, Any]:
        """What is served, from where, and whether the service is ready."""
        return self.manager.status()

    @bentoml.api
    async def reload(self) -> dict[str, Any]:
        """Check the registry now; swap to the alias's version if it moved (old model serves meanwhile)."""
        result = await anyio.to_thread.run_sync(self.manager.check_for_update)
        return result.to_dict()

    async def __is_ready__(self) -> bool:
        """Ready once a model (from the registry or the store) is loaded."""
        return self.manager.current is not None

    @bentoml.on_shutdown
    def shutdown(self) -> None:
        """Stop polling the registry."""
        self.manager.close()


# ================================================================================================ HTTP API

api = FastAPI(
    title="threatscore",
    description="Scores news articles on political violence. See serving/service.py.",
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)
api.add_middleware(JsonErrors)

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (threatscore keys create)")
_bearer = HTTPBearer(auto_error=False, description="The API key as a bearer token")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Unreadable body (invalid UTF-8, malformed JSON)",
        401: "Missing, unknown or revoked API key",
        403: "The key's role does not allow this",
        413: "Body over the size limit",
        422: "Invalid request; the field is named",
        503: "No model loaded or the database is unavailable",
    }.items()
}


@api.exception_handler(ApiError)
async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return exc.response(headers)


@api.exception_handler(RequestValidationError)
async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return from_validation_error(exc.errors()).response()


@api.exception_handler(StarletteHTTPException)
async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"error": str(exc.detail), "field": None}, status_code=exc.status_code, headers=exc.headers)


def require(role: Role) -> Any:
    """A FastAPI dependency: the caller's key must be valid, unrevoked and allow ``role``."""

    async def dependency(
        api_key: Annotated[str | None, Security(_api_key_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    ) -> Principal:
        presented = bearer.credentials if bearer is not None else api_key
        if not presented:
            raise ApiError(401, "an API key is required: send 'Authorization: Bearer <key>'", "authorization")
        service = bentoml.get_current_service()
        principal = await anyio.to_thread.run_sync(service.keys.verify, presented)
        if principal is None:
            raise ApiError(401, "unknown or revoked API key", "authorization")
        if not principal.allows(role):
            raise ApiError(403, f"a '{principal.role}' key cannot do this; it needs the '{role}' role", None)
        return principal

    return dependency


ScoreKey = Annotated[Principal, Depends(require("score"))]
FeedbackKey = Annotated[Principal, Depends(require("feedback"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (413 otherwise, also for bodies sent without a length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body is over the limit of {limit:,} bytes", "body")
        chunks.append(chunk)
    return b"".join(chunks)


def _body_schema(model: type[Any]) -> dict[str, Any]:
    """OpenAPI ``requestBody`` for an endpoint that reads its body itself, with the model's schema inlined."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


@functools.cache
def _metrics() -> dict[str, Any]:
    """Service counters on ``/metrics`` (created once per process, when first used)."""
    return {
        "articles": bentoml.metrics.Counter(
            name="threatscore_articles_total",
            documentation="Articles received by POST /score, by outcome (scored or rejected)",
            labelnames=["outcome"],
        ),
        "stored": bentoml.metrics.Counter(
            name="threatscore_assessments_stored_total",
            documentation="New assessment rows written (re-scoring with the same model writes none)",
        ),
    }


@bentoml.service(workers=1, traffic={"timeout": 300})
@bentoml.asgi_app(api, path="/")
class Threatscore:
    """The public API: scoring, feedback, regions, model card, reload."""

    model = bentoml.depends(ThreatscoreModel)

    def __init__(self) -> None:
        apply_offline_env()
        self.settings = get_service_settings()
        self.engine = db.make_engine(self.settings.db_url)
        db.migrate(self.engine)
        self.keys = KeyVerifier(self.engine, self.settings.key_cache_seconds)
        is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock() if is_sqlite else None
        self._model_calls = 0  # model-service calls in flight from this worker (event-loop only)
        _ = self.model  # in-process (tests): load the model now, not on the first request

    async def readiness(self) -> dict[str, Any]:
        """The model service's status, for ``/readyz``."""
        return dict(await self.model.status())

    async def __is_ready__(self) -> bool:
        """Ready when a model is loaded."""
        return bool((await self.model.status())["ready"])

    @bentoml.on_shutdown
    def shutdown(self) -> None:
        """Stop the in-process model's poller (when the model service runs in this process)."""
        manager = getattr(self.model, "manager", None)
        if isinstance(manager, ModelManager):
            manager.close()
        self.engine.dispose()

    # -------------------------------------------------------------------------------------------- /score

    @api.post(
        "/score",
        response_model=ScoreResponse,
        responses=_ERRORS,
        openapi_extra=_body_schema(ScoreRequest),
        summary="Score 1 to 256 articles",
    )
    async def score(self, request: Request, principal: ScoreKey) -> JSONResponse:
        """Assess each valid article and keep it; invalid articles are listed in ``errors`` with their field."""
        payload = decode_json(await read_body(request, self.settings.max_body_bytes))
        items = parse_score_request(payload)
        valid = [(i, item) for i, item in enumerate(items) if isinstance(item, Article)]
        errors = [item.model_dump() for item in items if isinstance(item, ItemError)]
        counters = _metrics()
        counters["articles"].labels(outcome="rejected").inc(len(errors))
        if not valid:
            first = errors[0]
            raise ApiError(422, first["error"], first["field"], errors=errors)
        records = [article.model_dump(mode="json", exclude_none=True) for _, article in valid]
        results = await self._predict(records)
        unavailable = next((r["unavailable"] for r in results if "unavailable" in r), None)
        if unavailable is not None:
            raise ApiError(503, f"no model is loaded ({unavailable})", None)
        assessments: list[dict[str, Any]] = []
        to_store: list[db.Scored] = []
        for (index, article), item in zip(valid, results, strict=True):
            result = item["result"]
            if "error" in result:
                errors.append(
                    {"index": index, "id": article.id, "field": f"articles[{index}]", "error": str(result["error"])}
                )
                continue
            assessments.append(result)
            to_store.append(db.Scored(article, result, item.get("signals_present", [])))
        try:
            stored = await anyio.to_thread.run_sync(self._store, to_store)
        except Exception as exc:
            logger.exception("storing %d assessments failed", len(to_store))
            raise ApiError(503, "the database is unavailable; nothing was stored, try again", None) from exc
        counters["articles"].labels(outcome="scored").inc(len(assessments))
        counters["stored"].inc(stored.assessments_added)
        errors.sort(key=lambda e: e["index"])
        return JSONResponse({"assessments": assessments, "errors": errors})

    async def _predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Call the model service: small requests that overlap with others through BentoML's adaptive batching;
        large ones, lone ones, and those the dispatcher turns away as over its latency budget, directly.

        A dropped connection is retried (scoring is idempotent): BentoML 1.4's dependency client closes its
        aiohttp session under calls still in flight when it renews it (bentoml/BentoML#4971); they fail with
        ``ServerDisconnectedError`` and a retry on the new session answers them. (Renewal is also pushed far out
        by ``runner_connection`` on ``ThreatscoreModel``.)
        """
        # Batching pays only when requests overlap: alone, a small request goes straight to the model (BentoML's
        # dispatcher would hold it for the wait it learned under load).
        batched = len(records) < DIRECT_MIN_ARTICLES and self._model_calls > 0
        self._model_calls += 1
        try:
            return await self._call_model(records, batched)
        finally:
            self._model_calls -= 1

    async def _call_model(self, records: list[dict[str, Any]], batched: bool) -> list[dict[str, Any]]:
        for attempt in range(1, MODEL_CALL_ATTEMPTS + 1):
            try:
                if batched:
                    return list(await self.model.predict(records))
                return list(await self.model.predict_direct(records))
            except ServiceUnavailable:
                logger.info("batch latency budget exceeded for %d article(s); scoring them directly", len(records))
                batched = False
            except aiohttp.ClientConnectionError as exc:
                if attempt == MODEL_CALL_ATTEMPTS:
                    logger.exception("model service connection failed %d times", attempt)
                    raise ApiError(503, "the model service is unavailable; try again", None) from exc
                logger.info("model service connection dropped (%s); retrying", type(exc).__name__)
            except Exception as exc:
                logger.exception("model service call failed")
                raise ApiError(503, "the model service is unavailable; try again", None) from exc
        raise ApiError(503, "the model service is overloaded; try again", None)

    def _store(self, items: list[db.Scored]) -> db.StoreResult:
        if self._write_lock is None:
            return db.store_scored(self.engine, items)
        with self._write_lock:  # SQLite has one writer; queue here instead of in busy retries
            return db.store_scored(self.engine, items)

    # -------------------------------------------------------------------------------------------- /feedback

    @api.post(
        "/feedback",
        status_code=201,
        response_model=FeedbackResponse,
        responses={**_ERRORS, 404: {"model": ErrorBody, "description": "The article was never scored"}},
        openapi_extra=_body_schema(FeedbackRequest),
        summary="Send corrected labels for a scored article",
    )
    async def feedback(self, request: Request, principal: FeedbackKey) -> JSONResponse:
        """Validate corrections against the taxonomy and store them with who sent them and when."""
        body = parse_feedback(decode_json(await read_body(request, self.settings.max_body_bytes)))
        article_pk = await anyio.to_thread.run_sync(db.find_article_pk, self.engine, body.article_id)
        if article_pk is None:
            raise ApiError(404, "no article with this id has been scored", "article_id")
        now = db.utcnow()
        values = {
            "article_id": body.article_id,
            "article_pk": article_pk,
            "signals": body.signal_labels() or None,
            "event_type": body.event_type,
            "severity": body.severity,
            "regions": [r.model_dump() for r in body.regions] if body.regions is not None else None,
            "note": body.note,
            "model_version": body.model_version,
            "submitted_by": principal.name,
            "key_id": principal.key_id,
            "submitted_at": now,
        }
        feedback_id = await anyio.to_thread.run_sync(self._store_feedback, values)
        return JSONResponse(
            {
                "id": feedback_id,
                "article_id": body.article_id,
                "submitted_by": principal.name,
                "submitted_at": now.isoformat(),
            },
            status_code=201,
        )

    def _store_feedback(self, values: dict[str, Any]) -> int:
        if self._write_lock is None:
            return db.store_feedback(self.engine, values)
        with self._write_lock:
            return db.store_feedback(self.engine, values)

    # -------------------------------------------------------------------------------------------- /regions

    @api.get("/regions", response_model=RegionsResponse, responses=_ERRORS, summary="Regional risk index and trend")
    async def regions(
        self,
        principal: ScoreKey,
        country: Annotated[
            str | None, Query(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2, e.g. LY")
        ] = None,
        since: Annotated[
            str | None,
            Query(
                pattern=r"^\d{4}-\d{2}-\d{2}$",
                description="Windows ending on or after this day (YYYY-MM-DD); default 180 days ago",
            ),
        ] = None,
        window: Annotated[
            Literal["week", "month"], Query(description="Calendar month, or ISO week (Monday to Sunday)")
        ] = "month",
    ) -> JSONResponse:
        """Per (country, admin1) and window: articles, signals, fatalities, risk index, smoothed level and trend."""
        today = dt.datetime.now(dt.UTC).date()
        if since is None:
            start = today - dt.timedelta(days=180)
        else:
            try:
                start = dt.date.fromisoformat(since)
            except ValueError:
                raise ApiError(422, f"not a valid date: {since!r} (YYYY-MM-DD)", "since") from None
        if start > today:
            raise ApiError(422, "since must not be in the future", "since")
        if (today - start).days / (7 if window == "week" else 30.4) > REGIONS_MAX_WINDOWS:
            raise ApiError(
                422,
                f"more than {REGIONS_MAX_WINDOWS} {window}s since {start}; use a later since or a month window",
                "since",
            )
        code = country.upper() if country else None
        fetch_from = history_start(start, window)
        rows = await anyio.to_thread.run_sync(
            functools.partial(
                db.fetch_region_rows, self.engine, since=fetch_from, until=today + dt.timedelta(days=1), country=code
            )
        )
        windows = regional_index(rows, window=window, since=start, now=today, country=code)
        return JSONResponse(
            {
                "since": start.isoformat(),
                "until": today.isoformat(),
                "history_from": fetch_from.isoformat(),
                "window": window,
                "country": code,
                "regions": [w.to_dict() for w in windows],
            }
        )

    # -------------------------------------------------------------------------------------------- /model

    @api.get("/model", responses=_ERRORS, summary="The served model")
    async def model_card(self, principal: ScoreKey) -> JSONResponse:
        """Name, version, alias, data manifest sha256 and headline metrics of the model serving now."""
        status = await self.model.status()
        card = status.get("model")
        if not card:
            raise ApiError(503, f"no model is loaded ({status.get('detail')})", None)
        return JSONResponse({**card, "detail": status.get("detail"), "degraded": status.get("degraded")})

    # -------------------------------------------------------------------------------------------- /admin

    @api.post("/admin/reload", responses=_ERRORS, summary="Check the registry now and swap if the alias moved")
    async def admin_reload(self, principal: AdminKey) -> JSONResponse:
        """Load the alias's version in the background of serving, smoke-check it, then swap."""
        logger.info("reload requested by %s (%s)", principal.name, principal.key_id)
        result = dict(await self.model.reload())
        if result.get("error"):
            raise ApiError(503, str(result["detail"]), None, reload=result)
        return JSONResponse(result)


# Outermost first. (``cast``: the decorators are typed as returning the class, they return a bentoml.Service.)
for _middleware in (PlainErrorsToJson, BodyLimit, ReadyzDetail):
    cast(Any, Threatscore).add_asgi_middleware(_middleware)
