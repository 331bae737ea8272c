"""ConfliBERT's task benchmarks: each task is fitted on its own train split, chosen on dev by micro F1, and scored
once on test, the protocol of ConfliBERT's published numbers, so the rows are comparable.

The baseline's family fits TF-IDF + logistic regression per task; a MiniLM model's encoder is fine-tuned per task
(``training.task_finetune``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier

from threatscore.text import normalize
from training.config import TaskFinetuneConfig
from training.corpus import BENCHMARK_LABELS, load_benchmark
from training.evaluate import BenchmarkRow
from training.metrics import per_label_report
from training.task_finetune import TaskSplit, finetune_task, micro_f1

logger = logging.getLogger(__name__)

#: Benchmark split name -> the row name of DESIGN.md's table.
TASKS: dict[str, str] = {
    "satp_relevant": "attack types (satp_relevant test)",
    "IndiaPoliceEvents_docs": "police events (IndiaPoliceEvents_docs test)",
    "insightCrime": "crime topics (insightCrime test)",
}
C_GRID = (0.5, 2.0, 8.0, 32.0)


@dataclass(frozen=True)
class TaskFinetune:
    """Fine-tune an encoder on each task instead of fitting TF-IDF: its folder and the settings."""

    encoder_dir: Path
    #: Which encoder it is, for the row's description (e.g. "version 17's encoder").
    described: str
    config: TaskFinetuneConfig


def task_benchmark_rows(
    processed_dir: Path,
    seed: int = 13,
    finetune: TaskFinetune | None = None,
    show_progress: bool = True,
    tasks: Sequence[str] | None = None,
) -> list[BenchmarkRow]:
    """One row per task (every one in ``TASKS``, or those named in ``tasks``): micro F1 (headline) and macro F1,
    with per-label P/R/F1/support.

    Without ``finetune``: TF-IDF + logistic regression (the baseline's family), C chosen on dev. With it: the
    encoder fine-tuned on the task (``training.task_finetune``), epoch and thresholds chosen on dev.
    """
    unknown = set(tasks or ()) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown task(s) {sorted(unknown)}; known: {list(TASKS)}")
    rows = []
    for name, task in TASKS.items():
        if tasks is not None and name not in tasks:
            continue
        frame = load_benchmark(processed_dir, name)
        labels = list(BENCHMARK_LABELS[name])
        split = {s: frame[frame["split"] == s] for s in ("train", "dev", "test")}
        if any(part.empty for part in split.values()):
            logger.warning("%s lacks a train/dev/test split; skipped", name)
            continue
        texts = {s: [normalize(t) for t in part["text"]] for s, part in split.items()}
        y = {s: part[labels].astype(int).to_numpy() for s, part in split.items()}
        if finetune is None:
            pred, described = _tfidf_predictions(texts, y, seed)
        else:
            train, dev, test = (TaskSplit(texts[s], y[s]) for s in ("train", "dev", "test"))
            result = finetune_task(
                name,
                train,
                dev,
                test,
                config=finetune.config,
                encoder_dir=finetune.encoder_dir,
                show_progress=show_progress,
            )
            pred = result.test_pred
            curve = "/".join(f"{f:.3f}" for f in result.dev_by_epoch)
            described = (
                f"{finetune.described} fine-tuned on its train split, epoch {result.best_epoch} of "
                f"{result.epochs_run} (dev micro F1 by epoch {curve}) and thresholds chosen on dev, "
                f"{result.minutes:.1f} min"
            )
        gold = y["test"]
        per_label = {
            label: per_label_report(gold[:, j].tolist(), pred[:, j].tolist(), [1])["1"]
            for j, label in enumerate(labels)
        }
        rows.append(
            BenchmarkRow(
                task,
                f"conflibert/{name} test ({described})",
                "micro F1",
                micro_f1(gold, pred),
                len(gold),
                {"macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0))},
                per_label,
            )
        )
    return rows


def _tfidf_predictions(texts: dict[str, list[str]], y: dict[str, np.ndarray], seed: int) -> tuple[np.ndarray, str]:
    """TF-IDF + one-vs-rest logistic regression fitted on train, C chosen on dev; test predictions."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000)
    x = {s: (vectorizer.fit_transform if s == "train" else vectorizer.transform)(t) for s, t in texts.items()}
    best_c, best_f1 = C_GRID[0], -1.0
    for c in C_GRID:
        model = _model(c, seed).fit(x["train"], y["train"])
        f1 = micro_f1(y["dev"], model.predict(x["dev"]))
        if f1 > best_f1:
            best_c, best_f1 = c, f1
    model = _model(best_c, seed).fit(x["train"], y["train"])
    return model.predict(x["test"]), f"TF-IDF+LR fitted on its train split, C={best_c}"


def _model(c: float, seed: int) -> OneVsRestClassifier:
    # class_weight balanced: several task labels are rare and would otherwise never be predicted.
    return OneVsRestClassifier(LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed))
