"""The product model's heads at inference: a fine-tuned MiniLM encoder exported to ONNX, run by onnxruntime.

Everything the encoder needs ships inside the pickled object (ONNX bytes, tokenizer JSON, label order,
temperatures), so the logged MLflow model carries no path into a training machine and no hub download.
Texts are sorted by length before batching so a batch pads to its own longest text, not the corpus', and
batches are cut at a token budget rather than a fixed number of rows; an int8 graph (dynamic quantisation) scores
each text in a batch of its own, so its scores never depend on what else was in the call. Several batches of a
call run side by side, one onnxruntime thread each.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from threatscore.heads import FloatArray, HeadOutputs, RuleSignal, rule_proba
from threatscore.taxonomy import SIGNALS

logger = logging.getLogger(__name__)

#: ONNX output names, in the order the exported graph returns them.
OUTPUTS = ("relevance", "signals", "event_types", "severity", "resurgence")
#: Tokens per encoder call (rows × padded width). Small batches keep a layer's activations in the core's cache:
#: on the 2-core Xeon, 512-token batches took ~40 % less CPU per chunk than 32 rows of ~220 tokens (7,000 tokens),
#: and less per sentence (benchmarks/results/served-path-changes.md).
DEFAULT_BATCH_TOKENS = 512


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def available_cpus() -> int:
    """CPUs this process may actually use: its affinity mask, capped by a cgroup v2 CPU quota.

    ``os.cpu_count()`` reports the host's CPUs; in a container limited to 2 CPUs on a 64-core host it
    would start 64 onnxruntime threads that fight over 2 cores.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text(encoding="utf-8").split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


#: Operators of onnxruntime's dynamic int8 quantisation: each reads its activations' range off the whole batch.
DYNAMIC_QUANT_OPS = (b"DynamicQuantizeLinear", b"DynamicQuantizeMatMul", b"MatMulInteger", b"QAttention")


def dynamically_quantized(onnx_model: bytes) -> bool:
    """Whether the graph quantises activations at run time (then a text's scores depend on its batch mates)."""
    return any(op in onnx_model for op in DYNAMIC_QUANT_OPS)


