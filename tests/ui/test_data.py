"""The comparison UI's numbers, computed without a registry or a browser (``ui.data``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from threatscore.taxonomy import SIGNALS
from training.metrics import expected_calibration_error
from ui.data import (
    BadInputError,
    DisagreementQuery,
    Segment,
    benchmark_lines,
    confusion,
    default_pair,
    disagreements,
    expand_examples,
    headline_columns,
    highlight,
    join_examples,
    label_tables,
    parse_gap,
    parse_int,
    parse_version,
    redact_uri,
    reliability,
    reliability_sets,
    severity_confusion,
    verdict,
)


def _example(i: str, *, relevance: float, event: str, p_event: float, severity: str, signals: dict, **extra) -> dict:
    return {
        "example_set": extra.pop("example_set", "corpus test split"),
        "id": i,
        "source": extra.pop("source", "acled"),
        "text": f"text of {i}",
        "error": None,
        "gold_relevance": extra.pop("gold_relevance", 1.0),
        "gold_event_type": extra.pop("gold_event_type", "Armed clash"),
        "gold_severity": extra.pop("gold_severity", "low"),
        "gold_signals": json.dumps(extra.pop("gold_signals", {"militant_attack": 1})),
        "gold_resurgence": extra.pop("gold_resurgence", None),
        "relevance": relevance,
        "event_type": event,
        "event_type_probability": p_event,
        "severity": severity,
        "signals": json.dumps({s: signals.get(s, 0.0) for s in SIGNALS}),
        "signals_present": "[]",
        "resurgence": extra.pop("resurgence", 0.1),
        "primary_region": None,
    }


@pytest.fixture()
def pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    a = pd.DataFrame(
        [
            _example(
                "x1", relevance=0.9, event="Armed clash", p_event=0.8, severity="low", signals={"militant_attack": 0.9}
            ),
            _example("x2", relevance=0.2, event="Attack", p_event=0.6, severity="none", signals={}, source="satp"),
            _example("x3", relevance=0.5, event="Attack", p_event=0.5, severity="high", signals={"regrouping": 0.1}),
            _example("only-a", relevance=0.5, event="Attack", p_event=0.5, severity="high", signals={}),
        ]
    )
    b = pd.DataFrame(
        [
            _example(
                "x1", relevance=0.85, event="Armed clash", p_event=0.7, severity="low", signals={"militant_attack": 0.3}
            ),
            _example("x2", relevance=0.25, event="Grenade", p_event=0.8, severity="none", signals={}, source="satp"),
            _example("x3", relevance=0.5, event="Attack", p_event=0.5, severity="none", signals={"regrouping": 0.1}),
            _example("only-b", relevance=0.5, event="Attack", p_event=0.5, severity="high", signals={}),
        ]
    )
    return expand_examples(a), expand_examples(b)


def test_join_keeps_shared_examples_and_measures_each_gap(pair):
    joined = join_examples(*pair).set_index("id")
    assert sorted(joined.index) == ["x1", "x2", "x3"]
    assert joined.loc["x1", "gap.militant_attack"] == pytest.approx(0.6)
    assert joined.loc["x1", "gap.relevance"] == pytest.approx(0.05)
    assert joined.loc["x1", "gap"] == pytest.approx(0.6) and joined.loc["x1", "gap_on"] == "militant_attack"
    # different top event type: the mean of the two models' confidence in their picks
    assert joined.loc["x2", "gap.event_type"] == pytest.approx(0.7) and joined.loc["x2", "gap_on"] == "event_type"
    # severity high vs none: three levels apart of three
    assert joined.loc["x3", "gap.severity"] == pytest.approx(1.0)


def test_disagreements_sort_filter_and_paginate(pair):
    joined = join_examples(*pair)
    page = disagreements(joined, DisagreementQuery(min_gap=0.0))
    assert [r["id"] for r in page.rows] == ["x3", "x2", "x1"] and page.matched == 3 and page.total == 3
    assert page.rows[0]["shown_gap"] == pytest.approx(1.0)
    by_label = disagreements(joined, DisagreementQuery(label="militant_attack", min_gap=0.0))
    assert [r["id"] for r in by_label.rows] == ["x1"]
    by_source = disagreements(joined, DisagreementQuery(source="satp", min_gap=0.0))
    assert [r["id"] for r in by_source.rows] == ["x2"]
    assert disagreements(joined, DisagreementQuery(min_gap=0.65)).matched == 2
    paged = disagreements(joined, DisagreementQuery(min_gap=0.0, page=99), per_page=2)
    assert paged.pages == 2 and paged.page == 2 and [r["id"] for r in paged.rows] == ["x1"]
    # the display row lists the signal they disagree on, with both probabilities and the gold label
    signal = next(s for s in paged.rows[0]["signal_rows"] if s["name"] == "militant_attack")
    assert (signal["a"], signal["b"], signal["gold"]) == (0.9, 0.3, 1.0)


def test_unknown_label_is_bad_input():
    with pytest.raises(BadInputError, match="label must be one of"):
        DisagreementQuery(label="nonsense")


def test_expand_examples_rejects_a_table_without_the_model_columns():
    with pytest.raises(ValueError, match="lacks columns"):
        expand_examples(pd.DataFrame({"example_set": ["s"], "id": ["1"]}))


def test_confusion_counts_gold_against_prediction(pair):
    a, _ = pair
    matrix = confusion(a, "gold_event_type", "event_type", ["Armed clash", "Attack", "Grenade"])
    assert matrix.labels == ["Armed clash", "Attack"]
    assert matrix.counts == [[1, 3], [0, 0]] and matrix.n == 4
    assert matrix.accuracy == pytest.approx(0.25)
    sev = severity_confusion(a)
    assert sev.labels == ["none", "low", "high"] and sum(map(sum, sev.counts)) == 4


def test_reliability_bins_and_ece_match_training_metrics():
    rng = np.random.default_rng(0)
    proba = rng.random(500)
    gold = (rng.random(500) < proba).astype(float)
    rel = reliability(gold, proba)
    assert rel.n == 500 and sum(rel.counts) == 500 and len(rel.counts) == 10
    assert rel.ece == pytest.approx(expected_calibration_error(gold, proba))
    assert all(0 <= m <= 1 for m in rel.mean_predicted)
    assert reliability([np.nan], [0.5]).n == 0


def test_reliability_sets_pool_signals_with_gold_only(pair):
    a, _ = pair
    sets = reliability_sets(a)
    assert sets["relevance"].n == 4
    assert sets["signals (pooled)"].n == 4  # one gold signal label per example
    assert sets["resurgence"].n == 0


EVAL_A = {
    "rows": [
        {
            "task": "relevance",
            "data": "bbc",
            "metric": "F1",
            "value": 0.8,
            "n": 10,
            "extra": {"ece": 0.10},
            "per_label": {},
        },
        {
            "task": "severity",
            "data": "t",
            "metric": "macro F1",
            "value": 0.5,
            "n": 5,
            "extra": {},
            "per_label": {"low": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 3}},
        },
    ]
}
EVAL_B = {
    "rows": [
        {
            "task": "relevance",
            "data": "bbc",
            "metric": "F1",
            "value": 0.9,
            "n": 10,
            "extra": {"ece": 0.20},
            "per_label": {},
        },
        {"task": "new task", "data": "x", "metric": "F1", "value": 0.3, "n": 2, "extra": {}, "per_label": {}},
        {
            "task": "severity",
            "data": "t",
            "metric": "macro F1",
            "value": 0.5,
            "n": 5,
            "extra": {},
            "per_label": {
                "low": {"precision": 0.4, "recall": 0.4, "f1": 0.4, "support": 3},
                "high": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
            },
        },
    ]
}


def test_benchmark_lines_side_by_side_with_deltas_and_direction():
    lines = {(line.task, line.metric): line for line in benchmark_lines(EVAL_A, EVAL_B)}
    f1 = lines[("relevance", "F1")]
    assert (f1.a, f1.b, f1.n_a) == (0.8, 0.9, 10) and f1.delta == pytest.approx(0.1) and f1.verdict == "better"
    ece = lines[("relevance", "ece")]
    assert not ece.headline and ece.verdict == "worse"  # calibration error went up
    assert lines[("severity", "macro F1")].verdict == "same"
    new = lines[("new task", "F1")]
    assert new.a is None and new.b == 0.3 and new.delta is None and new.verdict == ""
    assert [line.task for line in benchmark_lines(EVAL_A, None)] == ["relevance", "relevance", "severity"]


def test_label_tables_join_labels_of_both_models():
    (table,) = label_tables(EVAL_A, EVAL_B)
    assert table.task == "severity"
    lines = {line.label: line for line in table.lines}
    assert lines["low"].delta_f1 == pytest.approx(-0.1) and lines["low"].verdict == "worse"
    assert lines["high"].a is None and lines["high"].delta_f1 is None


def test_verdict_tolerates_rounding_noise():
    assert verdict(0.0001, True) == "same" and verdict(-0.01, False) == "better" and verdict(None, True) == ""


def test_default_pair_is_champion_vs_challenger_else_the_newest():
    assert default_pair(["5", "4", "3"], {"champion": "3", "challenger": "4"}) == ("3", "4")
    assert default_pair(["5", "4", "3"], {"champion": "4"}) == ("4", "5")
    assert default_pair(["5", "4"], {}) == ("4", "5")
    assert default_pair(["1"], {"champion": "1", "challenger": "1"}) == ("1", "1")
    assert default_pair([], {}) == (None, None)


def test_headline_columns_only_those_some_version_has():
    columns = headline_columns([{"eval.severity.macro F1": 0.5}, {}])
    assert [key for _, key, _ in columns] == ["eval.severity.macro F1"]


@pytest.mark.parametrize("raw", ["abc", "", None, "0", "-1", "1.5", "1; drop", "9999999999"])
def test_parse_version_rejects_what_is_not_a_version(raw):
    with pytest.raises(BadInputError):
        parse_version(raw)


def test_parsers_accept_good_values_and_reject_bad_ones():
    assert parse_version(" 12 ") == "12"
    assert parse_int(None, "page", default=1) == 1 and parse_int("3", "page", default=1) == 3
    assert parse_gap(None) == 0.2 and parse_gap("0.5") == 0.5
    for bad in ("x", "0"):
        with pytest.raises(BadInputError):
            parse_int(bad, "page", default=1)
    for bad in ("x", "2", "-0.1", "nan"):
        with pytest.raises(BadInputError):
            parse_gap(bad)


def test_highlight_marks_verbatim_evidence_and_overlaps():
    text = "Calm start. Gunmen attacked the prison. Fighters fled across the border. End."
    segments = highlight(
        text,
        {
            "militant_attack": ["Gunmen attacked the prison."],
            "prison_break": ["Gunmen attacked the prison. Fighters fled"],
            "cross_border": ["Fighters fled across the border.", "not in the text"],
        },
    )
    assert "".join(s.text for s in segments) == text
    assert Segment("Gunmen attacked the prison.", ("militant_attack", "prison_break")) in segments
    assert Segment("Fighters fled", ("prison_break", "cross_border")) in segments
    assert segments[0] == Segment("Calm start. ", ())
    assert segments[-1] == Segment(" End.", ())


def test_highlight_marks_every_occurrence_and_survives_no_evidence():
    text = "Boom. Quiet. Boom."
    marked = [s for s in highlight(text, {"militant_attack": ["Boom."]}) if s.signals]
    assert len(marked) == 2
    assert highlight(text, {}) == [Segment(text, ())]
    assert highlight("", {"x": ["y"]}) == []


def test_expand_examples_survives_malformed_json_cells(pair):
    a, _ = pair
    raw = a[[c for c in a.columns if not c.startswith(("p.", "gold."))]].copy()
    raw["signals"] = ['{"militant_attack": 0.7}', "not json", None, "1, 2"]
    expanded = expand_examples(raw)
    assert expanded["p.militant_attack"].tolist()[0] == 0.7
    assert expanded["p.militant_attack"].isna().tolist() == [False, True, True, True]


def test_redact_uri_hides_passwords_only():
    assert redact_uri("postgresql+psycopg://ts:s3cret@db.internal:5432/mlflow") == (
        "postgresql+psycopg://ts:***@db.internal:5432/mlflow"
    )
    assert redact_uri("https://user:p@ss@mlflow.example.org") == "https://user:***@mlflow.example.org"
    assert redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
    assert redact_uri("http://mlflow.internal:5000") == "http://mlflow.internal:5000"
