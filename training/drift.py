"""Has the stream the service scores drifted away from the training data? A domain classifier says.

Recent scored articles (the service database's ``articles`` with an assessment in the last N days) and as many
training rows are labelled 1 and 0; TF-IDF + logistic regression tries to tell them apart, cross-validated
(the vectorizer is fitted inside each fold). ROC AUC ≈ 0.5: the two look alike; near 1: the model is being
asked about text unlike anything it learnt from. The terms that separate the two sets most go in the report,
so a reader sees *what* changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sqlalchemy import select
from sqlalchemy.engine import Engine

from serving.db import ArticleRow, AssessmentRow, utcnow
from threatscore.text import normalize
from training.config import DriftConfig

logger = logging.getLogger(__name__)

#: Terms per side listed in the report.
TOP_TERMS = 10


@dataclass(frozen=True)
class DriftResult:
    """The drift check's verdict and the numbers behind it."""

    checked: bool
    drifted: bool
    message: str
    auc: float | None = None
    auc_std: float | None = None
    threshold: float | None = None
    n_recent: int = 0
    n_training: int = 0
    since: str | None = None
    #: Terms that most mark an article as recent / as training data.
    recent_terms: list[str] = field(default_factory=list)
    training_terms: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def recent_articles(engine: Engine, *, since: dt.datetime, limit: int) -> list[str]:
    """Texts of the articles scored since ``since``, newest first (each article once)."""
    query = (
        select(ArticleRow.id, ArticleRow.title, ArticleRow.text)
        .where(ArticleRow.id.in_(select(AssessmentRow.article_pk).where(AssessmentRow.scored_at >= since)))
        .order_by(ArticleRow.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        return [_text(r.title, r.text) for r in connection.execute(query)]


def _text(title: str | None, text: str) -> str:
    return normalize(f"{title}. {text}" if title else text)


def check_drift(
    engine: Engine, training: pd.DataFrame, config: DriftConfig, *, now: dt.datetime | None = None
) -> DriftResult:
    """Compare recent scored articles with the training rows of ``training`` (corpus schema)."""
    if not config.enabled:
        return DriftResult(checked=False, drifted=False, message="drift check disabled")
    since = (now or utcnow()) - dt.timedelta(days=config.window_days)
    recent = recent_articles(engine, since=since, limit=config.max_articles)
    if len(recent) < config.min_articles:
        return DriftResult(
            checked=False,
            drifted=False,
            message=f"not enough recent articles for a drift check ({len(recent)} scored in the last "
            f"{config.window_days} days < {config.min_articles})",
            n_recent=len(recent),
            since=since.isoformat(timespec="seconds"),
        )
    pool = training[training["split"] == "train"]
    sample = pool.sample(n=min(len(pool), len(recent)), random_state=config.seed)
    titles = sample["title"].astype("string").fillna("")
    old = [_text(t or None, x) for t, x in zip(titles, sample["text"].astype(str), strict=True)]
    result = domain_auc(recent, old, config)
    return DriftResult(since=since.isoformat(timespec="seconds"), **result)


def domain_auc(recent: list[str], old: list[str], config: DriftConfig) -> dict[str, Any]:
    """Cross-validated ROC AUC of a classifier telling ``recent`` from ``old``, and the terms it leans on."""
    texts = recent + old
    y = np.array([1] * len(recent) + [0] * len(old))
    folds = min(config.folds, len(recent), len(old))
    if folds < 2:
        return {"checked": False, "drifted": False, "message": "too few texts on one side for a drift check"}
    pipeline = make_pipeline(
        TfidfVectorizer(max_features=20_000, min_df=1, sublinear_tf=True),
        LogisticRegression(C=1.0, max_iter=1000),
    )
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
    scores = cross_val_score(pipeline, texts, y, cv=splits, scoring="roc_auc")
    auc, std = float(np.mean(scores)), float(np.std(scores))
    pipeline.fit(texts, y)
    vocabulary = pipeline[0].get_feature_names_out()
    coef = pipeline[1].coef_[0]
    order = np.argsort(coef)
    drifted = auc >= config.auc_threshold
    verdict = "drift" if drifted else "no drift"
    message = f"{verdict}: domain classifier ROC AUC {auc:.3f} ± {std:.3f} (threshold {config.auc_threshold:.2f})"
    logger.info("%s on %d recent vs %d training texts", message, len(recent), len(old))
    return {
        "checked": True,
        "drifted": drifted,
        "message": message,
        "auc": auc,
        "auc_std": std,
        "threshold": config.auc_threshold,
        "n_recent": len(recent),
        "n_training": len(old),
        "recent_terms": [str(vocabulary[i]) for i in order[::-1][:TOP_TERMS]],
        "training_terms": [str(vocabulary[i]) for i in order[:TOP_TERMS]],
    }