def unfuse_skip_layer_norm(onnx_model: bytes) -> tuple[bytes, list[str]]:
    """The graph with each fused ``SkipLayerNormalization`` (com.microsoft) written back as ``Add`` (+ ``Add`` of
    the bias) + ``LayerNormalization``, and the onnxruntime optimizer that would fuse them again, to disable.

    The same arithmetic, but onnxruntime's CPU kernel for the fused op took ~4x the time of the standard ops
    (0.96 vs 0.23 ms on 512 x 384 floats, one thread, on the 2-core Xeon), and it was a quarter of the encoder's
    time: the encoder takes ~20 % less CPU. The int8 outputs move by quantisation noise only (the same distance
    to the fp32 model; benchmarks/results/served-path-changes.md). Graphs without the op, or without opset 17 for
    ``LayerNormalization``, or when ``onnx`` is missing, are returned unchanged.
    """
    try:
        import onnx
        from onnx import helper
    except ImportError:  # onnx is a dependency; without it the fused graph still runs, only slower
        return onnx_model, []
    model = onnx.load_from_string(onnx_model)
    if next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0) < 17:
        return onnx_model, []
    nodes, rewritten = [], 0
    for node in model.graph.node:
        if not (node.op_type == "SkipLayerNormalization" and node.domain == "com.microsoft" and len(node.output) == 1):
            nodes.append(node)
            continue
        rewritten += 1
        prefix = f"unfused_skip_layer_norm_{rewritten}"  # node names may be empty; these must be unique
        x, skip, gamma = node.input[0], node.input[1], node.input[2]
        beta = node.input[3] if len(node.input) > 3 else ""
        bias = node.input[4] if len(node.input) > 4 else ""
        epsilon = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "epsilon"), 1e-12)
        summed = f"{prefix}/skip_sum"
        nodes.append(helper.make_node("Add", [x, skip], [summed], name=f"{prefix}/add_skip"))
        if bias:  # the fused kernel adds the bias after the skip
            nodes.append(helper.make_node("Add", [summed, bias], [f"{prefix}/bias_sum"], name=f"{prefix}/add_bias"))
            summed = f"{prefix}/bias_sum"
        norm_inputs = [summed, gamma, beta] if beta else [summed, gamma]
        nodes.append(
            helper.make_node(
                "LayerNormalization", norm_inputs, list(node.output), name=f"{prefix}/ln", axis=-1, epsilon=epsilon
            )
        )
    if not rewritten:
        return onnx_model, []
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model.SerializeToString(), ["SkipLayerNormFusion"]


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
        max_batch_tokens: int = DEFAULT_BATCH_TOKENS,
    ) -> None:
        self.onnx_model = onnx_model
        self.tokenizer_json = tokenizer_json
        self.max_length = max_length
        self.max_words: int | None = max_words
        self.temperatures = {k: 1.0 for k in OUTPUTS} | (temperatures or {})
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.threads = threads
        #: Run the batches of one call side by side, one thread each, when there are several (see ``logits``).
        self.parallel_batches = True
        #: Signals whose keyword rule is blended in: a text where the rule fires scores at least the rule's dev
        #: precision (``RuleSignal.p_hit``). Chosen per signal on dev at calibration (``training.minilm``).
        self.rule_signals: dict[str, RuleSignal] = {}
        self._session: Any = None
        self._solo: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._one_per_batch = False
        self._pid = 0
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_session=None, _solo=None, _pool=None, _tokenizer=None, _lock=None, _pid=0)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models pickled before the token budget and the parallel batches.
        state.setdefault("max_batch_tokens", DEFAULT_BATCH_TOKENS)
        state.setdefault("parallel_batches", True)
        state.setdefault("rule_signals", {})  # models pickled before the rule blend (v8 and earlier)
        state.setdefault("_solo", None)
        state.setdefault("_pool", None)
        state.setdefault("_one_per_batch", False)
        state.setdefault("_pid", 0)
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _ensure_loaded(self) -> None:
        # A process forked after loading (a pre-forking server, Spark's worker daemon) inherits the session and the
        # pool but not their threads: it builds its own.
        if self._session is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._session is not None and self._pid == os.getpid():
                return
            import onnxruntime as ort

            tokenizer = self._load_tokenizer()
            threads = self.threads or int(os.environ.get("THREATSCORE_THREADS", "0")) or available_cpus()
            graph, disabled = unfuse_skip_layer_norm(self.onnx_model)

            def session(intra_op_threads: int) -> Any:
                options = ort.SessionOptions()
                options.intra_op_num_threads = intra_op_threads
                options.inter_op_num_threads = 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                return ort.InferenceSession(
                    graph, options, providers=["CPUExecutionProvider"], disabled_optimizers=disabled
                )

            self._solo, self._pool = None, None
            if threads > 1:
                # Several batches: one single-threaded run per core (onnxruntime releases the GIL in ``run``).
                # A 512-token batch's GEMMs are too small to split well across cores; whole batches are not.
                self._solo = session(1)
                self._pool = ThreadPoolExecutor(threads, thread_name_prefix="threatscore-encoder")
            self._session = session(threads)
            # Dynamic int8 scales each activation tensor by its batch's range, padding and batch mates included:
            # the same article scored in another request, another batch size or on Spark would get other
            # numbers (up to 0.17 apart). Each text is its own batch, so its scores are its own; the batches
            # still run two at a time. Cost on 2 cores: 0–14 % of throughput in one process, up to ~30 % in
            # `make bench` on a busy host (benchmarks/results/served-path-changes.md, H).
            self._one_per_batch = dynamically_quantized(self.onnx_model)
            self._tokenizer = tokenizer
            self._pid = os.getpid()

    def _load_tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(self.tokenizer_json)
        tokenizer.enable_truncation(self.max_length)
        # A tokenizer saved by transformers keeps its model's padding setting (all-MiniLM-L6-v2: pad to the longest
        # text of the call). ``logits`` pads each length-sorted batch itself; padding here would pad every text of
        # a call to the call's longest one, defeat the sorting, and spend most of the encoder's time on padding.
        tokenizer.no_padding()
        return tokenizer

    def logits(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Raw logits per output for ``texts`` (length-sorted batches, returned in input order)."""
        self._ensure_loaded()
        n = len(texts)
        sequences = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        order = np.argsort(lengths, kind="stable")
        parts: dict[str, list[np.ndarray]] = {k: [] for k in OUTPUTS}
        padded = [self._pad(idx, sequences, int(lengths[idx[-1]])) for idx in self._batches(order, lengths)]
        if self._pool is not None and self.parallel_batches and len(padded) > 1:
            results = list(self._pool.map(lambda batch: self._run_batch(batch[0], batch[1], self._solo), padded))
        else:
            results = [self._run_batch(*batch) for batch in padded]
        for outputs in results:
            for name, value in zip(OUTPUTS, outputs, strict=True):
                parts[name].append(value)
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        return {k: np.concatenate(v, axis=0)[inverse] if v else np.zeros((0,)) for k, v in parts.items()}

    def _batches(self, order: np.ndarray, lengths: np.ndarray) -> Iterator[np.ndarray]:
        """Consecutive runs of ``order`` (indices sorted by length) of at most ``batch_size`` texts whose padded
        size (rows × longest) stays within ``max_batch_tokens`` (``THREATSCORE_BATCH_TOKENS`` overrides it, for
        tuning on another machine); a text longer than the budget goes alone. With a dynamically quantised graph
        every text goes alone (see ``_ensure_loaded``)."""
        if self._one_per_batch:
            yield from (order[i : i + 1] for i in range(len(order)))
            return
        budget = int(os.environ.get("THREATSCORE_BATCH_TOKENS", "0")) or self.max_batch_tokens
        start, n = 0, len(order)
        while start < n:
            end = start + 1
            while end < n and end - start < self.batch_size and (end - start + 1) * int(lengths[order[end]]) <= budget:
                end += 1
            yield order[start:end]
            start = end

    @staticmethod
    def _pad(idx: np.ndarray, sequences: list[list[int]], width: int) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask of the texts ``idx``, padded to ``width`` (the batch's longest)."""
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            seq = sequences[i]
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return ids, mask

    def _run_batch(self, ids: np.ndarray, mask: np.ndarray, session: Any = None) -> list[np.ndarray]:
        """The encoder on one padded batch: one logits array per name in ``OUTPUTS``."""
        session = session or self._session
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        wanted = {i.name for i in session.get_inputs()}
        return list(session.run(list(OUTPUTS), {k: v for k, v in feeds.items() if k in wanted}))

    def predict(self, texts: Sequence[str]) -> HeadOutputs:
        """Calibrated probabilities per text."""
        return self.outputs(self.logits(texts), texts)

    def outputs(self, raw: dict[str, np.ndarray], texts: Sequence[str]) -> HeadOutputs:
        """Calibrated probabilities from ``raw`` logits (rows follow ``texts``, which the blended rules read):
        temperatures, then the rule blend. Calibration reuses logits through it instead of running the model
        again."""
        t = self.temperatures
        signals = _sigmoid(raw["signals"] / t["signals"]).astype(np.float64)
        for name, rule in self.rule_signals.items():
            j = SIGNALS.index(name)
            signals[:, j] = np.maximum(signals[:, j], rule_proba(name, rule, texts))
        return HeadOutputs(
            relevance=_sigmoid(raw["relevance"].reshape(-1) / t["relevance"]).astype(np.float64),
            signals=signals,
            event_types=_softmax(raw["event_types"] / t["event_types"]).astype(np.float64),
            severity=_softmax(raw["severity"] / t["severity"]).astype(np.float64),
            resurgence=_sigmoid(raw["resurgence"].reshape(-1) / t["resurgence"]).astype(np.float64),
        )

    def predict_signals(self, texts: Sequence[str]) -> FloatArray:
        """Signal probabilities for sentences."""
        return self.predict(texts).signals

    def describe(self) -> dict[str, str]:
        """What scores each output (for the model card and the logs)."""
        heads = {name: f"onnx encoder head (T={self.temperatures[name]:.2f})" for name in OUTPUTS}
        rules = {
            f"signal.{n}": f"encoder head or keyword rule (p_hit={r.p_hit:.2f})" for n, r in self.rule_signals.items()
        }
        return heads | rules
