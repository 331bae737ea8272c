"""The benchmark harness's pieces: article generator, FLOP arithmetic, stage clock, aggregation, RESULTS.md update."""

import time

import pytest

from benchmarks.articles import LENGTHS, make_article, make_articles, word_count
from benchmarks.limit import (
    MINILM_L6,
    EncoderShape,
    Peaks,
    attention_flops_per_token,
    gemm_flops_per_token,
    limit_articles_per_second,
    seconds_at_peak,
)
from benchmarks.report import (
    SECTION_TITLE,
    aggregate,
    best_peaks,
    percentile,
    publishable,
    render_markdown,
    update_results_md,
)
from benchmarks.stages import StageClock
from threatscore.articles import ArticleError, parse_article


@pytest.mark.parametrize("kind", list(LENGTHS))
def test_articles_have_their_length_and_are_valid_and_distinct(kind):
    articles = make_articles(kind, 12, seed=3)
    target = LENGTHS[kind]
    for a in articles:
        assert abs(word_count(a) - target) <= max(12, 0.05 * target), (kind, word_count(a))
        assert not isinstance(parse_article(a), ArticleError)
    assert len({a["text"] for a in articles}) == len(articles)
    assert len({a["id"] for a in articles}) == len(articles)


def test_articles_are_deterministic_from_the_seed():
    assert make_articles("medium", 3, seed=1) == make_articles("medium", 3, seed=1)
    assert make_articles("medium", 3, seed=1) != make_articles("medium", 3, seed=2)
    assert "\n\n" in make_article("long", 0)["text"]  # paragraphs, as a report has
    with pytest.raises(ValueError, match="unknown article kind"):
        make_article("huge", 0)


def test_minilm_flops_per_token():
    # 6 layers x 2 x (4 x 384^2 + 2 x 384 x 1536) = 21.2 MFLOP per token in the projections and feed-forward
    assert gemm_flops_per_token(MINILM_L6) == 6 * 2 * (4 * 384 * 384 + 2 * 384 * 1536) == 21_233_664
    # attention over a 128-token sequence: 4 x L x h per layer and token
    assert attention_flops_per_token(MINILM_L6, 128) == 4 * 6 * 128 * 384


def test_seconds_at_peak_uses_int8_for_gemms_only():
    shape = EncoderShape(layers=1, hidden=2, intermediate=4)  # gemm per token 2*(16+16) = 64, attention 8*L
    peaks = Peaks(fp32_flops=100.0, int8_ops=400.0, threads=2, detail={})
    seconds, gemm, attn = seconds_at_peak([10, 5], shape, peaks, int8=True)
    assert gemm == 64 * 15 and attn == 8 * 10 * 10 + 8 * 5 * 5
    assert seconds == pytest.approx(gemm / 400.0 + attn / 100.0)
    fp32_seconds, _, _ = seconds_at_peak([10, 5], shape, peaks, int8=False)
    assert fp32_seconds == pytest.approx((gemm + attn) / 100.0)
    # two articles, each of these two inputs: twice the time, so the same articles/s as one article
    assert limit_articles_per_second([[10, 5], [10, 5]], shape, peaks, int8=True) == pytest.approx(1 / seconds)
    no_int8 = Peaks(fp32_flops=100.0, int8_ops=None, threads=2, detail={})
    assert seconds_at_peak([10], shape, no_int8, int8=True)[0] == pytest.approx((640 + 800) / 100.0)


def test_stage_clock_books_exclusive_time():
    clock = StageClock()
    inner = clock.wrap("model", lambda: time.sleep(0.02))

    def outer_fn():
        time.sleep(0.01)
        inner()

    outer = clock.wrap("evidence selection", outer_fn)
    started = time.perf_counter()
    outer()
    total = time.perf_counter() - started
    booked_inner, booked_outer = clock.seconds["model"], clock.seconds["evidence selection"]
    assert booked_inner >= 0.02 and booked_outer >= 0.01
    # the outer stage is booked without the inner call inside it: together they are the call's wall time
    assert booked_inner + booked_outer == pytest.approx(total, abs=0.002)
    shares = clock.shares(total)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["other"] < 0.2  # the two stages cover nearly all of the call


def test_percentile_matches_linear_interpolation():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    assert percentile(list(range(101)), 95) == 95.0


