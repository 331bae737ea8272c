"""``threatscore train --device-bundle`` / ``--device-result``: a run trained elsewhere is finished, logged and
registered here like any run, and only from the bundle of the same experiment."""

from __future__ import annotations

import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from tests.fixtures.tiny_corpus import tiny_minilm_config
from threatscore_cli.main import app
from training.device_run import main as device_main


def test_a_bundle_trained_elsewhere_becomes_a_registered_run(
    tiny_processed, tiny_bert_dir, mlflow_settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("THREATSCORE_TRACKING_URI", mlflow_settings.tracking_uri)
    config = tiny_minilm_config("tiny-device-cli", tiny_bert_dir).model_dump(mode="json")
    config["data"] |= {"processed_dir": str(tiny_processed), "annotations": str(tmp_path / "no-gold.jsonl")}
    # Its own registered name: the suite's other tests expect the tiny baseline to be the only champion.
    config["tracking"] = {"experiment": "tests", "register_as": "device-tiny", "alias": "challenger"}
    config_path = tmp_path / "tiny-device.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    bundle, out = tmp_path / "bundle", tmp_path / "out"
    runner = CliRunner()

    lonely = runner.invoke(app, ["train", str(config_path), "--device-result", str(out)])
    assert lonely.exit_code != 0 and "--device-result needs --device-bundle" in lonely.output

    written = runner.invoke(app, ["train", str(config_path), "--device-bundle", str(bundle)])
    assert written.exit_code == 0, written.output
    assert "python -m training.device_run" in written.output and (bundle / "manifest.json").exists()
    assert device_main([str(bundle), str(out)]) == 0

    reseeded = tmp_path / "reseeded.yaml"
    reseeded.write_text(yaml.safe_dump({**config, "seed": 99}), encoding="utf-8")
    refused = runner.invoke(
        app, ["train", str(reseeded), "--device-bundle", str(bundle), "--device-result", str(out), "--no-eval"]
    )
    assert refused.exit_code != 0 and "another config" in refused.output

    finished = runner.invoke(
        app, ["train", str(config_path), "--device-bundle", str(bundle), "--device-result", str(out), "--no-eval"]
    )
    assert finished.exit_code == 0, finished.output
    client = MlflowClient()
    version = client.get_model_version_by_alias("device-tiny", "challenger")
    assert f"registered device-tiny version {version.version}" in finished.output
    run = client.get_run(version.run_id)
    assert run.data.tags["train.device"].startswith("CPU ")
    assert run.data.metrics["train.train_steps"] > 0 and run.data.metrics["train.on_gpu"] == 0.0
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "device_run")}
    assert logged == {"device_run/manifest.json", "device_run/facts.json"}
