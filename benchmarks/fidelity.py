"""How closely the served (int8 ONNX) model follows the fp32 torch weights it was exported from.

``python -m benchmarks.fidelity --model models:/threatscore/4`` scores the benchmark's synthetic articles (and the
seed article when ``../shared/examples/seed-article.txt`` exists) with the served pyfunc's scorer and with the same
scorer over the run's fp32 ``torch_checkpoint/``, and reports probability differences and how many signal
decisions, evidence lists and severity levels agree. It also scores every article alone, because dynamic int8
quantisation reads its range off the whole batch: an article's scores may depend on what else is in the request.

``--benchmark-rows`` runs ``threatscore evaluate``'s product rows (BBC relevance, ACLED sub-event types, severity,
source-implied and gold signals, resurgence) twice, with the served model and with the same model whose encoder is
the fp32 torch checkpoint, and reports how much int8 moves each benchmark F1 (the issue's "no benchmark F1 moves by
more than 0.01").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.articles import make_articles

SEED_ARTICLE = Path(__file__).resolve().parent.parent.parent / "shared" / "examples" / "seed-article.txt"


def compare(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], thresholds: dict[str, float]) -> dict[str, Any]:
    """Differences between two lists of assessments of the same articles."""
    diffs: list[float] = []
    agree = total = same_evidence = with_evidence = same_severity = 0
    for x, y in zip(a, b, strict=True):
        diffs.append(abs(x["relevance"] - y["relevance"]))
        diffs += [abs(x["event_types"][k] - y["event_types"][k]) for k in x["event_types"]]
        for name, signal in x["signals"].items():
            other = y["signals"][name]
            diffs.append(abs(signal["probability"] - other["probability"]))
            total += 1
            agree += (signal["probability"] >= thresholds[name]) == (other["probability"] >= thresholds[name])
            if signal["evidence"] or other["evidence"]:
                with_evidence += 1
                same_evidence += signal["evidence"] == other["evidence"]
        same_severity += x["severity"]["level"] == y["severity"]["level"]
    d = np.array(diffs)
    return {
        "mean_abs_diff": float(d.mean()),
        "p99_abs_diff": float(np.quantile(d, 0.99)),
        "max_abs_diff": float(d.max()),
        "signal_decisions_agree": agree,
        "signal_decisions": total,
        "same_evidence": same_evidence,
        "signals_with_evidence": with_evidence,
        "severity_agrees": same_severity,
        "articles": len(a),
    }


def describe(result: dict[str, Any]) -> str:
    """One line of a comparison."""
    return (
        f"mean |Δp| {result['mean_abs_diff']:.4f}, p99 {result['p99_abs_diff']:.4f}, max {result['max_abs_diff']:.4f}; "
        f"signal decisions agree {result['signal_decisions_agree']}/{result['signal_decisions']}; "
        f"same evidence {result['same_evidence']}/{result['signals_with_evidence']}; "
        f"severity level agrees {result['severity_agrees']}/{result['articles']}"
    )


def row_deltas(int8: Any, fp32: Any) -> list[dict[str, Any]]:
    """Per benchmark row both reports have: its headline value with each engine, the difference int8 − fp32, and
    the per-label F1 differences behind it (``labels``: label -> (int8 − fp32 F1, support), changed labels only)."""
    theirs = {row.task: row for row in fp32.rows}
    out = []
    for row in int8.rows:
        if row.task in theirs:
            other = theirs[row.task]
            labels = {
                label: (scores["f1"] - other.per_label[label]["f1"], int(scores["support"]))
                for label, scores in row.per_label.items()
                if label in other.per_label and scores["f1"] != other.per_label[label]["f1"]
            }
            out.append(
                {
                    "row": row.task,
                    "metric": row.metric,
                    "n": row.n,
                    "int8": row.value,
                    "fp32": other.value,
                    "delta": row.value - other.value,
                    "labels": labels,
                }
            )
    return out


def render_row_deltas(model: str, deltas: Sequence[dict[str, Any]]) -> str:
    """Markdown table of ``row_deltas`` with the largest absolute change."""
    lines = [
        f"Benchmark rows of `{model}`: served int8 ONNX encoder vs the same model with its fp32 torch encoder",
        "",
        "| row | metric | n | int8 | fp32 | int8 − fp32 |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {d['row']} | {d['metric']} | {d['n']} | {d['int8']:.4f} | {d['fp32']:.4f} | {d['delta']:+.4f} |"
        for d in deltas
    ]
    largest = max((abs(d["delta"]) for d in deltas), default=0.0)
    lines += ["", f"Largest change: {largest:.4f} (target: ≤ 0.01)", ""]
    # Which labels a row's change comes from: a macro over a few labels moves a lot when a one-item label flips.
    for d in deltas:
        moved = sorted(d["labels"].items(), key=lambda item: -abs(item[1][0]))[:3]
        if moved and abs(d["delta"]) > 0.01:
            parts = ", ".join(f"{label} {delta:+.3f} (support {support})" for label, (delta, support) in moved)
            lines.append(f"- {d['row']}: F1 of {parts}")
    return "\n".join(lines).rstrip() + "\n"


def benchmark_rows(model: Any, fp32: Any, processed: Path) -> tuple[list[dict[str, Any]], str]:
    """``threatscore evaluate``'s product rows with the loaded ``model`` as served and again with its scorer swapped
    for ``fp32`` (the same thresholds, rules, TF-IDF heads and blend over the fp32 encoder), side by side."""
    import dataclasses

    from training.evaluate import evaluate_model

    python_model = model.pyfunc.unwrap_python_model()
    served, ref = python_model.scorer, model.ref
    int8 = evaluate_model(model, processed, with_tasks=False)
    python_model.scorer, model.ref = fp32, dataclasses.replace(ref, uri=f"{ref.uri} (fp32 torch encoder)")
    try:
        twin = evaluate_model(model, processed, with_tasks=False)
    finally:
        python_model.scorer, model.ref = served, ref
    deltas = row_deltas(int8, twin)
    return deltas, render_row_deltas(ref.uri, deltas)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fidelity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models:/threatscore@champion")
    parser.add_argument("--checkpoint-run", default=None, help="default: the model version's own run")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument(
        "--benchmark-rows",
        action="store_true",
        help="also run the evaluation's product rows with both engines (minutes) and report each F1's change",
    )
    parser.add_argument("--processed", type=Path, default=Path("data/processed"), help="for --benchmark-rows")
    args = parser.parse_args(argv)

    from benchmarks.cases import CHECKPOINT_SOURCE_RUN, Checkpoint, build_torch_fp32
    from benchmarks.harness import resolve_setup
    from threatscore.registry import configure_tracking, load_model
    from threatscore.schemas import Article
    from threatscore.settings import apply_offline_env, get_settings

    apply_offline_env()
    configure_tracking(get_settings())
    records = make_articles("short", 40, 21) + make_articles("medium", 12, 21) + make_articles("long", 2, 21)
    if SEED_ARTICLE.exists():
        records.append({"id": "seed", "text": SEED_ARTICLE.read_text(encoding="utf-8"), "published": "2022-01-29"})
    articles = [Article(**r) for r in records]
    with tempfile.TemporaryDirectory(prefix="threatscore-fidelity-") as tmp:
        setup = resolve_setup(args.model, args.checkpoint_run, Path(tmp))
        if setup["checkpoint"]["source"] != CHECKPOINT_SOURCE_RUN:
            print(f"{args.model}: its run has no torch_checkpoint/; give --checkpoint-run", file=sys.stderr)  # noqa: T201
            return 2
        loaded = load_model(setup["model"]["pinned_uri"])
        served = loaded.pyfunc.unwrap_python_model().scorer
        checkpoint = Checkpoint(CHECKPOINT_SOURCE_RUN, Path(str(setup["checkpoint"]["path"])), args.checkpoint_run)
        case = build_torch_fp32(checkpoint, served)
        assert case.info is not None
        fp32 = case.info["scorer"]
        reference = [a.model_dump(mode="json") for a in fp32.score(articles)]
        rows = benchmark_rows(loaded, fp32, args.processed) if args.benchmark_rows else None
    batch = [a.model_dump(mode="json") for a in served.score(articles)]
    alone = [served.score([a])[0].model_dump(mode="json") for a in articles]
    thresholds = dict(served.config.signal_thresholds)
    out = {
        "model": setup["model"],
        "checkpoint_run": setup["checkpoint"]["run_id"],
        "served_vs_fp32": compare(batch, reference, thresholds),
        "alone_vs_batch": compare(alone, batch, thresholds),
    }
    print(f"{len(articles)} articles; {args.model} (version {setup['model']['version']})")  # noqa: T201
    print("served int8, in one batch, vs fp32 torch: " + describe(out["served_vs_fp32"]))  # noqa: T201
    print("served int8, each article alone vs in the batch: " + describe(out["alone_vs_batch"]))  # noqa: T201
    if rows is not None:
        out["benchmark_rows"] = rows[0]
        print(rows[1])  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