def _worker(case, length, rnd, rate, lat, rss=900.0, stages=None, lengths=(100, 20, 20), ops=None, in_sequence=None):
    return {
        "case": case,
        "length": length,
        "round": rnd,
        "n": 2,
        "words_mean": 500.0,
        "load_s": 1.0,
        "first_call_s": 2.0,
        "throughput_s": 2 / rate,
        "articles_per_s": rate,
        "in_sequence_articles_per_s": in_sequence,
        "latencies_s": lat,
        "stages": stages or {},
        "token_lengths": list(lengths),
        "truncated_inputs": 0,
        "max_length": 256,
        "heads": "EncoderHeads",
        "threads": 2,
        "int8": case == "served",
        "peak_rss_mb": rss,
        "ops": ops,
    }


def test_aggregate_takes_medians_pools_latencies_and_checks_targets():
    results = [
        _worker(
            "served", "medium", 0, 10.0, [0.1, 0.2], stages={"model": 0.8, "places": 0.1, "other": 0.1}, in_sequence=8.0
        ),
        _worker(
            "served",
            "medium",
            1,
            14.0,
            [0.3],
            rss=1000.0,
            stages={"model": 0.6, "places": 0.2, "other": 0.2},
            in_sequence=9.0,
        ),
        _worker("served", "medium", 2, 12.0, [0.4]),  # a run from before the staged call: no in-sequence rate
        _worker("naive", "medium", 0, 3.0, [1.0], lengths=(512,) * 10),
        _worker("naive", "medium", 1, 5.0, [1.0], lengths=(512,) * 10),
    ]
    peaks = [
        {"fp32_flops": 1e11, "int8_ops": 1e12, "threads": 2, "detail": {"fp32_torch": 1e11, "int8_onnxruntime": 1e12}},
        {"fp32_flops": 2e11, "int8_ops": 5e11, "threads": 2, "detail": {"fp32_numpy": 2e11, "int8_onnxruntime": 5e11}},
    ]
    meta = {"quick": False, "busy_share_before": 0.02, "other_processes_cpu_share": 0.01}
    out = aggregate(meta, {}, results, peaks)
    served = out["summary"]["served"]["medium"]
    assert served["articles_per_s"] == 12.0 and served["articles_per_s_rounds"] == [10.0, 14.0, 12.0]
    assert served["latency_ms"]["samples"] == 4 and served["latency_ms"]["median"] == pytest.approx(250.0)
    assert served["peak_rss_mb"] == 1000.0
    assert served["stages"]["model"] == pytest.approx((0.8 + 0.6 + 0.0) / 3)
    assert served["in_sequence_articles_per_s"] == 8.5  # the median of the rounds that measured it
    assert out["summary"]["naive"]["medium"]["in_sequence_articles_per_s"] is None
    assert served["tokens_per_article"] == 70 and served["model_inputs_per_article"] == 1.5
    assert out["peaks"]["fp32_flops"] == 2e11 and out["peaks"]["int8_ops"] == 1e12  # best of each
    assert out["ratios"]["medium"]["served_vs_naive"] == pytest.approx(3.0)
    assert out["targets"]["medium: served ≥ 3× naive"]["met"] is True
    assert out["targets"]["served RSS ≤ 1.5 GB"]["met"] is True
    assert out["targets"]["long: ≥ 5 articles/s, read whole"]["met"] is None  # not measured
    limit = served["limit"]
    assert limit["gap"] == pytest.approx(limit["articles_per_s"] / 12.0)
    assert out["publishable"] is True
    assert "token_lengths" not in served  # the raw lists stay in "raw" only


def test_operator_profiles_are_averaged_over_rounds_and_tabled():
    def ops(attention, ms):
        return {
            "tokens": 256,
            "threads": 1,
            "runs": 10,
            "ms_per_input": ms,
            "shares": {"QAttention": attention, "MatMul": 1 - attention},
        }

    results = [
        _worker("served", "long", 0, 3.0, [0.3], ops=ops(0.5, 20.0)),
        _worker("served", "long", 1, 3.0, [0.3], ops=ops(0.3, 30.0)),
        _worker("served", "long", 2, 3.0, [0.3], ops=ops(0.4, 24.0)),
        _worker("naive", "long", 0, 2.0, [1.0]),  # no profile: not an onnxruntime case
    ]
    meta, setup = _report_context()
    meta["counts"] = {"long": {"n": 2, "latency_n": 1}}
    out = aggregate(meta, setup, results, [{"threads": 2, "detail": {"fp32_torch": 1e11, "int8_onnxruntime": 1e12}}])
    profile = out["summary"]["served"]["long"]["ops"]
    assert profile["shares"]["QAttention"] == pytest.approx(0.4) and profile["ms_per_input"] == 24.0
    assert list(profile["shares"]) == ["MatMul", "QAttention"]  # largest first
    assert out["summary"]["naive"]["long"]["ops"] is None
    text = render_markdown(out)
    assert "| long | 256 | 24.0 | 10,667 | 60% | 40% | 0% |" in text


