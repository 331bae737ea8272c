"""Fit the stacking layer (``threatscore.stacking``): per output, a logistic regression over every served score.

Fitted on the gold *train* items, as the scorer serves them; kept per output only where it lowers the dev log loss
against the heads' own score (signals on the dev rows with a gold or source label, resurgence on the gold dev
items), so a layer is kept only when it both ranks and is calibrated. The gold train items were seen by the encoder
in training, so their scores are a little more confident than unseen articles'; the dev check is what guards
against a layer that learned that.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from threatscore.heads import TextHeads
from threatscore.scorer import Scorer, ScorerConfig, ServedScores
from threatscore.stacking import STACK_INPUTS, STACKABLE, LinearLayer, Stacking, own_score_layer, stack_inputs
from threatscore.taxonomy import SIGNALS
from training.config import ResurgenceCalibrationConfig, StackingConfig
from training.metrics import best_threshold, binary_log_loss, expected_calibration_error
from training.minilm import Targets, choose_thresholds, corpus_articles

logger = logging.getLogger(__name__)


def fit_stacking(
    scorer: Scorer,
    gold_train: pd.DataFrame,
    train_frame: pd.DataFrame,
    dev_scores: ServedScores,
    dev_targets: Targets,
    config: StackingConfig,
) -> tuple[Stacking | None, dict[str, float]]:
    """The stacking layer for ``scorer`` (whose config must not stack yet), or None when no output gains on dev.

    ``gold_train``: annotations (``id``, ``sig_*``, ``resurgence``); ``train_frame``: corpus rows holding their texts;
    ``dev_scores``: the dev articles' served scores (rows follow ``dev_targets``)."""
    if scorer.config.stacking is not None:
        raise ValueError("fit_stacking needs the scorer's scores before stacking (config.stacking is set)")
    labels = gold_train.drop_duplicates("id").set_index("id")
    frame = train_frame.drop_duplicates("id")
    frame = frame[frame["id"].isin(labels.index)]
    if frame.empty:
        return None, {}
    labels = labels.loc[frame["id"]]
    train_scores = scorer.served_scores(corpus_articles(frame))
    x_train = _inputs(train_scores)
    x_dev = _inputs(dev_scores)
    metrics: dict[str, float] = {"stack.train_items": float(len(frame))}
    layers: dict[str, LinearLayer] = {}
    for name in STACKABLE:
        y_train = labels["resurgence" if name == "resurgence" else f"sig_{name}"].to_numpy(dtype=int)
        rows, y_dev, heads_dev = _dev_rows(name, dev_scores, dev_targets)
        if y_train.sum() < config.min_positives or len(set(y_dev)) < 2 or len(set(y_train)) < 2:
            continue
        heads_loss = binary_log_loss(y_dev, heads_dev)
        metrics[f"dev.stack.{name}.log_loss_heads"] = heads_loss
        best: tuple[float, float, LogisticRegression] | None = None
        for c in config.c_grid:
            fitted = LogisticRegression(C=c, max_iter=config.max_iter).fit(x_train, y_train)
            loss = binary_log_loss(y_dev, fitted.predict_proba(x_dev[rows])[:, 1])
            metrics[f"dev.stack.{name}.log_loss_at_c{c:g}"] = loss
            if best is None or loss < best[1]:
                best = (c, loss, fitted)
        assert best is not None  # c_grid is never empty (validated)
        c, loss, fitted = best
        if loss < heads_loss - 1e-4:
            layers[name] = LinearLayer(
                coef=tuple(float(v) for v in fitted.coef_[0]), intercept=float(fitted.intercept_[0])
            )
            metrics[f"dev.stack.{name}.c"] = c
            metrics[f"dev.stack.{name}.log_loss"] = loss
    logger.info("stacking: %d of %d outputs stacked (%s)", len(layers), len(STACKABLE), sorted(layers))
    return (Stacking(layers=layers) if layers else None), metrics


def _inputs(scores: ServedScores) -> np.ndarray:
    return stack_inputs(scores.signals, scores.relevance, scores.severity, scores.resurgence)


