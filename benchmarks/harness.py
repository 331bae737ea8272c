"""Scoring benchmark: the served model against the same weights in fp32 torch and a naive transformers pipeline.

``make bench`` (or ``python -m benchmarks.harness``) runs every (case, article length) in a fresh worker process,
rounds interleaved in a shuffled order so that machine drift spreads over all cases, measures the machine's
peak GEMM rates before and after (the limit) and right after each served round (the same gap paired in time), and
writes ``benchmarks/results/bench.json`` and the "Scoring performance"
section of ``benchmarks/RESULTS.md``. ``--quick`` is a smoke run (one round, a few articles).

A worker (``python -m benchmarks.harness worker ...``) loads one case, scores one warm-up article (the cold
first call: lazy sessions, gazetteer, language profiles), then times one call over all its articles (throughput)
and one call per article for the first ``latency_n`` (latency), as the case runs in service; then one more call
over the same articles with stage timers on (``benchmarks.stages``), which runs everything in sequence: where
the time goes, and the tokens the model read.
Workers inherit the environment: ``THREATSCORE_THREADS=1 make bench`` runs the served model on one intra-op thread.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.articles import LENGTHS, make_article, make_articles, word_count

logger = logging.getLogger("benchmarks.harness")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "bench.json"
DEFAULT_MD = ROOT / "benchmarks" / "RESULTS.md"
#: Articles per worker (throughput call) and how many of them are also timed one by one (latency).
FULL_COUNTS = {"short": (64, 32), "medium": (24, 16), "long": (8, 8)}
QUICK_COUNTS = {"short": (8, 4), "medium": (4, 2), "long": (2, 1)}
WORKER_TIMEOUT_S = 900


# -- worker ------------------------------------------------------------------------------------------------
def _quiet_libraries(case: str) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    if case != "served":  # the served process imports neither transformers nor torch, as in production
        import transformers

        # The naive classifier is "not supported for text-classification" by name only; it works.
        transformers.logging.set_verbosity_error()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _build_case(args: argparse.Namespace) -> tuple[Any, float]:
    """The case and its load time in seconds (the engine only: imports and registry look-ups excluded)."""
    from benchmarks import cases

    checkpoint = cases.Checkpoint(args.checkpoint_source, Path(args.checkpoint_path), args.checkpoint_run or None)
    reference = None
    if args.case == "torch_fp32" and args.model:
        # The served scorer supplies configuration, tokenizer limits and temperatures (when it is an encoder model).
        from threatscore.registry import load_model

        reference = load_model(args.model).pyfunc.unwrap_python_model().scorer
    started = time.perf_counter()
    if args.case == "served":
        case = cases.build_served(args.model)
    elif args.case == "torch_fp32":
        case = cases.build_torch_fp32(checkpoint, reference)
    elif args.case == "naive":
        case = cases.build_naive(checkpoint)
    else:
        raise ValueError(f"unknown case {args.case!r}")
    return case, time.perf_counter() - started


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Load one case and time it on one article length; returns the measurements (JSON-ready)."""
    import numpy as np

    from benchmarks.cases import NAIVE_MAX_LENGTH, naive_text
    from benchmarks.stages import instrument
    from threatscore.encoder_heads import EncoderHeads
    from threatscore.heads import BlendedHeads
    from threatscore.registry import configure_tracking
    from threatscore.rules import rule_fires
    from threatscore.settings import apply_offline_env, get_settings

    apply_offline_env()
    _quiet_libraries(args.case)
    if args.case != "served":
        import torch

        torch.set_num_threads(args.threads)
    configure_tracking(get_settings())
    records = make_articles(args.length, args.n, args.seed)
    warmup = [make_article(args.length, 10_000_000 + args.seed)]

    case, load_s = _build_case(args)
    started = time.perf_counter()
    case.score(warmup)
    first_call_s = time.perf_counter() - started

    # Throughput and latency of the case as it runs in service: no timers, so the served path keeps its batches
    # side by side and the text's own work on its second thread. Each timed call starts with the keyword rules'
    # memory empty: the latency calls re-score articles of the throughput call, which a service rarely sees again.
    rule_fires.cache_clear()
    started = time.perf_counter()
    case.score(records)
    throughput_s = time.perf_counter() - started
    latencies = []
    for record in records[: args.latency_n]:
        rule_fires.cache_clear()
        started = time.perf_counter()
        case.score([record])
        latencies.append(time.perf_counter() - started)

    # Where the time goes, and the tokens the model read: one more call over the same articles, with the stage
    # timers on. The stage clock is one stack per process, so the timers run everything in sequence
    # (``benchmarks.stages.instrument``); that call's rate is reported beside the throughput, never as it.
    scorer = (case.info or {}).get("scorer")
    heads = case.heads
    stages: dict[str, float] = {}
    lengths: list[int] = []
    truncated, in_sequence_s = 0, None
    if heads is not None:
        instrumented = instrument(heads, scorer)
        instrumented.reset()
        rule_fires.cache_clear()
        started = time.perf_counter()
        case.score(records)
        in_sequence_s = time.perf_counter() - started
        stages = instrumented.clock.shares(in_sequence_s)
        lengths, truncated = instrumented.token_lengths()

    if args.case == "naive":
        # Each of the five pipelines reads the article cut at 512 tokens.
        ids = case.tokenizer([naive_text(r) for r in records], truncation=False)["input_ids"]
        per_article = [min(len(x), NAIVE_MAX_LENGTH) for x in ids]
        lengths = [n for n in per_article for _ in range(5)]
        truncated = 5 * sum(len(x) > NAIVE_MAX_LENGTH for x in ids)
    threads, int8 = None, False
    if isinstance(heads, BlendedHeads):
        heads = heads.encoder  # the engine facts are the encoder's; its TF-IDF heads are a stage of their own
    if args.case == "served" and isinstance(heads, EncoderHeads) and heads._session is not None:
        threads = heads._session.get_session_options().intra_op_num_threads
        int8 = _is_quantized(heads.onnx_model)
    batch_tokens = None
    if isinstance(heads, EncoderHeads):
        batch_tokens = int(os.environ.get("THREATSCORE_BATCH_TOKENS", "0")) or heads.max_batch_tokens
    elif args.case != "served":
        import torch

        threads = torch.get_num_threads()
    # The scoring process as it served, before the operator profile: its peak-rate matmuls import torch (~200 MB).
    peak_rss_mb, torch_imported = _peak_rss_mb(), "torch" in sys.modules
    ops = None
    if args.case == "served" and isinstance(heads, EncoderHeads):
        from benchmarks.op_profile import profile_ops

        ops = profile_ops(heads, naive_text(records[0])).to_dict()  # after the timed calls: it takes a core
    return {
        "case": args.case,
        "length": args.length,
        "round": args.round,
        "n": len(records),
        "words_mean": float(np.mean([word_count(r) for r in records])),
        "load_s": load_s,
        "first_call_s": first_call_s,
        "throughput_s": throughput_s,
        "articles_per_s": len(records) / throughput_s,
        "in_sequence_articles_per_s": len(records) / in_sequence_s if in_sequence_s else None,
        "latencies_s": latencies,
        "stages": stages,
        "token_lengths": lengths,
        "truncated_inputs": truncated,
        "max_length": getattr(heads, "max_length", NAIVE_MAX_LENGTH if args.case == "naive" else None),
        "heads": type(heads).__name__ if heads is not None else "pipelines",
        "threads": threads,
        "int8": int8,
        "batch_tokens": batch_tokens,
        "torch_imported": torch_imported,
        "peak_rss_mb": peak_rss_mb,
        "ops": ops,
    }


