"""The machine's limit for the model: FLOPs the encoder needs ÷ the GEMM rate this CPU can sustain.

The estimate is deliberately simple and generous to the machine, so the gap it shows is a lower bound
on what remains to gain:

* FLOPs per token of a BERT-style encoder: the four projections and the two feed-forward matrices
  (``2 × (4h² + 2hi)`` per layer, GEMMs that int8 quantisation speeds up) plus attention scores and
  the weighted sum (``4 × L × h`` per layer for a sequence of ``L`` tokens, kept in fp32 by the served
  graph). Embeddings, layer norms, GELU, softmax and the tiny heads are left out (they are not GEMMs).
* Peak rate: the best of a few large square matmuls on this CPU with the threads the benchmark uses:
  fp32 with torch (MKL/oneDNN) and numpy (OpenBLAS), int8 with onnxruntime's ``MatMulInteger``
  (u8 × s8 → s32, the kernel the served graph's quantised MatMuls run on).
* Limit (articles/s) = 1 / Σ over the article's model inputs of (GEMM FLOPs ÷ int8 peak +
  attention FLOPs ÷ fp32 peak); for an fp32 model both parts use the fp32 peak.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncoderShape:
    """The dimensions of a BERT-style encoder that decide its FLOPs."""

    layers: int
    hidden: int
    intermediate: int

    @classmethod
    def from_config(cls, config: Any) -> EncoderShape:
        """From a ``transformers`` config (or anything with the three BERT attribute names)."""
        return cls(int(config.num_hidden_layers), int(config.hidden_size), int(config.intermediate_size))


#: all-MiniLM-L6-v2 (the product model's encoder).
MINILM_L6 = EncoderShape(layers=6, hidden=384, intermediate=1536)


def gemm_flops_per_token(shape: EncoderShape) -> float:
    """FLOPs of the dense projections per token: Q, K, V, output (h×h each) and the two FFN matrices (h×i)."""
    h, i = shape.hidden, shape.intermediate
    return 2.0 * shape.layers * (4 * h * h + 2 * h * i)


def attention_flops_per_token(shape: EncoderShape, seq_len: int) -> float:
    """FLOPs per token of attention scores (QKᵀ) and the weighted sum (AV) in a sequence of ``seq_len`` tokens."""
    return 4.0 * shape.layers * seq_len * shape.hidden


def sequence_flops(shape: EncoderShape, seq_len: int) -> tuple[float, float]:
    """(GEMM FLOPs, attention FLOPs) for one sequence of ``seq_len`` tokens (no padding)."""
    return seq_len * gemm_flops_per_token(shape), seq_len * attention_flops_per_token(shape, seq_len)


@dataclass(frozen=True)
class Peaks:
    """Measured peak GEMM rates (FLOP/s, or integer op/s for int8) and how they were measured."""

    fp32_flops: float
    int8_ops: float | None
    threads: int
    detail: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def seconds_at_peak(
    seq_lens: Iterable[int], shape: EncoderShape, peaks: Peaks, *, int8: bool
) -> tuple[float, float, float]:
    """(seconds, GEMM FLOPs, attention FLOPs) the sequences would take if every FLOP ran at peak.

    With ``int8`` the projections run at the int8 peak (when measured) and attention at the fp32 peak.
    """
    gemm = attn = 0.0
    for n in seq_lens:
        g, a = sequence_flops(shape, n)
        gemm, attn = gemm + g, attn + a
    gemm_rate = peaks.int8_ops if int8 and peaks.int8_ops else peaks.fp32_flops
    return gemm / gemm_rate + attn / peaks.fp32_flops, gemm, attn


def limit_articles_per_second(
    seq_lens_per_article: Sequence[Sequence[int]], shape: EncoderShape, peaks: Peaks, *, int8: bool
) -> float:
    """Articles/s at peak for these articles (each a list of the model inputs' token counts)."""
    total = sum(seconds_at_peak(lens, shape, peaks, int8=int8)[0] for lens in seq_lens_per_article)
    return len(seq_lens_per_article) / total if total > 0 else float("inf")


# -- measuring peaks ----------------------------------------------------------------------------------------
def _best_rate(fn: Callable[[], Any], ops: float, repeats: int) -> float:
    fn()  # warm-up: thread pools, page faults, kernel selection
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return ops / best


def measure_fp32_torch(n: int = 2048, threads: int = 2, repeats: int = 5) -> float:
    """FLOP/s of an ``n``×``n`` fp32 matmul with torch on ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    return _best_rate(lambda: torch.mm(a, b), 2.0 * n**3, repeats)


def measure_fp32_numpy(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of an ``n``×``n`` fp32 matmul with numpy (its BLAS threads follow OPENBLAS/OMP_NUM_THREADS)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return _best_rate(lambda: a @ b, 2.0 * n**3, repeats)


def measure_int8_onnxruntime(n: int = 2048, threads: int = 2, repeats: int = 5) -> float:
    """Integer op/s of an ``n``×``n`` u8×s8→s32 ``MatMulInteger`` in onnxruntime on ``threads`` threads."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.integers(-127, 128, size=(n, n), dtype=np.int8), name="B")
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
        "int8_peak",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    a = rng.integers(0, 256, size=(n, n), dtype=np.uint8)
    onnx.checker.check_model(model)
    return _best_rate(lambda: session.run(None, {"A": a}), 2.0 * n**3, repeats)


def measure_peaks(threads: int = 2, n: int = 2048, repeats: int = 5) -> Peaks:
    """Peak fp32 (best of torch and numpy) and int8 (onnxruntime) GEMM rates on this CPU."""
    detail: dict[str, float] = {}
    detail["fp32_torch"] = measure_fp32_torch(n, threads, repeats)
    detail["fp32_numpy"] = measure_fp32_numpy(n, repeats)
    int8: float | None
    try:
        int8 = detail["int8_onnxruntime"] = measure_int8_onnxruntime(n, threads, repeats)
    except Exception:  # an onnxruntime build without the integer kernels: report fp32 only
        logger.warning("int8 peak could not be measured with onnxruntime", exc_info=True)
        int8 = None
    return Peaks(max(detail["fp32_torch"], detail["fp32_numpy"]), int8, threads, detail)
