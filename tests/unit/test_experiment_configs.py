"""Every committed experiment YAML loads under the strict (``extra="forbid"``) schema it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import load_experiment, load_task_finetune_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
TRAIN_CONFIGS = sorted(p for p in EXPERIMENTS.glob("*.yaml") if not p.name.startswith(("retrain", "task-finetune")))


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: p.name)
def test_experiment_config_loads(path: Path) -> None:
    config = load_experiment(path)
    assert config.name and config.kind in {"baseline", "minilm"}


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("task-finetune*.yaml")), ids=lambda p: p.name)
def test_task_config_loads(path: Path) -> None:
    assert load_task_finetune_config(path).tasks