def _dev_rows(name: str, scores: ServedScores, targets: Targets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dev rows that carry ``name``'s label, their labels and the heads' own scores there."""
    if name == "resurgence":
        rows = np.flatnonzero(targets.resurgence_weight >= 1.0)
        return rows, targets.resurgence[rows].astype(int), scores.resurgence[rows]
    j = SIGNALS.index(name)
    rows = np.flatnonzero(targets.signal_weight[:, j] >= 1.0)
    return rows, targets.signals[rows, j].astype(int), scores.signals[rows, j]


def stack_and_rethreshold(
    heads: TextHeads,
    scorer_config: ScorerConfig,
    gold_train: pd.DataFrame,
    train_frame: pd.DataFrame,
    dev: pd.DataFrame,
    dev_targets: Targets,
    config: StackingConfig,
) -> tuple[ScorerConfig, dict[str, float]]:
    """``scorer_config`` with the stacking layer fitted for ``heads`` (``fit_stacking``) and the signal thresholds
    chosen again on the stacked dev scores (a layer moves every probability it replaces); unchanged when no output
    gains on dev."""
    scorer = Scorer(heads, scorer_config)
    dev_scores = scorer.served_scores(corpus_articles(dev))
    stacking, metrics = fit_stacking(scorer, gold_train, train_frame, dev_scores, dev_targets, config)
    if stacking is None:
        return scorer_config, metrics
    signals, _ = stacking.apply(dev_scores.signals, dev_scores.relevance, dev_scores.severity, dev_scores.resurgence)
    stacked = scorer_config.model_copy(update={"stacking": stacking})
    return choose_thresholds(stacked, dev, dev_targets, signals, dev_scores.relevance, metrics), metrics


#: Inverse L2 strength of the two-number Platt fit: next to none (two numbers on ~180 items do not overfit).
_PLATT_C = 1e4


def fit_platt(
    y: np.ndarray, z: np.ndarray, config: ResurgenceCalibrationConfig, seed: int
) -> tuple[tuple[float, float] | None, dict[str, float]]:
    """Platt scaling ``sigmoid(a · z + b)`` of logits ``z`` for labels ``y``: ``(a, b)``, or None when its
    out-of-fold log loss (``config.folds`` stratified folds) is not at least ``config.min_gain`` (relative) below
    that of ``sigmoid(z)`` as it is; and the log losses. Too few items of either class for the folds: None."""
    y = np.asarray(y, dtype=int)
    z = np.asarray(z, dtype=np.float64).reshape(-1, 1)
    as_is = binary_log_loss(y, 1.0 / (1.0 + np.exp(-z[:, 0])))
    metrics = {"log_loss_as_is": as_is}
    if min(int(y.sum()), int(len(y) - y.sum())) < config.folds:
        return None, metrics
    out_of_fold = np.empty(len(y))
    for train, test in StratifiedKFold(config.folds, shuffle=True, random_state=seed).split(z, y):
        out_of_fold[test] = LogisticRegression(C=_PLATT_C).fit(z[train], y[train]).predict_proba(z[test])[:, 1]
    metrics["log_loss_out_of_fold"] = binary_log_loss(y, out_of_fold)
    if metrics["log_loss_out_of_fold"] > as_is * (1.0 - config.min_gain):
        return None, metrics
    fitted = LogisticRegression(C=_PLATT_C).fit(z, y)
    return (float(fitted.coef_[0][0]), float(fitted.intercept_[0])), metrics


def calibrate_resurgence(
    heads: TextHeads,
    scorer_config: ScorerConfig,
    dev: pd.DataFrame,
    dev_targets: Targets,
    config: ResurgenceCalibrationConfig,
    seed: int,
) -> tuple[ScorerConfig, dict[str, float]]:
    """``scorer_config`` with the served resurgence score Platt-scaled on the gold dev items (a ``Stacking`` layer
    that reads the score alone) and ``resurgence_threshold`` chosen on the calibrated dev scores; unchanged when the
    scaling does not gain out of fold, or when stacking already re-reads resurgence."""
    if scorer_config.stacking is not None and "resurgence" in scorer_config.stacking.layers:
        logger.warning("resurgence is stacked already; its calibration is skipped")
        return scorer_config, {}
    scores = Scorer(heads, scorer_config).served_scores(corpus_articles(dev))
    rows, y, served = _dev_rows("resurgence", scores, dev_targets)
    inputs = _inputs(scores)[rows]
    platt, fit_metrics = fit_platt(y, inputs[:, STACK_INPUTS.index("resurgence")], config, seed)
    metrics = {f"dev.resurgence_calibration.{k}": v for k, v in fit_metrics.items()}
    metrics["dev.resurgence_calibration.ece_as_is"] = expected_calibration_error(y, served)
    if platt is None:
        logger.info("resurgence calibration: no out-of-fold gain on dev (%s); not applied", fit_metrics)
        return scorer_config, metrics
    layer = own_score_layer("resurgence", *platt)
    calibrated = layer(inputs)
    threshold = best_threshold(y, calibrated)
    metrics.update(
        {
            "dev.resurgence_calibration.slope": platt[0],
            "dev.resurgence_calibration.intercept": platt[1],
            "dev.resurgence_calibration.ece": expected_calibration_error(y, calibrated),
            "dev.resurgence.threshold": threshold,
        }
    )
    logger.info("resurgence calibration: sigmoid(%.3f · logit + %.3f), dev threshold %.3f", *platt, threshold)
    layers = {**(scorer_config.stacking.layers if scorer_config.stacking is not None else {}), "resurgence": layer}
    return scorer_config.model_copy(
        update={"stacking": Stacking(layers=layers), "resurgence_threshold": threshold}
    ), metrics
