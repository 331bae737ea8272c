"""``threatscore evaluate --task places`` on corpus rows with gold locations."""

from __future__ import annotations

import shutil

import pandas as pd
from typer.testing import CliRunner

from threatscore_cli.main import app


def test_places_report_scores_primary_regions_against_gold(tiny_processed, tmp_path):
    processed = tmp_path / "processed"
    shutil.copytree(tiny_processed, processed)
    corpus = pd.read_parquet(processed / "corpus.parquet")
    test = corpus.index[corpus["split"] == "test"][:3]
    texts = [
        "Gunmen attacked an army patrol in Murzuq in southern Libya, killing four soldiers.",
        "Clashes erupted in Al-Hasakah, Syria, after an attack on Ghweran prison.",
        "Militants stormed a checkpoint in Maiduguri, Borno State, Nigeria.",
    ]
    corpus.loc[test, "text"] = texts
    corpus.loc[test, "source"] = "acled"
    corpus.loc[test, "country_code"] = ["LY", "SY", "NG"]
    corpus.loc[test, "admin1"] = ["Murzuq", "Al Hasakah Governorate", "Lagos"]  # the last one is wrong on purpose
    corpus.to_parquet(processed / "corpus.parquet", index=False)
    out = tmp_path / "places.md"

    result = CliRunner().invoke(app, ["evaluate", "--task", "places", "--processed", str(processed), "-o", str(out)])

    assert result.exit_code == 0, result.output
    table = out.read_text(encoding="utf-8")
    acled = next(line for line in table.splitlines() if line.startswith("| acled |"))
    cells = [c.strip() for c in acled.strip("|").split("|")]
    # rows, coverage, country acc ... admin-1 rows, admin-1 acc
    assert cells[1] == "3" and cells[3] == "1.000" and cells[5] == "3" and cells[6] == "0.667"
    assert "NG/Lagos -> NG/Borno: 1" in table


def test_places_without_gold_rows_is_a_clear_error(tiny_processed):
    result = CliRunner().invoke(app, ["evaluate", "--task", "places", "--processed", str(tiny_processed)])
    assert result.exit_code == 2 and "no 'test' rows with gold locations" in result.output


def test_unknown_task_is_refused(tiny_processed):
    result = CliRunner().invoke(app, ["evaluate", "--task", "nonsense", "--processed", str(tiny_processed)])
    assert result.exit_code == 2 and "unknown task 'nonsense'" in result.output
