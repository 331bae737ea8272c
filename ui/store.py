"""Reading the MLflow registry for the UI: versions, their runs' metrics, and the evaluation artifacts.

Evaluation artifacts and logged models of a version are immutable once written, so they are downloaded once and
kept (on disk under the app's cache folder, parsed in a small in-memory LRU). A missing artifact is not cached:
a version evaluated while the UI runs shows its evaluation on the next page load. Registry listings (versions,
aliases, run metrics) are read fresh each time, because aliases move.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from threatscore.registry import LoadedModel, load_model
from ui.data import NotFoundError, expand_examples, join_examples

logger = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used cache; ``get_or_make`` computes a missing value once.

    Values that ``make`` returns as None are not stored (a missing artifact may appear later).
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[K, threading.Lock] = {}

    def get_or_make(self, key: K, make: Callable[[], V | None]) -> V | None:
        """The cached value of ``key``, else ``make()`` (stored unless None)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            # One maker per key: two pages asking for the same large table download it once.
            key_lock = self._making.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            value = make()
            with self._lock:
                self._making.pop(key, None)
                if value is not None:
                    self._items[key] = value
                    self._items.move_to_end(key)
                    while len(self._items) > self.maxsize:
                        self._items.popitem(last=False)
            return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


@dataclass(frozen=True)
class VersionInfo:
    """One registered version and the facts of the run that produced it."""

    version: str
    aliases: tuple[str, ...]
    #: When the training run started (UTC).
    created: dt.datetime
    run_id: str | None
    run_name: str | None
    model_id: str | None
    manifest_sha256: str | None
    metrics: dict[str, float]
    tags: dict[str, str]
    #: Tags of the registered version itself (promotion record, retraining gate verdict ``retrain.gate``).
    version_tags: dict[str, str]

    @property
    def evaluated(self) -> bool:
        """True once ``threatscore evaluate`` (or training with evaluation) logged ``eval.*`` metrics."""
        return any(k.startswith("eval.") for k in self.metrics)


def _info(mv: Any, run: Any, aliases: list[str]) -> VersionInfo:
    """A ``VersionInfo`` from a registry ModelVersion and its run (None when the run is gone)."""
    tags = dict(run.data.tags) if run else {}
    source = str(mv.source or "")
    # Training date: when the run started (the version is registered at its end), else the registration.
    started = run.info.start_time if run and run.info.start_time else mv.creation_timestamp
    # MLflow 3 registers logged models by source ``models:/m-<id>``; the id finds the model's artifacts.
    model_id = getattr(mv, "model_id", None) or (source.split("/", 1)[1] if source.startswith("models:/m-") else None)
    return VersionInfo(
        version=str(mv.version),
        aliases=tuple(aliases),
        created=dt.datetime.fromtimestamp(started / 1000, tz=dt.UTC),
        run_id=mv.run_id or None,
        run_name=run.info.run_name if run else None,
        model_id=model_id,
        manifest_sha256=tags.get("data.manifest_sha256"),
        metrics=dict(run.data.metrics) if run else {},
        tags={k: v for k, v in tags.items() if not k.startswith("mlflow.")},
        version_tags=dict(mv.tags or {}),
    )


