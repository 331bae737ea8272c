"""The Spark engine (pyspark, local[2], real MLflow ``spark_udf``) against the local engine, row for row."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.batch.conftest import (
    BAD_FIELDS,
    BAD_ROWS,
    assert_same_rows,
    read_errors,
    read_output,
    write_parquet,
)
from threatscore.batch import score_batch
from threatscore.registry import configure_tracking

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime: no java on PATH")

CHUNK = 8


@pytest.fixture(scope="module")
def spark(registered_tiny):
    """One local[2] session for the module, built as the CLI builds it (UI off, Arrow on, threatscore daemon)."""
    pytest.importorskip("pyspark")
    from threatscore.batch.spark import build_session

    configure_tracking(registered_tiny["settings"])  # the executors get this tracking URI in their environment
    session = build_session("local[2]", {"spark.driver.memory": "1g", "spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


def _run(source: Path, out: Path, model_uri: str, engine: str, spark=None) -> dict:
    return score_batch(
        source, out, engine=engine, model_uri=model_uri, chunk_size=CHUNK, spark_session=spark, progress=False
    )


def _assert_same_outputs(local: Path, remote: Path) -> None:
    assert sorted(p.name for p in local.glob("part-*.parquet")) == sorted(p.name for p in remote.glob("part-*.parquet"))
    assert_same_rows(read_output(local), read_output(remote))
    assert read_errors(local) == read_errors(remote)


def test_spark_and_local_write_the_same_rows_from_jsonl(tmp_path, mixed_jsonl, model_uri, spark):
    local = _run(mixed_jsonl, tmp_path / "local", model_uri, "local")
    remote = _run(mixed_jsonl, tmp_path / "spark", model_uri, "spark", spark)
    assert remote["ok"] and remote["counts"] == local["counts"] == {"in": 29, "scored": 24, "errors": 5}
    assert remote["engine"]["engine"] == "spark" and remote["engine"]["master"] == "local[2]"
    _assert_same_outputs(tmp_path / "local", tmp_path / "spark")
    rows = read_output(tmp_path / "spark")
    seed = next(r for r in rows if r["id"] == "seed")
    assert seed["model_version"] == model_uri.rsplit("/", 1)[1] and seed["fatalities"] == 27
    assert json.loads(seed["evidence_json"])  # the evidence sentences survived the struct round trip


def test_spark_and_local_agree_on_a_folder_of_parquet_parts(tmp_path, good_articles, model_uri, spark):
    archive = tmp_path / "archive"
    write_parquet(archive / "2021" / "part-00000.parquet", good_articles[:13], row_group_size=5)
    # a second part with string dates, where the bad rows are (bad date, empty and long text, null id)
    write_parquet(archive / "2022" / "part-00001.parquet", [*BAD_ROWS, *good_articles[13:]], dates=False)
    (archive / "_SUCCESS").write_text("")
    local = _run(archive, tmp_path / "local", model_uri, "local")
    remote = _run(archive, tmp_path / "spark", model_uri, "spark", spark)
    assert remote["counts"] == local["counts"] == {"in": 28, "scored": 24, "errors": 4}
    assert [i["path"] for i in remote["inputs"]] == ["2021/part-00000.parquet", "2022/part-00001.parquet"]
    _assert_same_outputs(tmp_path / "local", tmp_path / "spark")
    errors = read_errors(tmp_path / "spark")
    assert {e["id"]: e["field"] for e in errors} == BAD_FIELDS
    assert sorted(e["line"] for e in errors) == [1, 2, 3, 4]  # row numbers within their Parquet file
    assert {e["input"] for e in errors} == {"2022/part-00001.parquet"}
    assert (
        pq.read_table(next((tmp_path / "spark").glob("part-*.parquet")))
        .schema.field("fatalities")
        .type.equals(pa.int64())
    )


def test_spark_resumes_a_run_skipping_done_parts_and_redoing_a_deleted_one(tmp_path, mixed_jsonl, model_uri, spark):
    out = tmp_path / "out"
    first = _run(mixed_jsonl, out, model_uri, "local")
    reference = read_output(out)
    again = _run(mixed_jsonl, out, model_uri, "spark", spark)
    assert again["parts"] == {"total": 4, "skipped": 4, "written": 0} and again["this_run"]["in"] == 0
    assert again["engine"] == {"engine": "spark"}  # nothing to do: no Spark job was started
    victim = sorted(out.glob("part-*.parquet"))[2]
    victim.unlink()
    redo = _run(mixed_jsonl, out, model_uri, "spark", spark)
    assert redo["parts"] == {"total": 4, "skipped": 3, "written": 1} and redo["counts"] == first["counts"]
    assert victim.exists()
    entries = [json.loads(line) for line in (out / "_manifest.jsonl").read_text().splitlines()[1:]]
    assert [e["engine"] for e in entries] == ["local"] * 4 + ["spark"]
    assert_same_rows(read_output(out), reference)  # a part scored on Spark matches the one scored locally


def test_spark_workers_run_the_installed_threatscore(spark):
    import threatscore

    def where(_):
        import sys

        module = sys.modules.get("threatscore")
        return getattr(module, "__file__", None), "threatscore.pyfunc" in sys.modules

    seen = set(spark.sparkContext.parallelize(range(4), 2).map(where).collect())
    # imported by threatscore.batch.spark_daemon before any task: MLflow's copy of the code cannot shadow it
    assert seen == {(threatscore.__file__, True)}
