"""Model heads: what turns texts into raw probabilities for relevance, signals, event types and severity.

The scorer (``threatscore.scorer``) talks to heads only through ``TextHeads``; the baseline's
scikit-learn heads live here, in the core, because the logged model unpickles them at serving time
and serving must never import ``training``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from threatscore.rules import rule_fires
from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS
from threatscore.text import sentences

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class HeadOutputs:
    """Raw per-text probabilities. Rows follow the input texts; columns follow the taxonomy's order."""

    relevance: FloatArray  # (n,)
    signals: FloatArray  # (n, len(SIGNALS))
    event_types: FloatArray  # (n, len(EVENT_TYPES)), rows sum to 1
    severity: FloatArray  # (n, len(SEVERITY_LEVELS)), rows sum to 1
    resurgence: FloatArray | None = None  # (n,) when the heads learned it; else the scorer derives it

    def take(self, rows: slice | Sequence[int] | NDArray[np.int_]) -> HeadOutputs:
        """The outputs of the texts at ``rows`` (a slice keeps them 2-D for one row: ``take(slice(k, k + 1))``)."""
        return HeadOutputs(
            relevance=self.relevance[rows],
            signals=self.signals[rows],
            event_types=self.event_types[rows],
            severity=self.severity[rows],
            resurgence=None if self.resurgence is None else self.resurgence[rows],
        )

    @staticmethod
    def concat(parts: Sequence[HeadOutputs]) -> HeadOutputs:
        """The rows of ``parts``, in order (no parts: zero rows); resurgence only when every part has it."""
        if not parts:
            return HeadOutputs(
                relevance=np.zeros(0),
                signals=np.zeros((0, len(SIGNALS))),
                event_types=np.zeros((0, len(EVENT_TYPES))),
                severity=np.zeros((0, len(SEVERITY_LEVELS))),
            )
        resurgence = [p.resurgence for p in parts if p.resurgence is not None]
        return HeadOutputs(
            relevance=np.concatenate([p.relevance for p in parts]),
            signals=np.concatenate([p.signals for p in parts]),
            event_types=np.concatenate([p.event_types for p in parts]),
            severity=np.concatenate([p.severity for p in parts]),
            resurgence=np.concatenate(resurgence) if len(resurgence) == len(parts) else None,
        )


class TextHeads(Protocol):
    """What a model must provide to be served by the scorer."""

    #: Longest text, in words, the heads read at once; longer articles are chunked. None: any length.
    max_words: int | None

    def predict(self, texts: Sequence[str]) -> HeadOutputs:
        """Probabilities for each (normalised) text."""
        ...

    def predict_signals(self, texts: Sequence[str]) -> FloatArray:
        """Signal probabilities for short texts (sentences), used to pick evidence."""
        ...

    def describe(self) -> dict[str, str]:
        """Which kind of head scores each output (for the model card and the logs)."""
        ...


@dataclass(frozen=True)
class RuleSignal:
    """A signal scored by ``threatscore.rules``: ``p_hit`` when a sentence fires, else ``p_miss``, with the rules of
    ``version`` (those the model was fitted with; models pickled before rules had versions read version 1)."""

    p_hit: float = 0.8
    p_miss: float = 0.03
    version: int = 1


def rule_proba(
    rules: Mapping[str, RuleSignal], texts: Sequence[str], *, whole_texts: bool = True
) -> dict[str, FloatArray]:
    """Per signal of ``rules``: ``p_hit`` for each text in which one of the signal's rules fires on a sentence, else
    ``p_miss`` (``whole_texts=False``: each text is one sentence). Each text is split into sentences once, whatever
    the number of signals: on a long article that split was most of the rules' time."""
    if not rules:
        return {}
    split = [sentences(t) for t in texts] if whole_texts else [[t] for t in texts]
    return {
        name: np.array(
            [rule.p_hit if any(rule_fires(name, s, rule.version) for s in sents) else rule.p_miss for sents in split]
        )
        for name, rule in rules.items()
    }


