"""The comparison UI: a small server-rendered FastAPI app over the MLflow registry.

Routes are thin: they parse the request (``ui.data.parse_*``), read the registry through ``ui.store``, compute
with ``ui.data`` and render a Jinja2 template. Every problem with a request becomes an HTML page with a 4xx
status and one clear message (``ui.data.UIError``); nothing renders a traceback.
"""

from __future__ import annotations

import functools
import logging
import math
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import plotly
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from mlflow.exceptions import MlflowException
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from threatscore.registry import configure_tracking
from threatscore.schemas import MAX_TEXT_CHARS
from threatscore.settings import Settings, get_settings
from threatscore.taxonomy import SIGNALS
from ui import charts
from ui.data import (
    DISAGREEMENT_LABELS,
    PER_PAGE,
    BadInputError,
    DisagreementQuery,
    NotFoundError,
    UIError,
    benchmark_lines,
    default_pair,
    disagreements,
    event_type_confusion,
    evidence_of,
    facet_values,
    headline_columns,
    highlight,
    label_tables,
    parse_gap,
    parse_int,
    parse_version,
    redact_uri,
    reliability_sets,
    severity_confusion,
    short_hash,
    top_event_types,
    verdict,
)
from ui.store import LRU, RegistryStore, VersionInfo

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
#: Largest form body read at all; larger posts are refused before parsing (the text limit is checked after).
MAX_FORM_BYTES = 16 * 1024 * 1024
#: Examples offered in the Try-it picker.
PICKER_EXAMPLES = 30


class PayloadTooLargeError(UIError):
    """Pasted text over the article limit."""

    status = 413


class UnauthorizedError(UIError):
    """No API key, or one that is not valid."""

    status = 401


class GateConflictError(UIError):
    """The version failed the retraining gate and the promotion was not forced."""

    status = 409


class RegistryUnavailableError(UIError):
    """The registry could not load a model or record a change."""

    status = 503


class ForbiddenError(UIError):
    """A valid key without the role the action needs."""

    status = 403


