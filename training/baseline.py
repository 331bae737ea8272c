"""Fit the baseline's heads: shared TF-IDF features, calibrated logistic regressions, rules where labels are missing.

Hyper-parameters (C) and decision thresholds are chosen on the dev split; the test split is never read here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, log_loss

from threatscore.heads import RuleSignal, SklearnHeads, TemperatureScaled, TextHeads, temper
from threatscore.scorer import ScorerConfig
from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS, severity_level
from threatscore.text import chunk_spans, model_input
from training.config import BaselineExperiment
from training.metrics import best_threshold
from training.weak_event_types import with_weak_event_rows

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """The fitted heads, the configuration that ships with them, and dev-set facts for the run's log."""

    heads: TextHeads
    scorer_config: ScorerConfig
    dev_metrics: dict[str, float] = field(default_factory=dict)
    label_counts: dict[str, int] = field(default_factory=dict)


def model_texts(frame: pd.DataFrame) -> list[str]:
    """What the model reads for each corpus row (the same function the scorer uses)."""
    titles = frame["title"] if "title" in frame else pd.Series([None] * len(frame), index=frame.index)
    return [
        model_input(t, ti if isinstance(ti, str) and ti else None) for t, ti in zip(frame["text"], titles, strict=True)
    ]


def sample_per_source(frame: pd.DataFrame, cap: int, seed: int) -> pd.DataFrame:
    """At most ``cap`` rows of each source (random, seeded), sources in sorted order, index kept."""
    parts = [g.sample(n=min(len(g), cap), random_state=seed) for _, g in frame.groupby("source", sort=True)]
    return pd.concat(parts) if parts else frame


def sample_training_rows(corpus: pd.DataFrame, cap: int | None, seed: int) -> pd.DataFrame:
    """Train rows, at most ``cap`` per source (random, seeded), so large sources do not drown small ones."""
    train = corpus[corpus["split"] == "train"]
    return train if cap is None else sample_per_source(train, cap, seed)


#: Appended to a passage row's source, so passages are a group of their own when relevance weights are balanced.
PASSAGE_SOURCE_SUFFIX = ":passage"
#: The columns a passage takes from its article: where it comes from, its split and its relevance; every other
#: label is left missing.
PASSAGE_KEEPS = ["id", "source", "source_id", "source_file", "split", "split_rule", "published", "relevance"]


def article_passages(text: str, max_words: int) -> list[str]:
    """``text`` cut at sentence boundaries into consecutive passages of at most ~``max_words`` words, no overlap."""
    return [span.of(text) for span in chunk_spans(text, max_words, overlap_sentences=0)]


def negative_passages(train: pd.DataFrame, max_words: int, cap: int | None, seed: int) -> pd.DataFrame:
    """The non-relevant articles of ``train`` (relevance 0) cut into passages, one row each: id ``<id>#p<k>``,
    source ``<source>:passage``, no title, and relevance 0 as their only label. They are there for relevance: with
    their article's other labels (BBC's all-zero signals) three thousand easy negatives re-weighted the signal
    heads (``PASSAGE_KEEPS``). An article that fits in one passage is a row already and is left out. At most
    ``cap`` passages per source, drawn with ``seed`` (a frame without a ``source`` column is not capped)."""
    negatives = train[train["relevance"] == 0]
    picks: list[Any] = []
    texts: list[str] = []
    ordinals: list[int] = []
    for index, text in zip(negatives.index, negatives["text"], strict=True):
        pieces = article_passages(str(text), max_words)
        if len(pieces) > 1:
            picks += [index] * len(pieces)
            texts += pieces
            ordinals += range(len(pieces))
    passages = negatives.loc[picks].reset_index(drop=True)
    passages["id"] = [f"{i}#p{k}" for i, k in zip(passages["id"], ordinals, strict=True)]
    for column in passages.columns.difference(PASSAGE_KEEPS):
        passages[column] = passages[column].where(np.zeros(len(passages), dtype=bool))  # missing, dtype kept
    passages["text"] = texts
    if "title" in passages:
        passages["title"] = None
    if "source" not in passages:
        return passages
    passages["source"] = passages["source"].astype(str) + PASSAGE_SOURCE_SUFFIX
    return passages if cap is None else sample_per_source(passages, cap, seed).reset_index(drop=True)


