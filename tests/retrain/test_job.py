"""The retraining job end to end on SQLite: gate pass and fail, crashes, the lock, feedback, promotion."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

from mlflow.tracking import MlflowClient
from sqlalchemy import insert

from serving import db
from threatscore.registry import load_model
from threatscore.schemas import Article
from threatscore.taxonomy import severity_level
from training import job_lock
from training.retrain import count_feedback_after, last_watermark, list_runs
from training.snapshot import in_holdout, load_snapshot

EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 1, 2, 3


def _report(result) -> Path:
    line = next(x for x in result.stdout.splitlines() if x.startswith("report: "))
    return Path(line.removeprefix("report: "))


def _run_id(result) -> str:
    return next(x for x in result.stdout.splitlines() if x.startswith("challenger run: ")).split(": ")[1]


def test_gate_pass_promotes_the_challenger_and_reports(setup, logged_models):
    weak = setup.register(logged_models["weak"], "champion", "challenger")
    result = setup.retrain()
    assert result.exit_code == 0, result.output
    new = setup.alias("champion")
    assert new != weak and new == setup.alias("challenger") == setup.versions()[-1]
    assert "promoted to champion" in result.stdout
    report = _report(result).read_text(encoding="utf-8")
    assert "gate passed" in report and "| signals (source-implied labels): higher macro F1 |" in report
    client = MlflowClient()
    version = client.get_model_version(setup.name, new)
    assert version.tags["retrain.gate"] == "pass"
    assert version.tags["promotion_reason"].startswith("retrain ")
    run_id = _run_id(result)
    assert version.run_id == run_id
    logged = {a.path for a in client.list_artifacts(run_id, "retrain")}
    assert logged == {"retrain/report.md", "retrain/report.json"}
    assert {a.path for a in client.list_artifacts(run_id, "snapshot")} >= {"snapshot/manifest.json"}
    (row,) = list_runs(setup.engine())
    assert (row["status"], row["champion_before"], row["champion_after"]) == ("promoted", weak, new)


def test_gate_fail_keeps_the_champion_and_sets_challenger(setup, logged_models):
    # The champion is the model the challenger will be: equal signal F1 is not "higher", so the gate fails.
    champion = setup.register(logged_models["good"], "champion", "challenger")
    result = setup.retrain()
    assert result.exit_code == 0, result.output  # a gate failure is not a job failure
    assert "challenger" in result.stdout and "kept, champion unchanged" in result.stdout
    assert setup.alias("champion") == champion
    new = setup.versions()[-1]
    assert new != champion and setup.alias("challenger") == new
    assert MlflowClient().get_model_version(setup.name, new).tags["retrain.gate"] == "fail"
    report = _report(result).read_text(encoding="utf-8")
    assert "champion unchanged" in report and "**FAIL**" in report
    report_json = json.loads(_report(result).with_suffix(".json").read_text(encoding="utf-8"))
    assert report_json["status"] == "kept" and not report_json["gate"]["passed"]
    assert list_runs(setup.engine())[-1]["status"] == "kept"
    # ... and the version the gate rejected needs --force to become champion.
    refused = setup.cli("promote", "--version", new, "--reason", "looks fine to me")
    assert refused.exit_code == EXIT_CONFIG and "failed the retraining gate" in refused.stderr
    assert setup.alias("champion") == champion


def test_a_crash_mid_run_leaves_the_champion_and_no_version(setup, logged_models, monkeypatch):
    champion = setup.register(logged_models["weak"], "champion", "challenger")

    def crash(*args, **kwargs):
        raise RuntimeError("injected crash")

    monkeypatch.setattr("training.retrain.evaluate_suite", crash)
    result = setup.retrain()
    assert result.exit_code == EXIT_FAILED
    assert "step 'evaluate'" in result.stderr and "injected crash" in result.stderr
    assert setup.versions() == [champion]
    assert setup.alias("champion") == setup.alias("challenger") == champion
    engine = setup.engine()
    assert job_lock.current_lock(engine, "retrain") is None
    (row,) = list_runs(engine)
    assert row["status"] == "failed" and "evaluate" in row["message"]
    run = MlflowClient().get_run(row["mlflow_run_id"])  # the trained challenger's run says it failed
    assert run.info.status == "FAILED" and "injected crash" in run.data.tags["retrain.error"]


def test_a_registration_that_fails_midway_is_deleted(setup, logged_models, monkeypatch):
    champion = setup.register(logged_models["weak"], "champion", "challenger")
    real = MlflowClient.set_registered_model_alias

    def failing(self, name, alias, version):
        if alias == "challenger" and str(version) != champion:
            raise RuntimeError("registry went away")
        return real(self, name, alias, version)

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", failing)
    result = setup.retrain()
    assert result.exit_code == EXIT_FAILED and "step 'register'" in result.stderr
    assert setup.versions() == [champion]  # the half-made version was deleted
    assert setup.alias("champion") == setup.alias("challenger") == champion
    assert job_lock.current_lock(setup.engine(), "retrain") is None


def test_a_second_run_is_refused_while_the_lock_is_held(setup):
    engine = setup.engine()
    job_lock.acquire(engine, "retrain", "other-job", stale_after=dt.timedelta(minutes=30))
    result = setup.retrain()
    assert result.exit_code == EXIT_LOCKED
    assert "other-job" in result.stderr and "refused" in result.stderr
    assert job_lock.current_lock(engine, "retrain")["holder"] == "other-job"  # untouched
    assert setup.versions() == [] and list_runs(engine) == []


def test_a_stale_lock_is_taken_over(setup):
    engine = setup.engine()
    long_ago = db.utcnow() - dt.timedelta(hours=2)
    # A job that took the lock, recorded its run, and died (killed: no release, no heartbeat since).
    job_lock.acquire(engine, "retrain", "crashed-job", stale_after=dt.timedelta(minutes=30), now=long_ago)
    with engine.begin() as connection:
        connection.execute(insert(db.RetrainRunRow).values(job_id="crashed-job", status="running", started_at=long_ago))
    setup.write_config(policy={"min_new_feedback": 5})  # nothing to do: the run is quick
    result = setup.retrain()
    assert result.exit_code == 0, result.output
    assert "took over the stale lock of job crashed-job" in result.stderr
    assert "nothing to do" in result.stdout
    assert job_lock.current_lock(engine, "retrain") is None
    runs = list_runs(engine)
    assert [r["status"] for r in runs] == ["failed", "skipped"]  # the dead job's row, then ours
    assert "taken over" in runs[0]["message"]


def _store_scored(engine, model_uri: str, articles: list[Article]) -> None:
    model = load_model(model_uri)
    results = model.predict([a.model_dump(mode="json") for a in articles])
    items = [
        db.Scored(a, r, [s for s, v in r["signals"].items() if v["evidence"]])
        for a, r in zip(articles, results, strict=True)
    ]
    db.store_scored(engine, items)


def _feedback(engine, article_id: str, **labels) -> int:
    """Store a correction the way ``POST /feedback`` does (serving.service.Threatscore.feedback)."""
    values = {
        "article_id": article_id,
        "article_pk": db.find_article_pk(engine, article_id),
        "signals": labels.get("signals"),
        "event_type": labels.get("event_type"),
        "severity": labels.get("severity"),
        "regions": labels.get("regions"),
        "note": None,
        "model_version": "1",
        "submitted_by": "analyst",
        "key_id": "k1",
        "submitted_at": db.utcnow(),
    }
    return db.store_feedback(engine, values)


def test_feedback_from_the_service_is_used_by_the_next_run(setup, logged_models, tiny_processed):
    from training.corpus import load_corpus

    setup.register(logged_models["good"], "champion", "challenger")
    fraction, seed = 0.5, 2026
    setup.write_config(feedback={"holdout_fraction": fraction, "holdout_seed": seed})
    corpus = load_corpus(tiny_processed)
    # A corpus training item the analysts correct (kept in training by the hash), and new articles.
    attacks = corpus[(corpus["split"] == "train") & (corpus["sub_event_type"] == "Attack")]
    item = next(i for i in attacks["id"] if not in_holdout(i, fraction, seed))
    assert corpus.set_index("id").loc[item, "sig_militant_attack"] == 1
    engine = setup.engine()
    articles = [Article(id=item, text=corpus.set_index("id").loc[item, "text"])] + [
        Article(
            id=f"desk-{k}", text=f"Fighters of the group recruited {k + 3} teenagers in Kidal and crossed into Niger."
        )
        for k in range(6)
    ]
    _store_scored(engine, f"models:/{setup.name}@champion", articles)
    _feedback(engine, item, signals={"militant_attack": False})
    _feedback(engine, item, signals={"recruitment": True}, severity="high")  # folds into the first correction
    for k in range(6):
        _feedback(engine, f"desk-{k}", signals={"recruitment": True, "cross_border": True}, event_type="Attack")

    result = setup.retrain()
    assert result.exit_code == 0, result.output
    snapshot = load_snapshot(_report(result).parent / "snapshot")  # rebuilt from the manifest, hashes checked
    feedback = snapshot.manifest["feedback"]
    assert (feedback["rows"], feedback["new_since_last_run"], feedback["items"]) == (8, 8, 7)
    assert feedback["overriding_corpus_items"] == 1 and feedback["new_items"] == 6
    assert feedback["train_items"] + feedback["holdout_items"] == 7 and feedback["holdout_items"] >= 1
    frame = snapshot.training.set_index("id")
    row = frame.loc[item]
    assert row["source"] == "feedback" and row["split"] == "train"
    assert (row["sig_militant_attack"], row["sig_recruitment"]) == (0, 1)
    assert severity_level(int(row["fatalities"])) == "high"
    assert not set(feedback["holdout_ids"]) & set(frame.index)  # held-out feedback never trains
    report = _report(result).read_text(encoding="utf-8")
    assert "8 rows up to id 8 (8 new since the last run)" in report
    assert "signals (feedback holdout)" in report

    # The next run counts feedback since this one: none yet, so with a policy of 1 there is nothing to do.
    setup.write_config(policy={"min_new_feedback": 1})
    again = setup.retrain()
    assert again.exit_code == 0 and "nothing to do: 0 new feedback" in again.stdout
    _feedback(engine, "desk-0", severity="low")
    assert count_feedback_after(engine, last_watermark(engine)) == 1


def test_promote_force_logs_its_reason_and_promote_version_rolls_back(setup, logged_models, caplog):
    first = setup.register(logged_models["weak"], "champion")
    rejected = setup.register(logged_models["good"], "challenger")
    MlflowClient().set_model_version_tag(setup.name, rejected, "retrain.gate", "fail")

    no_reason = setup.cli("promote", "--force")
    assert no_reason.exit_code == EXIT_CONFIG and "--reason" in no_reason.stderr
    reason = "analyst review: better on the Sahel desk's articles"
    with caplog.at_level(logging.WARNING, logger="training.promotion"):
        forced = setup.cli("promote", "--force", "--reason", reason)  # no --version: the challenger
    assert forced.exit_code == 0, forced.output
    assert setup.alias("champion") == rejected
    assert any(reason in r.getMessage() and "forced promotion" in r.getMessage() for r in caplog.records)
    tags = MlflowClient().get_model_version(setup.name, rejected).tags
    assert tags["promotion_forced"] == "true" and tags["promotion_reason"] == reason

    back = setup.cli("promote", "--version", first, "--reason", "roll back")
    assert back.exit_code == 0, back.output
    assert setup.alias("champion") == first
    tags = MlflowClient().get_model_version(setup.name, first).tags
    assert tags["replaced_version"] == rejected and tags["promotion_forced"] == "false"


def test_bad_config_exits_2(setup):
    setup.config.write_text("experiment: experiments/nope.yaml\n", encoding="utf-8")
    result = setup.retrain()
    assert result.exit_code == EXIT_CONFIG and "nope.yaml" in result.stderr
    setup.write_config(gate={"max_f1_drop": -1})
    assert setup.retrain().exit_code == EXIT_CONFIG
