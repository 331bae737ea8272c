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
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np

from threatscore.heads import FloatArray, HeadOutputs, RuleSignal, rule_proba
from threatscore.taxonomy import SIGNALS

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

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


#: Extra graph output added at load time: the encoder's last hidden state, the token vectors the heads pool.
TOKEN_STATES = "token_states"


def expose_token_states(onnx_model: bytes) -> tuple[bytes, tuple[np.ndarray, np.ndarray] | None]:
    """The graph with the encoder's last hidden state as an extra output (``TOKEN_STATES``), and the signal head's
    weights (hidden × signals) and bias, so a sentence can be scored from the tokens it has inside its chunk.

    The exported graph pools ``Mul(hidden, mask) → ReduceSum → Div`` and applies each head as a ``Gemm`` (the fp32
    optimised graph) or ``MatMul`` + ``Add`` (int8 export keeps the heads in fp32) with initializer weights. A graph
    laid out otherwise is returned unchanged with no head, and its sentences are scored on their own."""
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        return onnx_model, None
    model = onnx.load_from_string(onnx_model)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    weights = {init.name: init for init in graph.initializer}

    def produced_by(name: str, op: str) -> Any:
        node = producer.get(name)
        return node if node is not None and node.op_type == op else None

    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    pooled: str | None = None
    if (gemm := produced_by("signals", "Gemm")) is not None and len(gemm.input) == 3:  # the fp32 optimised graph
        attributes = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
        if gemm.input[1] in weights and gemm.input[2] in weights and not attributes.get("transA"):
            matrix = numpy_helper.to_array(weights[gemm.input[1]])
            weight = (matrix.T if attributes.get("transB") else matrix) * float(attributes.get("alpha", 1.0))
            bias = numpy_helper.to_array(weights[gemm.input[2]]) * float(attributes.get("beta", 1.0))
            pooled = gemm.input[0]
    elif (add := produced_by("signals", "Add")) is not None:  # MatMul + Add (the int8 graph keeps them fp32)
        matmul = next((m for i in add.input if (m := produced_by(i, "MatMul")) is not None), None)
        b_init = next((weights[i] for i in add.input if i in weights), None)
        w_init = next((weights[i] for i in matmul.input if i in weights), None) if matmul is not None else None
        if matmul is not None and w_init is not None and b_init is not None:
            weight, bias = numpy_helper.to_array(w_init), numpy_helper.to_array(b_init)
            pooled = next((i for i in matmul.input if i not in weights), None)
    div = produced_by(pooled, "Div") if pooled else None
    total = produced_by(div.input[0], "ReduceSum") if div else None
    mul = produced_by(total.input[0], "Mul") if total else None
    hidden = (
        next((i for i in mul.input if (n := producer.get(i)) is not None and "LayerNorm" in n.op_type), None)
        if mul
        else None
    )
    if hidden is None or weight is None or bias is None:
        return onnx_model, None
    graph.node.append(helper.make_node("Identity", [hidden], [TOKEN_STATES], name="expose_token_states"))
    graph.output.append(helper.make_tensor_value_info(TOKEN_STATES, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString(), (np.asarray(weight, dtype=np.float32), np.asarray(bias, dtype=np.float32))


def locate_sentences(text: str, sentences: Sequence[str], offsets: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """For each of ``sentences`` (normalised, in document order), the indices of the tokens of ``text`` (the model
    input) that lie inside it, found left to right; an empty array for a sentence that is not in ``text`` or whose
    end fell beyond the truncation."""
    spans = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    real = spans[:, 1] > spans[:, 0]  # special tokens have empty offsets
    last_end = int(spans[real, 1].max()) if real.any() else 0
    out, cursor = [], 0
    for sentence in sentences:
        start = text.find(sentence, cursor) if sentence else -1
        end = start + len(sentence)
        if start < 0 or end > last_end:
            out.append(np.zeros(0, dtype=np.int64))
            continue
        cursor = end
        out.append(np.flatnonzero(real & (spans[:, 0] >= start) & (spans[:, 1] <= end)))
    return out


def _sentence_logits(
    states: np.ndarray, token_sets: Sequence[np.ndarray], head: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Raw signal logits of each token set of one text: the mean of its token vectors through the signal head
    (the head's own mean pooling, restricted to the sentence); a NaN row for an empty set."""
    weight, bias = head
    out = np.full((len(token_sets), weight.shape[1]), np.nan, dtype=np.float32)
    for k, tokens in enumerate(token_sets):
        if len(tokens):
            out[k] = states[tokens].mean(axis=0) @ weight + bias
    return out


def build_session(
    graph: bytes, disabled_optimizers: Sequence[str], threads: int, profile_prefix: str | None = None
) -> Any:
    """An onnxruntime CPU session on ``graph`` with ``threads`` intra-op threads (one inter-op thread: the graph
    is a chain), every graph optimisation but ``disabled_optimizers``; with ``profile_prefix``, onnxruntime's
    profiler on (``benchmarks.op_profile``)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return ort.InferenceSession(
        graph, options, providers=["CPUExecutionProvider"], disabled_optimizers=list(disabled_optimizers)
    )


class EncoderRuntime(NamedTuple):
    """What a loaded encoder runs with, swapped as one attribute so that a thread never sees half of it."""

    #: All the cores' intra-op threads: one batch alone.
    session: Any
    #: One thread: a batch run on ``pool`` beside the others (None with one core).
    solo: Any
    pool: ThreadPoolExecutor | None
    #: The pool's threads, one per core.
    threads: int = 1


#: The interpreter's thread switch interval (seconds) once an encoder runs batches side by side. A pool thread whose
#: onnxruntime run has ended needs the GIL to start the next one; while another thread runs Python (the text's own
#: work, the other pool thread's sentence pooling) it waits until that thread is made to let go, by default after
#: 5 ms, with its core idle. At 0.5 ms, in one process, paired runs (ABBA × 10): medium articles ×1.026 (quartiles
#: 1.016–1.032), short ×1.036, long ×1.005 (benchmarks/results/served-path-changes.md, 27 Nov, ninth session).
SWITCH_INTERVAL_S = 0.0005


def _shorten_switch_interval() -> None:
    """Lower the process's switch interval to ``SWITCH_INTERVAL_S`` (never raise it), at the first load of an
    encoder with several threads; it is a setting of the whole interpreter, so it is logged."""
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:
        logger.info("thread switch interval %.4f s -> %.4f s", sys.getswitchinterval(), SWITCH_INTERVAL_S)
        sys.setswitchinterval(SWITCH_INTERVAL_S)


def _side_by_side(pool: ThreadPoolExecutor, threads: int, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(item) for item in items]`` on ``threads`` of ``pool``'s threads, each taking the next item in order as it
    comes free; the first error stops them and is raised.

    One task per thread, not one per item: a future per batch cost each batch a future, a wake-up of the waiting
    caller and a turn of the GIL for it while the other thread's run was ending (the sentences of a call are
    hundreds of one-sentence batches): medium articles ×1.035, short ×1.029, long ×1.019 (one process, 9 paired
    runs; benchmarks/results/served-path-changes.md, tenth session)."""
    queue = deque(enumerate(items))
    results: list[Any] = [None] * len(items)
    # The tasks reach ``fn`` through ``work``, emptied before returning. A pool thread drops its finished task only
    # after the caller has seen it finish; had the task still held ``fn`` (and through it the encoder's sessions), a
    # fork right after this call would carry those sessions into the child, which then hangs at exit destroying
    # them (``_release_before_fork``; the fork test's script hung in 4 of ~50 runs before this).
    work = [fn]

    def drain() -> None:
        step = work[0]
        while True:
            try:
                k, item = queue.popleft()  # atomic: two threads never take the same item
            except IndexError:
                return
            try:
                results[k] = step(item)
            except BaseException:
                queue.clear()  # the other threads stop after their current item
                raise

    try:
        workers = []
        try:
            for _ in range(min(threads, len(items))):
                workers.append(pool.submit(drain))
        except RuntimeError:  # the pool was shut down under this call, before a fork (``EncoderHeads._release``)
            drain()  # the rest of the batches on this thread
        for worker in workers:
            worker.result()  # re-raises a batch's error
    finally:
        queue.clear()
        work.clear()
    return results


#: Names of the threads that run an encoder's batches side by side.
POOL_THREAD_PREFIX = "threatscore-encoder"

#: Encoders that hold sessions, released before this process forks (``_release_before_fork``).
_LOADED: weakref.WeakSet[EncoderHeads] = weakref.WeakSet()
_fork_hooks_registered = False


def _release_before_fork() -> None:
    """Drop every loaded encoder's sessions and pool just before ``os.fork`` (a pre-forking server, a
    multiprocessing pool): a session carried into the child hangs it when the child destroys it, in
    ``pthread_cond_destroy`` on a condition variable the parent's pool threads were waiting on (a gdb backtrace
    of a hung fork-test child; onnxruntime's own advice is to create sessions after fork, PR 31961). Both
    processes build new sessions at their next call, from the rewritten graph kept on the object."""
    for heads in list(_LOADED):
        heads._release()


def _reset_locks_in_child() -> None:
    # A lock another of the parent's threads held at the fork would stay held for ever in the child.
    for heads in list(_LOADED):
        heads._lock = threading.Lock()


def _register_fork_hooks() -> None:
    """Once per process, at the first load (nothing happens on import)."""
    global _fork_hooks_registered
    if not _fork_hooks_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_release_before_fork, after_in_child=_reset_locks_in_child)
        _fork_hooks_registered = True


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
        self._runtime: EncoderRuntime | None = None
        self._one_per_batch = False
        self._tokenizer: Any = None
        #: The signal head's weights and bias, read off the graph at load time (``expose_token_states``); None when
        #: the graph does not expose its token states (each sentence is then scored alone).
        self._sentence_head: tuple[np.ndarray, np.ndarray] | None = None
        #: The graph as sessions are built from it (``unfuse_skip_layer_norm``, ``expose_token_states``), its
        #: disabled optimizers and signal head; kept so that sessions released before a fork are rebuilt cheaply.
        self._graph: tuple[bytes, list[str], tuple[np.ndarray, np.ndarray] | None] | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_runtime=None, _tokenizer=None, _lock=None, _sentence_head=None, _graph=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models pickled before the token budget and the parallel batches.
        state.setdefault("max_batch_tokens", DEFAULT_BATCH_TOKENS)
        state.setdefault("parallel_batches", True)
        state.setdefault("rule_signals", {})  # models pickled before the rule blend (v8 and earlier)
        for old in ("_session", "_solo", "_pool", "_pid"):  # pickled before the runtime was one attribute
            state.pop(old, None)
        state.setdefault("_runtime", None)
        state.setdefault("_one_per_batch", False)
        state.setdefault("_sentence_head", None)
        state.setdefault("_graph", None)
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def _session(self) -> Any:
        """The all-cores session, None before loading."""
        return None if self._runtime is None else self._runtime.session

    @property
    def _pool(self) -> ThreadPoolExecutor | None:
        return None if self._runtime is None else self._runtime.pool

    def _release(self) -> None:
        """Let go of the sessions and the pool (before a fork), and wait for the pool's threads to end; the next
        call loads them again. A pool thread that had just finished its task was still between two steps when a
        fork came right after a call, and ~1 % of such children hung at exit (1 in ~110 runs of the fork test's
        script; none in 750 with the threads joined). A call in flight on another thread keeps its own reference and
        finishes on its sessions, its remaining batches on its own thread (those sessions then go to the child too,
        in use: fork from a process that is not scoring)."""
        with self._lock:
            runtime, self._runtime = self._runtime, None
        if runtime is not None and runtime.pool is not None:
            # Never join from one of the pool's own threads (a fork from inside a batch).
            in_pool = threading.current_thread().name.startswith(POOL_THREAD_PREFIX)
            runtime.pool.shutdown(wait=not in_pool)

    def _ensure_loaded(self) -> EncoderRuntime:
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._lock:
            if self._runtime is not None:
                return self._runtime
            tokenizer = self._load_tokenizer()
            threads = self.threads or int(os.environ.get("THREATSCORE_THREADS", "0")) or available_cpus()
            if self._graph is None:
                # Rewritten once per object: sessions released before a fork are rebuilt from it.
                unfused, disabled = unfuse_skip_layer_norm(self.onnx_model)
                exposed, head = expose_token_states(unfused)
                self._graph = (exposed, disabled, head)
            graph, disabled, self._sentence_head = self._graph

            solo, pool = None, None
            if threads > 1:
                # Several batches: one single-threaded run per core (onnxruntime releases the GIL in ``run``).
                # A 512-token batch's GEMMs are too small to split well across cores; whole batches are not.
                solo = build_session(graph, disabled, 1)
                pool = ThreadPoolExecutor(threads, thread_name_prefix=POOL_THREAD_PREFIX)
                _shorten_switch_interval()
            # Dynamic int8 scales each activation tensor by its batch's range, padding and batch mates included:
            # the same article scored in another request, another batch size or on Spark would get other
            # numbers (up to 0.17 apart). Each text is its own batch, so its scores are its own; the batches
            # still run two at a time. Cost on 2 cores: 0–14 % of throughput in one process, up to ~30 % in
            # `make bench` on a busy host (benchmarks/results/served-path-changes.md, H).
            self._one_per_batch = dynamically_quantized(self.onnx_model)
            self._tokenizer = tokenizer
            self._runtime = EncoderRuntime(build_session(graph, disabled, threads), solo, pool, threads)
            _LOADED.add(self)
            _register_fork_hooks()
            return self._runtime

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
        return self._encode(texts, None)[0]

    def _encode(
        self, texts: Sequence[str], sentences: Sequence[Sequence[str]] | None
    ) -> tuple[dict[str, np.ndarray], list[np.ndarray] | None]:
        """Raw logits per output and, with ``sentences`` (per text, the normalised sentences it contains, in order)
        and a graph that exposes its token states, each sentence's raw signal logits read off the same forward
        pass: the mean of its tokens' final vectors through the signal head (a NaN row where it was not found)."""
        runtime = self._ensure_loaded()
        n = len(texts)
        encodings = self._tokenizer.encode_batch(list(texts))
        sequences = [e.ids for e in encodings]
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        order = np.argsort(lengths, kind="stable")
        head = self._sentence_head if sentences is not None else None
        padded = [(idx, *self._pad(idx, sequences, int(lengths[idx[-1]]))) for idx in self._batches(order, lengths)]

        def run(batch: tuple[np.ndarray, np.ndarray, np.ndarray], session: Any = None) -> tuple[list[Any], list[Any]]:
            idx, ids, mask = batch
            outputs, states = self._run_batch(ids, mask, session or runtime.session, states=head is not None)
            if states is None or head is None or sentences is None:
                return outputs, []
            per_text = [
                _sentence_logits(states[row], locate_sentences(texts[i], sentences[i], encodings[i].offsets), head)
                for row, i in enumerate(idx)
            ]
            return outputs, per_text

        if runtime.pool is not None and self.parallel_batches and len(padded) > 1:
            results = _side_by_side(runtime.pool, runtime.threads, lambda batch: run(batch, runtime.solo), padded)
        else:
            results = [run(batch) for batch in padded]
        parts: dict[str, list[np.ndarray]] = {k: [] for k in OUTPUTS}
        in_context: list[np.ndarray] = []
        for outputs, per_text in results:
            for name, value in zip(OUTPUTS, outputs, strict=True):
                parts[name].append(value)
            in_context += per_text
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        raw = {k: np.concatenate(v, axis=0)[inverse] if v else np.zeros((0,)) for k, v in parts.items()}
        if head is None:
            return raw, None
        return raw, [in_context[int(k)] for k in inverse]

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

    def _run_batch(
        self, ids: np.ndarray, mask: np.ndarray, session: Any = None, states: bool = False
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        """The encoder on one padded batch: one logits array per name in ``OUTPUTS``, and with ``states`` the token
        states (batch × tokens × hidden)."""
        session = session or self._ensure_loaded().session
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        wanted = {i.name for i in session.get_inputs()}
        names = [*OUTPUTS, TOKEN_STATES] if states else list(OUTPUTS)
        results = list(session.run(names, {k: v for k, v in feeds.items() if k in wanted}))
        return results[: len(OUTPUTS)], results[len(OUTPUTS)] if states else None

    def predict(self, texts: Sequence[str]) -> HeadOutputs:
        """Calibrated probabilities per text."""
        return self.outputs(self.logits(texts), texts)

    def outputs(self, raw: dict[str, np.ndarray], texts: Sequence[str]) -> HeadOutputs:
        """Calibrated probabilities from ``raw`` logits (rows follow ``texts``, which the blended rules read):
        temperatures, then the rule blend. Calibration reuses logits through it instead of running the model
        again."""
        t = self.temperatures
        return HeadOutputs(
            relevance=_sigmoid(raw["relevance"].reshape(-1) / t["relevance"]).astype(np.float64),
            signals=self.signal_probs(raw["signals"], texts),
            event_types=_softmax(raw["event_types"] / t["event_types"]).astype(np.float64),
            severity=_softmax(raw["severity"] / t["severity"]).astype(np.float64),
            resurgence=_sigmoid(raw["resurgence"].reshape(-1) / t["resurgence"]).astype(np.float64),
        )

    def signal_probs(self, raw: np.ndarray, texts: Sequence[str]) -> FloatArray:
        """Calibrated signal probabilities from raw signal logits (rows follow ``texts``), with the rule blend; a NaN
        row stays NaN."""
        signals = _sigmoid(raw / self.temperatures["signals"]).astype(np.float64)
        for name, fired in rule_proba(self.rule_signals, texts).items():
            j = SIGNALS.index(name)
            signals[:, j] = np.maximum(signals[:, j], fired)
        return signals

    def predict_signals(self, texts: Sequence[str]) -> FloatArray:
        """Signal probabilities for sentences."""
        return self.predict(texts).signals

    def predict_in_context(
        self, texts: Sequence[str], sentences: Sequence[Sequence[str]]
    ) -> tuple[HeadOutputs, list[np.ndarray]]:
        """``predict(texts)`` and, from the same forward pass, the raw signal logits of each text's ``sentences``
        (normalised, in order) read in their context: one row per sentence, NaN where the sentence was not found
        among the text's tokens or the graph does not expose its token states (score those alone).
        ``signal_probs`` turns rows into probabilities.

        Reading a sentence inside its chunk costs nothing beyond the chunk; scored alone, the candidate sentences
        of a long article were a fifth of its tokens and most of its model inputs."""
        raw, sentence_raw = self._encode(texts, sentences)
        if sentence_raw is None:
            sentence_raw = [np.full((len(s), len(SIGNALS)), np.nan, dtype=np.float32) for s in sentences]
        return self.outputs(raw, texts), sentence_raw

    def describe(self) -> dict[str, str]:
        """What scores each output (for the model card and the logs)."""
        heads = {name: f"onnx encoder head (T={self.temperatures[name]:.2f})" for name in OUTPUTS}
        rules = {
            f"signal.{n}": f"encoder head or keyword rule v{r.version} (p_hit={r.p_hit:.2f})"
            for n, r in self.rule_signals.items()
        }
        return heads | rules
