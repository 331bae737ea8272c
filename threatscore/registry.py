"""Loading registered models: the registry alias is the hand-off between training and serving.

``load_model("models:/threatscore@champion")`` resolves the alias to a version, loads that version's pyfunc
and returns a ``LoadedModel`` whose ``predict`` stamps name, version and alias on every assessment.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import mlflow
import mlflow.pyfunc
from mlflow.tracking import MlflowClient

from threatscore.settings import Settings

logger = logging.getLogger(__name__)

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[\w-]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


def configure_tracking(settings: Settings) -> None:
    """Point MLflow at the configured tracking server and registry (call once per entry point)."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri or settings.tracking_uri)


@dataclass(frozen=True)
class ModelRef:
    """A model URI and, for registry URIs, the name, version and alias it resolved to."""

    uri: str
    name: str | None = None
    version: str | None = None
    alias: str | None = None

    @property
    def pinned_uri(self) -> str:
        """The URI of exactly this version (an alias can move between two loads; a version cannot)."""
        return f"models:/{self.name}/{self.version}" if self.name and self.version else self.uri


def resolve(uri: str) -> ModelRef:
    """Resolve ``models:/name@alias`` or ``models:/name/N`` against the registry; other URIs pass through."""
    if match := _ALIAS_URI.match(uri):
        version = MlflowClient().get_model_version_by_alias(match["name"], match["alias"]).version
        return ModelRef(uri, match["name"], str(version), match["alias"])
    if match := _VERSION_URI.match(uri):
        client = MlflowClient()
        mv = client.get_model_version(match["name"], match["version"])
        aliases = list(getattr(mv, "aliases", []) or [])
        return ModelRef(uri, match["name"], match["version"], aliases[0] if aliases else None)
    return ModelRef(uri)


class LoadedModel:
    """A loaded threatscore pyfunc and the registry facts about it."""

    def __init__(self, ref: ModelRef, pyfunc: Any) -> None:
        self.ref = ref
        self.pyfunc = pyfunc

    def predict(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Assessment dicts (or error dicts for invalid records), one per record, in order."""
        params = {"model_version": self.ref.version or "", "model_alias": self.ref.alias or ""}
        return list(self.pyfunc.predict(list(records), params=params))


def load_model(uri: str) -> LoadedModel:
    """Load a threatscore model by URI (an alias resolves to a pinned version first)."""
    ref = resolve(uri)
    logger.info("loading %s (version %s)", uri, ref.version)
    return LoadedModel(ref, mlflow.pyfunc.load_model(ref.pinned_uri))
