"""Which operators the served encoder spends its time in: onnxruntime's own profiler on one input.

The stage timers (``benchmarks.stages``) stop at "model": onnxruntime as a whole. This looks inside it. The
served graph (as ``EncoderHeads`` rewrites it) runs one article's first chunk, padded to nothing, on a
single-threaded session, which is how the served path runs a batch beside the other on 2 cores; the kernel time
of each node is summed per operator type. Profiling adds a little time per node, so the milliseconds per input
are a ceiling and the shares are what to read.

The profile also says how far each operator is from the machine: the work of the operators that do GEMMs, read off
the shapes the profiler records (int8 projections, fp32 attention scores and weighted sums), against the peak rates
of one thread measured in the same process (``benchmarks.limit``). "measured ÷ at peak" per operator splits the
benchmark's limit ÷ measured into the kernels that miss their peak and the operators the limit counts as free
(layer norms, GELU, quantisation of activations).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from threatscore.encoder_heads import EncoderHeads, build_session


@dataclass(frozen=True)
class OpProfile:
    """Kernel-time shares per operator type for one input of ``tokens`` tokens on ``threads`` threads."""

    tokens: int
    threads: int
    runs: int
    #: Median wall time of one run, profiler on.
    ms_per_input: float
    #: Operator type -> share of the summed kernel time (adds up to 1).
    shares: dict[str, float]
    #: Operator type -> its kernel milliseconds and work per input (``kernel_work``).
    work: dict[str, dict[str, float]] = field(default_factory=dict)
    #: One thread's peak rates in this process: ``int8_ops`` and ``fp32_flops`` per second (``benchmarks.limit``).
    peaks: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def profile_ops(heads: EncoderHeads, text: str, runs: int = 10, threads: int = 1, peak_size: int = 2048) -> OpProfile:
    """Profile the served graph of ``heads`` on ``text`` (cut at the model's ``max_length``, as a chunk is), and
    measure the peak rates of ``threads`` threads with ``peak_size``² matmuls to set each operator's work against."""
    if runs < 1:
        raise ValueError("runs must be >= 1")
    from benchmarks.limit import measure_fp32_torch, measure_int8_onnxruntime

    peaks = {
        "int8_ops": measure_int8_onnxruntime(peak_size, threads),
        "fp32_flops": measure_fp32_torch(peak_size, threads),
    }
    heads._ensure_loaded()
    assert heads._graph is not None  # set by loading
    graph, disabled, _ = heads._graph
    ids = np.array([heads._tokenizer.encode(text).ids], dtype=np.int64)
    with tempfile.TemporaryDirectory(prefix="threatscore-ops-") as tmp:
        session = build_session(graph, disabled, threads, profile_prefix=str(Path(tmp) / "ort"))
        mask = np.ones_like(ids)
        heads._run_batch(ids, mask, session)  # warm-up, also profiled; the shares barely move with it
        walls = []
        for _ in range(runs):
            started = time.perf_counter()
            heads._run_batch(ids, mask, session)
            walls.append(time.perf_counter() - started)
        events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    return OpProfile(
        tokens=int(ids.shape[1]),
        threads=threads,
        runs=runs,
        ms_per_input=1000.0 * statistics.median(walls),
        shares=kernel_shares(events),
        work=kernel_work(events, inputs=runs + 1),  # the warm-up run is profiled too
        peaks=peaks,
    )


def kernel_shares(events: list[dict[str, Any]]) -> dict[str, float]:
    """Share of kernel time per operator type in an onnxruntime profile (its ``*_kernel_time`` node events),
    largest first."""
    per_op: Counter[str] = Counter()
    for event in events:
        if event.get("cat") == "Node" and str(event.get("name", "")).endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += int(event["dur"])
    total = sum(per_op.values())
    if not total:
        raise ValueError("the profile has no kernel-time events")
    return {op: dur / total for op, dur in per_op.most_common()}


def _dims(shape: dict[str, list[int]]) -> list[int]:
    """The dimensions of one entry of a profile's ``input_type_shape`` / ``output_type_shape`` ({dtype: dims})."""
    return next(iter(shape.values()))


def node_work(op: str, inputs: list[dict[str, list[int]]], outputs: list[dict[str, list[int]]]) -> tuple[float, float]:
    """(int8 ops, fp32 FLOPs) of one run of a GEMM-bearing node, from the shapes the profiler recorded; (0, 0) for
    the operators that do no GEMM (the limit counts them as free)."""
    if not inputs or not outputs:
        return 0.0, 0.0
    a, y = _dims(inputs[0]), _dims(outputs[0])
    if len(a) < 2 or not y:
        return 0.0, 0.0
    rows = float(np.prod(a[:-1]))
    gemm = 2.0 * rows * a[-1] * y[-1]  # A (rows × K) · B (K × N); N from the output
    if op in ("DynamicQuantizeMatMul", "MatMulInteger", "MatMulIntegerToFloat"):
        return gemm, 0.0
    if op in ("QAttention", "Attention") and len(a) == 3:
        # Input (batch, L, h): the Q, K and V projections (h × 3h; the weights are packed, so the profiler lists no
        # shape for them), then scores and weighted sum (4·L²·h per sequence).
        qkv = 3.0 * gemm
        attention = 4.0 * a[0] * a[1] ** 2 * y[-1]
        return (qkv, attention) if op == "QAttention" else (0.0, qkv + attention)
    if op in ("MatMul", "Gemm", "FusedMatMul"):
        return 0.0, gemm
    return 0.0, 0.0


def kernel_work(events: list[dict[str, Any]], inputs: int) -> dict[str, dict[str, float]]:
    """Per operator type, per input (the profile covers ``inputs`` runs): kernel milliseconds, giga int8 ops and
    GFLOPs in fp32, largest time first."""
    if inputs < 1:
        raise ValueError("inputs must be >= 1")
    totals: dict[str, list[float]] = {}
    for event in events:
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        args = event["args"]
        int8, fp32 = node_work(args["op_name"], args.get("input_type_shape", []), args.get("output_type_shape", []))
        total = totals.setdefault(args["op_name"], [0.0, 0.0, 0.0])
        total[0] += int(event["dur"]) / 1000.0
        total[1] += int8
        total[2] += fp32
    ordered = sorted(totals.items(), key=lambda kv: -kv[1][0])
    return {
        op: {"ms": ms / inputs, "int8_gop": i / inputs / 1e9, "fp32_gflop": f / inputs / 1e9}
        for op, (ms, i, f) in ordered
    }


def at_peak_ms(work: dict[str, float], peaks: dict[str, float]) -> float:
    """Milliseconds an operator's work would take at the peak rates (int8 ops at the int8 peak, FLOPs at fp32's)."""
    return 1000.0 * (work["int8_gop"] * 1e9 / peaks["int8_ops"] + work["fp32_gflop"] * 1e9 / peaks["fp32_flops"])
