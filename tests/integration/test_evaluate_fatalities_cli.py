"""``threatscore evaluate --task fatalities`` on corpus rows with gold death counts."""

from __future__ import annotations

import shutil

import pandas as pd
from typer.testing import CliRunner

from threatscore_cli.main import app


def test_fatality_report_scores_counts_against_gold(tiny_processed, tmp_path):
    processed = tmp_path / "processed"
    shutil.copytree(tiny_processed, processed)
    corpus = pd.read_parquet(processed / "corpus.parquet")
    corpus["fatalities"] = corpus["fatalities"].astype("float64")
    corpus.loc[:, "fatalities"] = float("nan")
    test = corpus.index[corpus["split"] == "test"][:4]
    corpus.loc[test, "text"] = [
        "Two soldiers and three civilians were killed in the crossfire.",  # 5: exact
        "Militants killed a civilian and abducted two councilmen.",  # 1: exact
        "Protesters blocked the highway.",  # no count, gold 0: exact
        "Gunmen killed 4 villagers.",  # 4 against gold 12: wrong count and level
    ]
    corpus.loc[test, "source"] = "acled"
    corpus.loc[test, "fatalities"] = [5, 1, 0, 12]
    corpus.to_parquet(processed / "corpus.parquet", index=False)
    out = tmp_path / "fatalities.md"

    result = CliRunner().invoke(
        app, ["evaluate", "--task", "fatalities", "--processed", str(processed), "-o", str(out)]
    )

    assert result.exit_code == 0, result.output
    acled = next(line for line in out.read_text(encoding="utf-8").splitlines() if line.startswith("| acled |"))
    cells = [c.strip() for c in acled.strip("|").split("|")]
    # rows, count found, exact count, severity level of the count
    assert cells == ["acled", "4", "0.750", "0.750", "0.750"]


def test_fatalities_without_gold_rows_is_a_clear_error(tiny_processed, tmp_path):
    processed = tmp_path / "processed"
    shutil.copytree(tiny_processed, processed)
    corpus = pd.read_parquet(processed / "corpus.parquet")
    corpus["fatalities"] = float("nan")
    corpus.to_parquet(processed / "corpus.parquet", index=False)
    result = CliRunner().invoke(app, ["evaluate", "--task", "fatalities", "--processed", str(processed)])
    assert result.exit_code == 2 and "no 'test' rows with gold fatalities" in result.output
