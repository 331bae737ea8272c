"""ConfliBERT's task benchmarks with the baseline family: TF-IDF + logistic regression per task.

Each task is fitted on its own train split, C chosen on dev by micro F1, scored once on test — the same
protocol ConfliBERT's published numbers use, so the rows are comparable.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
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


def task_benchmark_rows(processed_dir: Path, seed: int = 13, family: str = "tfidf") -> list[BenchmarkRow]:
    """One row per task: micro F1 (headline) and macro F1, with per-label P/R/F1/support.

    ``family`` "tfidf": TF-IDF + logistic regression (the baseline's family); "minilm": mean-pooled
    all-MiniLM-L6-v2 embeddings (frozen, first 256 tokens of up to four chunks, averaged) + logistic regression.
    """
    rows = []
    for name, task in TASKS.items():
        frame = load_benchmark(processed_dir, name)
        labels = list(BENCHMARK_LABELS[name])
        split = {s: frame[frame["split"] == s] for s in ("train", "dev", "test")}
        if any(part.empty for part in split.values()):
            logger.warning("%s lacks a train/dev/test split; skipped", name)
            continue
        texts = {s: [normalize(t) for t in part["text"]] for s, part in split.items()}
        if family == "minilm":
            x = {s: _embed(t) for s, t in texts.items()}
            described = "frozen MiniLM embeddings + LR"
        else:
            vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000)
            x = {s: (vectorizer.fit_transform if s == "train" else vectorizer.transform)(t) for s, t in texts.items()}
            described = "TF-IDF+LR"
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
                f"conflibert/{name} test ({described} fitted on its train split, C={best_c})",
                "micro F1",
                float(f1_score(gold, pred, average="micro", zero_division=0)),
                len(gold),
                {"macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0))},
                per_label,
            )
        )
    return rows


def _embed(texts: list[str], max_chunks: int = 4, batch_size: int = 32) -> np.ndarray:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings; a long text is the mean of its first chunks."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from threatscore.text import chunk_spans
    from training.minilm import default_model_dir

    model_dir = str(default_model_dir())
    tokenizer, model = AutoTokenizer.from_pretrained(model_dir), AutoModel.from_pretrained(model_dir).eval()
    pieces, owner = [], []
    for i, text in enumerate(texts):
        spans = chunk_spans(text, max_words=180)[:max_chunks] or []
        chunks = [s.of(text) for s in spans] or [text]
        pieces += chunks
        owner += [i] * len(chunks)
    order = np.argsort([len(p) for p in pieces])
    vectors = np.zeros((len(pieces), model.config.hidden_size), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer(
                [pieces[i] for i in idx], truncation=True, max_length=256, padding=True, return_tensors="pt"
            )
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            vectors[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
    counts = np.bincount(owner, minlength=len(texts)).astype(np.float32)
    np.add.at(out, np.asarray(owner), vectors)
    return out / counts[:, None]


def _model(c: float, seed: int) -> OneVsRestClassifier:
    # class_weight balanced: several task labels are rare and would otherwise never be predicted.
    return OneVsRestClassifier(LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed))
