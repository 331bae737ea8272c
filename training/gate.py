"""Champion vs challenger: the extra benchmark rows, the latency race and the promotion gate.

``feedback_rows`` scores a model on the feedback held out from training; ``time_models`` times both models
article by article on the same sample, interleaved in one process (so load, cache and CPU frequency affect
both alike); ``run_gate`` applies ``GateConfig`` to two ``EvaluationReport``s and the timings and returns
every check with its numbers, so the report says exactly why a challenger was or was not promoted.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from threatscore.registry import LoadedModel
from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS, severity_level
from training.config import GateConfig
from training.evaluate import BenchmarkRow, EvaluationReport
from training.metrics import MEAN_LOG_LOSS, binary_report, expected_calibration_error, per_label_report

logger = logging.getLogger(__name__)

#: Extra keys of a benchmark row that hold a calibration error.
ECE_KEYS = ("ece", "mean_ece", "ece_pooled")
FEEDBACK_SIGNALS = "signals (feedback holdout)"
FEEDBACK_EVENTS = "event types (feedback holdout)"
FEEDBACK_SEVERITY = "severity (feedback holdout)"


# --------------------------------------------------------------------------------------------- feedback holdout


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    titles = frame["title"].astype("string").fillna("")
    return [
        {"id": str(i), "text": str(t), **({"title": str(ti)} if ti else {})}
        for i, t, ti in zip(frame["id"], frame["text"], titles, strict=True)
    ]


def feedback_rows(model: LoadedModel, holdout: pd.DataFrame) -> list[BenchmarkRow]:
    """Signals, event types and severity on the held-out feedback (only the labels analysts gave or kept)."""
    if holdout.empty:
        return []
    scored = {a["id"]: a for a in model.predict(_records(holdout)) if "error" not in a}
    frame = holdout[holdout["id"].isin(scored)]
    rows: list[BenchmarkRow] = []
    thresholds = model.pyfunc.unwrap_python_model().scorer.config.signal_thresholds
    per_label: dict[str, dict[str, float]] = {}
    eces = []
    for name in SIGNALS:
        known = frame[frame[f"sig_{name}"].notna()]
        if known.empty or known[f"sig_{name}"].sum() == 0:
            continue
        gold = known[f"sig_{name}"].astype(int).to_numpy()
        proba = np.array([scored[i]["signals"][name]["probability"] for i in known["id"]])
        rep = binary_report(gold, proba, thresholds[name])
        per_label[name] = {k: rep[k] for k in ("precision", "recall", "f1", "support")}
        eces.append(expected_calibration_error(gold, proba))
    if per_label:
        rows.append(
            BenchmarkRow(
                FEEDBACK_SIGNALS,
                "feedback held out from training",
                "macro F1",
                float(np.mean([s["f1"] for s in per_label.values()])),
                len(frame),
                {"mean_ece": float(np.mean(eces))},
                per_label,
            )
        )
    events = frame[frame["sub_event_type"].notna()]
    if not events.empty:
        gold_e = events["sub_event_type"].astype(str).tolist()
        pred_e = [max(scored[i]["event_types"].items(), key=lambda kv: kv[1])[0] for i in events["id"]]
        labels = [e for e in EVENT_TYPES if e in set(gold_e) | set(pred_e)]
        rows.append(
            BenchmarkRow(
                FEEDBACK_EVENTS,
                "feedback held out from training",
                "macro F1",
                float(f1_score(gold_e, pred_e, labels=labels, average="macro", zero_division=0)),
                len(gold_e),
                {"accuracy": float(accuracy_score(gold_e, pred_e))},
                per_label_report(gold_e, pred_e, labels),
            )
        )
    severe = frame[frame["fatalities"].notna()]
    if not severe.empty:
        gold_s = [severity_level(int(v)) for v in severe["fatalities"]]
        pred_s = [scored[i]["severity"]["level"] for i in severe["id"]]
        rows.append(
            BenchmarkRow(
                FEEDBACK_SEVERITY,
                "feedback held out from training",
                "macro F1",
                float(f1_score(gold_s, pred_s, labels=list(SEVERITY_LEVELS), average="macro", zero_division=0)),
                len(gold_s),
                {"accuracy": float(accuracy_score(gold_s, pred_s))},
                per_label_report(gold_s, pred_s, SEVERITY_LEVELS),
            )
        )
    return rows


# --------------------------------------------------------------------------------------------- latency


@dataclass(frozen=True)
class Latency:
    """Per-article latency of one model, in milliseconds."""

    p50_ms: float
    p95_ms: float
    mean_ms: float
    n: int


def time_models(
    models: dict[str, LoadedModel], sample: pd.DataFrame, *, repeats: int = 3, warmup: int = 5
) -> dict[str, Latency]:
    """Time ``predict`` of one article at a time for every model on the same articles, interleaved.

    The order of the models rotates from one call to the next, so neither always runs first (warm caches).
    Each article is timed ``repeats`` times per model and its fastest time kept: what the model costs, not what
    the other processes on the machine cost at that moment (they only ever add time).
    """
    records = _records(sample)
    names = list(models)
    for record in records[:warmup]:
        for name in names:
            models[name].predict([record])
    best: dict[str, list[float]] = {name: [math.inf] * len(records) for name in names}
    turn = 0
    for _ in range(repeats):
        for k, record in enumerate(records):
            order = names[turn % len(names) :] + names[: turn % len(names)]
            turn += 1
            for name in order:
                started = time.perf_counter()
                models[name].predict([record])
                best[name][k] = min(best[name][k], 1000 * (time.perf_counter() - started))
    return {
        name: Latency(float(np.percentile(t, 50)), float(np.percentile(t, 95)), float(np.mean(t)), len(t))
        for name, t in best.items()
        if t
    }


# --------------------------------------------------------------------------------------------- the gate


@dataclass(frozen=True)
class Check:
    """One condition of the gate, with the numbers it compared."""

    name: str
    passed: bool
    champion: float | None
    challenger: float | None
    rule: str
    gated: bool = True

    @property
    def delta(self) -> float | None:
        """Challenger minus champion."""
        if self.champion is None or self.challenger is None:
            return None
        return self.challenger - self.champion


@dataclass(frozen=True)
class GateResult:
    """Whether the challenger may replace the champion, and every check behind the answer."""

    passed: bool
    checks: list[Check] = field(default_factory=list)
    note: str = ""

    @property
    def failed(self) -> list[Check]:
        """The gated checks that did not hold."""
        return [c for c in self.checks if c.gated and not c.passed]

    def summary(self) -> str:
        """One line: pass, or the failed checks."""
        if self.passed:
            return "gate passed" + (f" ({self.note})" if self.note else "")
        return "gate failed: " + "; ".join(f"{c.name} ({c.rule})" for c in self.failed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "passed": self.passed,
            "note": self.note,
            "checks": [{**asdict(c), "delta": c.delta} for c in self.checks],
        }

    def render_markdown(self) -> str:
        """The checks as a Markdown table."""
        lines = ["| check | champion | challenger | Δ | rule | result |", "|---|---|---|---|---|---|"]
        for c in self.checks:
            if c.gated:
                result = "pass" if c.passed else "**FAIL**"
            else:
                result = "(not gated)" if c.passed else "(not gated: fails)"
            lines.append(
                f"| {c.name} | {_fmt(c.champion)} | {_fmt(c.challenger)} | {_fmt(c.delta, signed=True)} | "
                f"{c.rule} | {result} |"
            )
        return "\n".join(lines) + "\n"


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _number(value: Any) -> float | None:
    """A row's extra as a float, or None when it is missing or NaN."""
    if value is None or math.isnan(float(value)):
        return None
    return float(value)


