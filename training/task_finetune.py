"""Fine-tune a MiniLM encoder on one ConfliBERT task: the protocol behind the published task rows.

The encoder (a model's own fine-tuned encoder, or all-MiniLM-L6-v2 itself) gets one linear layer over its
mean-pooled embedding, one output per task label, trained with binary cross-entropy on the task's train split.
A long document is read as its first chunks (sentence boundaries, ``TaskFinetuneConfig.chunk_words``) and its
embedding is the mean of theirs, so the gradient reaches every chunk it was judged on. After each epoch the dev
split is scored; the epoch with the best dev micro F1 is kept and each label's threshold is chosen on its dev
probabilities. The test split is scored once, by that model, at those thresholds.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score
from tqdm import tqdm

from threatscore.text import chunk_spans
from training.config import TaskFinetuneConfig
from training.encoder_training import freeze_below, mean_pool
from training.metrics import best_threshold

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskSplit:
    """One split of a task: normalised document texts and their 0/1 label matrix (documents × labels)."""

    texts: list[str]
    labels: np.ndarray


@dataclass(frozen=True)
class TaskResult:
    """What fine-tuning one task produced: test predictions at the dev-chosen thresholds, and how it got there."""

    test_pred: np.ndarray
    test_proba: np.ndarray
    thresholds: np.ndarray
    #: Dev micro F1 after each epoch run (at that epoch's own dev-chosen thresholds).
    dev_by_epoch: tuple[float, ...]
    minutes: float

    @property
    def epochs_run(self) -> int:
        """Epochs trained (fewer than configured when the time budget ran out)."""
        return len(self.dev_by_epoch)

    @property
    def best_epoch(self) -> int:
        """The kept epoch (1-based): the first with the best dev micro F1."""
        return int(np.argmax(self.dev_by_epoch)) + 1

    @property
    def dev_micro_f1(self) -> float:
        """The kept epoch's dev micro F1."""
        return max(self.dev_by_epoch)


def document_chunks(texts: list[str], config: TaskFinetuneConfig) -> tuple[list[str], np.ndarray]:
    """Every document's first ``max_chunks`` chunks, flattened, and the index of the document each belongs to."""
    pieces: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        spans = chunk_spans(text, max_words=config.chunk_words)[: config.max_chunks]
        chunks = [s.of(text) for s in spans] or [text]
        pieces += chunks
        owner += [i] * len(chunks)
    return pieces, np.asarray(owner, dtype=np.int64)


