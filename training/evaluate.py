"""``threatscore evaluate``: the benchmark table of DESIGN.md for a model URI, through the model's own pyfunc.

Product rows come from the assessments the model returns (relevance on BBC, ACLED sub-event types on the
held-out ACLED slice, severity, signals where a source labels them). Task rows (SATP attack types, Indian
police events, InsightCrime topics) are ConfliBERT's fine-tuning tasks: the model family is fitted on each
task's train split, chosen on dev, and scored on test (``training.task_benchmarks``).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.metrics import accuracy_score, f1_score
from tqdm import tqdm

from threatscore.encoder_heads import EncoderHeads
from threatscore.heads import BlendedHeads
from threatscore.region_index import signal_present
from threatscore.registry import LoadedModel, load_model, resolve
from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS, severity_level
from training.annotation import ANNOTATIONS, load_annotations
from training.baseline import negative_passages, sample_per_source
from training.bootstrap import paired_bootstrap
from training.config import TaskFinetuneConfig
from training.corpus import load_benchmark, load_corpus
from training.metrics import binary_report, expected_calibration_error, mean_proper_scores, per_label_report

if TYPE_CHECKING:
    from training.task_benchmarks import TaskFinetune  # it imports this module's BenchmarkRow

logger = logging.getLogger(__name__)

#: Published anchors (DESIGN.md), keyed by benchmark row name.
ANCHORS: dict[str, tuple[float, str]] = {
    "relevance (BBC_News test)": (0.981, "ConfliBERT F1"),
    "attack types (satp_relevant test)": (0.894, "ConfliBERT-v2 re-run"),
    "police events (IndiaPoliceEvents_docs test)": (0.708, "ConfliBERT F1"),
    "crime topics (insightCrime test)": (0.682, "ConfliBERT F1"),
    "ACLED sub-event types (held-out slice)": (0.839, "CASE 2021 Task 2 best weighted F1"),
}
#: Words per passage of the non-relevant BBC_News test articles, each scored as an article of its own: a wire item
#: or a chunk the size the shipped models read (``encoder.max_words``), fixed so every model gets the same passages.
PASSAGE_WORDS = 160
#: Rows scored per corpus source at most (seeded sample), to keep evaluation minutes, not hours.
MAX_ROWS_PER_SOURCE = 3000
SCORE_BATCH = 64


@dataclass
class BenchmarkRow:
    """One line of the benchmark table, with its per-label detail."""

    task: str
    data: str
    metric: str
    value: float
    n: int
    extra: dict[str, float] = field(default_factory=dict)
    per_label: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def anchor(self) -> str:
        """The published number for this row, if there is one."""
        found = ANCHORS.get(self.task)
        return f"{found[0]:.3f} ({found[1]})" if found else "—"


@dataclass
class EvaluationReport:
    """The benchmark table for one model."""

    rows: list[BenchmarkRow]
    model_uri: str
    #: One row per scored evaluation example (gold labels beside the model's outputs): what the comparison UI
    #: reads to find disagreements and draw reliability diagrams. See ``example_rows``.
    examples: pd.DataFrame | None = None
    #: Scoring speed over the corpus test split: ``articles_per_s`` and ``ms_per_article``.
    timing: dict[str, float] = field(default_factory=dict)
    #: The gold test part's labels and this model's decisions, one row per item (index ``id``; columns
    #: ``gold.<target>`` and ``pred.<target>`` for the ten signals and resurgence): what the paired bootstrap of
    #: ``render_side_by_side`` resamples.
    gold_decisions: pd.DataFrame | None = None

    def flat_metrics(self) -> dict[str, float]:
        """Metrics as flat MLflow keys: ``eval.<task>.<metric>`` and ``eval.<task>.<label>.<f1|recall|…>``."""
        out: dict[str, float] = {}
        for row in self.rows:
            key = "eval." + _slug(row.task)
            out[f"{key}.{row.metric}"] = row.value
            out.update({f"{key}.{k}": v for k, v in row.extra.items()})
            for label, stats in row.per_label.items():
                out.update({f"{key}.{_slug(label)}.{k}": float(v) for k, v in stats.items()})
        return {k: float(v) for k, v in out.items() if v == v}  # drop NaN

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"model_uri": self.model_uri, "rows": [asdict(r) for r in self.rows], "timing": self.timing}

    def render_markdown(self) -> str:
        """The table as Markdown: headline rows, then per-label P/R/F1 with support."""
        lines = [
            f"# Evaluation of `{self.model_uri}`",
            "",
            "| task | data | metric | value | n | published anchor |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            extra = "".join(f"; {k} {v:.3f}" for k, v in r.extra.items())
            lines.append(f"| {r.task} | {r.data} | {r.metric} | {r.value:.3f}{extra} | {r.n} | {r.anchor} |")
        for r in self.rows:
            if not r.per_label:
                continue
            lines += ["", f"## {r.task}", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
            for label, s in r.per_label.items():
                lines.append(
                    f"| {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {int(s['support'])} |"
                )
        return "\n".join(lines) + "\n"


def evaluate_model(
    model: str | LoadedModel,
    processed_dir: Path,
    *,
    with_tasks: bool = True,
    task_config: TaskFinetuneConfig | None = None,
    seed: int = 13,
    annotations: Path | None = ANNOTATIONS,
) -> EvaluationReport:
    """Score the benchmark splits with ``model`` (a URI, or a model already loaded) and build the table. With
    ``with_tasks``, the ConfliBERT task rows too: a MiniLM model's encoder fine-tuned per task with ``task_config``
    (default settings when None; minutes of CPU per task), TF-IDF + LR for the baseline."""
    if isinstance(model, str):
        model = load_model(model)
    corpus = load_corpus(processed_dir)
    test = sample_per_source(corpus[corpus["split"] == "test"], MAX_ROWS_PER_SOURCE, seed)
    rows: list[BenchmarkRow] = []
    examples: list[pd.DataFrame] = []
    gold_decisions = None

    bbc = load_benchmark(processed_dir, "BBC_News")
    bbc_test = bbc[bbc["split"] == "test"]
    if len(bbc_test):
        scored = score_rows(model, bbc_test, "BBC_News test")
        gold = bbc_test["relevance"].astype(int).to_numpy()
        proba = np.array([a["relevance"] for a in scored])
        threshold = model.pyfunc.unwrap_python_model().scorer.config.relevance_threshold
        rep = binary_report(gold, proba, threshold)
        examples.append(example_rows("BBC_News test", bbc_test, dict(zip(bbc_test["id"], scored, strict=True))))
        rows.append(
            BenchmarkRow(
                "relevance (BBC_News test)",
                "conflibert/BBC_News test",
                "F1",
                rep["f1"],
                len(gold),
                {"precision": rep["precision"], "recall": rep["recall"], "ece": rep["ece"]},
            )
        )
        rows += _passage_rows(model, bbc_test, threshold, examples)

    started = time.perf_counter()
    scored_test = dict(zip(test["id"], score_rows(model, test, "corpus test split"), strict=True))
    elapsed = time.perf_counter() - started
    timing = {"articles_per_s": len(test) / elapsed, "ms_per_article": 1000 * elapsed / max(len(test), 1)}
    examples.append(example_rows("corpus test split", test, scored_test))
    rows += _event_type_rows(test, scored_test)
    rows += _severity_rows(test, scored_test)
    rows += _signal_rows(test, scored_test, model)
    if annotations is not None and annotations.exists():
        gold_rows, gold_examples, gold_decisions = _gold_rows(corpus, load_annotations(annotations), model)
        rows += gold_rows
        examples.append(gold_examples)
    if with_tasks:
        from training.task_benchmarks import task_benchmark_rows

        task_config = task_config or TaskFinetuneConfig()
        finetune = _task_finetune(model, task_config)
        rows += task_benchmark_rows(processed_dir, seed=seed, finetune=finetune, tasks=task_config.tasks)
    return EvaluationReport(
        rows=rows, model_uri=model.ref.uri, examples=pd.concat(examples), timing=timing, gold_decisions=gold_decisions
    )


def _passage_rows(
    model: LoadedModel, bbc_test: pd.DataFrame, threshold: float, examples: list[pd.DataFrame]
) -> list[BenchmarkRow]:
    """Specificity on passages of the non-relevant BBC_News test articles, each scored alone: the article-level
    row pools a story's chunks, so it does not show how a model takes one paragraph of sport or business news."""
    passages = negative_passages(bbc_test, PASSAGE_WORDS, cap=None, seed=0)  # every passage: the seed draws none
    if passages.empty:
        return []
    scored = score_rows(model, passages, "BBC_News test passages")
    examples.append(example_rows("BBC_News test passages", passages, dict(zip(passages["id"], scored, strict=True))))
    proba = np.array([a["relevance"] for a in scored if "error" not in a])
    return [
        BenchmarkRow(
            "relevance (BBC_News test, non-relevant passages)",
            f"passages of <= {PASSAGE_WORDS} words of the non-relevant BBC_News test articles",
            "specificity",
            float(np.mean(proba < threshold)),
            len(proba),
            {"median_relevance": float(np.median(proba))},
        )
    ]


