"""A linear layer over an article's served scores: resurgence and signals re-read from all of them.

The heads score each output on its own, but the outputs inform one another: an annotator calls an item
"resurgence" when it shows attacks *and* claims, recruitment or ground taken, and a prison break or a security
vacuum rarely comes without an attack. ``Stacking`` holds, per stacked output, a logistic regression over every
article-level score as served (each signal's probability, relevance, expected severity and the resurgence head,
as logits), fitted on the gold *train* items and kept only where it lowers the dev log loss
(``training.stacking``). It ships inside ``ScorerConfig``: plain numbers, applied by the scorer after pooling, so
every caller of the one predict path gets it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from threatscore.heads import FloatArray, logit
from threatscore.taxonomy import SEVERITY_LEVELS, SIGNALS

#: What a stacking layer reads, in this order (probabilities as logits; expected severity as 0–3).
STACK_INPUTS: tuple[str, ...] = (
    *(f"signal.{name}" for name in SIGNALS),
    "relevance",
    "severity.expected",
    "resurgence",
)
#: What a stacking layer may replace. mass_casualty is served as the high-severity probability, so it stays one
#: number with the severity level.
STACKABLE: tuple[str, ...] = (*(name for name in SIGNALS if name != "mass_casualty"), "resurgence")
#: How far probabilities are kept from 0 and 1 before their logits are taken.
_EPS = 1e-6


class LinearLayer(BaseModel):
    """``sigmoid(inputs · coef + intercept)`` over ``STACK_INPUTS``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coef: tuple[float, ...]
    intercept: float

    @field_validator("coef")
    @classmethod
    def _one_per_input(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if len(value) != len(STACK_INPUTS):
            raise ValueError(f"coef must have {len(STACK_INPUTS)} values (one per STACK_INPUTS), got {len(value)}")
        return value

    def __call__(self, inputs: FloatArray) -> FloatArray:
        """The layer's probability for each row of ``inputs`` (``stack_inputs``)."""
        z = inputs @ np.asarray(self.coef, dtype=np.float64) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def own_score_layer(name: str, slope: float, intercept: float) -> LinearLayer:
    """``sigmoid(slope · logit(own score) + intercept)``: the output re-read from its own score alone (Platt scaling,
    ``training.stacking.calibrate_resurgence``)."""
    coef = [0.0] * len(STACK_INPUTS)
    coef[STACK_INPUTS.index(name if name == "resurgence" else f"signal.{name}")] = slope
    return LinearLayer(coef=tuple(coef), intercept=intercept)


class Stacking(BaseModel):
    """The stacked outputs of a model, each a ``LinearLayer``; outputs not named keep their heads' scores."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layers: dict[str, LinearLayer]

    @field_validator("layers")
    @classmethod
    def _stackable(cls, value: dict[str, LinearLayer]) -> dict[str, LinearLayer]:
        unknown = set(value) - set(STACKABLE)
        if unknown:
            raise ValueError(f"cannot stack {sorted(unknown)}: stackable outputs are {list(STACKABLE)}")
        return value

    def apply(
        self, signals: FloatArray, relevance: FloatArray, severity: FloatArray, resurgence: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """The signals ``(n, len(SIGNALS))`` and resurgence ``(n,)`` with the stacked outputs replaced; every
        layer reads the scores as they were before stacking."""
        inputs = stack_inputs(signals, relevance, severity, resurgence)
        signals = np.array(signals, dtype=np.float64, copy=True)
        resurgence = np.asarray(resurgence, dtype=np.float64)
        for name, layer in self.layers.items():
            if name == "resurgence":
                resurgence = layer(inputs)
            else:
                signals[:, SIGNALS.index(name)] = layer(inputs)
        return signals, resurgence

    def apply_one(
        self, signals: Mapping[str, float], relevance: float, severity: Mapping[str, float], resurgence: float
    ) -> tuple[dict[str, float], float]:
        """``apply`` for one article's scores, keyed by name."""
        stacked, res = self.apply(
            np.array([[signals[n] for n in SIGNALS]]),
            np.array([relevance]),
            np.array([[severity[level] for level in SEVERITY_LEVELS]]),
            np.array([resurgence]),
        )
        return {n: float(stacked[0, j]) for j, n in enumerate(SIGNALS)}, float(res[0])


def stack_inputs(
    signals: FloatArray, relevance: FloatArray, severity: FloatArray, resurgence: FloatArray
) -> FloatArray:
    """The ``(n, len(STACK_INPUTS))`` inputs of a stacking layer from n articles' served scores: signal
    probabilities ``(n, 10)``, relevance ``(n,)``, severity distributions ``(n, 4)`` and resurgence ``(n,)``."""
    signals = np.atleast_2d(np.asarray(signals, dtype=np.float64))
    expected = np.atleast_2d(np.asarray(severity, dtype=np.float64)) @ np.arange(len(SEVERITY_LEVELS))
    return np.column_stack(
        [
            logit(signals, _EPS),
            logit(np.asarray(relevance, dtype=np.float64), _EPS),
            expected,
            logit(np.asarray(resurgence, dtype=np.float64), _EPS),
        ]
    )
