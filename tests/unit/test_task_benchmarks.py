"""ConfliBERT task rows: TF-IDF + LR for the baseline, per-task fine-tuning for a MiniLM encoder (tiny random BERT)."""

from pathlib import Path

import numpy as np
import pytest

from training.config import TaskFinetuneConfig, load_task_finetune_config
from training.task_benchmarks import TASKS, TaskFinetune, task_benchmark_rows
from training.task_finetune import TaskSplit, document_chunks, finetune_task, micro_f1

REPO = Path(__file__).resolve().parents[2]


def _config(**changes: object) -> TaskFinetuneConfig:
    base = {"epochs": 3, "batch_size": 8, "encoder_lr": 1e-3, "head_lr": 1e-2, "max_length": 32, "chunk_words": 6}
    return TaskFinetuneConfig.model_validate(base | changes)


def _separable(n: int, rng: np.random.Generator) -> TaskSplit:
    """Two labels a tiny model can learn from one word each: 'bomb' → label 0, 'arrested' → label 1."""
    texts, labels = [], []
    for _ in range(n):
        bomb, arrest = rng.integers(0, 2, size=2)
        words = ["police", "the", "killing", "overran"] * 2
        if bomb:
            words.insert(int(rng.integers(0, len(words))), "bomb")
        if arrest:
            words.insert(int(rng.integers(0, len(words))), "arrested")
        texts.append(" ".join(words) + ".")
        labels.append([bomb, arrest])
    return TaskSplit(texts, np.asarray(labels))


def test_the_shipped_task_config_is_valid_and_strict(tmp_path):
    config = load_task_finetune_config(REPO / "experiments" / "task-finetune.yaml")
    assert config == TaskFinetuneConfig()  # the YAML states the defaults the evaluation falls back to
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 2\nlearning_rate: 0.1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="learning_rate"):
        load_task_finetune_config(bad)
    bad.write_text("tasks: [IndiaPoliceEvents]\n", encoding="utf-8")  # a task name must be one of the three
    with pytest.raises(ValueError, match="tasks"):
        load_task_finetune_config(bad)


def test_a_long_document_is_read_as_its_first_chunks_and_nothing_else():
    config = _config(chunk_words=5, max_chunks=2)
    texts = ["One two three. Four five six. Seven eight nine. Ten eleven twelve.", "Short one."]
    pieces, owner = document_chunks(texts, config)
    assert owner.tolist() == [0, 0, 1]
    assert pieces[0].startswith("One two three") and "Ten" not in " ".join(pieces)
    assert pieces[2] == "Short one."


def test_finetuning_learns_a_separable_task_and_chooses_on_dev(tiny_bert_dir):
    rng = np.random.default_rng(0)
    train, dev, test = _separable(128, rng), _separable(32, rng), _separable(32, rng)
    result = finetune_task("toy", train, dev, test, _config(epochs=8), tiny_bert_dir, show_progress=False)
    assert 1 <= result.best_epoch <= result.epochs_run == 8
    assert result.test_pred.shape == test.labels.shape and result.thresholds.shape == (2,)
    assert ((result.thresholds >= 0.05) & (result.thresholds <= 0.95)).all()
    # A random 2-layer BERT learns one-word cues in a few epochs (dev 0.91-1.0 over four initialisations);
    # calling every label present scores ~0.67 on these balanced labels.
    assert result.dev_micro_f1 >= 0.85
    # The dev curve has one point per epoch, and the kept epoch is its best.
    assert len(result.dev_by_epoch) == 8 and max(result.dev_by_epoch) == result.dev_micro_f1
    assert result.dev_by_epoch[result.best_epoch - 1] == result.dev_micro_f1
    assert micro_f1(test.labels, result.test_pred) >= 0.75
    # Seeded: the same run gives the same predictions.
    again = finetune_task("toy", train, dev, test, _config(epochs=8), tiny_bert_dir, show_progress=False)
    np.testing.assert_allclose(again.test_proba, result.test_proba, atol=1e-5)


def test_task_rows_for_both_families(tiny_processed, tiny_bert_dir):
    tfidf = task_benchmark_rows(tiny_processed, show_progress=False)
    tuned = task_benchmark_rows(
        tiny_processed, finetune=TaskFinetune(tiny_bert_dir, "the tiny encoder", _config(epochs=1)), show_progress=False
    )
    for rows, described in ((tfidf, "TF-IDF+LR"), (tuned, "the tiny encoder fine-tuned")):
        assert [r.task for r in rows] == list(TASKS.values())
        for row in rows:
            assert described in row.data and row.metric == "micro F1"
            assert 0.0 <= row.value <= 1.0 and row.n > 0
            assert set(row.per_label) and all("support" in v for v in row.per_label.values())
    # The tiny tasks' labels are keyword cues: TF-IDF must find them.
    assert min(r.value for r in tfidf) >= 0.8
    assert "dev micro F1 by epoch" in tuned[0].data


def test_task_rows_for_the_named_tasks_only(tiny_processed):
    rows = task_benchmark_rows(tiny_processed, show_progress=False, tasks=["insightCrime"])
    assert [r.task for r in rows] == [TASKS["insightCrime"]]
    with pytest.raises(ValueError, match="unknown task"):
        task_benchmark_rows(tiny_processed, show_progress=False, tasks=["insight_crime"])