class SklearnHeads:
    """TF-IDF features shared by linear heads (the baseline). Signals without a trained head use a rule.

    Follows scikit-learn's conventions: estimators are fitted elsewhere (``training.baseline``) and
    handed in; this class only predicts.
    """

    max_words: int | None = None  # TF-IDF reads a whole article at once: no chunking, no truncation

    def __init__(
        self,
        vectorizer: Any,
        relevance: Any,
        signals: Mapping[str, Any],
        event_types: Any,
        severity: Any,
    ) -> None:
        missing = set(SIGNALS) - set(signals)
        if missing:
            raise ValueError(f"no head or rule for signals {sorted(missing)}")
        self.vectorizer = vectorizer
        self.relevance = relevance
        self.signals = dict(signals)
        self.event_types = event_types
        self.severity = severity

    def predict(self, texts: Sequence[str]) -> HeadOutputs:
        """Probabilities for whole texts."""
        features = self.vectorizer.transform(texts)
        return HeadOutputs(
            relevance=_positive_proba(self.relevance, features),
            signals=self._signals(texts, features, whole_texts=True),
            event_types=_class_proba(self.event_types, features, EVENT_TYPES),
            severity=_class_proba(self.severity, features, SEVERITY_LEVELS),
        )

    def predict_signals(self, texts: Sequence[str]) -> FloatArray:
        """Signal probabilities for sentences."""
        return self._signals(texts, self.vectorizer.transform(texts), whole_texts=False)

    def _signals(self, texts: Sequence[str], features: Any, *, whole_texts: bool) -> FloatArray:
        out = np.zeros((len(texts), len(SIGNALS)))
        rules = {name: head for name, head in self.signals.items() if isinstance(head, RuleSignal)}
        fired = rule_proba(rules, texts, whole_texts=whole_texts)
        for j, name in enumerate(SIGNALS):
            out[:, j] = fired[name] if name in fired else _positive_proba(self.signals[name], features)
        return out

    def describe(self) -> dict[str, str]:
        """Which kind of head scores each output (for the model card and the logs)."""
        kinds = {
            name: f"rule v{h.version}" if isinstance(h, RuleSignal) else type(h).__name__
            for name, h in self.signals.items()
        }
        return {"relevance": type(self.relevance).__name__, **{f"signal.{k}": v for k, v in kinds.items()}}


#: The outputs a blend weighs separately (resurgence is the encoder's alone: the lexical heads do not learn it).
BLENDED_OUTPUTS = ("relevance", "signals", "event_types", "severity")


