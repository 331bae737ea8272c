"""The region index backtest (training.backtest): metrics on hand-built region-month tables, no real model."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tests.unit.test_region_index import assessment
from training import backtest as bt

DS = bt.BacktestDataset("toy", "Toy 2020", "acled", None, "NG", "2020-01", "2020-04")


def panel_from(table: dict[str, list[int]], months: list[str], dataset: str = "toy") -> pd.DataFrame:
    """A region-month panel from {region: fatalities per month}."""
    rows = [
        {"dataset": dataset, "admin1": region, "month": m, "fatalities": f, "events": f}
        for region, values in table.items()
        for m, f in zip(months, values, strict=True)
    ]
    return pd.DataFrame(rows)


def test_roc_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    score = rng.integers(0, 5, 200).astype(float)  # many ties
    assert bt.roc_auc(y, score) == pytest.approx(roc_auc_score(y, score))
    assert math.isnan(bt.roc_auc(np.ones(4), np.arange(4.0)))
    assert bt.roc_auc(np.array([0, 0, 1, 1]), np.array([1.0, 1.0, 1.0, 1.0])) == 0.5


def test_targets_on_a_known_table() -> None:
    months = ["2020-01", "2020-02", "2020-03"]
    panel = bt.add_targets(panel_from({"A": [5, 9, 1], "B": [0, 0, 3]}, months))
    assert list(panel["month"].unique()) == ["2020-01", "2020-02"]  # no t+1 for the last month
    got = {(r.admin1, r.month): (r.next_fatalities, r.rise) for r in panel.itertuples()}
    assert got == {
        ("A", "2020-01"): (9, 1),
        ("A", "2020-02"): (1, 0),
        ("B", "2020-01"): (0, 0),  # level is not a rise
        ("B", "2020-02"): (3, 1),
    }


def test_metrics_on_a_table_with_a_known_answer() -> None:
    """Four regions over five months; 'oracle' is next-month fatalities, so it ranks every rise first."""
    months = ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05"]
    fat = {"A": [10, 0, 10, 0, 10], "B": [0, 10, 0, 10, 0], "C": [5, 5, 5, 5, 5], "D": [1, 2, 3, 4, 5]}
    panel = bt.add_targets(panel_from(fat, months))
    panel["persistence"] = panel["fatalities"].astype(float)
    panel["oracle"] = panel["next_fatalities"].astype(float) - panel["fatalities"]
    panel["reverse"] = -panel["oracle"]
    panel["flat"] = 1.0
    scores = {s.method: s for s in bt.evaluate_panel(panel, ["persistence", "oracle", "reverse", "flat"], bootstrap=50)}
    # 16 region-months; rises: A at Feb, Apr; B at Jan, Mar; D every month -> 8 of 16
    assert scores["oracle"].n == 16 and scores["oracle"].positives == 8
    assert scores["oracle"].auc == 1.0 and scores["oracle"].ap == pytest.approx(1.0)
    assert scores["reverse"].auc == 0.0
    assert scores["flat"].auc == 0.5 and math.isnan(scores["flat"].spearman)
    # persistence: the oscillating regions fall after a high month, so high fatalities now rank rises last
    y = panel["rise"].to_numpy()
    assert scores["persistence"].auc == pytest.approx(roc_auc_score(y, panel["persistence"]))
    assert scores["persistence"].auc < 0.5
    assert scores["oracle"].delta_vs_persistence == pytest.approx(1.0 - scores["persistence"].auc)
    assert math.isnan(scores["persistence"].delta_vs_persistence)
    # per-month spread and bootstrap interval
    assert scores["oracle"].month_auc_median == 1.0
    assert scores["oracle"].auc_lo <= 1.0 <= scores["oracle"].auc_hi + 1e-12
    assert scores["oracle"].delta_lo > 0
    # Spearman against next-month fatalities: a ranker equal to it gives 1
    panel["next"] = panel["next_fatalities"].astype(float)
    nxt = bt.evaluate_panel(panel, ["next"], bootstrap=0)[0]
    assert nxt.spearman == pytest.approx(1.0) and math.isnan(nxt.auc_lo)


def test_evaluate_restricts_to_months() -> None:
    months = ["2020-01", "2020-02", "2020-03", "2020-04"]
    panel = bt.add_targets(panel_from({"A": [0, 5, 0, 5], "B": [5, 0, 5, 0]}, months))
    panel["s"] = panel["next_fatalities"].astype(float)
    first, second = bt.split_months(panel["month"])
    assert (first, second) == (["2020-01"], ["2020-02", "2020-03"])
    only = bt.evaluate_panel(panel, ["s"], months=second, bootstrap=0, reference="s")[0]
    assert only.n == 4 and only.auc == 1.0


def test_choose_half_life_prefers_shorter_on_ties() -> None:
    assert bt.choose_half_life({1.0: 0.6, 3.0: 0.7, 6.0: 0.7}) == 3.0
    assert bt.choose_half_life({1.0: 0.6, 12.0: 0.61}) == 12.0


def toy_events() -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Two Nigerian states over four months: Borno busy and escalating, Lagos quiet."""
    rows, scored = [], {}
    plan = {"Borno": [(3, 10), (4, 20), (6, 30), (8, 40)], "Lagos": [(1, 0), (0, 0), (1, 2), (1, 0)]}
    for region, per_month in plan.items():
        for m, (n, deaths) in enumerate(per_month, start=1):
            for k in range(n):
                ident = f"{region}-{m}-{k}"
                rows.append(
                    {
                        "id": ident,
                        "dataset": "toy",
                        "text": f"event {ident}",
                        "date": dt.date(2020, m, 5 + k),
                        "country_code": "NG",
                        "admin1": region,
                        "fatalities": deaths // n if k == 0 else 0,
                    }
                )
                # the model put every event in Borno (its "own region"), with a risk of 0.7
                scored[ident] = assessment([("NG", "Borno", 0.7, True)], ident=ident, fatalities=1)
    return pd.DataFrame(rows), scored