def test_operator_work_is_set_against_one_threads_peaks():
    def ops(qattention_ms):
        work = {
            "QAttention": {"ms": qattention_ms, "int8_gop": 1.0, "fp32_gflop": 0.5},
            "BiasGelu": {"ms": 2.0, "int8_gop": 0.0, "fp32_gflop": 0.0},
        }
        shares = {"QAttention": qattention_ms / (qattention_ms + 2.0), "BiasGelu": 2.0 / (qattention_ms + 2.0)}
        return {"tokens": 256, "threads": 1, "runs": 10, "ms_per_input": qattention_ms + 2.0, "shares": shares,
                "work": work, "peaks": {"int8_ops": 1e12, "fp32_flops": 1e11}}  # fmt: skip

    results = [_worker("served", "medium", r, 3.0, [0.3], ops=ops(ms)) for r, ms in enumerate((10.0, 14.0, 12.0))]
    meta, setup = _report_context()
    meta["counts"] = {"medium": {"n": 2, "latency_n": 1}}
    out = aggregate(meta, setup, results, [{"threads": 2, "detail": {"fp32_torch": 1e11, "int8_onnxruntime": 1e12}}])
    profile = out["summary"]["served"]["medium"]["ops"]
    assert profile["work"]["QAttention"]["ms"] == 12.0  # the rounds' median
    text = render_markdown(out)
    # At the peaks: 1 GOP at 1 TOP/s (1 ms) + 0.5 GFLOP at 100 GFLOP/s (5 ms) = 6 ms; 12 ms measured is 2x that.
    assert "| medium | QAttention | 12.00 | 1.00 + 0.50 | 6.00 | 2.00 |" in text
    assert "| medium | operators with no GEMM | 2.00 | – | 0 | – |" in text
    assert "| medium | **all** | 14.00 | | 6.00 | **2.33** |" in text


def test_node_work_reads_gemms_off_the_profiled_shapes():
    from benchmarks.op_profile import kernel_work, node_work

    tokens = [{"float": [1, 256, 384]}]
    assert node_work("DynamicQuantizeMatMul", tokens, [{"float": [1, 256, 1536]}]) == (2.0 * 256 * 384 * 1536, 0.0)
    # QAttention: the packed QKV weights (384 x 1152) in int8, then 4·L²·h of scores and weighted sums in fp32.
    int8, fp32 = node_work("QAttention", [{"uint8": [1, 256, 384]}, {"float": [1152]}], tokens)
    assert int8 == 2.0 * 256 * 384 * 1152 and fp32 == 4.0 * 256**2 * 384
    assert node_work("BiasGelu", tokens, tokens) == (0.0, 0.0)
    events = [
        {"cat": "Node", "name": "q_kernel_time", "dur": 3000,
         "args": {"op_name": "QAttention", "input_type_shape": tokens, "output_type_shape": tokens}},
        {"cat": "Node", "name": "g_kernel_time", "dur": 1000,
         "args": {"op_name": "BiasGelu", "input_type_shape": tokens, "output_type_shape": tokens}},
    ]  # fmt: skip
    work = kernel_work(events * 2, inputs=2)  # two profiled runs
    assert list(work) == ["QAttention", "BiasGelu"] and work["QAttention"]["ms"] == 3.0
    assert work["QAttention"]["int8_gop"] == pytest.approx(2.0 * 256 * 384 * 1152 / 1e9)
    assert work["BiasGelu"] == {"ms": 1.0, "int8_gop": 0.0, "fp32_gflop": 0.0}


def test_kernel_shares_sum_node_kernel_time_per_operator():
    from benchmarks.op_profile import kernel_shares

    events = [
        {"cat": "Session", "name": "model_run", "dur": 1000},
        {"cat": "Node", "name": "a_kernel_time", "dur": 30, "args": {"op_name": "QAttention"}},
        {"cat": "Node", "name": "a_fence_before", "dur": 500, "args": {"op_name": "QAttention"}},
        {"cat": "Node", "name": "b_kernel_time", "dur": 10, "args": {"op_name": "BiasGelu"}},
        {"cat": "Node", "name": "c_kernel_time", "dur": 60, "args": {"op_name": "QAttention"}},
    ]
    assert kernel_shares(events) == {"QAttention": 0.9, "BiasGelu": 0.1}
    with pytest.raises(ValueError, match="no kernel-time events"):
        kernel_shares(events[:1])


