"""Which operators the served encoder spends its time in: onnxruntime's own profiler on one input.

The stage timers (``benchmarks.stages``) stop at "model": onnxruntime as a whole. This looks inside it. The
served graph (as ``EncoderHeads`` rewrites it) runs one article's first chunk, padded to nothing, on a
single-threaded session, which is how the served path runs a batch beside the other on 2 cores; the kernel time
of each node is summed per operator type. Profiling adds a little time per node, so the milliseconds per input
are a ceiling and the shares are what to read.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def profile_ops(heads: EncoderHeads, text: str, runs: int = 10, threads: int = 1) -> OpProfile:
    """Profile the served graph of ``heads`` on ``text`` (cut at the model's ``max_length``, as a chunk is)."""
    if runs < 1:
        raise ValueError("runs must be >= 1")
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
