"""Which model the service serves, and how it changes without downtime.

The service follows a registry alias (``models:/threatscore@champion``). Every version it serves is first
imported into the BentoML model store (``bentoml.mlflow.import_model``: a local copy of the MLflow pyfunc with
the registry facts as labels and metadata), loaded from there, and smoke-checked (a fixed built-in article must
come back as a valid ``Assessment`` stamped with the right version). Only then does one reference assignment
make it the served model; requests already running finish on the model they started with. A failed load or
smoke check leaves the old model serving and is reported in ``status()``.

When the registry cannot be reached at start, the newest model this service imported before is served from the
BentoML model store, and ``status()`` (``GET /readyz``) says so; polling switches back to the registry's
version as soon as the registry answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from threatscore.articles import ArticleError, parse_article
from threatscore.registry import LoadedModel, ModelRef, configure_tracking, resolve
from threatscore.schemas import Assessment
from threatscore.settings import Settings
from threatscore.taxonomy import SIGNALS

logger = logging.getLogger(__name__)

#: The article every candidate model must score before it serves (a short, ordinary report).
SMOKE_ARTICLE: dict[str, Any] = {
    "id": "threatscore-smoke-check",
    "title": "Attack on army patrol",
    "text": (
        "Gunmen attacked an army patrol near the town of Qatrun in southern Libya on Wednesday, killing four "
        "soldiers. The army said it killed 23 militants in an operation that followed. Islamic State claimed "
        "responsibility for the attack."
    ),
    "published": "2022-01-29",
    "source": "threatscore",
}
#: Label that marks models in the BentoML store as imported by this service.
STORE_LABEL = "threatscore-service"
Source = Literal["registry", "model store"]


class NoModelError(RuntimeError):
    """No model is loaded yet (or none could be loaded)."""


class SmokeCheckError(RuntimeError):
    """A candidate model loaded but did not answer the smoke check correctly."""


@dataclass(frozen=True)
class ModelCard:
    """What ``GET /model`` tells about the served model."""

    name: str
    version: str | None
    alias: str | None
    uri: str
    run_id: str | None
    data_manifest_sha256: str | None
    metrics: dict[str, float]
    store_tag: str
    source: Source
    loaded_at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class ServedModel:
    """A loaded, smoke-checked model and the facts about it. Immutable: a swap replaces the whole object."""

    card: ModelCard
    model: LoadedModel
    signal_thresholds: dict[str, float]


@dataclass
class ReloadResult:
    """What one registry check did."""

    changed: bool
    previous: str | None
    current: str | None
    detail: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class _State:
    detail: str = "starting"
    last_check: str | None = None
    last_error: str | None = None
    degraded: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


def headline_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The run's ``eval.<task>.<metric>`` numbers (per-label ``eval.<task>.<label>.<stat>`` are left out)."""
    return {k: float(v) for k, v in sorted(metrics.items()) if k.startswith("eval.") and k.count(".") == 2}


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _store_name(model_name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in model_name.lower()).strip("-_.")
    return cleaned or "threatscore"


