"""Train → log → register → load by alias → predict, against a real MLflow registry."""

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from threatscore.registry import load_model
from threatscore.schemas import Assessment


def test_first_model_becomes_champion_and_challenger(registered_tiny):
    version = registered_tiny["result"].version
    client = MlflowClient()
    assert str(client.get_model_version_by_alias("threatscore", "champion").version) == version
    assert str(client.get_model_version_by_alias("threatscore", "challenger").version) == version


def test_run_has_config_manifest_and_metrics(registered_tiny):
    run = MlflowClient().get_run(registered_tiny["result"].run_id)
    assert run.data.params["name"] == "tiny"
    assert any(k.startswith("dev.relevance") for k in run.data.metrics)
    assert any(k.startswith("eval.") for k in run.data.metrics)
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert {"config", "data", "evaluation"} <= artifacts
    assert run.data.tags["data.manifest_sha256"]


def test_champion_loads_by_alias_and_scores_with_version_stamped(registered_tiny, seed_text):
    model = load_model("models:/threatscore@champion")
    out = model.predict(
        [
            {"id": "seed", "text": seed_text, "published": "2022-01-29"},
            {"id": "bad", "text": ""},
            {"id": "calm", "text": "The club won the cup final on Saturday."},
        ]
    )
    assert [o["id"] for o in out] == ["seed", "bad", "calm"]
    assert out[1] == {"id": "bad", "line": None, "field": "text", "error": "text is empty"}
    seed = Assessment.model_validate(out[0])
    assert seed.model.version == registered_tiny["result"].version and seed.model.alias == "champion"
    assert seed.severity.fatalities == 27


def test_pyfunc_accepts_a_dataframe(registered_tiny):
    import pandas as pd

    model = mlflow.pyfunc.load_model("models:/threatscore@champion")
    frame = pd.DataFrame([{"id": "a", "text": "Gunmen attacked a police post, killing 4.", "title": None}])
    (out,) = model.predict(frame)
    assert Assessment.model_validate(out).severity.fatalities == 4


def test_evaluation_report_has_the_benchmark_rows(registered_tiny):
    report = registered_tiny["result"].report
    tasks = {r.task for r in report.rows}
    assert "relevance (BBC_News test)" in tasks
    assert "ACLED sub-event types (held-out slice)" in tasks
    assert "attack types (satp_relevant test)" in tasks
    for row in report.rows:
        assert 0.0 <= row.value <= 1.0 and row.n > 0
    assert "| task | data | metric |" in report.render_markdown()


def test_evaluation_logs_examples_with_gold_beside_predictions(registered_tiny, tmp_path):
    """The per-example table (what the comparison UI reads) is logged with the run and agrees with the rows."""
    import json

    import pandas as pd

    report = registered_tiny["result"].report
    assert report.timing["articles_per_s"] > 0
    path = mlflow.artifacts.download_artifacts(
        run_id=registered_tiny["result"].run_id, artifact_path="evaluation/examples.parquet", dst_path=str(tmp_path)
    )
    examples = pd.read_parquet(path)
    assert len(examples) == len(report.examples)
    assert {"BBC_News test", "corpus test split"} <= set(examples["example_set"])
    bbc = examples[examples["example_set"] == "BBC_News test"]
    row = next(r for r in report.rows if r.task.startswith("relevance (BBC"))
    assert len(bbc) == row.n and bbc["gold_relevance"].isin([0.0, 1.0]).all()
    assert bbc["relevance"].between(0, 1).all()
    acled = examples[(examples["example_set"] == "corpus test split") & examples["gold_event_type"].notna()]
    events = next(r for r in report.rows if r.task.startswith("ACLED sub-event"))
    assert len(acled) == events.n
    # Accuracy recomputed from the table equals the report's.
    assert abs((acled["gold_event_type"] == acled["event_type"]).mean() - events.extra["accuracy"]) < 1e-9
    assert all(isinstance(json.loads(s), dict) for s in examples["signals"])
    # "present" is the model's own decision, the one the region index counts: at least one example has some.
    assert any(json.loads(s) for s in examples["signals_present"])


