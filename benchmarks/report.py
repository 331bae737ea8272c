"""Aggregating worker results into the benchmark summary, and writing it as the RESULTS.md section."""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.limit import MINILM_L6, EncoderShape, Peaks, seconds_at_peak

SECTION_TITLE = "## Scoring performance"
#: The issue's targets (checked in the benchmark, not in timed tests).
TARGET_SPEEDUP_VS_NAIVE = 3.0
TARGET_WITHIN_LIMIT = 2.0
TARGET_LONG_ARTICLES_PER_S = 5.0
TARGET_RSS_MB = 1536.0
#: Above these, the run shared the CPU with something else and its numbers are not publishable.
BUSY_SHARE_LIMIT = 0.15
OTHER_CPU_LIMIT = 0.10
CASE_LABELS = {
    "served": "served pyfunc",
    "torch_fp32": "same model, fp32 torch",
    "naive": "naive pipeline ×5 heads",
}


def case_labels(out: dict[str, Any]) -> dict[str, str]:
    """Row labels that say what each case ran in this run."""
    labels = dict(CASE_LABELS)
    served = next(iter(out["summary"].get("served", {}).values()), None)
    if served is not None:
        engine = "int8 ONNX" if served.get("int8") else "fp32 ONNX" if served.get("heads") == "EncoderHeads" else None
        labels["served"] = f"served pyfunc ({engine or served.get('heads') or 'unknown heads'})"
    if out["setup"].get("model", {}).get("kind") != "minilm":
        labels["torch_fp32"] = "MiniLM, fp32 torch"
    return labels


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between order statistics (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def best_peaks(measured: Sequence[dict[str, Any]]) -> Peaks:
    """The best rate of each kind over all peak measurements (before and after the cases)."""
    detail: dict[str, float] = {}
    for m in measured:
        for key, value in m["detail"].items():
            detail[key] = max(detail.get(key, 0.0), float(value))
    fp32 = max(v for k, v in detail.items() if k.startswith("fp32"))
    int8 = detail.get("int8_onnxruntime")
    return Peaks(fp32, int8, int(measured[0]["threads"]), detail)


def _median_of(values: Iterable[float | None]) -> float | None:
    """The median of the values that are there; None when none is."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize_cell(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One (case, length) over its rounds: median throughput, pooled latencies, worst RSS, mean stage shares."""
    latencies_ms = [1000.0 * x for r in runs for x in r["latencies_s"]]
    stage_names = {k for r in runs for k in r["stages"]}
    first = runs[0]
    n = first["n"]
    return {
        "articles_per_s": statistics.median(r["articles_per_s"] for r in runs),
        "articles_per_s_rounds": [r["articles_per_s"] for r in runs],
        # The staged call's rate (everything in sequence under the stage timers); absent in runs before 27 Nov.
        "in_sequence_articles_per_s": _median_of(r.get("in_sequence_articles_per_s") for r in runs),
        "latency_ms": {
            "median": percentile(latencies_ms, 50),
            "p95": percentile(latencies_ms, 95),
            "samples": len(latencies_ms),
        },
        "load_s": statistics.median(r["load_s"] for r in runs),
        "first_call_s": statistics.median(r["first_call_s"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "n": n,
        "words_mean": first["words_mean"],
        "stages": {k: statistics.fmean(r["stages"].get(k, 0.0) for r in runs) for k in sorted(stage_names)},
        "model_inputs_per_article": len(first["token_lengths"]) / n if first["token_lengths"] else None,
        "tokens_per_article": sum(first["token_lengths"]) / n if first["token_lengths"] else None,
        "truncated_inputs": max(r["truncated_inputs"] for r in runs),
        "max_length": first.get("max_length"),
        "heads": first.get("heads"),
        "threads": first.get("threads"),
        "batch_tokens": first.get("batch_tokens"),
        "int8": first.get("int8"),
        "token_lengths": first["token_lengths"],
        "ops": mean_op_profile([r["ops"] for r in runs if r.get("ops")]),
    }


def mean_op_profile(profiles: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The rounds' operator profiles (``benchmarks.op_profile``) of one cell: mean shares, median milliseconds."""
    if not profiles:
        return None
    ops = {op for p in profiles for op in p["shares"]}
    shares = {op: statistics.fmean(p["shares"].get(op, 0.0) for p in profiles) for op in ops}
    # Each operator's median milliseconds beside its work (the same every round: the same input); profiles of runs
    # before 28 Nov carry neither.
    worked = [p for p in profiles if p.get("work") and p.get("peaks")]
    work: dict[str, dict[str, float]] = {}
    for op in {op for p in worked for op in p["work"]}:
        rounds = [p["work"][op] for p in worked if op in p["work"]]
        work[op] = {key: statistics.median(r[key] for r in rounds) for key in ("ms", "int8_gop", "fp32_gflop")}
    peaks = (
        {key: statistics.median(p["peaks"][key] for p in worked) for key in ("int8_ops", "fp32_flops")}
        if worked
        else {}
    )
    return {
        "tokens": profiles[0]["tokens"],
        "threads": profiles[0]["threads"],
        "ms_per_input": statistics.median(p["ms_per_input"] for p in profiles),
        "shares": dict(sorted(shares.items(), key=lambda kv: -kv[1])),
        "work": dict(sorted(work.items(), key=lambda kv: -kv[1]["ms"])),
        "peaks": peaks,
    }


def limit_for(cell: dict[str, Any], peaks: Peaks, shape: EncoderShape = MINILM_L6) -> dict[str, Any] | None:
    """The machine's limit for this cell's model inputs, beside its measured throughput."""
    lengths = cell.get("token_lengths") or []
    if not lengths:
        return None
    seconds, gemm, attn = seconds_at_peak(lengths, shape, peaks, int8=bool(cell.get("int8")))
    n = cell["n"]
    limit = n / seconds
    return {
        "articles_per_s": limit,
        "gemm_gflop_per_article": gemm / n / 1e9,
        "attention_gflop_per_article": attn / n / 1e9,
        "gap": limit / cell["articles_per_s"],
        "rates": "int8 GEMM + fp32 attention" if cell.get("int8") and peaks.int8_ops else "fp32",
    }


def paired_gaps(runs: Sequence[dict[str, Any]], shape: EncoderShape = MINILM_L6) -> list[float]:
    """Per round, limit ÷ measured with the limit taken at the peak measured right after that round
    (``peaks_beside``, served rounds of runs from 27 Nov, eleventh session, on): the machine's speed moves by ±10 %
    between minutes, and a peak from another moment of the run moves the gap with it."""
    limits = [limit_for(run, best_peaks([run["peaks_beside"]]), shape) for run in runs if run.get("peaks_beside")]
    return [limit["gap"] for limit in limits if limit is not None]


def aggregate(
    meta: dict[str, Any], setup: dict[str, Any], results: Sequence[dict[str, Any]], peaks: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The benchmark summary (JSON-ready) from the raw worker results."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        grouped[(r["case"], r["length"])].append(r)
    peak = best_peaks(peaks)
    summary: dict[str, dict[str, Any]] = defaultdict(dict)
    for (case, length), runs in grouped.items():
        cell = summarize_cell(runs)
        cell["limit"] = limit_for(cell, peak)
        gaps = paired_gaps(runs)
        if cell["limit"] is not None and gaps:
            cell["limit"]["paired_gap"] = statistics.median(gaps)
            cell["limit"]["paired_gap_rounds"] = gaps
        cell.pop("token_lengths")
        summary[case][length] = cell
    ratios: dict[str, dict[str, float]] = {}
    for length in {length for _, length in grouped}:
        rate = {case: summary[case][length]["articles_per_s"] for case in summary if length in summary[case]}
        pairs = {"served_vs_naive": ("served", "naive"), "torch_vs_naive": ("torch_fp32", "naive")}
        pairs["served_vs_torch"] = ("served", "torch_fp32")
        ratios[length] = {name: rate[a] / rate[b] for name, (a, b) in pairs.items() if a in rate and b in rate}
    out: dict[str, Any] = {
        "meta": meta,
        "setup": setup,
        "peaks": peak.to_dict(),
        "summary": dict(summary),
        "ratios": ratios,
        # Per-round results without the per-input token counts (summarised in "summary").
        "raw": [{k: v for k, v in r.items() if k != "token_lengths"} for r in results],
    }
    out["targets"] = check_targets(out)
    out["publishable"], out["status"] = publishable(meta)
    return out


def publishable(meta: dict[str, Any]) -> tuple[bool, str]:
    """Whether the run's numbers may be published, and the label to show when they may not."""
    reasons = []
    if meta.get("quick"):
        reasons.append("smoke run (--quick)")
    if meta.get("busy_share_before", 0.0) > BUSY_SHARE_LIMIT:
        reasons.append(f"machine busy before the start ({meta['busy_share_before']:.0%} CPU)")
    if meta.get("other_processes_cpu_share", 0.0) > OTHER_CPU_LIMIT:
        reasons.append(f"other processes used {meta['other_processes_cpu_share']:.0%} of the CPU during the run")
    if reasons:
        return False, "; ".join(reasons) + ": numbers are not publishable"
    return True, "quiet machine"


def check_targets(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The issue's targets, each with the measured value and whether it is met (None: not measured)."""
    summary, ratios = out["summary"], out["ratios"]
    served = summary.get("served", {})
    targets: dict[str, dict[str, Any]] = {}
    speedup = ratios.get("medium", {}).get("served_vs_naive")
    targets["medium: served ≥ 3× naive"] = {
        "value": speedup,
        "met": None if speedup is None else speedup >= TARGET_SPEEDUP_VS_NAIVE,
    }
    medium = served.get("medium")
    gap = medium["limit"]["gap"] if medium and medium.get("limit") else None
    targets["medium: served within 2× of the limit"] = {
        "value": gap,
        "met": None if gap is None else gap <= TARGET_WITHIN_LIMIT,
    }
    paired = medium["limit"].get("paired_gap") if medium and medium.get("limit") else None
    if paired is not None:
        # For reference: the line above, the run's best peak against the median round, is what the target is.
        targets["medium: the same with the peak measured beside each round (for reference)"] = {
            "value": paired,
            "met": paired <= TARGET_WITHIN_LIMIT,
        }
    long = served.get("long")
    targets["long: ≥ 5 articles/s, read whole"] = {
        "value": long["articles_per_s"] if long else None,
        "met": None if long is None else long["articles_per_s"] >= TARGET_LONG_ARTICLES_PER_S,
        "truncated_inputs": long["truncated_inputs"] if long else None,
    }
    if long is not None and long["truncated_inputs"]:
        targets["long: ≥ 5 articles/s, read whole"]["met"] = False
    rss = max((c["peak_rss_mb"] for c in served.values()), default=None)
    targets["served RSS ≤ 1.5 GB"] = {"value": rss, "met": None if rss is None else rss <= TARGET_RSS_MB}
    return targets


# -- markdown ------------------------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _mark(met: bool | None) -> str:
    return {True: "✓", False: "✗", None: "not measured"}[met]


def render_markdown(out: dict[str, Any]) -> str:
    """The "Scoring performance" section of ``benchmarks/RESULTS.md``."""
    meta, setup, summary = out["meta"], out["setup"], out["summary"]
    model, checkpoint, machine = setup["model"], setup["checkpoint"], meta["machine"]
    labels = case_labels(out)
    lengths = [length for length in ("short", "medium", "long") if any(length in summary[c] for c in summary)]
    lines = [SECTION_TITLE, ""]
    if not out["publishable"]:
        status = out["status"]
        lines += [f"**{status[:1].upper() + status[1:]}.** Rerun with `make bench` on a quiet machine.", ""]
    alias = f", alias `{model['alias']}`" if model.get("alias") else ""
    weights = (
        f"the fine-tuned fp32 checkpoint (`torch_checkpoint/`) of run `{checkpoint['run_id']}`, "
        f"{checkpoint.get('of') or 'given'}"
        if checkpoint["source"] == "run"
        else "**the base all-MiniLM-L6-v2 weights with seeded random heads** (the served version's run has no "
        "`torch_checkpoint/`; speed does not depend on weight values, but the evidence work does: it runs only "
        "for articles with a signal over its threshold)"
    )
    lines += [
        f"Served model: `{model['uri']}` → version {model['version']}{alias} ({model.get('kind') or 'unknown kind'}). "
        f"fp32 torch and naive cases: {weights}.{_engine_settings(summary, meta)}",
        "",
        f"Machine: {machine['cpu']}, {machine['cpus']} CPUs"
        f"{' (AMX int8)' if machine.get('amx_int8') else ''}, Python {machine['python']}, "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
        + f". Run of {meta['date']}: {meta['rounds']} round(s), every (case, length) in a fresh process per round, "
        f"in shuffled order; {meta['wall_s'] / 60:.1f} min. CPU busy before the start: "
        f"{meta['busy_share_before']:.0%}; other processes during the run: {meta['other_processes_cpu_share']:.0%}.",
        "",
        "Articles: synthetic wire reports generated from templates (`benchmarks/articles.py`, seed "
        "fixed), the same for every case: "
        + ", ".join(
            f"{length} ≈ {_fmt(_words(summary, length), 0)} words "
            f"({meta['counts'][length]['n']} per throughput call, {meta['counts'][length]['latency_n']} timed alone)"
            for length in lengths
        )
        + ". Throughput: one call over all articles; latency: one call per article; both with each case as it runs "
        "in service (the served pyfunc runs its encoder batches side by side, one per core, and the text's own "
        "work on a second thread).",
        "",
        "| length | case | articles/s | × naive | latency p50 ms | p95 ms | model inputs / article | tokens / article "
        "| inputs cut | peak RSS MB | load s | first call s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for length in lengths:
        naive = summary.get("naive", {}).get(length)
        for case in ("served", "torch_fp32", "naive"):
            cell = summary.get(case, {}).get(length)
            if cell is None:
                continue
            times = cell["articles_per_s"] / naive["articles_per_s"] if naive else None
            lines.append(
                f"| {length} | {labels[case]} | {_fmt(cell['articles_per_s'], 2)} | {_fmt(times, 2)} "
                f"| {_fmt(cell['latency_ms']['median'])} | {_fmt(cell['latency_ms']['p95'])} "
                f"| {_fmt(cell['model_inputs_per_article'])} | {_fmt(cell['tokens_per_article'], 0)} "
                f"| {cell['truncated_inputs']} | {_fmt(cell['peak_rss_mb'], 0)} | {_fmt(cell['load_s'], 2)} "
                f"| {_fmt(cell['first_call_s'], 2)} |"
            )
    peaks = out["peaks"]
    detail = peaks["detail"]
    lines += [
        "",
        "**The machine's limit.** FLOPs per model input: 2·(4h² + 2hi)·layers per token for the projections and "
        "feed-forward (GEMMs) plus 4·L·h·layers per token for attention (sequence length L), for the token counts "
        "the case actually fed its model; divided by the peak rates measured on this CPU with "
        f"{peaks['threads']} threads (best of before and after the cases): fp32 "
        f"{_fmt(detail.get('fp32_torch', 0) / 1e9, 0)} GFLOP/s (torch `mm` 2048²), "
        f"{_fmt(detail.get('fp32_numpy', 0) / 1e9, 0)} GFLOP/s (numpy), int8 "
        f"{_fmt((detail.get('int8_onnxruntime') or 0) / 1e9, 0)} GOP/s (onnxruntime `MatMulInteger` u8×s8, 2048²). "
        "The int8 served graph gets the int8 rate for its GEMMs and the fp32 rate for attention; the fp32 cases "
        "the fp32 rate throughout. Layer norms, GELU, softmax, tokenisation and post-processing count as free, "
        "so the limit is optimistic and the gap a lower bound. The machine's speed moves by ±10 % between minutes, "
        "so the served rounds are also set against the peak measured right after each of them (last column: "
        "the median of the rounds' limit ÷ measured, each round in brackets).",
        "",
        "| length | case | GFLOP / article (GEMM + attention) | limit articles/s | measured | limit ÷ measured "
        "| with the peak beside each round |",
        "|---|---|---|---|---|---|---|",
    ]
    for length in lengths:
        for case in ("served", "torch_fp32", "naive"):
            cell = summary.get(case, {}).get(length)
            if cell is None or not cell.get("limit"):
                continue
            lim = cell["limit"]
            rounds = ", ".join(_fmt(g, 2) for g in lim.get("paired_gap_rounds", []))
            paired = f"{_fmt(lim['paired_gap'], 2)} ({rounds})" if lim.get("paired_gap") is not None else "–"
            lines.append(
                f"| {length} | {labels[case]} | {_fmt(lim['gemm_gflop_per_article'])} + "
                f"{_fmt(lim['attention_gflop_per_article'])} | {_fmt(lim['articles_per_s'], 1)} "
                f"| {_fmt(cell['articles_per_s'], 2)} | {_fmt(lim['gap'], 2)} | {paired} |"
            )
    served = summary.get("served", {})
    stage_names = sorted({k for cell in served.values() for k in cell["stages"]}, key=_stage_order)
    if stage_names:
        lines += [
            "",
            "**Where the served path's time goes** (share of a second call over the same articles with explicit "
            "timers around the stages, `benchmarks/stages.py`; the timers are one stack per process, so that call "
            "runs the batches and the text's own work in sequence, at the rate in the last column. "
            '"model" is onnxruntime itself, "model input/output" the batching, '
            'padding and activations around it, "other" pooling, building and validating the assessments and '
            "the pyfunc wrapper):",
            "",
            "| length | " + " | ".join(stage_names) + " | articles/s in sequence |",
            "|---|" + "---|" * (len(stage_names) + 1),
        ]
        for length in lengths:
            cell = served.get(length)
            if cell is None:
                continue
            shares = " | ".join(f"{cell['stages'].get(s, 0.0):.0%}" for s in stage_names)
            lines.append(f"| {length} | {shares} | {_fmt(cell.get('in_sequence_articles_per_s'), 2)} |")
    lines += _op_table(served, lengths)
    lines += _op_gap_table(served, lengths)
    training = setup.get("training", {})
    lines += ["", "**Training time** (the run's `train_seconds`: fit, calibration, export and logging):", ""]
    for name, facts in (("baseline (TF-IDF)", training.get("baseline")), ("MiniLM", training.get("minilm"))):
        if facts and facts.get("train_seconds") is not None:
            minutes = facts["train_seconds"] / 60
            line = f"- {name}: version {facts['version']}, run `{facts['run_id']}`: {minutes:.1f} min"
            if facts.get("init_from_run"):
                origin = facts.get("init_train_seconds")
                took = f", which took {origin / 60:.1f} min" if origin is not None else ""
                line += (
                    " (no encoder training: it re-calibrates the fine-tuned weights of run "
                    f"`{facts['init_from_run']}`{took})"
                )
            lines.append(line)
        else:
            lines.append(f"- {name}: no registered version with a `train_seconds` metric")
    lines += ["", "**Targets** (in the benchmark, not in timed tests):", ""]
    for name, target in out["targets"].items():
        value = target["value"]
        shown = _fmt(value, 2) if isinstance(value, float) else "–" if value is None else str(value)
        lines.append(f"- {name}: {shown} {_mark(target['met'])}")
    lines += [
        "",
        "The naive reference returns only the five heads' outputs for the first 512 tokens; the served path "
        "returns full assessments of the whole text (chunks, shortlisted evidence sentences scored one by one, places, "
        "fatalities, language), so its ratios understate the engine's speed-up. Ratios compare cases of the same "
        "run. Raw numbers per round: `benchmarks/results/bench.json`. What changed in the served path and what each "
        "change measured: `benchmarks/results/served-path-changes.md`; how closely the int8 model follows its fp32 "
        "weights: `python -m benchmarks.fidelity --model URI`.",
        "",
        "```bash",
        "make bench    # = .venv/bin/python -m benchmarks.harness (3 rounds; --quick for a smoke run)",
        "```",
        "",
        f"This run: `{meta.get('command', '')}`.",
        "",
    ]
    return "\n".join(lines)


def _op_table(served: dict[str, Any], lengths: Sequence[str], top: int = 6) -> list[str]:
    """Inside "model": kernel-time shares of the served encoder's largest operators, per length."""
    profiled = {length: served[length]["ops"] for length in lengths if (served.get(length) or {}).get("ops")}
    if not profiled:
        return []
    totals: dict[str, float] = {}
    for profile in profiled.values():
        for op, share in profile["shares"].items():
            totals[op] = totals.get(op, 0.0) + share
    biggest = sorted(totals, key=lambda op: -totals[op])[:top]
    lines = [
        "",
        "**Inside the model** (onnxruntime's profiler, `benchmarks/op_profile.py`: kernel time per operator of the "
        "served graph on one article's first chunk, on one thread, as each batch runs beside the other; mean over "
        "rounds):",
        "",
        "| length | tokens | ms per input | tokens/s per core | " + " | ".join(biggest) + " | other operators |",
        "|---|---|---|---|" + "---|" * (len(biggest) + 1),
    ]
    for length, profile in profiled.items():
        rest = 1.0 - sum(profile["shares"].get(op, 0.0) for op in biggest)
        cells = [f"{profile['shares'].get(op, 0.0):.0%}" for op in biggest] + [f"{rest:.0%}"]
        rate = profile["tokens"] / (profile["ms_per_input"] / 1000.0)
        lines.append(
            f"| {length} | {profile['tokens']} | {profile['ms_per_input']:.1f} | {rate:,.0f} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def _op_gap_table(served: dict[str, Any], lengths: Sequence[str]) -> list[str]:
    """Each GEMM-bearing operator's kernel time against the time its work takes at one thread's peak rates, and the
    time of the operators the limit counts as free: where the gap to the limit lies."""
    profiled = {
        length: served[length]["ops"]
        for length in lengths
        if ((served.get(length) or {}).get("ops") or {}).get("work") and served[length]["ops"].get("peaks")
    }
    if not profiled:
        return []
    from benchmarks.op_profile import at_peak_ms

    first = next(iter(profiled.values()))["peaks"]
    lines = [
        "",
        "**Where the gap lies** (the same profiles: each operator's work, read off the shapes the profiler records, "
        f"at the peak rates of one thread measured beside it, int8 {first['int8_ops'] / 1e9:,.0f} GOP/s and fp32 "
        f"{first['fp32_flops'] / 1e9:,.0f} GFLOP/s in the first profile; the operators with no GEMM are free in "
        "the limit, so all their time is gap):",
        "",
        "| length | operator | ms per input | work (int8 GOP + fp32 GFLOP) | ms at peak | measured ÷ at peak |",
        "|---|---|---|---|---|---|",
    ]
    for length, profile in profiled.items():
        total_ms = sum(work["ms"] for work in profile["work"].values())
        total_peak = free_ms = 0.0
        for op, work in profile["work"].items():
            if not (work["int8_gop"] or work["fp32_gflop"]):
                free_ms += work["ms"]
                continue
            peak_ms = at_peak_ms(work, profile["peaks"])
            total_peak += peak_ms
            if work["ms"] < 0.01 * total_ms:
                continue  # the heads' tiny GEMMs: their time is overhead, not work
            lines.append(
                f"| {length} | {op} | {work['ms']:.2f} | {work['int8_gop']:.2f} + {work['fp32_gflop']:.2f} | "
                f"{peak_ms:.2f} | {work['ms'] / peak_ms:.2f} |"
            )
        lines.append(f"| {length} | operators with no GEMM | {free_ms:.2f} | – | 0 | – |")
        lines.append(
            f"| {length} | **all** | {total_ms:.2f} | | {total_peak:.2f} | **{total_ms / total_peak:.2f}** |"
            if total_peak
            else f"| {length} | **all** | {total_ms:.2f} | | – | – |"
        )
    return lines


def _engine_settings(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    served = next(iter(summary.get("served", {}).values()), None)
    parts = []
    if served is not None and served.get("threads"):
        parts.append(f"onnxruntime intra-op threads {served['threads']}")
    if served is not None and served.get("batch_tokens"):
        parts.append(f"encoder batches of ≤ {served['batch_tokens']} tokens")
    parts.append(f"torch threads {meta.get('threads')}")
    return " Threads and batching: " + ", ".join(parts) + "."


def _words(summary: dict[str, Any], length: str) -> float | None:
    return next((cells[length]["words_mean"] for cells in summary.values() if length in cells), None)


def _stage_order(name: str) -> int:
    from benchmarks.stages import STAGES

    return STAGES.index(name) if name in STAGES else len(STAGES)


def update_results_md(path: Path, section: str) -> None:
    """Replace (or append) the "Scoring performance" section of ``path``; every other section stays as it is."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION_TITLE)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    body = section.rstrip("\n") + "\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text, encoding="utf-8")
