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


def test_capping_the_signals_needs_the_relevance_cap(tmp_path: Path) -> None:
    text = (EXPERIMENTS / "minilm-hazard-cap-signals.yaml").read_text(encoding="utf-8")
    assert load_experiment(EXPERIMENTS / "minilm-hazard-cap-signals.yaml").hazard_caps_signals
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("hazard_relevance_cap: 0.1", "hazard_relevance_cap: null"), encoding="utf-8")
    with pytest.raises(ValueError, match="hazard_caps_signals"):
        load_experiment(broken)
