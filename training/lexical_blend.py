"""TF-IDF heads next to the encoder: fit them, choose each output's blend weight on dev, re-calibrate the blend,
re-choose thresholds.

``threatscore.heads.BlendedHeads`` averages the encoder's and the lexical heads' probabilities per output. The
weights are chosen here on the dev articles scored exactly as served (the encoder pooled over the chunks, the TF-IDF
heads over the whole article), by each output's dev log loss; a temperature per output then re-calibrates the
blend, and the thresholds are chosen again on it, since a blend moves every probability.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import f1_score, log_loss

from threatscore.heads import (
    BLENDED_OUTPUTS,
    BlendedHeads,
    FloatArray,
    HeadOutputs,
    TextHeads,
    blend_outputs,
    blend_shares,
    logit,
)
from threatscore.scorer import Scorer, ScorerConfig
from threatscore.taxonomy import SIGNALS
from training.baseline import fit_baseline
from training.config import BaselineExperiment, DataConfig, MiniLMExperiment
from training.metrics import best_f1, binary_log_loss
from training.minilm import IGNORE, Targets, choose_thresholds, corpus_articles, fit_temperature, relevance_rows

logger = logging.getLogger(__name__)

#: How far probabilities are kept from 0 and 1 in log losses and logits.
_EPS = 1e-7


def fit_lexical_heads(corpus: pd.DataFrame, config: MiniLMExperiment) -> TextHeads:
    """The baseline's TF-IDF heads, fitted on the same corpus' train split with the experiment's seed."""
    blend = config.lexical_blend
    if blend is None:
        raise ValueError(f"experiment {config.name!r} has no lexical_blend section")
    baseline = BaselineExperiment(
        name=f"{config.name}-lexical",
        seed=config.seed,
        data=DataConfig(
            raw_dir=config.data.raw_dir,
            processed_dir=config.data.processed_dir,
            max_rows_per_source=blend.max_rows_per_source,
            negative_passage_words=config.data.negative_passage_words,
            weak_event_types=config.data.weak_event_types,
        ),
        tfidf=blend.tfidf,
        head=blend.head,
        signals=blend.signals,
        rules_version=config.rules_version,
        tracking=config.tracking,
    )
    return fit_baseline(corpus, baseline).heads


def choose_lexical_blend(
    encoder: TextHeads,
    lexical: TextHeads,
    scorer_config: ScorerConfig,
    dev: pd.DataFrame,
    targets: Targets,
    grid: Sequence[float],
    per_signal: bool = False,
    threshold_resamples: int = 0,
    seed: int = 0,
) -> tuple[BlendedHeads, ScorerConfig, dict[str, float]]:
    """Each output's encoder share from ``grid``: the one with the lowest dev log loss on the dev articles scored as
    served (relevance on ``relevance_rows``, signals on the rows with gold or source labels, event types and severity
    on their labelled rows). Log loss, a proper scoring rule, rewards a share only when it both ranks and is
    calibrated: on dev, TF-IDF relevance read chunk by chunk raised the best-threshold F1 of the blend but doubled its
    calibration error. Ties (within 1e-4) keep the larger encoder share. The dev F1 of every share is logged too.
    With ``per_signal``, each signal then gets its own share where that lowers its own dev log loss
    (``choose_signal_shares``). Thresholds are then chosen on the blend (``choose_thresholds``, with
    ``threshold_resamples`` bootstrap resamples when set)."""
    articles = corpus_articles(dev)
    # Both kinds of head read every dev article once, as the scorer serves a blend: the encoder pooled over the
    # chunks, the TF-IDF heads over the whole article; the weights only re-mix those outputs.
    scorer = Scorer(encoder, scorer_config)
    pooled = scorer.pooled_outputs(articles)
    whole = lexical.predict([scorer.whole_input(a) for a in articles])
    metrics: dict[str, float] = {}
    losses: dict[str, dict[float, float]] = {}
    for w in grid:
        mixed = blend_outputs(pooled, whole, dict.fromkeys(BLENDED_OUTPUTS, w))
        for output, (loss, f1) in _dev_scores(mixed, dev, targets).items():
            metrics[f"dev.blend.{output}.log_loss_at_{w:.2f}"] = loss
            metrics[f"dev.blend.{output}.f1_at_{w:.2f}"] = f1
            losses.setdefault(output, {})[w] = loss
    weights = {output: _lowest_loss_share(losses[output]) if output in losses else 1.0 for output in BLENDED_OUTPUTS}
    metrics.update({f"dev.blend.{output}.weight": w for output, w in weights.items()})
    signal_weights: dict[str, float] = {}
    if per_signal:
        signal_weights = choose_signal_shares(pooled.signals, whole.signals, targets, grid, weights["signals"])
        metrics.update({f"dev.blend.signal.{name}.weight": w for name, w in signal_weights.items()})
    shares = blend_shares(weights, signal_weights)
    temperatures = blend_temperatures(blend_outputs(pooled, whole, shares), dev, targets)
    # An output the encoder scores alone keeps the encoder's own calibration.
    alone = {o: bool(np.all(np.asarray(shares[o]) == 1.0)) for o in BLENDED_OUTPUTS}
    temperatures = {output: 1.0 if alone[output] else t for output, t in temperatures.items()}
    metrics.update({f"dev.blend.{output}.temperature": t for output, t in temperatures.items()})
    logger.info(
        "lexical blend, encoder share per output: %s, per signal: %s; temperatures %s",
        weights,
        signal_weights or "none",
        temperatures,
    )
    heads = BlendedHeads(encoder, lexical, weights, temperatures, signal_weights)
    served = heads.mix(pooled, whole)
    config = choose_thresholds(
        scorer_config, dev, targets, served.signals, served.relevance, metrics, threshold_resamples, seed
    )
    return heads, config, metrics


