"""The product model's heads at inference: a fine-tuned MiniLM encoder exported to ONNX, run by onnxruntime.

Everything the encoder needs ships inside the pickled object (ONNX bytes, tokenizer JSON, label order,
temperatures), so the logged MLflow model carries no path into a training machine and no hub download.
Texts are sorted by length before batching so a batch pads to its own longest text, not the corpus'.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from threatscore.heads import FloatArray, HeadOutputs

logger = logging.getLogger(__name__)

#: ONNX output names, in the order the exported graph returns them.
OUTPUTS = ("relevance", "signals", "event_types", "severity", "resurgence")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class EncoderHeads:
    """``TextHeads`` over an ONNX encoder with five heads (relevance, signals, event types, severity, resurgence).

    ``temperatures`` (per output) are fitted on dev after training: logits are divided by them before the
    sigmoid/softmax, which is what makes the probabilities calibrated.
    """

    def __init__(
        self,
        onnx_model: bytes,
        tokenizer_json: str,
        *,
        max_length: int,
        max_words: int,
        temperatures: dict[str, float] | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self.onnx_model = onnx_model
        self.tokenizer_json = tokenizer_json
        self.max_length = max_length
        self.max_words: int | None = max_words
        self.temperatures = {k: 1.0 for k in OUTPUTS} | (temperatures or {})
        self.batch_size = batch_size
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_session=None, _tokenizer=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _ensure_loaded(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_str(self.tokenizer_json)
            tokenizer.enable_truncation(self.max_length)
            options = ort.SessionOptions()
            threads = self.threads or int(os.environ.get("THREATSCORE_THREADS", "0")) or (os.cpu_count() or 1)
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._session = ort.InferenceSession(self.onnx_model, options, providers=["CPUExecutionProvider"])
            self._tokenizer = tokenizer

    def logits(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Raw logits per output for ``texts`` (length-sorted batches, returned in input order)."""
        self._ensure_loaded()
        n = len(texts)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        parts: dict[str, list[np.ndarray]] = {k: [] for k in OUTPUTS}
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                seq = encodings[i].ids
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            wanted = {i.name for i in self._session.get_inputs()}
            outs = self._session.run(list(OUTPUTS), {k: v for k, v in feeds.items() if k in wanted})
            for name, value in zip(OUTPUTS, outs, strict=True):
                parts[name].append(value)
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        return {k: np.concatenate(v, axis=0)[inverse] if v else np.zeros((0,)) for k, v in parts.items()}

    def predict(self, texts: Sequence[str]) -> HeadOutputs:
        """Calibrated probabilities per text."""
        raw = self.logits(texts)
        t = self.temperatures
        return HeadOutputs(
            relevance=_sigmoid(raw["relevance"].reshape(-1) / t["relevance"]).astype(np.float64),
            signals=_sigmoid(raw["signals"] / t["signals"]).astype(np.float64),
            event_types=_softmax(raw["event_types"] / t["event_types"]).astype(np.float64),
            severity=_softmax(raw["severity"] / t["severity"]).astype(np.float64),
            resurgence=_sigmoid(raw["resurgence"].reshape(-1) / t["resurgence"]).astype(np.float64),
        )

    def predict_signals(self, texts: Sequence[str]) -> FloatArray:
        """Signal probabilities for sentences."""
        return self.predict(texts).signals

    def describe(self) -> dict[str, str]:
        """What scores each output (for the model card and the logs)."""
        return {name: f"onnx encoder head (T={self.temperatures[name]:.2f})" for name in OUTPUTS}
