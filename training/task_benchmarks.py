"""ConfliBERT's task benchmarks with the baseline family: TF-IDF + logistic regression per task.

Each task is fitted on its own train split, C chosen on dev by micro F1, scored once on test — the same
protocol ConfliBERT's published numbers use, so the rows are comparable.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier

from threatscore.text import normalize
from training.corpus import BENCHMARK_LABELS, load_benchmark
from training.evaluate import BenchmarkRow
from training.metrics import per_label_report

logger = logging.getLogger(__name__)

#: Benchmark split name -> the row name of DESIGN.md's table.
TASKS: dict[str, str] = {
    "satp_relevant": "attack types (satp_relevant test)",
    "IndiaPoliceEvents_docs": "police events (IndiaPoliceEvents_docs test)",
    "insightCrime": "crime topics (insightCrime test)",
}
C_GRID = (0.5, 2.0, 8.0, 32.0)


def task_benchmark_rows(processed_dir: Path, seed: int = 13) -> list[BenchmarkRow]:
    """One row per task: micro F1 (headline) and macro F1, with per-label P/R/F1/support."""
    rows = []
    for name, task in TASKS.items():
        frame = load_benchmark(processed_dir, name)
        labels = list(BENCHMARK_LABELS[name])
        split = {s: frame[frame["split"] == s] for s in ("train", "dev", "test")}
        if any(part.empty for part in split.values()):
            logger.warning("%s lacks a train/dev/test split; skipped", name)
            continue
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000)
        x = {
            s: (vectorizer.fit_transform if s == "train" else vectorizer.transform)(
                [normalize(t) for t in part["text"]]
            )
            for s, part in split.items()
        }
        y = {s: part[labels].astype(int).to_numpy() for s, part in split.items()}
        best_c, best_f1 = C_GRID[0], -1.0
        for c in C_GRID:
            model = _model(c, seed).fit(x["train"], y["train"])
            f1 = f1_score(y["dev"], model.predict(x["dev"]), average="micro", zero_division=0)
            if f1 > best_f1:
                best_c, best_f1 = c, f1
        model = _model(best_c, seed).fit(x["train"], y["train"])
        pred = model.predict(x["test"])
        gold = y["test"]
        per_label = {label: per_label_report(gold[:, j], pred[:, j], [1])["1"] for j, label in enumerate(labels)}
        rows.append(
            BenchmarkRow(
                task,
                f"conflibert/{name} test (TF-IDF+LR fitted on its train split, C={best_c})",
                "micro F1",
                float(f1_score(gold, pred, average="micro", zero_division=0)),
                len(gold),
                {"macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0))},
                per_label,
            )
        )
    return rows


def _model(c: float, seed: int) -> OneVsRestClassifier:
    # class_weight balanced: several task labels are rare and would otherwise never be predicted.
    return OneVsRestClassifier(LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed))