def _is_quantized(onnx_model: bytes) -> bool:
    """Whether the ONNX graph runs its GEMMs in int8 (dynamic quantisation's integer ops)."""
    import onnx

    ops = {node.op_type for node in onnx.load_from_string(onnx_model).graph.node}
    return bool(ops & {"MatMulInteger", "DynamicQuantizeMatMul", "QAttention", "QGemm", "MatMulIntegerToFloat"})


def run_peaks(args: argparse.Namespace) -> dict[str, Any]:
    """Peak GEMM rates of this CPU (see ``benchmarks.limit``)."""
    from benchmarks.limit import measure_peaks

    return measure_peaks(threads=args.threads).to_dict()


# -- parent --------------------------------------------------------------------------------------------------
def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def machine_busy_share(seconds: float = 2.0) -> float:
    """Share of the machine's CPU busy over ``seconds`` (before the benchmark starts: someone else's load)."""
    busy0, total0 = _cpu_jiffies()
    time.sleep(seconds)
    busy1, total1 = _cpu_jiffies()
    return (busy1 - busy0) / max(1, total1 - total0)


def _spawn(argv: Sequence[str], out: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.harness", *argv, "--out", str(out)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, check=False)
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-15:])
        raise RuntimeError(f"worker {' '.join(argv[:5])} failed (exit {proc.returncode}):\n{tail}")
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