def test_promote_moves_champion_and_records_why(registered_tiny):
    from training.promotion import current_version, promote

    client = MlflowClient()
    first = registered_tiny["result"].version
    second = str(mlflow.register_model(registered_tiny["result"].model_uri, "threatscore").version)
    done = promote("threatscore", second, "test promotion", actor="tester")
    assert current_version("threatscore", "champion") == second and done.previous == first
    tags = client.get_model_version("threatscore", second).tags
    assert tags["promotion_reason"] == "test promotion" and tags["replaced_version"] == first
    promote("threatscore", first, "roll back", actor="tester")
    assert current_version("threatscore", "champion") == first


def test_promote_refuses_unknown_version_and_empty_reason(registered_tiny):
    import pytest

    from training.promotion import promote

    with pytest.raises(mlflow.exceptions.MlflowException):
        promote("threatscore", "999", "nope")
    with pytest.raises(ValueError, match="reason"):
        promote("threatscore", registered_tiny["result"].version, "  ")


def test_the_gold_rows_keep_each_items_decisions_for_the_paired_bootstrap(registered_tiny, tiny_processed, tmp_path):
    """Gold items of the tiny corpus's test split: the report keeps every item's gold labels and the model's decisions,
    and the gold rows recomputed from them equal the report's; two reports compare in the side-by-side table."""
    import json

    import pandas as pd

    from threatscore.taxonomy import SIGNALS
    from training.bootstrap import macro_f1
    from training.evaluate import evaluate_model, render_side_by_side

    corpus = pd.read_parquet(tiny_processed / "corpus.parquet")
    items = corpus[corpus["split"] == "test"].drop_duplicates("id").head(30)
    annotations = tmp_path / "signals.jsonl"
    with annotations.open("w", encoding="utf-8") as out:
        for k, (source, item_id, text) in enumerate(zip(items["source"], items["id"], items["text"], strict=True)):
            attack = int(any(w in text.lower() for w in ("killed", "attack", "bomb")))
            signals = {
                n: (attack if n == "militant_attack" else int(n == "counter_terrorism" and k % 3 == 0)) for n in SIGNALS
            }
            row = {
                "source": source,
                "source_id": item_id.split(":", 1)[1],
                "part": "test",
                "signals": signals,
                "resurgence": int(k % 4 == 0),
                "annotator": "t",
                "annotator_note": "test item",
            }
            out.write(json.dumps(row) + "\n")
    uri = f"models:/threatscore/{registered_tiny['result'].version}"
    report = evaluate_model(uri, tiny_processed, with_tasks=False, annotations=annotations)
    decisions = report.gold_decisions
    assert decisions is not None and set(decisions.index) == set(items["id"])
    assert set(decisions.to_numpy().ravel()) <= {0, 1}
    rows = {r.task: r for r in report.rows}
    gold = decisions[[f"gold.{n}" for n in SIGNALS]].to_numpy()
    pred = decisions[[f"pred.{n}" for n in SIGNALS]].to_numpy()
    assert macro_f1(gold, pred) == pytest.approx(rows["signals (gold test part)"].value)
    res = macro_f1(decisions[["gold.resurgence"]].to_numpy(), decisions[["pred.resurgence"]].to_numpy())
    assert res == pytest.approx(rows["resurgence (gold test part)"].value)
    assert rows["resurgence (gold test part)"].data == "gold test part, score >= 0.5"  # the model's own threshold
    written = {item_id: int(k % 4 == 0) for k, item_id in enumerate(items["id"])}
    assert decisions["gold.resurgence"].to_dict() == written  # the annotations' own labels, item by item
    text = render_side_by_side([report, report])
    assert f"| `{uri}` | {len(items)} | +0.000 [+0.000, +0.000] | +0.000 [+0.000, +0.000] |" in text