class BlendedHeads:
    """An encoder's heads averaged with lexical (TF-IDF) heads, one weight per output.

    ``weights[output]`` is the encoder's share (1.0: the encoder alone, 0.0: the lexical heads alone), chosen on dev
    by ``training.lexical_blend.choose_lexical_blend``, and ``signal_weights`` may give single signals their own
    share (``lexical_blend.per_signal``, off by default); ``temperatures[output]`` then re-calibrates the blend (an
    average of two calibrated probabilities is not calibrated itself), fitted on dev too. The two kinds of head err
    differently: TF-IDF reads the ACLED vocabulary of event types ("IED", "shelling") that the encoder blurs, the
    encoder reads claims and context that bag-of-words misses. The scorer pools the encoder over an article's
    chunks and mixes in the TF-IDF heads read over the whole article, as they were trained (``mix``).
    """

    def __init__(
        self,
        encoder: TextHeads,
        lexical: TextHeads,
        weights: Mapping[str, float],
        temperatures: Mapping[str, float] | None = None,
        signal_weights: Mapping[str, float] | None = None,
    ) -> None:
        if set(weights) != set(BLENDED_OUTPUTS):
            raise ValueError(f"weights must name exactly {list(BLENDED_OUTPUTS)}, got {sorted(weights)}")
        signal_weights = dict(signal_weights or {})
        if set(signal_weights) - set(SIGNALS):
            raise ValueError(f"signal_weights must name signals of {list(SIGNALS)}, got {sorted(signal_weights)}")
        bad = {k: v for k, v in {**weights, **signal_weights}.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"blend weights must lie in [0, 1], got {bad}")
        temperatures = dict(temperatures or {})
        if set(temperatures) - set(BLENDED_OUTPUTS) or any(t <= 0 for t in temperatures.values()):
            raise ValueError(f"temperatures must be positive and name outputs of {list(BLENDED_OUTPUTS)}")
        self.encoder = encoder
        self.lexical = lexical
        self.weights = dict(weights)
        self.signal_weights = signal_weights
        self.temperatures = dict.fromkeys(BLENDED_OUTPUTS, 1.0) | temperatures
        self.max_words = encoder.max_words

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("signal_weights", {})  # blends pickled before per-signal shares
        self.__dict__.update(state)

    def shares(self) -> dict[str, float | FloatArray]:
        """The encoder's share per output, for ``blend_outputs`` (see ``blend_shares``)."""
        return blend_shares(self.weights, self.signal_weights)

    def predict(self, texts: Sequence[str]) -> HeadOutputs:
        """The weighted average of both heads' probabilities for each text, per output, re-calibrated. (The scorer
        instead mixes the encoder pooled over an article's chunks with the TF-IDF heads over the whole article.)"""
        return self.mix(self.encoder.predict(texts), self.lexical.predict(texts))

    def mix(self, encoder: HeadOutputs, lexical: HeadOutputs) -> HeadOutputs:
        """Blend the two heads' outputs for the same texts (or articles) and re-calibrate them."""
        return calibrate_outputs(blend_outputs(encoder, lexical, self.shares()), self.temperatures)

    def predict_signals(self, texts: Sequence[str], *, lexical: FloatArray | None = None) -> FloatArray:
        """Signal probabilities for sentences, blended with the signals' weight and re-calibrated (``lexical``: see
        ``mix_signals``)."""
        return self.mix_signals(self.encoder.predict_signals(texts), texts, lexical=lexical)

    def mix_signals(
        self, encoder: FloatArray, texts: Sequence[str], *, lexical: FloatArray | None = None
    ) -> FloatArray:
        """The encoder's signal probabilities for sentences ``texts`` (however it read them) blended with the
        lexical heads' and re-calibrated. ``lexical``: the lexical heads' probabilities for ``texts``, when they were
        read already (the scorer reads them on its second thread)."""
        w = self.shares()["signals"]
        lexical = self.lexical.predict_signals(texts) if lexical is None else lexical
        mixed = w * encoder + (1.0 - w) * lexical
        return temper_binary(mixed, self.temperatures["signals"])

    def describe(self) -> dict[str, str]:
        """Which kind of head scores each output (for the model card and the logs)."""
        lexical = {f"lexical.{k}": v for k, v in self.lexical.describe().items()}
        blend = {
            f"blend.{k}": f"{v:.2f} encoder + {1 - v:.2f} lexical, T={self.temperatures[k]:.2f}"
            for k, v in self.weights.items()
        }
        blend |= {f"blend.signal.{k}": f"{v:.2f} encoder + {1 - v:.2f} lexical" for k, v in self.signal_weights.items()}
        return {**self.encoder.describe(), **lexical, **blend}


def blend_shares(weights: Mapping[str, float], signal_weights: Mapping[str, float]) -> dict[str, float | FloatArray]:
    """The encoder's share per output for ``blend_outputs``: ``weights``, with the signals as one share per signal
    column (a signal's own share from ``signal_weights``, else the signals' common one)."""
    signals = np.array([signal_weights.get(n, weights["signals"]) for n in SIGNALS])
    return {**weights, "signals": signals}