def _task_finetune(model: LoadedModel, config: TaskFinetuneConfig) -> TaskFinetune | None:
    """How a model's task rows are made: its own fp32 encoder (its run's ``torch_checkpoint/``) fine-tuned per
    task when it is a MiniLM model, all-MiniLM-L6-v2 itself when the run kept no checkpoint; None (TF-IDF + LR,
    the baseline's family) otherwise."""
    from training.encoder_training import default_model_dir
    from training.minilm import download_checkpoint, has_checkpoint
    from training.task_benchmarks import TaskFinetune

    heads = model.pyfunc.unwrap_python_model().scorer.heads
    encoder = heads.encoder if isinstance(heads, BlendedHeads) else heads
    if not isinstance(encoder, EncoderHeads):
        return None
    run_id = model.pyfunc.metadata.run_id
    if run_id and has_checkpoint(run_id):
        return TaskFinetune(download_checkpoint(run_id) / "encoder", f"version {model.ref.version}'s encoder", config)
    logger.warning("%s: its run kept no fp32 checkpoint; the task rows fine-tune all-MiniLM-L6-v2", model.ref.uri)
    return TaskFinetune(default_model_dir(), "all-MiniLM-L6-v2", config)


#: Characters of each example's text kept in the examples table (enough to read the disagreement).
EXAMPLE_TEXT_CHARS = 3000