@functools.cache
def _plotly_js() -> bytes:
    """plotly.js as bundled with the Python package (served by the app: the charts work offline)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):.{digits}f}"


def _signed(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{float(value):+.{digits}f}"
    # A difference that rounds to zero has no sign; a real minus sign aligns with the plus in the column.
    return text[1:] if float(text) == 0 else text.replace("-", "−")


def _count(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{int(value):,}"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(num=_num, signed=_signed, count=_count, short_hash=short_hash)
    templates.env.globals.update(
        SIGNALS=SIGNALS, MAX_TEXT_CHARS=MAX_TEXT_CHARS, PER_PAGE=PER_PAGE, plotly_version=plotly.__version__
    )
    return templates


def create_app(
    settings: Settings | None = None, *, db_url: str | None = None, cache_dir: Path | None = None
) -> FastAPI:
    """The UI over ``settings``' registry. ``db_url``: the service's key store (default THREATSCORE_DB_URL);
    ``cache_dir``: where downloaded artifacts are kept (default a new temporary folder)."""
    settings = settings or get_settings()
    configure_tracking(settings)
    # Without a cache folder, a temporary one lives as long as the app (removed at exit).
    owned = None
    if cache_dir is None:
        owned = tempfile.TemporaryDirectory(prefix="threatscore-ui-")
        cache_dir = Path(owned.name)
    store = RegistryStore(settings.model_name, cache_dir)
    templates = _templates()
    app = FastAPI(title="threatscore model comparison", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.state.store = store
    app.state.owned_cache = owned
    keys = _KeyStore(db_url)
    chart_cache: LRU[tuple[str, str], dict[str, Any]] = LRU(8)

    def page(request: Request, name: str, context: Mapping[str, Any], status: int = 200) -> HTMLResponse:
        base = {"model_name": settings.model_name, "tracking_uri": redact_uri(settings.tracking_uri), "active": name}
        return templates.TemplateResponse(request, f"{name}.html", {**base, **context}, status_code=status)

    def error_page(request: Request, status: int, message: str) -> HTMLResponse:
        return page(request, "error", {"status": status, "message": message, "a": None, "b": None}, status)

    @app.exception_handler(UIError)
    async def _ui_error(request: Request, exc: UIError) -> HTMLResponse:
        return error_page(request, exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
        return error_page(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> HTMLResponse:
        return error_page(request, 422, "The request was malformed.")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> HTMLResponse:
        logger.exception("unexpected error on %s", request.url.path)
        return error_page(request, 500, "Something went wrong on the server; the log has the details.")

    def pair(request: Request) -> tuple[VersionInfo, VersionInfo]:
        """Models A and B from ``?a=&b=``, defaulting to champion vs challenger."""
        raw_a, raw_b = request.query_params.get("a"), request.query_params.get("b")
        if not raw_a or not raw_b:
            numbers = [v.version for v in store.versions()]
            if not numbers:
                raise NotFoundError(
                    f"The registry has no versions of {settings.model_name} yet. Train one: "
                    "threatscore train experiments/baseline.yaml"
                )
            default_a, default_b = default_pair(numbers, store.aliases())
            raw_a, raw_b = raw_a or default_a, raw_b or default_b
        a = store.version(parse_version(raw_a, "model A"))
        b = store.version(parse_version(raw_b, "model B"))
        return a, b

    def not_evaluated(infos: list[VersionInfo], what: str, needed_for: str) -> list[str]:
        """One notice naming the versions that lack ``what`` and the command that makes it."""
        versions = list(dict.fromkeys(i.version for i in infos))  # A and B may be the same version
        if not versions:
            return []
        names = " and ".join(f"v{v}" for v in versions)
        commands = " and ".join(f"threatscore evaluate models:/{settings.model_name}/{v}" for v in versions)
        verb = "has" if len(versions) == 1 else "have"
        return [f"{names} {verb} no {what} yet, {needed_for}. Run {commands} (it logs them to the model's run)."]

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/models", status_code=307)

    @app.get(f"/assets/plotly-{plotly.__version__}.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return Response(
            _plotly_js(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    @app.get("/models", response_class=HTMLResponse)
    def models(request: Request) -> HTMLResponse:
        page_number = parse_int(request.query_params.get("page"), "page", default=1)
        versions = store.versions()
        pages = max(1, math.ceil(len(versions) / PER_PAGE))
        page_number = min(page_number, pages)
        shown = versions[(page_number - 1) * PER_PAGE : page_number * PER_PAGE]
        a, b = default_pair([v.version for v in versions], store.aliases())
        return page(
            request,
            "models",
            {
                "versions": shown,
                "columns": headline_columns([v.metrics for v in shown]),
                "a": request.query_params.get("a") or a,
                "b": request.query_params.get("b") or b,
                "page": page_number,
                "pages": pages,
                "total": len(versions),
            },
        )

    @app.get("/compare", response_class=HTMLResponse)
    def compare(request: Request) -> HTMLResponse:
        a, b = pair(request)
        eval_a, eval_b = store.evaluation(a), store.evaluation(b)
        ex_a, ex_b = store.examples(a), store.examples(b)
        messages = not_evaluated(
            [v for v, e in ((a, eval_a), (b, eval_b)) if e is None],
            "evaluation",
            "so the benchmark table lacks their numbers",
        )
        messages += not_evaluated(
            [v for v, e, ev in ((a, ex_a, eval_a), (b, ex_b, eval_b)) if e is None and ev is not None],
            "evaluation examples",
            "so confusion matrices, reliability diagrams and disagreements cannot be drawn",
        )
        # Charts depend only on the two (immutable) example tables: drawn once per pair.
        drawn = (
            chart_cache.get_or_make((a.version, b.version), lambda: _charts(a, b, ex_a, ex_b))
            if ex_a is not None and ex_b is not None
            else _charts(a, b, ex_a, ex_b)
        )
        assert drawn is not None
        confusions, reliabilities = drawn["confusions"], drawn["reliabilities"]
        return page(
            request,
            "compare",
            {
                "a": a.version,
                "b": b.version,
                "A": a,
                "B": b,
                "lines": benchmark_lines(eval_a, eval_b),
                "tables": label_tables(eval_a, eval_b),
                "speed": _speed(store, a, b, eval_a, eval_b),
                "confusions": confusions,
                "reliabilities": reliabilities,
                "messages": messages,
                "charts": bool(confusions and any(c for row in confusions for c in row["cells"]))
                or bool(reliabilities),
            },
        )

    @app.get("/disagreements", response_class=HTMLResponse)
    def disagreements_page(request: Request) -> HTMLResponse:
        a, b = pair(request)
        params = request.query_params
        query = DisagreementQuery(
            label=params.get("label") or "any",
            source=params.get("source") or "",
            example_set=params.get("example_set") or "",
            min_gap=parse_gap(params.get("min_gap")),
            page=parse_int(params.get("page"), "page", default=1),
        )
        context: dict[str, Any] = {"a": a.version, "b": b.version, "A": a, "B": b, "query": query}
        context["labels"] = DISAGREEMENT_LABELS
        missing = [v for v in (a, b) if store.examples(v) is None]
        if missing:
            context["messages"] = not_evaluated(missing, "evaluation examples", "so disagreements cannot be listed")
            return page(request, "disagreements", context)
        joined = store.joined(a, b)
        assert joined is not None
        context.update(
            {
                "messages": [],
                "result": disagreements(joined, query),
                "sources": facet_values(joined, "source"),
                "example_sets": facet_values(joined, "example_set"),
            }
        )
        return page(request, "disagreements", context)

    def try_context(a: VersionInfo, b: VersionInfo) -> dict[str, Any]:
        """The picker's examples: the most disagreed-on first, else the first examples of A."""
        joined = store.joined(a, b)
        picks: list[dict[str, Any]] = []
        if joined is not None and len(joined):
            top = joined.sort_values(["gap", "id"], ascending=[False, True], kind="mergesort").head(PICKER_EXAMPLES)
            picks = [{"id": r["id"], "label": f"{r['id']} (gap {r['gap']:.2f})"} for r in top.to_dict("records")]
        else:
            examples = store.examples(a) if store.examples(a) is not None else store.examples(b)
            if examples is not None:
                picks = [{"id": i, "label": str(i)} for i in examples["id"].head(PICKER_EXAMPLES)]
        return {"a": a.version, "b": b.version, "A": a, "B": b, "picks": picks}

    def example_text(a: VersionInfo, b: VersionInfo, example_id: str) -> str:
        for info in (a, b):
            examples = store.examples(info)
            if examples is not None:
                found = examples.loc[examples["id"] == example_id, "text"]
                if len(found):
                    return str(found.iloc[0])
        raise NotFoundError(f"no evaluation example with id {example_id!r} for versions {a.version} and {b.version}")

    @app.get("/try", response_class=HTMLResponse)
    def try_form(request: Request) -> HTMLResponse:
        a, b = pair(request)
        context = try_context(a, b)
        example_id = request.query_params.get("example")
        context["text"] = example_text(a, b, example_id) if example_id else ""
        context["example"] = example_id
        return page(request, "try", context)

    @app.post("/try", response_class=HTMLResponse)
    async def try_submit(request: Request) -> HTMLResponse:
        form = await _read_form(request)
        # Registry reads and scoring block: they run in the thread pool, not on the event loop.
        response: HTMLResponse = await run_in_threadpool(try_scored, request, form)
        return response

    def try_scored(request: Request, form: FormData) -> HTMLResponse:
        a = store.version(parse_version(_field(form, "a"), "model A"))
        b = store.version(parse_version(_field(form, "b"), "model B"))
        text = _field(form, "text")
        context = try_context(a, b)
        if len(text) > MAX_TEXT_CHARS:
            context["error"] = (
                f"The pasted text has {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,} "
                "(the longest article the models accept). Paste a shorter article."
            )
            return page(request, "try", {**context, "text": ""}, PayloadTooLargeError.status)
        if not text.strip():
            context["error"] = "Paste the text of an article (or pick an example) first."
            return page(request, "try", {**context, "text": text}, BadInputError.status)
        results = _assess_both(store, a, b, text)
        errors = [r["error"] for r in results if "error" in r]
        if errors:
            context["error"] = f"The text cannot be scored: {errors[0]}"
            return page(request, "try", {**context, "text": text}, BadInputError.status)
        context.update(
            {
                "text": text,
                "results": [
                    {
                        "info": info,
                        "assessment": assessment,
                        "segments": highlight(text, evidence_of(assessment)),
                        "events": top_event_types(assessment),
                    }
                    for info, assessment in zip((a, b), results, strict=True)
                ],
            }
        )
        return page(request, "try", context)

    @app.get("/promote", response_class=HTMLResponse)
    def promote_form(request: Request) -> HTMLResponse:
        a, b = pair(request)
        return page(request, "promote", {"a": a.version, "b": b.version, "A": a, "B": b, **_champion(store)})

    @app.post("/promote", response_class=HTMLResponse)
    async def promote_submit(request: Request) -> HTMLResponse:
        form = await _read_form(request)
        response: HTMLResponse = await run_in_threadpool(promoted, request, form)
        return response

    def promoted(request: Request, form: FormData) -> HTMLResponse:
        version = parse_version(_field(form, "version"), "version to promote")
        info = store.version(version)
        raw_a = form.get("a")
        a = store.version(parse_version(raw_a, "model A")) if isinstance(raw_a, str) and raw_a else info
        context = {"a": a.version, "b": info.version, "A": a, "B": info, **_champion(store)}
        try:
            principal = keys.admin(_field(form, "api_key", required=False))
            reason = _field(form, "reason", required=False).strip()
            if not reason:
                raise BadInputError("A promotion needs a reason (it is recorded on the version).")
            if len(reason) > 2000:
                raise BadInputError("Keep the reason under 2,000 characters.")
        except UIError as exc:
            return page(request, "promote", {**context, "error": exc.message}, exc.status)
        from training.promotion import GateRejectedError, promote

        force = form.get("force") == "on"
        try:
            done = promote(settings.model_name, info.version, reason, f"{principal.name} (ui)", force=force)
        except GateRejectedError:
            error = (
                f"v{info.version} failed the retraining gate. Promote it only if you mean to override the gate: "
                "tick the box below (the promotion is then recorded as forced)."
            )
            return page(request, "promote", {**context, "error": error}, GateConflictError.status)
        except MlflowException as exc:
            logger.exception("promotion of %s v%s failed", settings.model_name, info.version)
            error = f"The registry did not take the promotion: {exc.message}"
            return page(request, "promote", {**context, "error": error}, RegistryUnavailableError.status)
        # Aliases moved: show both versions as they are now.
        context.update({"A": store.version(a.version), "B": store.version(info.version), **_champion(store)})
        return page(request, "promote", {**context, "done": done})

    return app


