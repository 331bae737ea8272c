"""The local engine: the model loaded once in this process, scoring one unit at a time."""

from __future__ import annotations

import logging
from typing import Any

from threatscore.registry import LoadedModel, ModelRef, load_model

logger = logging.getLogger(__name__)


class LocalEngine:
    """Scores with ``threatscore.registry.load_model`` — the predict path the CLI and the API use."""

    name = "local"

    def __init__(self, ref: ModelRef) -> None:
        self.model: LoadedModel = load_model(ref.uri)
        if self.model.ref.pinned_uri != ref.pinned_uri:
            # The alias moved between resolving and loading: refuse to mix two versions in one output.
            raise RuntimeError(f"{ref.uri} moved from {ref.pinned_uri} to {self.model.ref.pinned_uri} while starting")

    def score(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One assessment (or error dict) per record, in order."""
        return self.model.predict(records)

    def describe(self) -> dict[str, Any]:
        """What the summary records about this engine."""
        return {"engine": self.name}

    def close(self) -> None:
        """Nothing to release: the model goes with the process."""
