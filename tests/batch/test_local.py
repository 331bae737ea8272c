"""``score_batch`` with the local engine and ``threatscore score-batch``: errors, counts, resume, the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.batch.conftest import BAD_FIELDS, BAD_ROWS, read_errors, read_output, write_jsonl
from threatscore.batch import BatchInputError, score_batch
from threatscore.batch.flatten import flatten_assessment
from threatscore.batch.runner import model_thresholds
from threatscore.registry import load_model
from threatscore_cli.main import app

CHUNK = 8


def test_bad_rows_go_to_errors_with_line_and_field_and_the_rest_is_scored(tmp_path, mixed_jsonl, model_uri):
    out = tmp_path / "out"
    summary = score_batch(mixed_jsonl, out, model_uri=model_uri, chunk_size=CHUNK, progress=False)
    good = 24
    assert summary["ok"] and summary["counts"] == {"in": good + len(BAD_ROWS) + 1, "scored": good, "errors": 5}
    assert summary["parts"] == {"total": 4, "skipped": 0, "written": 4}
    assert summary["model"]["pinned_uri"] == model_uri and summary["model"]["version"] == model_uri.rsplit("/", 1)[1]
    assert summary["inputs"][0]["sha256"] and summary["inputs"][0]["rows"] == 29
    assert json.loads((out / "_summary.json").read_text())["counts"] == summary["counts"]

    errors = read_errors(out)
    malformed = [e for e in errors if "malformed JSON" in e["error"]]
    assert len(malformed) == 1 and malformed[0]["line"] == 13  # the file's line, not the chunk's
    by_id = {e["id"]: e for e in errors if e not in malformed}
    assert {k: e["field"] for k, e in by_id.items()} == BAD_FIELDS
    lines = mixed_jsonl.read_text().splitlines()
    for error in errors:  # every reported line is the line that holds the bad row
        if error["id"] is not None:
            assert json.loads(lines[error["line"] - 1])["id"] == error["id"]
        assert error["part"] and error["input"] == "articles.jsonl"
    assert {r["id"] for r in read_output(out)} == {r["id"] for r in _good(mixed_jsonl)}


def _good(path):
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("id") and not row["id"].startswith("bad-"):
            rows.append(row)
    return rows


def test_output_rows_are_the_flattened_predictions_of_the_registered_model(tmp_path, good_articles, model_uri):
    path = write_jsonl(tmp_path / "good.jsonl", good_articles)
    score_batch(path, tmp_path / "out", model_uri=model_uri, chunk_size=CHUNK, progress=False)
    expected = load_model(model_uri).predict(good_articles)  # the one predict path the API uses
    thresholds = model_thresholds(model_uri)
    assert read_output(tmp_path / "out") == [flatten_assessment(a, thresholds) for a in expected]
    assert thresholds  # the tiny model ships its thresholds


def test_a_rerun_skips_done_parts_and_redoes_only_a_deleted_one(tmp_path, mixed_jsonl, model_uri):
    out = tmp_path / "out"
    first = score_batch(mixed_jsonl, out, model_uri=model_uri, chunk_size=CHUNK, progress=False)
    rows = read_output(out)
    again = score_batch(mixed_jsonl, out, model_uri=model_uri, chunk_size=CHUNK, progress=False)
    assert again["parts"] == {"total": 4, "skipped": 4, "written": 0}
    assert again["this_run"]["in"] == 0 and again["counts"] == first["counts"] and again["ok"]

    parts = sorted(out.glob("part-*.parquet"))
    kept = {p: p.stat().st_mtime_ns for p in parts if p != parts[1]}
    parts[1].unlink()
    redo = score_batch(mixed_jsonl, out, model_uri=model_uri, chunk_size=CHUNK, progress=False)
    assert redo["parts"] == {"total": 4, "skipped": 3, "written": 1} and redo["this_run"]["in"] == CHUNK
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())
    assert read_output(out) == rows and redo["counts"] == first["counts"]
    assert not list(out.rglob(".*.tmp"))


def test_resuming_with_another_model_is_refused(tmp_path, mixed_jsonl, model_uri):
    out = tmp_path / "out"
    score_batch(mixed_jsonl, out, model_uri=model_uri, chunk_size=CHUNK, progress=False)
    with pytest.raises(BatchInputError, match=f"finish it with --model {model_uri}"):
        score_batch(mixed_jsonl, out, model_uri="runs:/0123abcd/model", chunk_size=CHUNK, progress=False)


def test_cli_scores_reports_and_exits_by_the_counts(tmp_path, mixed_jsonl, model_uri, registered_tiny):
    # The CLI reads its registry from the environment: point it at the tests' registry, never ./mlflow.db.
    runner = CliRunner(env={"THREATSCORE_TRACKING_URI": registered_tiny["settings"].tracking_uri})
    out = tmp_path / "out"
    args = ["score-batch", str(mixed_jsonl), "-o", str(out), "--model", model_uri, "--chunk-size", "8"]
    result = runner.invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "scored 24 of 29 article(s), 5 rejected" in result.output
    assert json.loads((out / "_summary.json").read_text())["ok"] is True

    only_bad = write_jsonl(tmp_path / "bad.jsonl", BAD_ROWS)
    result = runner.invoke(app, ["score-batch", str(only_bad), "-o", str(tmp_path / "o2"), "--model", model_uri])
    assert result.exit_code == 1 and "nothing could be scored" in result.output
    assert len(read_errors(tmp_path / "o2")) == len(BAD_ROWS)

    result = runner.invoke(app, ["score-batch", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o3")])
    assert result.exit_code == 2 and "does not exist" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, [*args, "--master", "local[2]"])
    assert result.exit_code == 2 and "--engine spark" in result.output
    result = runner.invoke(
        app, ["score-batch", str(mixed_jsonl), "-o", str(tmp_path / "o4"), "--model", "models:/nope/1"]
    )
    assert result.exit_code != 0 and "error:" in result.output and "Traceback" not in result.output


def test_an_output_folder_inside_the_input_folder_is_not_read_back(tmp_path, good_articles, model_uri):
    archive = tmp_path / "archive"
    write_jsonl(archive / "a.jsonl", good_articles[:5])
    first = score_batch(archive, archive / "scored", model_uri=model_uri, chunk_size=CHUNK, progress=False)
    again = score_batch(archive, archive / "scored", model_uri=model_uri, chunk_size=CHUNK, progress=False)
    assert [i["path"] for i in again["inputs"]] == ["a.jsonl"]
    assert again["counts"] == first["counts"] == {"in": 5, "scored": 5, "errors": 0}


def test_cli_defaults_are_the_library_defaults():
    from threatscore.batch import DEFAULT_CHUNK_SIZE, DEFAULT_MODEL
    from threatscore_cli import score_batch as cli

    assert (cli.DEFAULT_CHUNK_SIZE, cli.DEFAULT_MODEL) == (DEFAULT_CHUNK_SIZE, DEFAULT_MODEL)