def blend_outputs(encoder: HeadOutputs, lexical: HeadOutputs, weights: Mapping[str, float | FloatArray]) -> HeadOutputs:
    """``weights[o] * encoder.o + (1 - weights[o]) * lexical.o`` for each output ``o`` of ``BLENDED_OUTPUTS``
    (distributions stay distributions; a share may be one per column, as ``blend_shares`` gives the signals);
    resurgence is the encoder's."""
    mixed = {
        name: weights[name] * getattr(encoder, name) + (1.0 - weights[name]) * getattr(lexical, name)
        for name in BLENDED_OUTPUTS
    }
    return HeadOutputs(**mixed, resurgence=encoder.resurgence)


def calibrate_outputs(outputs: HeadOutputs, temperatures: Mapping[str, float]) -> HeadOutputs:
    """Each output of ``BLENDED_OUTPUTS`` re-calibrated by its temperature (1.0 or absent: unchanged): a binary
    probability through its logit, a distribution through ``temper``; resurgence as it is."""
    t = {name: temperatures.get(name, 1.0) for name in BLENDED_OUTPUTS}
    return HeadOutputs(
        relevance=temper_binary(outputs.relevance, t["relevance"]),
        signals=temper_binary(outputs.signals, t["signals"]),
        event_types=outputs.event_types if t["event_types"] == 1.0 else temper(outputs.event_types, t["event_types"]),
        severity=outputs.severity if t["severity"] == 1.0 else temper(outputs.severity, t["severity"]),
        resurgence=outputs.resurgence,
    )


def temper_binary(proba: Any, temperature: float) -> FloatArray:
    """Apply temperature ``T`` to probabilities of a binary event: ``sigmoid(logit p / T)``."""
    p = np.asarray(proba, dtype=np.float64)
    if temperature == 1.0:
        return p
    return np.asarray(1.0 / (1.0 + np.exp(-logit(p) / temperature)), dtype=np.float64)


def logit(proba: Any, eps: float = 1e-12) -> FloatArray:
    """``log p - log(1 - p)``, with ``p`` kept ``eps`` away from 0 and 1."""
    p = np.clip(np.asarray(proba, dtype=np.float64), eps, 1.0 - eps)
    return np.asarray(np.log(p) - np.log1p(-p), dtype=np.float64)


class TemperatureScaled:
    """A fitted probabilistic classifier whose probabilities are re-calibrated by one temperature:
    ``softmax(log p / T)``. Fitted on dev by ``training.baseline``; cheap, and it keeps the ranking."""

    def __init__(self, estimator: Any, temperature: float) -> None:
        self.estimator = estimator
        self.temperature = temperature
        self.classes_ = estimator.classes_

    def predict_proba(self, features: Any) -> FloatArray:
        """Calibrated class probabilities."""
        return temper(self.estimator.predict_proba(features), self.temperature)


def temper(proba: Any, temperature: float) -> FloatArray:
    """Apply temperature ``T`` to class probabilities: ``softmax(log p / T)`` (rows sum to 1)."""
    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return np.asarray(out / out.sum(axis=1, keepdims=True), dtype=np.float64)


def _positive_proba(estimator: Any, features: Any) -> FloatArray:
    proba = estimator.predict_proba(features)
    classes = list(estimator.classes_)
    return np.asarray(proba[:, classes.index(1)], dtype=np.float64) if 1 in classes else np.zeros(proba.shape[0])


def _class_proba(estimator: Any, features: Any, labels: Sequence[str]) -> FloatArray:
    """Spread an estimator's probabilities over the full label set (labels it never saw get 0)."""
    proba = estimator.predict_proba(features)
    out = np.zeros((proba.shape[0], len(labels)))
    index = {label: i for i, label in enumerate(labels)}
    for k, cls in enumerate(estimator.classes_):
        out[:, index[str(cls)]] = proba[:, k]
    return out