class RegistryStore:
    """The registered model ``name`` as the pages need it, with artifacts cached under ``cache_dir``."""

    def __init__(self, name: str, cache_dir: Path, *, examples_cache: int = 6, models_cache: int = 3) -> None:
        self.name = name
        self.cache_dir = cache_dir
        self.client = MlflowClient()
        self._evaluations: LRU[str, dict[str, Any]] = LRU(64)
        self._examples: LRU[str, pd.DataFrame] = LRU(examples_cache)
        self._joined: LRU[tuple[str, str], pd.DataFrame] = LRU(examples_cache)
        self._sizes: LRU[str, float] = LRU(256)
        self._models: LRU[str, LoadedModel] = LRU(models_cache)

    # ----------------------------------------------------------------------------------------- registry

    def aliases(self) -> dict[str, str]:
        """Alias -> version of the registered model (empty when it does not exist yet)."""
        try:
            model = self.client.get_registered_model(self.name)
        except MlflowException:
            return {}
        return {alias: str(version) for alias, version in (model.aliases or {}).items()}

    def versions(self) -> list[VersionInfo]:
        """Every version, newest first, with its aliases, run metrics and data manifest hash."""
        try:
            found = self.client.search_model_versions(f"name = '{self.name}'")
        except MlflowException:
            return []
        aliases: dict[str, list[str]] = {}
        for alias, version in sorted(self.aliases().items()):
            aliases.setdefault(version, []).append(alias)
        runs = self._runs([mv.run_id for mv in found if mv.run_id])
        out = [_info(mv, runs.get(mv.run_id or ""), aliases.get(str(mv.version), [])) for mv in found]
        return sorted(out, key=lambda v: int(v.version), reverse=True)

    def version(self, version: str) -> VersionInfo:
        """One version; ``NotFoundError`` when the registry does not have it."""
        try:
            mv = self.client.get_model_version(self.name, version)
        except MlflowException:
            raise NotFoundError(f"model {self.name} has no version {version}") from None
        run = None
        if mv.run_id:
            try:
                run = self.client.get_run(mv.run_id)
            except MlflowException:
                logger.warning("run %s of %s v%s is missing", mv.run_id, self.name, version)
        return _info(mv, run, sorted(a for a, v in self.aliases().items() if v == str(mv.version)))

    def _runs(self, run_ids: list[str]) -> dict[str, Any]:
        """Runs by id, fetched in a few searches rather than one query per version."""
        if not run_ids:
            return {}
        experiments = [e.experiment_id for e in self.client.search_experiments()]
        found: dict[str, Any] = {}
        unique = sorted(set(run_ids))
        for start in range(0, len(unique), 100):
            chunk = unique[start : start + 100]
            quoted = ", ".join(f"'{r}'" for r in chunk)
            for run in self.client.search_runs(
                experiments, filter_string=f"attributes.run_id IN ({quoted})", max_results=len(chunk)
            ):
                found[run.info.run_id] = run
        for run_id in set(unique) - set(found):  # a run in a deleted or unlisted experiment
            try:
                found[run_id] = self.client.get_run(run_id)
            except MlflowException:
                logger.warning("run %s of %s is missing", run_id, self.name)
        return found

    # ----------------------------------------------------------------------------------------- artifacts

    def _download(self, info: VersionInfo, path: str) -> Path | None:
        """A run artifact of ``info`` as a local file under the cache folder, or None when it was not logged."""
        if info.run_id is None:
            return None
        target = self.cache_dir / "runs" / info.run_id / path
        if target.exists():
            return target
        folder, _, filename = path.rpartition("/")
        try:
            listed = {Path(a.path).name for a in self.client.list_artifacts(info.run_id, folder or None)}
        except (MlflowException, OSError):
            return None
        if filename not in listed:
            return None
        # download_artifacts puts the file itself into dst_path: the artifact's folder goes in the target path.
        target.parent.mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(run_id=info.run_id, artifact_path=path, dst_path=str(target.parent))
        return Path(local)

    def evaluation(self, info: VersionInfo) -> dict[str, Any] | None:
        """The version's ``evaluation/evaluation.json`` (benchmark rows, timing), or None when not evaluated."""

        def make() -> dict[str, Any] | None:
            local = self._download(info, "evaluation/evaluation.json")
            return json.loads(local.read_text(encoding="utf-8")) if local else None

        return self._evaluations.get_or_make(info.version, make)

    def examples(self, info: VersionInfo) -> pd.DataFrame | None:
        """The version's ``evaluation/examples.parquet``, expanded (``ui.data.expand_examples``), or None."""

        def make() -> pd.DataFrame | None:
            local = self._download(info, "evaluation/examples.parquet")
            if local is None:
                return None
            try:
                return expand_examples(pd.read_parquet(local))
            except (ValueError, OSError) as exc:  # an old or damaged table: treat as not evaluated
                logger.warning("examples of %s v%s unreadable: %s", self.name, info.version, exc)
                return None

        return self._examples.get_or_make(info.version, make)

    def joined(self, a: VersionInfo, b: VersionInfo) -> pd.DataFrame | None:
        """Both versions' examples joined with their gaps (``ui.data.join_examples``), or None if one lacks them."""

        def make() -> pd.DataFrame | None:
            ex_a, ex_b = self.examples(a), self.examples(b)
            return None if ex_a is None or ex_b is None else join_examples(ex_a, ex_b)

        return self._joined.get_or_make((a.version, b.version), make)

    def model_megabytes(self, info: VersionInfo) -> float | None:
        """Total size of the version's logged model artifacts in MB (10^6 bytes), or None when unknown."""
        if info.model_id is None:
            return None
        model_id = info.model_id

        def walk(path: str | None) -> int:
            total = 0
            for item in self.client.list_logged_model_artifacts(model_id, path):
                total += walk(item.path) if item.is_dir else int(item.file_size or 0)
            return total

        def make() -> float | None:
            try:
                return walk(None) / 1e6
            except (MlflowException, OSError) as exc:
                logger.warning("size of %s v%s unknown: %s", self.name, info.version, exc)
                return None

        return self._sizes.get_or_make(info.version, make)

    def model(self, version: str) -> LoadedModel:
        """The version's model, loaded through the registry (kept in a small LRU: loading takes seconds)."""
        loaded = self._models.get_or_make(version, lambda: load_model(f"models:/{self.name}/{version}"))
        assert loaded is not None
        return loaded