def choose_signal_shares(
    encoder: FloatArray, lexical: FloatArray, targets: Targets, grid: Sequence[float], common: float
) -> dict[str, float]:
    """Each signal's own encoder share from ``grid``: the one with the lowest dev log loss on that signal's labelled
    rows (gold or source labels), kept only where it differs from the signals' ``common`` share and beats it by more
    than 1 % of its loss (a share per signal rests on a few dev positives; the common share on all of them).
    mass_casualty is served as the high-severity probability and keeps the common share."""
    chosen: dict[str, float] = {}
    for j, rows in _judged_signals(targets):
        gold = targets.signals[rows, j]
        losses = {
            w: binary_log_loss(gold, w * encoder[rows, j] + (1.0 - w) * lexical[rows, j]) for w in {*grid, common}
        }
        best = _lowest_loss_share(losses)
        if best != common and losses[best] < 0.99 * losses[common]:
            chosen[SIGNALS[j]] = best
    return chosen


def _lowest_loss_share(losses: Mapping[float, float]) -> float:
    """The encoder share with the lowest dev loss; ties (within 1e-4) keep the larger share."""
    best = max(losses)
    for w in sorted(losses, reverse=True):
        if losses[w] < losses[best] - 1e-4:
            best = w
    return best


def _judged_signals(targets: Targets) -> Iterator[tuple[int, NDArray[np.bool_]]]:
    """(column, labelled dev rows) of each signal whose blend is judged on its own: gold or source labels on at least
    10 rows with at least 3 positives. mass_casualty is served as the high-severity probability, not the signal
    head, so it is never judged."""
    labelled = targets.signal_weight >= 1.0
    for j, name in enumerate(SIGNALS):
        rows = labelled[:, j]
        if name != "mass_casualty" and rows.sum() >= 10 and targets.signals[rows, j].sum() >= 3:
            yield j, rows


def blend_temperatures(pooled: HeadOutputs, dev: pd.DataFrame, targets: Targets) -> dict[str, float]:
    """A temperature per blended output, minimising dev NLL of the articles' pooled outputs: relevance on
    ``relevance_rows`` (the sources with both labels, where its calibration is measured), signals on the rows with
    gold or source labels, event types and severity on their labelled rows; the outputs as served, per article."""
    rows = relevance_rows(dev, targets)
    return {
        "relevance": fit_temperature(logit(pooled.relevance[rows], _EPS), targets.relevance[rows], "binary"),
        "signals": fit_temperature(
            logit(pooled.signals, _EPS).reshape(-1),
            np.where(targets.signal_weight >= 1.0, targets.signals, np.nan).reshape(-1),
            "binary",
        ),
        "event_types": fit_temperature(
            np.log(np.clip(pooled.event_types, 1e-12, 1.0)), targets.event_types, "multiclass"
        ),
        "severity": fit_temperature(np.log(np.clip(pooled.severity, 1e-12, 1.0)), targets.severity, "multiclass"),
    }


def _dev_scores(pooled: HeadOutputs, dev: pd.DataFrame, targets: Targets) -> dict[str, tuple[float, float]]:
    """Each output's dev (log loss, F1) on the rows that carry its label (an output with no such rows is left out).
    F1: relevance best-threshold F1, signals the mean best-threshold F1 over the signals with at least 3 positives,
    event types weighted F1, severity macro F1."""
    scores: dict[str, tuple[float, float]] = {}
    known = relevance_rows(dev, targets)
    if known.any():
        gold = targets.relevance[known].astype(int)
        scores["relevance"] = (binary_log_loss(gold, pooled.relevance[known]), best_f1(gold, pooled.relevance[known]))
    labelled = targets.signal_weight >= 1.0
    per_signal = [
        best_f1(targets.signals[rows, j].astype(int), pooled.signals[rows, j]) for j, rows in _judged_signals(targets)
    ]
    if labelled.any():
        loss = binary_log_loss(targets.signals[labelled], pooled.signals[labelled])
        scores["signals"] = (loss, float(np.mean(per_signal)) if per_signal else 0.0)
    for output, average in (("event_types", "weighted"), ("severity", "macro")):
        labels = getattr(targets, output)
        rows = labels != IGNORE
        if rows.any():
            proba = getattr(pooled, output)[rows]
            loss = float(log_loss(labels[rows], proba, labels=np.arange(proba.shape[1])))
            f1 = float(f1_score(labels[rows], proba.argmax(axis=1), average=average, zero_division=0))
            scores[output] = (loss, f1)
    return scores