def test_busy_or_quick_runs_are_labelled_not_publishable():
    ok, status = publishable({"quick": True, "busy_share_before": 0.9, "other_processes_cpu_share": 0.7})
    assert not ok and "smoke run" in status and "busy" in status and "not publishable" in status


def test_update_results_md_replaces_only_its_own_section(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmarks\n\n## Service load test\n\nkeep me\n\n| a | b |\n", encoding="utf-8")
    update_results_md(path, f"{SECTION_TITLE}\n\nfirst\n")
    update_results_md(path, f"{SECTION_TITLE}\n\nsecond\n")
    text = path.read_text(encoding="utf-8")
    assert text.count(SECTION_TITLE) == 1 and "second" in text and "first" not in text
    assert "## Service load test\n\nkeep me\n\n| a | b |\n" in text
    # A section in the middle is replaced in place; the one after it survives.
    path.write_text(f"# B\n\n{SECTION_TITLE}\n\nold\n\n## Later\n\nstays\n", encoding="utf-8")
    update_results_md(path, f"{SECTION_TITLE}\n\nnew\n")
    assert path.read_text(encoding="utf-8") == f"# B\n\n{SECTION_TITLE}\n\nnew\n\n## Later\n\nstays\n"


def _report_context():
    """The meta and setup a rendered report needs (a quick run of a warm-started MiniLM)."""
    meta = {
        "quick": True,
        "busy_share_before": 0.5,
        "other_processes_cpu_share": 0.0,
        "rounds": 1,
        "date": "today",
        "wall_s": 60.0,
        "counts": {"short": {"n": 2, "latency_n": 1}},
        "machine": {"cpu": "cpu", "cpus": 2, "python": "3.11", "versions": {"torch": "x"}},
    }
    setup = {
        "model": {"uri": "models:/m@champion", "version": "4", "alias": "champion", "kind": "minilm"},
        "checkpoint": {"source": "base-weights", "path": "/x", "run_id": None},
        "training": {
            "baseline": {"version": 2, "run_id": "r2", "train_seconds": 120.0},
            "minilm": {
                "version": 4,
                "run_id": "r4",
                "train_seconds": 300.0,
                "init_from_run": "r3",
                "init_train_seconds": 1200.0,
            },
        },
    }
    return meta, setup


def test_markdown_shows_the_status_and_every_case(tmp_path):
    results = [
        _worker(c, "short", 0, r, [0.01], stages={"model": 0.7, "other": 0.3}, in_sequence=r / 1.25)
        for c, r in (("served", 30.0), ("torch_fp32", 10.0), ("naive", 5.0))
    ]
    peaks = [{"fp32_flops": 1e11, "int8_ops": 1e12, "threads": 2, "detail": {"fp32_torch": 1e11}}]
    meta, setup = _report_context()
    text = render_markdown(aggregate(meta, setup, results, peaks))
    # The stage shares come with the rate of the call that measured them, never in place of the throughput.
    assert "| short | 70% | 30% | 24.00 |" in text and "| short | served pyfunc (int8 ONNX) | 30.00 |" in text
    assert text.startswith(SECTION_TITLE) and "not publishable" in text and "random heads" in text
    assert text.count("| short |") >= 3 + 3  # throughput rows and limit rows
    assert "baseline (TF-IDF): version 2" in text and "2.0 min" in text
    # A warm-started run names the run whose fine-tuning it re-calibrates, and that run's time.
    assert "MiniLM: version 4, run `r4`: 5.0 min (no encoder training" in text and "`r3`, which took 20.0 min" in text


def test_fidelity_comparison_counts_decisions_evidence_and_severity():
    from benchmarks.fidelity import compare

    def assessment(p, evidence, level):
        return {
            "relevance": 0.9,
            "event_types": {"Attack": 0.5},
            "signals": {"militant_attack": {"probability": p, "evidence": evidence}},
            "severity": {"level": level},
        }

    a = [assessment(0.6, ["x"], "high"), assessment(0.2, [], "low")]
    b = [assessment(0.4, ["x"], "high"), assessment(0.25, [], "none")]
    out = compare(a, b, {"militant_attack": 0.5})
    assert out["signal_decisions_agree"] == 1 and out["signal_decisions"] == 2
    assert out["same_evidence"] == 1 and out["signals_with_evidence"] == 1
    assert out["severity_agrees"] == 1 and out["max_abs_diff"] == pytest.approx(0.2)


def test_fidelity_benchmark_rows_compare_the_same_rows_of_both_engines():
    from benchmarks.fidelity import render_row_deltas, row_deltas
    from training.evaluate import BenchmarkRow, EvaluationReport

    int8 = EvaluationReport(
        rows=[
            BenchmarkRow("relevance (BBC)", "bbc", "F1", 0.945, 100),
            BenchmarkRow("severity", "acled", "F1", 0.66, 50),
        ],
        model_uri="models:/m/1",
    )
    int8.rows[1].per_label.update({"high": _label(0.50, 10), "low": _label(0.82, 40), "none": _label(0.9, 3)})
    fp32 = EvaluationReport(
        rows=[BenchmarkRow("severity", "acled", "F1", 0.68, 50), BenchmarkRow("only here", "x", "F1", 0.1, 5)],
        model_uri="models:/m/1 (fp32)",
    )
    fp32.rows[0].per_label.update({"high": _label(0.58, 10), "low": _label(0.80, 40), "none": _label(0.9, 3)})
    deltas = row_deltas(int8, fp32)
    assert [d["row"] for d in deltas] == ["severity"]  # rows both reports have, nothing else
    assert deltas[0]["delta"] == pytest.approx(-0.02)
    assert set(deltas[0]["labels"]) == {"high", "low"}  # unchanged labels are left out
    assert deltas[0]["labels"]["high"] == (pytest.approx(-0.08), 10)
    text = render_row_deltas("models:/m/1", deltas)
    assert "| severity | F1 | 50 | 0.6600 | 0.6800 | -0.0200 |" in text and "Largest change: 0.0200" in text
    assert "- severity: F1 of high -0.080 (support 10), low +0.020 (support 40)" in text


def _label(f1: float, support: int) -> dict[str, float]:
    return {"precision": f1, "recall": f1, "f1": f1, "support": support}


def test_each_served_round_is_also_set_against_the_peak_measured_beside_it():
    def peak(int8: float) -> dict:
        detail = {"fp32_numpy": 2e11, "int8_onnxruntime": int8}
        return {"fp32_flops": 2e11, "int8_ops": int8, "threads": 2, "detail": detail}

    rounds = [_worker("served", "medium", k, rate, [0.1]) for k, rate in enumerate((10.0, 12.0, 11.0))]
    for run, int8 in zip(rounds, (1e12, 2e12, 1.5e12), strict=True):
        run["peaks_beside"] = peak(int8)
    meta, setup = _report_context()
    meta["counts"] = {"medium": {"n": 2, "latency_n": 1}}
    out = aggregate(meta, setup, rounds, [peak(2e12)])
    limit = out["summary"]["served"]["medium"]["limit"]
    expected = [
        2 / seconds_at_peak([100, 20, 20], MINILM_L6, best_peaks([peak(int8)]), int8=True)[0] / rate
        for int8, rate in ((1e12, 10.0), (2e12, 12.0), (1.5e12, 11.0))
    ]
    assert limit["paired_gap_rounds"] == pytest.approx(expected)
    assert limit["paired_gap"] == pytest.approx(sorted(expected)[1])
    # The run's best peak (2e12) against the median rate (11.0) is the other, stricter reading.
    assert limit["gap"] == pytest.approx(limit["articles_per_s"] / 11.0) and limit["gap"] > limit["paired_gap"]
    target = out["targets"]["medium: the same with the peak measured beside each round (for reference)"]
    assert target["value"] == limit["paired_gap"] and target["met"] is (limit["paired_gap"] <= 2.0)
    paired = f"| {limit['paired_gap']:.2f} ({', '.join(f'{g:.2f}' for g in expected)}) |"
    assert "with the peak beside each round" in render_markdown(out) and paired in render_markdown(out)
    # Rounds from before the paired peaks: no paired figure, and no target row for it.
    del rounds[0]["peaks_beside"], rounds[1]["peaks_beside"], rounds[2]["peaks_beside"]
    out = aggregate({"quick": False}, {}, rounds, [peak(2e12)])
    assert "paired_gap" not in out["summary"]["served"]["medium"]["limit"]
    assert not any("beside" in name for name in out["targets"])
