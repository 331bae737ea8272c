"""A synthetic registry for the comparison UI at scale: many versions, two of them evaluated on N examples.

The examples tables have exactly the columns ``training.evaluate.example_rows`` writes; model B is model A plus
seeded noise, so the two disagree on a known share of the examples. Used by ``tests/ui/test_app.py`` and
``benchmarks/ui_render.py``. Nothing is mocked: the runs, artifacts and versions are real MLflow objects.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS, risk_level

SOURCES = ("acled", "satp_snowood1", "ucdp_ged_syria", "conflibert/BBC_News", "isaf_press_releases", "rand_rdwti")
SETS = ("corpus test split", "BBC_News test", "gold test part")
WORDS = (
    "militants attacked a patrol near the border killing several soldiers while the army launched an operation "
    "against the group which claimed responsibility for the bombing of the market and recruited fighters"
).split()


def synthetic_examples(n: int, seed: int, base: pd.DataFrame | None = None, noise: float = 0.25) -> pd.DataFrame:
    """``n`` example rows; with ``base``, the same examples (ids, text, gold) re-scored with noise."""
    rng = np.random.default_rng(seed)
    if base is None:
        sets = rng.choice(len(SETS), n)
        frame = pd.DataFrame(
            {
                "example_set": [SETS[i] for i in sets],
                "id": [f"ex-{i:06d}" for i in range(n)],
                "source": [SOURCES[i] for i in rng.choice(len(SOURCES), n)],
                "text": [" ".join(rng.choice(WORDS, int(rng.integers(40, 250)))) + "." for _ in range(n)],
                "error": [None] * n,
                "gold_relevance": rng.integers(0, 2, n).astype(float),
                "gold_event_type": [EVENT_TYPES[i] if i < len(EVENT_TYPES) else None for i in rng.integers(0, 40, n)],
                "gold_severity": [SEVERITY_LEVELS[i] for i in rng.integers(0, 4, n)],
                "gold_signals": [
                    json.dumps({s: int(v) for s, v in zip(SIGNALS, rng.integers(0, 2, len(SIGNALS)), strict=True)})
                    for _ in range(n)
                ],
                "gold_resurgence": pd.array(rng.integers(0, 2, n), dtype="Int64"),
            }
        )
        relevance = np.clip(frame["gold_relevance"].to_numpy() * 0.7 + rng.random(n) * 0.3, 0, 1)
        signal_probs = rng.random((n, len(SIGNALS)))
    else:
        frame = base[
            [c for c in base.columns if c.startswith("gold_") or c in ("example_set", "id", "source", "text", "error")]
        ].copy()
        relevance = np.clip(base["relevance"].to_numpy() + rng.normal(0, noise, n), 0, 1)
        old = np.array([[json.loads(s)[name] for name in SIGNALS] for s in base["signals"]])
        signal_probs = np.clip(old + rng.normal(0, noise, old.shape), 0, 1)
    events = rng.integers(0, len(EVENT_TYPES), n)
    frame["relevance"] = relevance.round(4)
    frame["event_type"] = [EVENT_TYPES[i] for i in events]
    frame["event_type_probability"] = rng.random(n).round(4)
    frame["severity"] = [SEVERITY_LEVELS[i] for i in rng.integers(0, 4, n)]
    frame["signals"] = [json.dumps(dict(zip(SIGNALS, row.round(4).tolist(), strict=True))) for row in signal_probs]
    frame["signals_present"] = [
        json.dumps([s for s, p in zip(SIGNALS, row, strict=True) if p >= 0.5]) for row in signal_probs
    ]
    frame["resurgence"] = rng.random(n).round(4)
    frame["primary_region"] = [
        json.dumps(
            {
                "country_code": "LY",
                "country": "Libya",
                "admin1": "Murzuq",
                "places": [],
                "primary": True,
                "risk": {"score": 0.5, "level": risk_level(0.5)},
            }
        )
        if i % 3 == 0
        else None
        for i in range(n)
    ]
    return frame


def synthetic_evaluation(examples: pd.DataFrame, seed: int) -> dict[str, Any]:
    """An ``evaluation.json`` shaped like ``EvaluationReport.to_dict`` (values are seeded noise)."""
    rng = np.random.default_rng(seed)

    def stats(support: int) -> dict[str, float]:
        p, r = float(rng.random()), float(rng.random())
        return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r), "support": support}

    return {
        "model_uri": "synthetic",
        "timing": {"articles_per_s": float(100 + rng.random() * 100), "ms_per_article": float(5 + rng.random() * 5)},
        "rows": [
            {
                "task": "relevance (BBC_News test)",
                "data": "conflibert/BBC_News test",
                "metric": "F1",
                "value": float(rng.random()),
                "n": len(examples),
                "extra": {
                    "precision": float(rng.random()),
                    "recall": float(rng.random()),
                    "ece": float(rng.random() / 5),
                },
                "per_label": {},
            },
            {
                "task": "ACLED sub-event types (held-out slice)",
                "data": "acled test split (by time)",
                "metric": "weighted F1",
                "value": float(rng.random()),
                "n": len(examples),
                "extra": {"macro_f1": float(rng.random())},
                "per_label": {e: stats(40) for e in EVENT_TYPES},
            },
            {
                "task": "signals (gold test part)",
                "data": "gold",
                "metric": "macro F1",
                "value": float(rng.random()),
                "n": 300,
                "extra": {"mean_ece": float(rng.random() / 5)},
                "per_label": {s: stats(30) for s in SIGNALS},
            },
        ],
    }


def build_registry(
    tracking_uri: str,
    name: str,
    artifact_root: Path,
    *,
    n_examples: int = 10_000,
    n_versions: int = 2,
    seed: int = 0,
) -> list[str]:
    """Register ``n_versions`` versions of ``name``; the two newest are evaluated on ``n_examples`` examples
    (the older ones have metrics only). Champion: the second newest; challenger: the newest. Returns versions."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(f"{name}-runs")
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(f"{name}-runs", artifact_location=artifact_root.resolve().as_uri())
    )
    client.create_registered_model(name)
    base = synthetic_examples(n_examples, seed)
    versions = []
    for index in range(n_versions):
        evaluated = index >= n_versions - 2
        run = client.create_run(experiment_id, run_name=f"synthetic-{index}")
        run_id = run.info.run_id
        client.set_tag(run_id, "data.manifest_sha256", f"{index:02d}" + "ab" * 31)
        # The oldest version was never evaluated; the others have headline metrics (only the two newest artifacts).
        metrics = {"train_seconds": 60.0 + index}
        if index > 0:
            metrics.update(
                {"eval.relevance__bbc_news_test.F1": 0.5 + index / (4 * n_versions), "eval.timing.ms_per_article": 5.0}
            )
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        if evaluated:
            examples = base if index == n_versions - 2 else synthetic_examples(n_examples, seed + 1, base=base)
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                examples.to_parquet(folder / "examples.parquet", index=False)
                (folder / "evaluation.json").write_text(json.dumps(synthetic_evaluation(examples, seed + index)))
                client.log_artifacts(run_id, str(folder), artifact_path="evaluation")
        client.set_terminated(run_id)
        mv = client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
        versions.append(str(mv.version))
    client.set_registered_model_alias(name, "champion", versions[-2] if len(versions) > 1 else versions[-1])
    client.set_registered_model_alias(name, "challenger", versions[-1])
    return versions