class ModelManager:
    """Loads, checks, serves and swaps the model behind one registry URI."""

    def __init__(self, model_uri: str, tracking: Settings, *, poll_seconds: float = 60.0, store_keep: int = 3) -> None:
        self.model_uri = model_uri
        self.tracking = tracking
        self.poll_seconds = poll_seconds
        self.store_keep = store_keep
        self._current: ServedModel | None = None
        self._state = _State()
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Load the model (registry first, else the store) and start polling. Never raises: a service without
        a model still starts, reports not-ready and keeps trying."""
        configure_tracking(self.tracking)
        try:
            error = self.check_for_update().error
        except Exception as exc:  # the registry can fail in many ways; all mean "use the local copy"
            error = _short(exc)
        if error is not None:
            logger.warning("cannot load %s from the registry: %s", self.model_uri, error)
            self._fall_back_to_store(error)
        if self.poll_seconds > 0:
            self._poller = threading.Thread(target=self._poll, name="threatscore-model-poller", daemon=True)
            self._poller.start()

    def close(self) -> None:
        """Stop polling (the served model stays usable until the process ends)."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                result = self.check_for_update()
                if result.changed or result.error:
                    logger.info("registry poll: %s", result.detail)
            except Exception:  # keep polling whatever happens
                logger.exception("registry poll failed")

    # ------------------------------------------------------------------------------------------ serving

    @property
    def current(self) -> ServedModel | None:
        """The model serving now (None before the first successful load)."""
        return self._current

    def predict(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Score records with the model serving now. Each result is ``{"result": <assessment or error dict>,
        "signals_present": [...]}``; the whole call uses one model even if a swap happens meanwhile."""
        served = self._current
        if served is None:
            raise NoModelError(self._state.detail)
        results = served.model.predict(records)
        out = []
        for result in results:
            present: list[str] = []
            if "error" not in result:
                signals = result.get("signals", {})
                present = [
                    name
                    for name in SIGNALS
                    if name in signals and signals[name]["probability"] >= served.signal_thresholds.get(name, 0.5)
                ]
            out.append({"result": result, "signals_present": present})
        return out

    def status(self) -> dict[str, Any]:
        """Readiness and what is served, for ``/readyz`` and ``GET /model``."""
        served = self._current
        return {
            "ready": served is not None,
            "model": served.card.to_dict() if served else None,
            "source": served.card.source if served else None,
            "detail": self._state.detail,
            "degraded": self._state.degraded,
            "model_uri": self.model_uri,
            "last_check": self._state.last_check,
            "last_error": self._state.last_error,
            "poll_seconds": self.poll_seconds,
        }

    # ------------------------------------------------------------------------------------------ updates

    def check_for_update(self) -> ReloadResult:
        """Ask the registry which version the alias points at; load, check and swap to it if it is new."""
        with self._reload_lock:
            previous = self._current
            previous_version = previous.card.version if previous else None
            self._state.last_check = _now()
            try:
                ref = resolve(self.model_uri)
            except Exception as exc:  # registry unreachable, alias missing, ...
                self._state.last_error = f"registry: {_short(exc)}"
                detail = f"registry check failed ({_short(exc)}); still serving version {previous_version}"
                if previous is None:
                    detail = f"registry check failed ({_short(exc)}); no model loaded"
                if self._state.degraded or previous is None:
                    self._state.detail = self._degraded_detail(previous, _short(exc))
                return ReloadResult(False, previous_version, previous_version, detail, self._state.last_error)
            if previous is not None and previous.card.version == ref.version and previous.card.name == ref.name:
                if previous.card.source != "registry":
                    self._current = replace(previous, card=replace(previous.card, source="registry", alias=ref.alias))
                    self._state.degraded = False
                self._state.last_error = None
                self._state.detail = self._serving_detail(self._current)
                return ReloadResult(False, previous_version, previous_version, f"version {ref.version} is current")
            try:
                candidate = self._load_from_registry(ref)
            except Exception as exc:
                logger.exception("loading %s failed; keeping version %s", ref.pinned_uri, previous_version)
                self._state.last_error = f"load {ref.pinned_uri}: {_short(exc)}"
                return ReloadResult(
                    False,
                    previous_version,
                    previous_version,
                    f"version {ref.version} failed to load or to pass the smoke check; still serving "
                    f"version {previous_version}",
                    self._state.last_error,
                )
            self._current = candidate  # the swap: one reference assignment
            self._state.degraded = False
            self._state.last_error = None
            self._state.detail = self._serving_detail(candidate)
            self._state.history.append({"version": candidate.card.version, "at": candidate.card.loaded_at})
            logger.info("now serving %s version %s (was %s)", ref.name, ref.version, previous_version)
            self._prune_store(keep_tag=candidate.card.store_tag)
            return ReloadResult(
                True, previous_version, candidate.card.version, f"switched {previous_version} -> {ref.version}"
            )

    def _serving_detail(self, served: ServedModel | None) -> str:
        if served is None:
            return "no model loaded"
        card = served.card
        return f"serving {card.name} version {card.version} ({card.alias or card.uri}) from the {card.source}"

    def _degraded_detail(self, served: ServedModel | None, error: str) -> str:
        if served is None:
            return (
                f"no model loaded: the registry is unreachable or has no {self.model_uri} ({error}), and the "
                "BentoML model store holds no imported copy"
            )
        card = served.card
        return (
            f"registry unreachable or without {self.model_uri} ({error}); serving the last imported model "
            f"{card.name} version {card.version} from the BentoML model store ({card.store_tag})"
        )

    # ------------------------------------------------------------------------------------------ loading

    def _load_from_registry(self, ref: ModelRef) -> ServedModel:
        """Import ``ref`` into the BentoML store (unless it is there), load it from there and smoke-check it."""
        import bentoml
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        name = ref.name or "model"
        run_id: str | None = None
        manifest: str | None = None
        metrics: dict[str, float] = {}
        source = ref.pinned_uri
        if ref.name and ref.version:
            version = client.get_model_version(ref.name, ref.version)
            run_id = version.run_id
            source = str(version.source)
            if run_id:
                run = client.get_run(run_id)
                manifest = run.data.tags.get("data.manifest_sha256")
                metrics = headline_metrics(dict(run.data.metrics))
        registry = self.tracking.registry_uri or self.tracking.tracking_uri
        digest = hashlib.sha256(f"{registry}|{run_id}|{source}".encode()).hexdigest()[:10]
        tag = f"{_store_name(name)}:v{ref.version or '0'}-{digest}"
        card = ModelCard(
            name=name,
            version=ref.version,
            alias=ref.alias,
            uri=ref.uri,
            run_id=run_id,
            data_manifest_sha256=manifest,
            metrics=metrics,
            store_tag=tag,
            source="registry",
            loaded_at=_now(),
        )
        stored = self._stored_model(tag)
        if stored is not None and not self._is_newest(stored):
            # Re-import so that "newest in the store" stays "last served" (the fallback's rule).
            bentoml.models.delete(tag)
            stored = None
        if stored is None:
            logger.info("importing %s into the BentoML model store as %s", ref.pinned_uri, tag)
            stored = bentoml.mlflow.import_model(
                tag,
                model_uri=ref.pinned_uri,
                labels={"owner": STORE_LABEL, "registered-name": _store_name(name)},
                metadata={"card": json.dumps(card.to_dict())},
            )
        try:
            return self._load_stored(stored, card)
        except Exception:
            bentoml.models.delete(tag)  # a copy that does not load must never become the fallback
            raise

    def _load_stored(self, stored: Any, card: ModelCard) -> ServedModel:
        import bentoml

        pyfunc = bentoml.mlflow.load_model(stored)
        loaded = LoadedModel(ModelRef(card.uri, card.name, card.version, card.alias), pyfunc)
        _smoke_check(loaded)
        return ServedModel(card=card, model=loaded, signal_thresholds=_thresholds(pyfunc))

    def _fall_back_to_store(self, error: str) -> None:
        """Serve the newest model this service imported before; says so in the status."""
        self._state.degraded = True
        self._state.last_error = error
        try:
            candidates = self._stored_models()
        except Exception as exc:
            logger.exception("cannot read the BentoML model store")
            candidates = []
            error = f"{error}; model store: {_short(exc)}"
        for stored in candidates:
            try:
                card_data = json.loads(stored.info.metadata.get("card", "{}"))
                card = replace(ModelCard(**card_data), source="model store", loaded_at=_now())
                served = self._load_stored(stored, card)
            except Exception:
                logger.exception("stored model %s does not load; trying an older one", stored.tag)
                continue
            self._current = served
            self._state.detail = self._degraded_detail(served, error)
            logger.warning("%s", self._state.detail)
            return
        self._state.detail = self._degraded_detail(None, error)
        logger.error("%s", self._state.detail)

    def _stored_models(self) -> list[Any]:
        """Models this service imported for this model name, newest first."""
        import bentoml

        wanted = _store_name(resolve_name(self.model_uri))
        models = [
            m
            for m in bentoml.models.list()
            if m.info.labels.get("owner") == STORE_LABEL and m.info.labels.get("registered-name") == wanted
        ]
        return sorted(models, key=lambda m: m.info.creation_time, reverse=True)

    def _stored_model(self, tag: str) -> Any | None:
        import bentoml
        from bentoml.exceptions import NotFound

        try:
            return bentoml.models.get(tag)
        except NotFound:
            return None

    def _is_newest(self, stored: Any) -> bool:
        newest = self._stored_models()
        return bool(newest) and str(newest[0].tag) == str(stored.tag)

    def _prune_store(self, keep_tag: str) -> None:
        """Keep the ``store_keep`` newest imported models (always the one serving)."""
        import bentoml

        try:
            for stored in self._stored_models()[self.store_keep :]:
                if str(stored.tag) != keep_tag:
                    bentoml.models.delete(stored.tag)
                    logger.info("removed %s from the BentoML model store", stored.tag)
        except Exception:  # pruning is housekeeping; never fail a swap over it
            logger.exception("pruning the BentoML model store failed")


def resolve_name(model_uri: str) -> str:
    """The registered model name in ``models:/name@alias`` or ``models:/name/N`` (else the URI itself)."""
    if model_uri.startswith("models:/"):
        rest = model_uri[len("models:/") :]
        return rest.split("@", 1)[0].split("/", 1)[0]
    return model_uri


def _smoke_check(model: LoadedModel) -> None:
    """Score the built-in article; the answer must be a valid Assessment stamped with this model's version."""
    parsed = parse_article(SMOKE_ARTICLE)
    if isinstance(parsed, ArticleError):  # pragma: no cover - the built-in article is valid by construction
        raise SmokeCheckError(parsed.describe())
    results = model.predict([dict(SMOKE_ARTICLE)])
    if len(results) != 1 or "error" in results[0]:
        raise SmokeCheckError(f"smoke article not scored: {results!r:.300}")
    assessment = Assessment.model_validate(results[0])
    if assessment.id != SMOKE_ARTICLE["id"]:
        raise SmokeCheckError(f"smoke article came back as {assessment.id!r}")
    if model.ref.version and assessment.model.version != model.ref.version:
        raise SmokeCheckError(f"assessment stamped version {assessment.model.version}, expected {model.ref.version}")


def _thresholds(pyfunc: Any) -> dict[str, float]:
    """The model's own signal decision thresholds (0.5 each when the model does not expose them)."""
    try:
        config = pyfunc.unwrap_python_model().scorer.config
        return {name: float(config.signal_thresholds[name]) for name in SIGNALS}
    except Exception:
        return dict.fromkeys(SIGNALS, 0.5)
