"""The MLflow pyfunc every consumer loads: articles in, assessments out.

Inside the logged model: ``heads`` (a pickled ``TextHeads``) and ``scorer_config`` (``ScorerConfig``
as JSON), so preprocessing, label maps and thresholds travel with the weights.
``predict`` accepts a DataFrame or a list of dicts (``id, text, title, published, source``) and returns
one dict per input row, in order: an ``Assessment`` as JSON-ready dict, or, for a row that is not a valid
article, ``{"id": ..., "error": ..., "field": ...}`` — a bad row never costs the others their scores.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from mlflow.pyfunc import PythonModel

from threatscore.articles import ArticleError, parse_article
from threatscore.schemas import Article, ModelInfo
from threatscore.scorer import Scorer, ScorerConfig

logger = logging.getLogger(__name__)

#: Articles scored per call to the heads (bounded memory for large inputs).
PREDICT_BATCH = 64


class ThreatscoreModel(PythonModel):
    """MLflow pyfunc wrapper around ``Scorer``."""

    def __init__(self) -> None:
        self.scorer: Scorer | None = None

    def load_context(self, context: Any) -> None:
        """Load heads and configuration from the model's artifacts."""
        self.scorer = load_scorer_from_artifacts(
            Path(context.artifacts["heads"]), Path(context.artifacts["scorer_config"])
        )

    # model_input carries no annotation on purpose: MLflow would otherwise derive a second, conflicting
    # input schema from it; the logged signature (training.packaging.SIGNATURE) is the one schema.
    def predict(self, context: Any, model_input, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
        """Score articles; ``params`` may carry ``model_version`` and ``model_alias`` to stamp on assessments."""
        if self.scorer is None:
            raise RuntimeError("model not loaded")
        params = params or {}
        info = ModelInfo(
            name=self.scorer.config.name,
            version=params.get("model_version") or None,
            alias=params.get("model_alias") or None,
        )
        return predict_records(self.scorer, _records(model_input), info)


def load_scorer_from_artifacts(heads_path: Path, config_path: Path) -> Scorer:
    """Build a ``Scorer`` from the two artifacts a threatscore model ships."""
    heads = joblib.load(heads_path)
    config = ScorerConfig.model_validate_json(config_path.read_text(encoding="utf-8"))
    return Scorer(heads, config)


def predict_records(scorer: Scorer, records: Iterable[dict[str, Any]], info: ModelInfo) -> list[dict[str, Any]]:
    """Validate and score records in batches; invalid ones become error dicts in their place."""
    results: list[dict[str, Any]] = []
    pending: list[tuple[int, Article]] = []

    def flush() -> None:
        if not pending:
            return
        scored = scorer.score([a for _, a in pending], info)
        for (slot, _), assessment in zip(pending, scored, strict=True):
            results[slot] = assessment.model_dump(mode="json")
        pending.clear()

    for record in records:
        parsed = parse_article(record)
        results.append({})
        if isinstance(parsed, ArticleError):
            results[-1] = parsed.to_dict()
        else:
            pending.append((len(results) - 1, parsed))
            if len(pending) >= PREDICT_BATCH:
                flush()
    flush()
    return results


def _records(model_input: Any) -> list[dict[str, Any]]:
    """Rows as plain dicts, with pandas' missing values (NaN/None/NaT) turned into absent fields."""
    if isinstance(model_input, pd.DataFrame):
        rows = model_input.to_dict(orient="records")
    elif isinstance(model_input, dict):
        rows = [model_input]
    else:
        rows = list(model_input)
    return [{str(k): v for k, v in row.items() if not _missing(v)} if isinstance(row, dict) else row for row in rows]


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)