def test_gold_panel_and_index_on_toy_data() -> None:
    events, scored = toy_events()
    articles = bt.gold_articles(events, scored)
    assert {a.assessment.regions[0].admin1 for a in articles} == {"Borno", "Lagos"}
    frame = bt.index_frame(articles, DS, half_life=2.0)
    borno = frame[frame["admin1"] == "Borno"].sort_values("month")
    assert list(borno["articles"]) == [3, 4, 6, 8]
    assert borno["risk_index"].is_monotonic_increasing
    panel = bt.region_month_panel(events, DS)
    assert len(panel) == 2 * 4 and panel.loc[panel["admin1"] == "Lagos", "events"].tolist() == [1, 0, 1, 1]

    # the model variant maps the model's regions onto the gold ones with a key function
    own = bt.index_frame(
        bt.model_articles(events, scored), DS, 2.0, lambda cc, name: (name or "").lower(), ["Borno", "Lagos"]
    )
    assert set(own["admin1"]) == {"Borno"} and own["articles"].sum() == len(events)


def test_run_backtest_end_to_end_without_a_model(tmp_path: Path) -> None:
    events, scored = toy_events()
    result = bt.run_backtest(events, scored, "models:/toy/1", datasets=[DS], bootstrap=20, model_regions=False)
    assert result.half_life["toy"] in bt.HALF_LIVES
    assert {s.method for s in result.scores} >= {"persistence", "count", "index", "index_raw"}
    assert set(result.panel["half"]) == {"tune", "eval"}
    section = bt.render_markdown(result, "threatscore backtest --bootstrap 20")
    assert section.startswith(bt.SECTION_HEADING) and "threatscore backtest --bootstrap 20" in section
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\n## Other work\n\nkeep me\n", encoding="utf-8")
    bt.write_section(results, section)
    bt.write_section(results, section)  # a rerun replaces its own section only
    text = results.read_text(encoding="utf-8")
    assert text.count(bt.SECTION_HEADING) == 1 and "keep me" in text
    written = bt.make_plots(result, tmp_path / "plots")
    assert all(p.suffix == ".png" and p.stat().st_size > 0 for p in written)


class _FakeModel:
    calls = 0

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _FakeModel.calls += 1
        return [
            {"id": r["id"], "error": "bad"}
            if r["id"].endswith("-bad")
            else assessment([("NG", "Borno", 0.5, True)], ident=r["id"])
            for r in records
        ]


def test_score_events_caches_by_model_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threatscore.registry as registry

    monkeypatch.setattr(registry, "resolve", lambda uri: registry.ModelRef(uri, "threatscore", "7", "champion"))
    monkeypatch.setattr(registry, "load_model", lambda uri: _FakeModel())
    events, _ = toy_events()
    events = pd.concat([events, events.head(1).assign(id="x-bad")], ignore_index=True)
    got, pinned = bt.score_events(events, "models:/threatscore@champion", tmp_path, batch_size=8, progress=False)
    assert pinned == "models:/threatscore/7"
    assert bt.cache_path(tmp_path, "threatscore", "7", "models:/threatscore/7").exists()
    assert len(got) == len(events) - 1 and "x-bad" not in got
    calls = _FakeModel.calls
    again, _ = bt.score_events(events.head(-1), "models:/threatscore@champion", tmp_path, progress=False)
    assert again == got and _FakeModel.calls == calls  # nothing rescored
    assert bt.cache_path(tmp_path, None, None, "runs:/abc/model").name.startswith("runs_abc_model-")