def headline_f1(row: BenchmarkRow) -> float | None:
    """The row's macro F1 (its ``macro_f1`` extra when the headline is weighted or micro), else its binary F1."""
    if "macro_f1" in row.extra:
        return float(row.extra["macro_f1"])
    if "F1" in row.metric:
        return float(row.value)
    return None


def run_gate(
    champion: EvaluationReport | None,
    challenger: EvaluationReport,
    latency: dict[str, Latency],
    config: GateConfig,
) -> GateResult:
    """Apply the gate. Without a champion the challenger passes (the first model of a registry)."""
    if champion is None:
        return GateResult(True, [], note="no champion yet: the challenger becomes the first champion")
    mine = {r.task: r for r in challenger.rows}
    theirs = {r.task: r for r in champion.rows}
    common = [task for task in theirs if task in mine]
    checks: list[Check] = []
    for task in common:
        old, new = theirs[task], mine[task]
        gated = min(old.n, new.n) >= config.min_support
        f_old, f_new = headline_f1(old), headline_f1(new)
        if f_old is not None and f_new is not None:
            checks.append(
                Check(
                    f"{task}: macro F1",
                    f_new >= f_old - config.max_f1_drop - 1e-12,
                    f_old,
                    f_new,
                    f"drop ≤ {config.max_f1_drop:g}",
                    gated,
                )
            )
        ll_old, ll_new = _number(old.extra.get(MEAN_LOG_LOSS)), _number(new.extra.get(MEAN_LOG_LOSS))
        proper_ok = False
        if ll_old is not None and ll_new is not None:
            proper_ok = ll_new <= ll_old + config.max_log_loss_increase + 1e-12
            checks.append(
                Check(
                    f"{task}: {MEAN_LOG_LOSS}",
                    proper_ok,
                    ll_old,
                    ll_new,
                    f"rise ≤ {config.max_log_loss_increase:g}",
                    gated,
                )
            )
        ceiling = config.ece_ceiling if proper_ok else None
        for key in ECE_KEYS:
            e_old, e_new = _number(old.extra.get(key)), _number(new.extra.get(key))
            if e_old is None or e_new is None:
                continue
            rule = f"rise ≤ {config.max_ece_increase:g}"
            if ceiling is not None:
                rule += f", or ≤ {ceiling:g} as log loss did not rise"
            checks.append(
                Check(
                    f"{task}: {key}",
                    e_new <= e_old + config.max_ece_increase + 1e-12 or (ceiling is not None and e_new <= ceiling),
                    e_old,
                    e_new,
                    rule,
                    gated,
                )
            )
    # The first preferred signal row both reports have with enough examples; else the first they have at all.
    candidates = [task for task in config.signal_rows if task in theirs and task in mine]
    supported = [t for t in candidates if min(theirs[t].n, mine[t].n) >= config.min_support]
    signal = next(iter(supported or candidates), None)
    if signal is None:
        checks.append(Check("signal macro F1", False, None, None, "no signal benchmark in both reports"))
    else:
        s_old, s_new = theirs[signal].value, mine[signal].value
        checks.append(
            Check(
                f"{signal}: higher macro F1",
                s_new > s_old + config.min_signal_f1_gain,
                s_old,
                s_new,
                f"gain > {config.min_signal_f1_gain:g}",
            )
        )
    if "champion" in latency and "challenger" in latency:
        p_old, p_new = latency["champion"].p95_ms, latency["challenger"].p95_ms
        checks.append(
            Check(
                "p95 latency per article (ms)",
                p_new <= p_old * (1 + config.max_latency_increase),
                p_old,
                p_new,
                f"≤ champion × {1 + config.max_latency_increase:g}",
            )
        )
    passed = all(c.passed for c in checks if c.gated)
    return GateResult(passed, checks)
