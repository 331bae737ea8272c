"""Reading archives in units, part files, and the resume manifest (no model, no Spark)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.batch.conftest import write_jsonl, write_parquet
from threatscore.articles import ArticleError
from threatscore.batch.io import (
    BatchInputError,
    Manifest,
    discover_inputs,
    fingerprint,
    iter_units,
    write_errors,
    write_part,
)
from threatscore.schemas import Article


def _rows(n: int) -> list[dict]:
    return [{"id": f"a{i}", "text": f"Gunmen attacked a post, killing {i}."} for i in range(n)]


def test_jsonl_units_count_non_blank_lines_and_keep_file_line_numbers(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", _rows(7), extra_lines={2: "", 4: "{broken"})
    source = fingerprint(path, path)
    assert source.rows == 8  # 7 articles + the malformed line; the blank line is not an article
    units = list(iter_units(source, 3))
    assert [u.size for u in units] == [3, 3, 2]
    assert len({u.key for u in units}) == 3
    items = [i for u in units for i in u.items()]
    # line 3 is blank; line 6 is the malformed one
    assert [i.line for i in items] == [1, 2, 4, 5, 6, 7, 8, 9]
    broken = items[4].parsed
    assert isinstance(broken, ArticleError) and broken.line == 6 and "malformed JSON" in broken.message
    assert all(isinstance(i.parsed, Article) for n, i in enumerate(items) if n != 4)


def test_parquet_units_have_exact_sizes_across_row_groups_and_typed_columns(tmp_path):
    rows = _rows(23)
    rows[0]["published"] = "2021-03-04"
    path = write_parquet(tmp_path / "a.parquet", rows, row_group_size=7)
    units = list(iter_units(fingerprint(path, path), 10))
    assert [u.size for u in units] == [10, 10, 3]
    items = [i for u in units for i in u.items()]
    assert [i.line for i in items] == list(range(1, 24))
    assert [i.parsed.id for i in items] == [r["id"] for r in rows]
    assert str(items[0].parsed.published) == "2021-03-04"


def test_parquet_integer_ids_are_read_as_strings_and_extra_columns_ignored(tmp_path):
    table = pa.table({"id": [1, 2], "text": ["Gunmen attacked.", "Troops raided a camp."], "url": ["u1", "u2"]})
    pq.write_table(table, tmp_path / "a.parquet")
    (unit,) = iter_units(fingerprint(tmp_path / "a.parquet", tmp_path), 10)
    assert [i.parsed.id for i in unit.items()] == ["1", "2"]


def test_parquet_without_text_column_is_refused(tmp_path):
    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), tmp_path / "a.parquet")
    with pytest.raises(BatchInputError, match="no 'text' column"):
        list(iter_units(fingerprint(tmp_path / "a.parquet", tmp_path), 10))


def test_folder_inputs_are_found_recursively_skipping_hidden_and_underscore_files(tmp_path):
    write_jsonl(tmp_path / "2021" / "b.jsonl", _rows(1))
    write_parquet(tmp_path / "2020" / "a.parquet", _rows(1))
    write_jsonl(tmp_path / "_tmp" / "c.jsonl", _rows(1))
    write_jsonl(tmp_path / ".d.jsonl", _rows(1))
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / "notes.txt").write_text("x")
    found = discover_inputs(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["2020/a.parquet", "2021/b.jsonl"]
    assert fingerprint(found[1], tmp_path).rel == "2021/b.jsonl"


def test_missing_or_unsupported_input_is_a_clear_error(tmp_path):
    with pytest.raises(BatchInputError, match="does not exist"):
        discover_inputs(tmp_path / "nope")
    (tmp_path / "a.csv").write_text("id,text\n")
    with pytest.raises(BatchInputError, match=r"\.parquet or \.jsonl"):
        discover_inputs(tmp_path / "a.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchInputError, match="holds no"):
        discover_inputs(tmp_path / "empty")


def test_part_and_error_files_are_written_whole_without_temp_files(tmp_path):
    table = pa.table({"id": ["a"]})
    path = write_part(tmp_path, "k-00000", table)
    assert pq.read_table(path).to_pylist() == [{"id": "a"}]
    errors = write_errors(tmp_path, "k-00000", [{"id": "b", "line": 2, "error": "text is empty"}])
    assert errors is not None and json.loads(errors.read_text())["line"] == 2
    assert write_errors(tmp_path, "k-00000", []) is None and not errors.exists()  # a redo without errors cleans up
    assert not [p for p in tmp_path.rglob(".*")]


def _source(tmp_path):
    path = write_jsonl(tmp_path / "in" / "a.jsonl", _rows(3))
    return [fingerprint(path, path)]


def test_manifest_resumes_only_with_the_same_model_chunks_and_input(tmp_path):
    out = tmp_path / "out"
    inputs = _source(tmp_path)
    manifest = Manifest.open(out, model_pinned_uri="models:/m/1", chunk_size=2, inputs=inputs)
    write_part(out, "k", pa.table({"id": ["a"]}))
    manifest.record({"key": "k", "input": inputs[0].rel, "input_sha256": inputs[0].sha256, "scored": 1, "errors": 0})
    again = Manifest.open(out, model_pinned_uri="models:/m/1", chunk_size=2, inputs=inputs)
    assert again.done("k") is not None and again.done("other") is None
    with pytest.raises(BatchInputError, match="scored with models:/m/1"):
        Manifest.open(out, model_pinned_uri="models:/m/2", chunk_size=2, inputs=inputs)
    with pytest.raises(BatchInputError, match="--chunk-size 2"):
        Manifest.open(out, model_pinned_uri="models:/m/1", chunk_size=3, inputs=inputs)
    write_jsonl(inputs[0].path, _rows(4))  # the archive changed under the output
    with pytest.raises(BatchInputError, match="input changed"):
        Manifest.open(
            out, model_pinned_uri="models:/m/1", chunk_size=2, inputs=[fingerprint(inputs[0].path, inputs[0].path)]
        )


def test_manifest_ignores_a_torn_line_and_a_deleted_part_is_not_done(tmp_path):
    out = tmp_path / "out"
    inputs = _source(tmp_path)
    manifest = Manifest.open(out, model_pinned_uri="models:/m/1", chunk_size=2, inputs=inputs)
    entry = {"input": inputs[0].rel, "input_sha256": inputs[0].sha256, "scored": 1, "errors": 1}
    for key in ("k1", "k2"):
        write_part(out, key, pa.table({"id": ["a"]}))
        write_errors(out, key, [{"id": None, "line": 1, "error": "x"}])
        manifest.record({"key": key, **entry})
    with (out / "_manifest.jsonl").open("a") as handle:
        handle.write('{"key": "k3", "inp')  # a run killed mid-line
    again = Manifest.open(out, model_pinned_uri="models:/m/1", chunk_size=2, inputs=inputs)
    assert again.done("k1") is not None and again.done("k3") is None
    (out / "part-k1.parquet").unlink()
    (out / "_errors" / "part-k2.jsonl").unlink()
    assert again.done("k1") is None and again.done("k2") is None


def test_an_output_folder_with_foreign_parts_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "part-00000.parquet").write_bytes(b"")
    with pytest.raises(BatchInputError, match=r"no _manifest\.jsonl"):
        Manifest.open(tmp_path / "out", model_pinned_uri="models:/m/1", chunk_size=2, inputs=_source(tmp_path))


def test_a_manifest_without_finished_parts_pins_nothing(tmp_path):
    out = tmp_path / "out"
    inputs = _source(tmp_path)
    Manifest.open(out, model_pinned_uri="models:/m/1", chunk_size=2, inputs=inputs)  # then the run failed
    fresh = Manifest.open(out, model_pinned_uri="models:/m/2", chunk_size=5, inputs=inputs)
    assert fresh.header["model"] == "models:/m/2" and fresh.header["chunk_size"] == 5
    assert json.loads((out / "_manifest.jsonl").read_text().splitlines()[0])["model"] == "models:/m/2"


def test_pyspark_is_imported_only_inside_the_spark_engine_and_nothing_starts_on_import():
    import ast
    import subprocess
    import sys

    import threatscore.batch

    for path in Path(threatscore.batch.__file__).parent.glob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module level only; `if TYPE_CHECKING:` is an If node
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "pyspark" for n in names), f"{path.name} imports pyspark at module level"
    code = (
        "import threatscore.batch.spark, threatscore_cli.main; from pyspark import SparkContext; "
        "assert SparkContext._gateway is None and SparkContext._active_spark_context is None"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
