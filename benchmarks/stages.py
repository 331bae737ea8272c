"""Where the scoring time goes: explicit timers around the stages of ``threatscore.scorer.Scorer``.

``StageClock.wrap`` times a callable and books its *exclusive* time (its own time minus the time of wrapped
calls inside it) to a stage, so nested stages never count twice and the stages plus "other" add up to the
wall time of the call. Each timer costs about a microsecond per call (a handful of calls per article), far
below the milliseconds an article takes, so the clock stays on during the timed runs.

``instrument`` installs timers on a loaded case (instance attributes and module attributes of the worker
process only; nothing is changed on disk or in other processes) and keeps references to the tokenizer's
encodings, so the tokens the model read can be counted after the timed run.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

#: Stage names, in report order. "other" is what no timer covers: pooling, building and validating the
#: assessments (pydantic), the pyfunc wrapper and input validation.
STAGES = (
    "tokenization",
    "model",
    "model input/output",
    "lexical heads",
    "text preparation",
    "evidence selection",
    "places",
    "language",
    "fatalities",
    "other",
)


class StageClock:
    """Exclusive wall time per stage of wrapped calls (single-threaded callers)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._children: list[float] = []

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with its exclusive time booked to ``stage``."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._children.append(0.0)
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                inner = self._children.pop()
                self.seconds[stage] += elapsed - inner
                self.calls[stage] += 1
                if self._children:
                    self._children[-1] += elapsed

        return timed

    def reset(self) -> None:
        """Forget what was booked so far."""
        self.seconds.clear()
        self.calls.clear()

    def shares(self, total_seconds: float) -> dict[str, float]:
        """Each stage's share of ``total_seconds`` (the wall time of the measured calls), with "other" the rest."""
        if total_seconds <= 0:
            return {}
        out = {stage: self.seconds.get(stage, 0.0) / total_seconds for stage in STAGES if stage != "other"}
        out["other"] = max(0.0, 1.0 - sum(out.values()))
        return out


class _TokenizerProxy:
    """A ``tokenizers.Tokenizer`` whose ``encode_batch`` is timed and whose encodings are kept for counting."""

    def __init__(self, tokenizer: Any, clock: StageClock, seen: list[Any]) -> None:
        self._inner = tokenizer
        self._seen = seen
        self.encode_batch = clock.wrap("tokenization", self._encode_batch)

    def _encode_batch(self, texts: Any, *args: Any, **kwargs: Any) -> Any:
        encodings = self._inner.encode_batch(texts, *args, **kwargs)
        self._seen.append(encodings)  # a reference only; lengths are read after the timed run
        return encodings

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Instrumented:
    """Timers installed on one case; ``token_lengths()`` gives the token count of every model input since
    the last ``reset()``, and how many were cut at the tokenizer's maximum length."""

    def __init__(self, clock: StageClock) -> None:
        self.clock = clock
        self._encodings: list[Any] = []

    def reset(self) -> None:
        """Start a new measurement."""
        self.clock.reset()
        self._encodings.clear()

    def token_lengths(self) -> tuple[list[int], int]:
        """(tokens per model input, number of inputs the tokenizer truncated)."""
        lengths, truncated = [], 0
        for batch in self._encodings:
            for encoding in batch:
                lengths.append(len(encoding.ids))
                truncated += bool(encoding.overflowing)
        return lengths, truncated


def instrument(heads: Any, scorer: Any = None) -> Instrumented:
    """Install stage timers on ``heads`` and, when given, on ``scorer`` and the scorer module's post-processing
    functions. Encoder heads (``EncoderHeads`` and subclasses) are timed in detail (tokenizer, engine, the
    batching around them); other heads (the TF-IDF baseline) as one "model" stage; a blend (``BlendedHeads``) as its
    encoder, plus its TF-IDF heads as "lexical heads"."""
    from threatscore.heads import BlendedHeads

    clock = StageClock()
    result = Instrumented(clock)
    if isinstance(heads, BlendedHeads):
        heads.lexical.predict = clock.wrap("lexical heads", heads.lexical.predict)  # type: ignore[method-assign]
        heads.lexical.predict_signals = clock.wrap("lexical heads", heads.lexical.predict_signals)  # type: ignore[method-assign]
        heads = heads.encoder
    if hasattr(heads, "_run_batch") and hasattr(heads, "_ensure_loaded"):
        heads._ensure_loaded()
        # The stage clock is one stack per process: batches run side by side on threads would interleave their
        # timers. The shares are measured with the batches in sequence (the same work, on two intra-op threads).
        heads.parallel_batches = False
        heads._tokenizer = _TokenizerProxy(heads._tokenizer, clock, result._encodings)
        heads._run_batch = clock.wrap("model", heads._run_batch)
        # ``_encode`` is behind ``logits``, ``predict`` and ``predict_in_context`` (evidence read in the chunk call):
        # batching, padding and the sentence pooling around the engine.
        heads._encode = clock.wrap("model input/output", heads._encode)
        heads.predict = clock.wrap("model input/output", heads.predict)
        heads.predict_in_context = clock.wrap("model input/output", heads.predict_in_context)
    else:
        heads.predict = clock.wrap("model", heads.predict)
        heads.predict_signals = clock.wrap("model", heads.predict_signals)
    if scorer is not None:
        import threatscore.geo
        import threatscore.scorer

        # One clock stack per process (see above): the text's own work runs in sequence with the encoder's.
        scorer.parallel_text_work = False
        scorer._prepare = clock.wrap("text preparation", scorer._prepare)
        scorer._evidence = clock.wrap("evidence selection", scorer._evidence)
        threatscore.scorer.find_fatalities = clock.wrap("fatalities", threatscore.scorer.find_fatalities)
        threatscore.scorer.detect_language = clock.wrap("language", threatscore.scorer.detect_language)
        threatscore.geo.resolve_regions = clock.wrap("places", threatscore.geo.resolve_regions)
    return result