def _task_model(encoder_dir: Path, n_labels: int, trainable_layers: int) -> Any:
    import torch
    from torch import nn
    from transformers import AutoModel

    class TaskEncoder(nn.Module):
        """MiniLM, mean pooling over each chunk's tokens, the mean over a document's chunks, one linear layer."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(encoder_dir))
            self.dropout = nn.Dropout(0.1)
            self.head = nn.Linear(self.encoder.config.hidden_size, n_labels)

        def forward(self, input_ids: Any, attention_mask: Any, owner: Any, n_docs: int) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            chunk_vectors = mean_pool(hidden, attention_mask)
            sums = torch.zeros(n_docs, chunk_vectors.shape[1], dtype=chunk_vectors.dtype)
            sums = sums.index_add(0, owner, chunk_vectors)
            counts = torch.bincount(owner, minlength=n_docs).clamp(min=1).unsqueeze(-1).to(sums.dtype)
            return self.head(self.dropout(sums / counts))

    model = TaskEncoder()
    freeze_below(model.encoder, trainable_layers)
    return model


class _Batcher:
    """Documents → padded chunk tensors, documents of similar length together (less padding)."""

    def __init__(self, split: TaskSplit, tokenizer: Any, config: TaskFinetuneConfig) -> None:
        self.pieces, self.owner = document_chunks(split.texts, config)
        self.labels = split.labels.astype(np.float32)
        self.tokenizer = tokenizer
        self.config = config
        # ``owner`` is sorted (each document's chunks are consecutive): split the chunk indices at its boundaries.
        counts = np.bincount(self.owner, minlength=len(split.texts))
        self.chunks_of = np.split(np.arange(len(self.owner)), np.cumsum(counts)[:-1])
        self.size = np.array([sum(len(self.pieces[j]) for j in c) for c in self.chunks_of])

    def batches(self, order: np.ndarray) -> Any:
        import torch

        for start in range(0, len(order), self.config.batch_size):
            docs = order[start : start + self.config.batch_size]
            rows = [j for d in docs for j in self.chunks_of[d]]
            owner = [k for k, d in enumerate(docs) for _ in self.chunks_of[d]]
            enc = self.tokenizer(
                [self.pieces[j] for j in rows],
                truncation=True,
                max_length=self.config.max_length,
                padding=True,
                return_tensors="pt",
            )
            yield (
                enc["input_ids"],
                enc["attention_mask"],
                torch.tensor(owner, dtype=torch.long),
                len(docs),
                torch.tensor(self.labels[docs]),
            )

    def proba(self, model: Any) -> np.ndarray:
        """Sigmoid outputs for every document, in document order (eval mode, no gradients)."""
        import torch

        model.eval()
        order = np.argsort(self.size, kind="stable")
        out = np.zeros(self.labels.shape, dtype=np.float32)
        with torch.no_grad():
            done = 0
            for ids, mask, owner, n_docs, _ in self.batches(order):
                docs = order[done : done + n_docs]
                out[docs] = torch.sigmoid(model(ids, mask, owner, n_docs)).numpy()
                done += n_docs
        return out


def micro_f1(labels: np.ndarray, pred: np.ndarray) -> float:
    """Micro-averaged F1 over all labels of a multi-label matrix."""
    return float(f1_score(labels, pred, average="micro", zero_division=0))


def finetune_task(
    name: str,
    train: TaskSplit,
    dev: TaskSplit,
    test: TaskSplit,
    config: TaskFinetuneConfig,
    encoder_dir: Path,
    show_progress: bool = True,
) -> TaskResult:
    """Fine-tune the encoder in ``encoder_dir`` on ``train``; choose the epoch and thresholds on ``dev``; score
    ``test`` once. Seeded from ``config.seed``."""
    import torch
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    model = _task_model(encoder_dir, train.labels.shape[1], config.trainable_layers)
    head = list(model.head.parameters())
    body = [p for n, p in model.named_parameters() if not n.startswith("head.") and p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": config.encoder_lr}, {"params": head, "lr": config.head_lr}],
        weight_decay=config.weight_decay,
    )
    batches = {s: _Batcher(split, tokenizer, config) for s, split in (("train", train), ("dev", dev), ("test", test))}
    steps_per_epoch = math.ceil(len(train.texts) / config.batch_size)
    total = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup_ratio), total)
    started = time.perf_counter()
    best: tuple[float, dict[str, Any], np.ndarray] | None = None
    dev_by_epoch: list[float] = []
    progress = tqdm(total=total, desc=f"fine-tuning on {name}", unit="step", disable=not show_progress)
    for epoch in range(1, config.epochs + 1):
        model.train()
        # Length-bucketed batches in shuffled order: little padding, a different order every epoch.
        noisy = batches["train"].size * rng.uniform(0.8, 1.2, size=len(train.texts))
        buckets = np.array_split(np.argsort(noisy), steps_per_epoch)
        rng.shuffle(buckets)
        for ids, mask, owner, n_docs, y in batches["train"].batches(np.concatenate(buckets)):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(ids, mask, owner, n_docs), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            progress.update(1)
            progress.set_postfix(epoch=epoch, loss=f"{float(loss.detach()):.3f}")
        dev_proba = batches["dev"].proba(model)
        thresholds = np.array([best_threshold(dev.labels[:, j], dev_proba[:, j]) for j in range(dev.labels.shape[1])])
        score = micro_f1(dev.labels, dev_proba >= thresholds)
        logger.info("%s: epoch %d dev micro F1 %.4f", name, epoch, score)
        dev_by_epoch.append(score)
        if best is None or score > best[0]:
            best = (score, copy.deepcopy(model.state_dict()), thresholds)
        if (time.perf_counter() - started) / 60 > config.max_minutes_per_task and epoch < config.epochs:
            logger.warning("%s: budget of %.0f min reached after epoch %d", name, config.max_minutes_per_task, epoch)
            break
    progress.close()
    assert best is not None  # at least one epoch always runs
    _, state, thresholds = best
    model.load_state_dict(state)
    test_proba = batches["test"].proba(model)
    return TaskResult(
        test_pred=(test_proba >= thresholds).astype(int),
        test_proba=test_proba,
        thresholds=thresholds,
        dev_by_epoch=tuple(dev_by_epoch),
        minutes=(time.perf_counter() - started) / 60,
    )