@dataclass(frozen=True)
class RegisteredVersion:
    """What the benchmark needs to know about one registered model version."""

    version: int
    run_id: str
    kind: str | None
    train_seconds: float | None
    has_checkpoint: bool
    #: A warm-started run (``encoder.init_from_run``) re-calibrates another run's weights: that run and its time.
    init_from_run: str | None = None
    init_train_seconds: float | None = None


def registered_versions(name: str) -> list[RegisteredVersion]:
    """Every version of model ``name``, newest first, with its run's kind, training time and checkpoint."""
    from mlflow.tracking import MlflowClient

    from training.minilm import has_checkpoint

    client = MlflowClient()
    out = []
    origin_seconds: dict[str, float | None] = {}  # warm-started versions share their origin run: read it once
    for mv in client.search_model_versions(f"name='{name}'"):
        run_id = str(mv.run_id)
        run = client.get_run(run_id)
        # MLflow stores params as text: a run trained from scratch logged ``init_from_run`` as "None".
        origin = run.data.params.get("encoder.init_from_run")
        origin = None if origin in (None, "", "None") else origin
        if origin and origin not in origin_seconds:
            origin_seconds[origin] = client.get_run(origin).data.metrics.get("train_seconds")
        out.append(
            RegisteredVersion(
                version=int(mv.version),
                run_id=run_id,
                kind=run.data.params.get("kind"),
                train_seconds=run.data.metrics.get("train_seconds"),
                has_checkpoint=has_checkpoint(run_id),
                init_from_run=origin,
                init_train_seconds=origin_seconds.get(origin) if origin else None,
            )
        )
    return sorted(out, key=lambda v: -v.version)