def with_negative_passages(train: pd.DataFrame, max_words: int | None, cap: int | None, seed: int) -> pd.DataFrame:
    """``train`` followed by its :func:`negative_passages` (a fresh index); ``train`` itself when ``max_words`` is
    None."""
    if max_words is None:
        return train
    passages = negative_passages(train, max_words, cap, seed)
    logger.info("adding %d passages of %d-word max from non-relevant train articles", len(passages), max_words)
    return pd.concat([train, passages], ignore_index=True)


def fit_baseline(corpus: pd.DataFrame, config: BaselineExperiment) -> FitResult:
    """Fit every head of the baseline on the corpus' train split, choosing C and thresholds on dev."""
    train = sample_training_rows(corpus, config.data.max_rows_per_source, config.seed)
    train = with_negative_passages(
        train, config.data.negative_passage_words, config.data.max_rows_per_source, config.seed
    )
    dev = corpus[corpus["split"] == "dev"]
    train, dev = with_weak_event_rows(train, dev, config.data.weak_event_types)
    logger.info("fitting TF-IDF on %d training texts", len(train))
    vectorizer = TfidfVectorizer(
        max_features=config.tfidf.max_features,
        ngram_range=(1, config.tfidf.ngram_max),
        min_df=config.tfidf.min_df,
        sublinear_tf=config.tfidf.sublinear_tf,
        dtype=np.float32,
    )
    x_train = vectorizer.fit_transform(model_texts(train))
    x_dev = vectorizer.transform(model_texts(dev))
    fitter = _HeadFitter(config, x_train, x_dev)
    dev_metrics: dict[str, float] = {}
    counts: dict[str, int] = {}

    # Relevance labels are tied to sources (all conflict notes are 1, only BBC has 0s): balance every
    # (source, label) group so the head learns the topic, not the house style of the largest source.
    relevance, rel_threshold = fitter.binary(
        "relevance", train["relevance"], dev["relevance"], dev_metrics, counts, groups=train["source"]
    )

    signal_heads: dict[str, Any] = {}
    thresholds: dict[str, float] = {}
    rule = RuleSignal(config.signals.rule_p_hit, config.signals.rule_p_miss, config.rules_version)
    for name in SIGNALS:
        column = f"sig_{name}"
        labels = train[column] if column in train else pd.Series(pd.NA, index=train.index)
        positives, negatives = int((labels == 1).sum()), int((labels == 0).sum())
        counts[f"train.signal.{name}.positives"] = positives
        # mass_casualty is derived from severity by the scorer; a separate head would be a second opinion.
        trainable = name != "mass_casualty" and positives >= config.signals.min_positives
        if trainable and negatives >= config.signals.min_negatives:
            dev_labels = dev[column] if column in dev else pd.Series(pd.NA, index=dev.index)
            signal_heads[name], thresholds[name] = fitter.binary(
                f"signal.{name}", labels, dev_labels, dev_metrics, counts
            )
        else:
            signal_heads[name], thresholds[name] = rule, 0.5

    event_types = fitter.multiclass("event_types", train["sub_event_type"], dev["sub_event_type"], dev_metrics)
    severity = fitter.multiclass(
        "severity", _severity_labels(train["fatalities"]), _severity_labels(dev["fatalities"]), dev_metrics
    )
    heads = SklearnHeads(vectorizer, relevance, signal_heads, event_types, severity)
    scorer_config = ScorerConfig(
        name=config.tracking.register_as, relevance_threshold=rel_threshold, signal_thresholds=thresholds
    )
    return FitResult(heads, scorer_config, dev_metrics, counts)


def _severity_labels(fatalities: pd.Series) -> pd.Series:
    return fatalities.map(lambda v: severity_level(int(v)) if pd.notna(v) else pd.NA)


