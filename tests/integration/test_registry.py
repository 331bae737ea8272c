"""Train → log → register → load by alias → predict, against a real MLflow registry."""

import mlflow
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
