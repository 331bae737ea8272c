"""``threatscore gate``: the retraining gate on a version registered outside the job, and ``promote`` honouring it."""

from __future__ import annotations

from mlflow.tracking import MlflowClient

EXIT_FAILED, EXIT_REJECTED = 1, 4


def test_gate_records_its_verdict_on_the_version_and_promote_honours_it(setup, logged_models, tmp_path):
    nothing = setup.cli("gate", "--config", str(setup.config))
    assert nothing.exit_code == EXIT_FAILED and "has no champion" in nothing.stderr

    weak = setup.register(logged_models["weak"], "champion")
    good = setup.register(logged_models["good"], "challenger")
    out = tmp_path / "gate.md"
    passed = setup.cli("gate", "--config", str(setup.config), "-o", str(out))  # the challenger by default
    assert passed.exit_code == 0, passed.output
    assert f"version {good} against champion {weak}: gate passed" in passed.stdout
    client = MlflowClient()
    version = client.get_model_version(setup.name, good)
    assert version.tags["retrain.gate"] == "pass" and version.tags["retrain.gate_summary"] == "gate passed"
    report = out.read_text(encoding="utf-8")
    assert report.startswith(f"# Gate: {setup.name} version {good} against champion version {weak}")
    assert "| signals (source-implied labels): higher macro F1 |" in report and "| challenger |" in report
    assert {a.path for a in client.list_artifacts(version.run_id, "gate")} == {"gate/report.md"}
    logged = client.get_run(version.run_id).data.metrics  # the challenger's benchmark rows, on its own run
    assert any(key.startswith("eval.signals__source_implied_labels.") for key in logged)

    assert setup.cli("promote", "--version", good, "--reason", "gate passed").exit_code == 0
    # The old champion, gated against the better one, is rejected: tagged, and promote refuses it without --force.
    rejected = setup.cli("gate", "--config", str(setup.config), "--version", weak)
    assert rejected.exit_code == EXIT_REJECTED, rejected.output
    assert f"version {weak} against champion {good}: gate failed" in rejected.stdout
    assert client.get_model_version(setup.name, weak).tags["retrain.gate"] == "fail"
    refused = setup.cli("promote", "--version", weak, "--reason", "roll back")
    assert refused.exit_code == 2 and "failed the retraining gate" in refused.stderr
    assert setup.alias("champion") == good
    same = setup.cli("gate", "--config", str(setup.config), "--version", good)
    assert same.exit_code == EXIT_FAILED and "is the champion" in same.stderr