class _HeadFitter:
    """Fits one logistic regression per C on train, keeps the C with the best dev log loss, then calibrates it
    with a temperature fitted on dev (one refit-free pass: the budget is minutes on 2 cores)."""

    def __init__(self, config: BaselineExperiment, x_train: Any, x_dev: Any) -> None:
        self.config = config
        self.x_train = x_train
        self.x_dev = x_dev

    def _fit_best(
        self, xt: Any, yt: np.ndarray, xd: Any, yd: np.ndarray, weights: np.ndarray | None = None
    ) -> tuple[Any, float]:
        best, best_c, best_loss = None, self.config.head.c_grid[0], np.inf
        usable_dev = len(yd) > 0 and set(yd) <= set(yt)
        for c in self.config.head.c_grid:
            model = LogisticRegression(
                C=c, max_iter=self.config.head.max_iter, tol=1e-3, random_state=self.config.seed
            ).fit(xt, yt, sample_weight=weights)
            if not usable_dev:
                return model, c
            loss = log_loss(yd, model.predict_proba(xd), labels=model.classes_)
            if loss < best_loss:
                best, best_c, best_loss = model, c, loss
        return best, best_c

    def _calibrate(self, model: Any, xd: Any, yd: np.ndarray) -> Any:
        if self.config.head.calibration == "none" or len(yd) < 20 or not set(yd) <= set(model.classes_):
            return model
        proba = model.predict_proba(xd)
        index = np.searchsorted(model.classes_, yd)
        temperatures = np.exp(np.linspace(np.log(0.3), np.log(4.0), 40))
        losses = [-np.mean(np.log(temper(proba, t)[np.arange(len(yd)), index] + 1e-12)) for t in temperatures]
        return TemperatureScaled(model, float(temperatures[int(np.argmin(losses))]))

    def binary(
        self,
        name: str,
        y_train: pd.Series,
        y_dev: pd.Series,
        metrics: dict[str, float],
        counts: dict[str, int],
        groups: pd.Series | None = None,
    ) -> tuple[Any, float]:
        """A calibrated binary head and its dev-chosen threshold; ``groups`` balances (group, label) cells."""
        mask_t, mask_d = y_train.notna().to_numpy(), y_dev.notna().to_numpy()
        yt = y_train[mask_t].astype(int).to_numpy()
        yd = y_dev[mask_d].astype(int).to_numpy()
        counts[f"train.{name}.n"] = int(mask_t.sum())
        if len(set(yt)) < 2:
            raise ValueError(f"{name}: training labels have a single class; cannot fit a head")
        xd = self.x_dev[mask_d]
        weights = None
        if groups is not None:
            cells = pd.Series(list(zip(groups[mask_t].astype(str), yt, strict=True)))
            weights = (1.0 / cells.map(cells.value_counts())).to_numpy()
            weights *= len(weights) / weights.sum()
        model, c = self._fit_best(self.x_train[mask_t], yt, xd, yd, weights)
        model = self._calibrate(model, xd, yd)
        threshold = 0.5
        if len(yd) and len(set(yd)) == 2:
            proba = model.predict_proba(xd)[:, 1]
            threshold = best_threshold(yd, proba)
            metrics[f"dev.{name}.f1"] = float(f1_score(yd, proba >= threshold))
        metrics[f"dev.{name}.threshold"] = threshold
        metrics[f"dev.{name}.C"] = c
        logger.info("head %s: C=%s threshold=%.3f", name, c, threshold)
        return model, threshold

    def multiclass(self, name: str, y_train: pd.Series, y_dev: pd.Series, metrics: dict[str, float]) -> Any:
        """A calibrated multi-class head over the classes seen in training."""
        mask_t, mask_d = y_train.notna().to_numpy(), y_dev.notna().to_numpy()
        yt = y_train[mask_t].astype(str).to_numpy()
        yd = y_dev[mask_d].astype(str).to_numpy()
        unknown = set(yt) - (set(EVENT_TYPES) | set(SEVERITY_LEVELS))
        if unknown:
            raise ValueError(f"{name}: labels outside the taxonomy: {sorted(unknown)}")
        xd = self.x_dev[mask_d]
        model, c = self._fit_best(self.x_train[mask_t], yt, xd, yd)
        known = np.isin(yd, model.classes_)
        model = self._calibrate(model, xd[known], yd[known])
        if len(yd):
            pred = model.classes_[np.argmax(model.predict_proba(xd), axis=1)]
            metrics[f"dev.{name}.macro_f1"] = float(f1_score(yd, pred, average="macro"))
        metrics[f"dev.{name}.C"] = c
        logger.info("head %s: C=%s", name, c)
        return model