def example_rows(
    example_set: str, frame: pd.DataFrame, scored: dict[str, dict[str, Any]], gold: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Gold labels and model outputs side by side, one row per example of ``frame``.

    ``gold`` (annotations indexed by id, ``sig_*`` and ``resurgence`` columns) overrides the corpus's own
    signal labels. Signal labels and probabilities are JSON objects keyed by signal; unknown labels are absent.
    """
    out = []
    for record in frame.to_dict("records"):
        a = scored.get(record["id"], {})
        labels = gold.loc[record["id"]] if gold is not None else record
        gold_signals = {n: int(labels[f"sig_{n}"]) for n in SIGNALS if pd.notna(labels.get(f"sig_{n}"))}
        fatalities = record.get("fatalities")
        events = a.get("event_types") or {}
        signals = a.get("signals") or {}
        primary = next((r for r in a.get("regions") or [] if r.get("primary")), None)
        out.append(
            {
                "example_set": example_set,
                "id": record["id"],
                "source": record.get("source") or "",
                "text": str(record.get("text") or "")[:EXAMPLE_TEXT_CHARS],
                "error": a.get("error"),
                "gold_relevance": float(record["relevance"]) if pd.notna(record.get("relevance")) else None,
                "gold_event_type": record.get("sub_event_type") if pd.notna(record.get("sub_event_type")) else None,
                "gold_severity": severity_level(int(fatalities)) if pd.notna(fatalities) else None,
                "gold_signals": json.dumps(gold_signals),
                "gold_resurgence": int(labels["resurgence"]) if pd.notna(labels.get("resurgence")) else None,
                "relevance": a.get("relevance"),
                "event_type": max(events.items(), key=lambda kv: kv[1])[0] if events else None,
                "event_type_probability": max(events.values()) if events else None,
                "severity": (a.get("severity") or {}).get("level"),
                "signals": json.dumps({n: s["probability"] for n, s in signals.items()}),
                "signals_present": json.dumps(
                    [n for n, s in signals.items() if signal_present(s["probability"], s.get("evidence") or [])]
                ),
                "resurgence": (a.get("resurgence") or {}).get("score"),
                "primary_region": json.dumps(primary) if primary else None,
            }
        )
    return pd.DataFrame(out)


def render_side_by_side(reports: list[EvaluationReport]) -> str:
    """The headline benchmark table with one value column per model (rows a model cannot fill show —)."""
    tasks = list(dict.fromkeys(r.task for rep in reports for r in rep.rows))
    header = "| task | metric | " + " | ".join(f"`{rep.model_uri}`" for rep in reports) + " | published anchor |"
    lines = ["# Benchmarks side by side", "", header, "|---|---|" + "---|" * len(reports) + "---|"]
    for task in tasks:
        found = [{r.task: r for r in rep.rows}.get(task) for rep in reports]
        first = next(r for r in found if r is not None)
        cells = [f"{r.value:.3f} (n={r.n})" if r is not None else "—" for r in found]
        lines.append(f"| {task} | {first.metric} | " + " | ".join(cells) + f" | {first.anchor} |")
    labels = [
        (task, label) for task in tasks for rep in reports for r in rep.rows if r.task == task for label in r.per_label
    ]
    if labels:
        lines += [
            "",
            "## Per label (F1 / recall, support)",
            "",
            "| task | label | " + " | ".join(f"`{rep.model_uri}`" for rep in reports) + " |",
            "|---|---|" + "---|" * len(reports),
        ]
        for task, label in dict.fromkeys(labels):
            cells = []
            for rep in reports:
                stats = next((r.per_label.get(label) for r in rep.rows if r.task == task), None)
                cells.append(f"{stats['f1']:.3f} / {stats['recall']:.3f} ({int(stats['support'])})" if stats else "—")
            lines.append(f"| {task} | {label} | " + " | ".join(cells) + " |")
    lines += _bootstrap_section(reports)
    return "\n".join(lines) + "\n"


def _bootstrap_section(reports: list[EvaluationReport], resamples: int = 1000) -> list[str]:
    """Each later model against the first on the gold test part: the differences in signal macro F1 and resurgence
    F1 with paired-bootstrap 95 % intervals, on the items both scored (nothing when fewer than two models have it)."""
    with_gold = [r for r in reports if r.gold_decisions is not None and len(r.gold_decisions)]
    if len(with_gold) < 2:
        return []
    first = with_gold[0]
    lines = [
        "",
        f"## Gold test part: each model against `{first.model_uri}` (paired bootstrap, {resamples} resamples)",
        "",
        "Differences (model − first) on the same items, with 95 % intervals; an interval that holds 0 means the",
        "gold test part cannot tell the two models apart.",
        "",
        "| model | items | signals macro F1 | resurgence F1 |",
        "|---|---|---|---|",
    ]
    gold_cols, pred_cols = [f"gold.{n}" for n in SIGNALS], [f"pred.{n}" for n in SIGNALS]
    for other in with_gold[1:]:
        assert first.gold_decisions is not None and other.gold_decisions is not None
        ids = first.gold_decisions.index.intersection(other.gold_decisions.index)
        a, b = first.gold_decisions.loc[ids], other.gold_decisions.loc[ids]
        signals = paired_bootstrap(
            a[gold_cols].to_numpy(), a[pred_cols].to_numpy(), b[pred_cols].to_numpy(), resamples=resamples
        )
        resurgence = paired_bootstrap(
            a[["gold.resurgence"]].to_numpy(),
            a[["pred.resurgence"]].to_numpy(),
            b[["pred.resurgence"]].to_numpy(),
            resamples=resamples,
        )
        lines.append(f"| `{other.model_uri}` | {len(ids)} | {signals.render()} | {resurgence.render()} |")
    return lines


def log_report_to_model_run(report: EvaluationReport) -> str | None:
    """Log the report's metrics and tables to the run that produced the model; returns that run's id.

    Models that are not registry or run URIs (a local path) have no run to log to.
    """
    ref = resolve(report.model_uri)
    if ref.name is None or ref.version is None:
        return None
    run_id = MlflowClient().get_model_version(ref.name, ref.version).run_id
    if not run_id:
        return None
    log_report_to_run(report, run_id)
    return run_id


def log_report_to_run(report: EvaluationReport, run_id: str) -> None:
    """Log the report's metrics, tables and timing to run ``run_id`` (e.g. a model not registered yet)."""
    with mlflow.start_run(run_id=run_id), tempfile.TemporaryDirectory() as tmp:
        mlflow.log_metrics(report.flat_metrics())
        (Path(tmp) / "evaluation.md").write_text(report.render_markdown(), encoding="utf-8")
        (Path(tmp) / "evaluation.json").write_text(
            json.dumps(report.to_dict(), indent=2, default=str), encoding="utf-8"
        )
        if report.examples is not None:
            report.examples.to_parquet(Path(tmp) / "examples.parquet", index=False)
        if report.timing:
            mlflow.log_metrics({f"eval.timing.{k}": v for k, v in report.timing.items()})
        mlflow.log_artifacts(tmp, artifact_path="evaluation")


def score_rows(model: Any, frame: pd.DataFrame, what: str) -> list[dict[str, Any]]:
    """The assessments (or per-item errors) of corpus rows ``frame`` (``id``, ``text``, maybe ``title``) through the
    model's one predict path, in batches, with a progress bar labelled ``what``."""
    records = [
        {k: v for k, v in {"id": i, "text": t, "title": ti}.items() if isinstance(v, str) and v}
        for i, t, ti in zip(frame["id"], frame["text"], frame.get("title", pd.Series([None] * len(frame))), strict=True)
    ]
    out: list[dict[str, Any]] = []
    for start in tqdm(range(0, len(records), SCORE_BATCH), desc=f"scoring {what}", unit="batch", leave=False):
        out += model.predict(records[start : start + SCORE_BATCH])
    failed = [o for o in out if "error" in o]
    if failed:
        logger.warning("%d of %d %s rows could not be scored, e.g. %s", len(failed), len(out), what, failed[0])
    return out


def gold_signal_labels(processed_dir: Path, annotations: Path, part: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The corpus rows of the gold ``part`` and their signal labels (a 0/1 column per signal, indexed by item id, in
    the rows' order)."""
    gold = load_annotations(annotations)
    gold = gold[gold["part"] == part].drop_duplicates("id").set_index("id")
    frame = load_corpus(processed_dir)
    frame = frame[frame["id"].isin(gold.index)]
    labels = gold.loc[frame["id"], [f"sig_{s}" for s in SIGNALS]].set_axis(list(SIGNALS), axis=1)
    # indexed exactly as ``served_signal_probabilities`` indexes the same rows (the corpus's id dtype)
    return frame, labels.set_axis(pd.Index(frame["id"], name="id"), axis=0)


def served_signal_probabilities(model: Any, frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """The model's served probability of each signal (columns) for each row of ``frame`` (indexed by its ids);
    a ``ValueError`` naming the first item that could not be scored."""
    scored = score_rows(model, frame, what)
    failed = [a for a in scored if "signals" not in a]
    if failed:
        raise ValueError(f"{len(failed)} {what} items could not be scored, e.g. {failed[0]}")
    return pd.DataFrame(
        [{s: a["signals"][s]["probability"] for s in SIGNALS} for a in scored], index=pd.Index(frame["id"], name="id")
    )


def _event_type_rows(test: pd.DataFrame, scored: dict[str, dict[str, Any]]) -> list[BenchmarkRow]:
    acled = test[(test["source"] == "acled") & test["sub_event_type"].notna()]
    acled = acled[acled["id"].map(lambda i: "event_types" in scored[i])]
    if acled.empty:
        return []
    gold = acled["sub_event_type"].astype(str).tolist()
    pred = [max(scored[i]["event_types"].items(), key=lambda kv: kv[1])[0] for i in acled["id"]]
    labels = [e for e in EVENT_TYPES if e in set(gold) | set(pred)]
    return [
        BenchmarkRow(
            "ACLED sub-event types (held-out slice)",
            "acled test split (by time)",
            "weighted F1",
            float(f1_score(gold, pred, average="weighted", zero_division=0)),
            len(gold),
            {
                "macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0)),
                "accuracy": float(accuracy_score(gold, pred)),
            },
            per_label_report(gold, pred, labels),
        )
    ]


def _severity_rows(test: pd.DataFrame, scored: dict[str, dict[str, Any]]) -> list[BenchmarkRow]:
    rows = test[test["fatalities"].notna()]
    rows = rows[rows["id"].map(lambda i: "severity" in scored[i])]
    if rows.empty:
        return []
    gold = [severity_level(int(v)) for v in rows["fatalities"]]
    pred = [scored[i]["severity"]["level"] for i in rows["id"]]
    return [
        BenchmarkRow(
            "severity",
            f"test rows with fatalities ({', '.join(sorted(rows['source'].unique()))})",
            "macro F1",
            float(f1_score(gold, pred, average="macro", labels=list(SEVERITY_LEVELS), zero_division=0)),
            len(gold),
            {"accuracy": float(accuracy_score(gold, pred))},
            per_label_report(gold, pred, SEVERITY_LEVELS),
        )
    ]


def _signal_rows(test: pd.DataFrame, scored: dict[str, dict[str, Any]], model: Any) -> list[BenchmarkRow]:
    thresholds = model.pyfunc.unwrap_python_model().scorer.config.signal_thresholds
    per_label: dict[str, dict[str, float]] = {}
    eces = []
    for name in SIGNALS:
        column = f"sig_{name}"
        if column not in test:
            continue
        rows = test[test[column].notna() & test["id"].map(lambda i: "signals" in scored[i])]
        if rows.empty or rows[column].sum() == 0:
            continue
        gold = rows[column].astype(int).to_numpy()
        proba = np.array([scored[i]["signals"][name]["probability"] for i in rows["id"]])
        rep = binary_report(gold, proba, thresholds[name])
        per_label[name] = {k: rep[k] for k in ("precision", "recall", "f1", "support")}
        eces.append(expected_calibration_error(gold, proba))
    if not per_label:
        return []
    return [
        BenchmarkRow(
            "signals (source-implied labels)",
            "corpus test split, labelled rows only",
            "macro F1",
            float(np.mean([s["f1"] for s in per_label.values()])),
            int(sum(s["support"] for s in per_label.values())),
            {"mean_ece": float(np.mean(eces))},
            per_label,
        )
    ]


def _gold_rows(
    corpus: pd.DataFrame, gold: pd.DataFrame, model: Any
) -> tuple[list[BenchmarkRow], pd.DataFrame, pd.DataFrame | None]:
    """Signals and resurgence on the gold *test* part (never used for training, thresholds or rules); the rows, the
    examples and the per-item labels and decisions (``EvaluationReport.gold_decisions``)."""
    test = gold[gold["part"] == "test"]
    frame = corpus[corpus["id"].isin(test["id"])]
    if frame.empty:
        return [], pd.DataFrame(), None
    scored = dict(zip(frame["id"], score_rows(model, frame, "gold test part"), strict=True))
    examples = example_rows("gold test part", frame, scored, gold=test.drop_duplicates("id").set_index("id"))
    test = test[test["id"].map(lambda i: i in scored and "signals" in scored[i])]
    scorer_config = model.pyfunc.unwrap_python_model().scorer.config
    thresholds = scorer_config.signal_thresholds
    # Each signal's gold labels and served probabilities, read once for its row, the pooled ECE and the decisions.
    gold_y = {n: test[f"sig_{n}"].to_numpy(dtype=int) for n in SIGNALS}
    proba = {n: np.array([scored[i]["signals"][n]["probability"] for i in test["id"]]) for n in SIGNALS}
    per_label: dict[str, dict[str, float]] = {}
    eces = []
    for name in SIGNALS:
        rep = binary_report(gold_y[name], proba[name], thresholds[name])
        per_label[name] = {k: rep[k] for k in ("precision", "recall", "f1", "support")}
        eces.append(rep["ece"])
    res_gold = test["resurgence"].to_numpy(dtype=int)
    res_proba = np.array([scored[i]["resurgence"]["score"] for i in test["id"]])
    res_threshold = scorer_config.resurgence_threshold
    res = binary_report(res_gold, res_proba, res_threshold)
    all_gold = np.concatenate([gold_y[n] for n in SIGNALS])
    all_proba = np.concatenate([proba[n] for n in SIGNALS])
    decisions = pd.DataFrame(
        {
            **{f"gold.{n}": gold_y[n] for n in SIGNALS},
            "gold.resurgence": res_gold,
            **{f"pred.{n}": (proba[n] >= thresholds[n]).astype(int) for n in SIGNALS},
            "pred.resurgence": (res_proba >= res_threshold).astype(int),
        },
        index=pd.Index(test["id"], name="id"),
    )
    rows = [
        BenchmarkRow(
            "signals (gold test part)",
            f"data/annotations/signals.jsonl, part=test ({len(test)} items)",
            "macro F1",
            float(np.mean([s["f1"] for s in per_label.values()])),
            len(test),
            {
                "min_recall": float(min(s["recall"] for s in per_label.values())),
                "ece_pooled": expected_calibration_error(all_gold, all_proba),
                "mean_ece": float(np.mean(eces)),
                # proper scores beside the binned ECE, which moves by thousandths on a few dozen positives
                **mean_proper_scores(gold_y, proba),
            },
            per_label,
        ),
        BenchmarkRow(
            "resurgence (gold test part)",
            f"gold test part, score >= {res_threshold:g}",
            "F1",
            res["f1"],
            len(test),
            {"precision": res["precision"], "recall": res["recall"], "ece": res["ece"]},
        ),
    ]
    return rows, examples, decisions[~decisions.index.duplicated()]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")