def resolve_setup(model_uri: str, checkpoint_run: str | None, work_dir: Path) -> dict[str, Any]:
    """Pin the model version, find the fp32 checkpoint and the training times (registry reads only).

    The checkpoint is ``checkpoint_run``'s when given, else the served version's run's; without either, the
    base weights (see ``benchmarks.cases``): another version's weights would be another model.
    """
    from benchmarks.cases import CHECKPOINT_SOURCE_BASE, CHECKPOINT_SOURCE_RUN
    from threatscore.registry import resolve
    from training.encoder_training import default_model_dir
    from training.minilm import CHECKPOINT_ARTIFACT, download_checkpoint

    ref = resolve(model_uri)
    versions = registered_versions(ref.name) if ref.name else []
    served = next((v for v in versions if str(v.version) == str(ref.version)), None)
    run_id = checkpoint_run
    if run_id is None and served is not None and served.has_checkpoint:
        run_id = served.run_id
    checkpoint: dict[str, str | None]
    if run_id is not None:
        path = str(download_checkpoint(run_id, work_dir))
        same = served is not None and served.run_id == run_id
        checkpoint = {
            "source": CHECKPOINT_SOURCE_RUN,
            "path": path,
            "run_id": run_id,
            "of": "the served version's run" if same else "the run given by --checkpoint-run",
        }
    else:
        checkpoint = {"source": CHECKPOINT_SOURCE_BASE, "path": str(default_model_dir()), "run_id": None, "of": None}
        logger.warning("the served version's run has no %s/: the fp32 cases use the base weights", CHECKPOINT_ARTIFACT)
    minilm = served if served is not None and served.kind == "minilm" else None
    if minilm is None:
        minilm = next((v for v in versions if v.run_id == run_id), None)
        minilm = minilm or next((v for v in versions if v.kind == "minilm"), None)
    baseline = next((v for v in versions if v.kind == "baseline"), None)
    return {
        "model": {
            "uri": model_uri,
            "pinned_uri": ref.pinned_uri,
            "version": ref.version,
            "alias": ref.alias,
            "kind": served.kind if served else None,
        },
        "checkpoint": checkpoint,
        "training": {"baseline": asdict(baseline) if baseline else None, "minilm": asdict(minilm) if minilm else None},
    }


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Every (case, length) in a fresh process per round, interleaved; returns the aggregated results."""
    from tqdm import tqdm

    from benchmarks.report import aggregate
    from threatscore.registry import configure_tracking
    from threatscore.settings import apply_offline_env, get_settings

    apply_offline_env()
    configure_tracking(get_settings())
    counts = QUICK_COUNTS if args.quick else FULL_COUNTS
    rounds = 1 if args.quick else args.rounds
    busy_before = machine_busy_share()
    load_before = os.getloadavg()
    started = time.perf_counter()
    cpu0 = _cpu_jiffies()
    with tempfile.TemporaryDirectory(prefix="threatscore-bench-") as tmp:
        work = Path(tmp)
        setup = resolve_setup(args.model, args.checkpoint_run, work)
        checkpoint = setup["checkpoint"]
        common = ["--threads", str(args.threads), "--seed", str(args.seed)]
        cells = [(case, length) for length in args.lengths for case in args.cases]
        # Two peak measurements around the run, and one right after each served round (``report.paired_gaps``).
        total = rounds * len(cells) + 2 + rounds * sum(case == "served" for case, _ in cells)
        results: list[dict[str, Any]] = []
        peaks: list[dict[str, Any]] = []
        with tqdm(total=total, desc="benchmark", unit="worker") as progress:
            peaks.append(_spawn(["peaks", *common], work / "peaks0.json"))
            progress.update()
            for r in range(rounds):
                order = list(cells)
                random.Random(args.seed * 1000 + r).shuffle(order)
                for case, length in order:
                    n, latency_n = counts[length]
                    argv = [
                        "worker",
                        "--case", case,
                        "--length", length,
                        "--round", str(r),
                        "--n", str(n),
                        "--latency-n", str(latency_n),
                        "--model", setup["model"]["pinned_uri"],
                        "--checkpoint-source", checkpoint["source"],
                        "--checkpoint-path", str(checkpoint["path"]),
                        "--checkpoint-run", checkpoint["run_id"] or "",
                        *common,
                    ]  # fmt: skip
                    progress.set_postfix(round=r + 1, case=case, length=length)
                    results.append(_spawn(argv, work / f"r{r}-{case}-{length}.json"))
                    progress.update()
                    if case == "served":
                        beside = _spawn(["peaks", *common], work / f"r{r}-{case}-{length}-peaks.json")
                        results[-1]["peaks_beside"] = beside
                        progress.update()
            peaks.append(_spawn(["peaks", *common], work / "peaks1.json"))
            progress.update()
    cpu1 = _cpu_jiffies()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    ticks = os.sysconf("SC_CLK_TCK")
    wall = time.perf_counter() - started
    machine_cpu_s = (cpu1[0] - cpu0[0]) / ticks
    others_cpu_s = max(0.0, machine_cpu_s - (children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime))
    meta = {
        "command": " ".join(["python -m benchmarks.harness", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "quick": bool(args.quick),
        "rounds": rounds,
        "counts": {k: {"n": counts[k][0], "latency_n": counts[k][1]} for k in args.lengths},
        "threads": args.threads,
        "env": {k: os.environ.get(k) for k in ("THREATSCORE_THREADS", "THREATSCORE_BATCH_TOKENS", "OMP_NUM_THREADS")},
        "wall_s": wall,
        "machine": _machine(),
        "busy_share_before": busy_before,
        "loadavg_before": load_before,
        "other_processes_cpu_share": others_cpu_s / max(1e-9, wall * (os.cpu_count() or 1)),
    }
    return aggregate(meta, setup, results, peaks)


def _machine() -> dict[str, Any]:
    import platform

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    versions = {}
    for package in ("onnxruntime", "torch", "transformers", "tokenizers", "numpy", "mlflow"):
        try:
            import importlib.metadata

            versions[package] = importlib.metadata.version(package)
        except Exception:  # a missing package is reported as such, not fatal
            versions[package] = "absent"
    flags = Path("/proc/cpuinfo").read_text()
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "amx_int8": " amx_int8" in flags,
        "avx512_vnni": " avx512_vnni" in flags,
        "python": platform.python_version(),
        "versions": versions,
    }


# -- CLI -----------------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    from benchmarks.cases import CASES
    from threatscore.encoder_heads import available_cpus

    parser = argparse.ArgumentParser(prog="python -m benchmarks.harness", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    for name in ("run", "worker", "peaks"):
        p = sub.add_parser(name)
        p.add_argument(
            "--threads",
            type=int,
            default=available_cpus(),
            help="torch and GEMM-peak threads (default: the CPUs this process may use); the served model takes "
            "its own setting (THREATSCORE_THREADS, else the same count)",
        )
        p.add_argument("--seed", type=int, default=0, help="article seed (default 0)")
        if name == "run":
            p.add_argument("--model", default="models:/threatscore@champion", help="the served model URI")
            p.add_argument("--checkpoint-run", default=None, help="run whose torch_checkpoint/ the fp32 cases load")
            p.add_argument("--rounds", type=int, default=3)
            p.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
            p.add_argument("--lengths", nargs="+", default=list(LENGTHS), choices=list(LENGTHS))
            p.add_argument("--quick", action="store_true", help="smoke run: 1 round, a few articles")
            p.add_argument("--json", type=Path, default=DEFAULT_JSON)
            p.add_argument("--markdown", type=Path, default=DEFAULT_MD)
            p.add_argument("--no-markdown", action="store_true", help="write the JSON only")
        else:
            p.add_argument("--out", type=Path, required=True)
        if name == "worker":
            p.add_argument("--case", required=True, choices=CASES)
            p.add_argument("--length", required=True, choices=list(LENGTHS))
            p.add_argument("--round", type=int, default=0)
            p.add_argument("--n", type=int, required=True)
            p.add_argument("--latency-n", type=int, required=True)
            p.add_argument("--model", default="")
            p.add_argument("--checkpoint-source", required=True)
            p.add_argument("--checkpoint-path", required=True)
            p.add_argument("--checkpoint-run", default="")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``run`` (the default) orchestrates; ``worker`` and ``peaks`` are the per-process jobs."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {"run", "worker", "peaks", "-h", "--help"}:
        argv = ["run", *argv]
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "worker":
        args.out.write_text(json.dumps(run_worker(args)))
        return 0
    if args.command == "peaks":
        args.out.write_text(json.dumps(run_peaks(args)))
        return 0
    from benchmarks.report import render_markdown, update_results_md

    summary = run_benchmark(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=1) + "\n")
    section = render_markdown(summary)
    if not args.no_markdown:
        update_results_md(args.markdown, section)
    print(section)  # noqa: T201 (the command's output)
    print(  # noqa: T201
        f"\nwrote {args.json}"
        + ("" if args.no_markdown else f" and the 'Scoring performance' section of {args.markdown}")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