def _speed(
    store: RegistryStore,
    a: VersionInfo,
    b: VersionInfo,
    eval_a: Mapping[str, Any] | None,
    eval_b: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """Latency and size lines of the Compare page (lower is better on each)."""

    def timing(info: VersionInfo, evaluation: Mapping[str, Any] | None, key: str) -> float | None:
        value = info.metrics.get(f"eval.timing.{key}")
        return value if value is not None else ((evaluation or {}).get("timing") or {}).get(key)

    lines = [
        (
            "ms per article (evaluation, corpus test split)",
            timing(a, eval_a, "ms_per_article"),
            timing(b, eval_b, "ms_per_article"),
            False,
        ),
        ("articles per second", timing(a, eval_a, "articles_per_s"), timing(b, eval_b, "articles_per_s"), True),
        ("ONNX model MB (int8)", a.metrics.get("model.onnx_megabytes"), b.metrics.get("model.onnx_megabytes"), False),
        ("logged model MB (all artifacts)", store.model_megabytes(a), store.model_megabytes(b), False),
    ]
    out = []
    for name, va, vb, better_high in lines:
        if va is None and vb is None:
            continue
        delta = None if va is None or vb is None else vb - va
        out.append({"name": name, "a": va, "b": vb, "delta": delta, "verdict": verdict(delta, better_high)})
    return out


def _charts(a: VersionInfo, b: VersionInfo, ex_a: pd.DataFrame | None, ex_b: pd.DataFrame | None) -> dict[str, Any]:
    """Confusion matrices (event types, severity) per version and reliability diagrams of both, as HTML."""
    confusions = []
    for title, make in (("Event types", event_type_confusion), ("Severity", severity_confusion)):
        cells: list[str | None] = []
        for side, info, examples in (("a", a, ex_a), ("b", b, ex_b)):
            matrix = make(examples) if examples is not None else None
            if matrix is None or not matrix.n:
                cells.append(None)
                continue
            heading = f"v{info.version}: {title.lower()} (accuracy {_num(matrix.accuracy)}, n={matrix.n:,})"
            cells.append(charts.confusion_heatmap(matrix, heading, f"cm-{title.lower().replace(' ', '-')}-{side}"))
        confusions.append({"title": title, "cells": cells})
    reliabilities = []
    if ex_a is not None and ex_b is not None:
        rel_a, rel_b = reliability_sets(ex_a), reliability_sets(ex_b)
        names = (f"v{a.version}", f"v{b.version}")
        for i, name in enumerate(rel_a):
            if rel_a[name].n or rel_b[name].n:
                diagram = charts.reliability_diagram(
                    f"Reliability: {name}", rel_a[name], rel_b[name], names, f"rel-{i}"
                )
                reliabilities.append({"title": name, "a": rel_a[name], "b": rel_b[name], "html": diagram})
    return {"confusions": confusions, "reliabilities": reliabilities}


def _champion(store: RegistryStore) -> dict[str, Any]:
    return {"champion": store.aliases().get("champion")}


def _assess_both(store: RegistryStore, a: VersionInfo, b: VersionInfo, text: str) -> list[dict[str, Any]]:
    """Both versions' assessment of one pasted text (the models' own predict path)."""
    record = {"id": "pasted-text", "text": text}
    results = []
    for info in (a, b):
        try:
            model = store.model(info.version)
        except Exception as exc:  # a missing or broken logged model: MLflow, OS and unpickling errors
            logger.exception("cannot load %s v%s", store.name, info.version)
            raise RegistryUnavailableError(f"Model v{info.version} cannot be loaded from the registry: {exc}") from None
        results.append(model.predict([record])[0])
    return results


async def _read_form(request: Request) -> FormData:
    """The posted form; 413 for a body over ``MAX_FORM_BYTES``, 422 for anything that is not a form."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise PayloadTooLargeError(f"The form is {int(length):,} bytes; the limit is {MAX_FORM_BYTES:,}.")
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise BadInputError("Send the page's form (application/x-www-form-urlencoded or multipart/form-data).")
    try:
        return await request.form(max_part_size=MAX_FORM_BYTES)
    except Exception as exc:  # python-multipart and Starlette raise several types for a broken body
        raise BadInputError(f"The form data could not be read: {str(exc)[:200]}") from None


def _field(form: FormData, name: str, *, required: bool = True) -> str:
    value = form.get(name)
    if value is None or not isinstance(value, str):
        if required:
            raise BadInputError(f"The form lacks the field {name!r}.")
        return ""
    return value


class _KeyStore:
    """The scoring service's API keys, opened on first use (the UI reads them to authorise promotions)."""

    def __init__(self, db_url: str | None) -> None:
        self.db_url = db_url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                from serving.config import db_url_from_env
                from serving.db import make_engine, migrate

                self._engine = make_engine(self.db_url or db_url_from_env())
                migrate(self._engine)
            return self._engine

    def admin(self, presented: str) -> Any:
        """The principal of an admin key; ``UnauthorizedError`` / ``ForbiddenError`` otherwise."""
        from serving.keys import KeyVerifier

        if not presented.strip():
            raise UnauthorizedError(
                "Promotion needs an admin API key (create one: threatscore keys create --role admin)."
            )
        principal = KeyVerifier(self.engine(), cache_seconds=0).verify(presented)
        if principal is None:
            raise UnauthorizedError("That API key is not valid (unknown, malformed or revoked).")
        if not principal.allows("admin"):
            raise ForbiddenError(
                f"Key {principal.key_id} ({principal.name}) has role {principal.role}; promotion needs admin."
            )
        return principal
