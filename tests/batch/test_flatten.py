"""The one flattening both engines use: lossless, typed, and the present flags by the model's thresholds."""

from __future__ import annotations

import json

import pytest

from threatscore.batch.flatten import OUTPUT_SCHEMA, assessments_table, flatten_assessment, unflatten
from threatscore.registry import load_model
from threatscore.schemas import Assessment
from threatscore.taxonomy import SIGNALS


@pytest.fixture(scope="module")
def assessments(registered_tiny, good_articles):
    from threatscore.registry import configure_tracking

    configure_tracking(registered_tiny["settings"])
    model = load_model(f"models:/threatscore/{registered_tiny['result'].version}")
    return model.predict(good_articles)


def test_flatten_then_unflatten_gives_back_the_assessment(assessments):
    for assessment in assessments:
        row = flatten_assessment(assessment, {})
        assert unflatten(row) == assessment
        Assessment.model_validate(unflatten(row))


def test_table_has_the_output_schema_and_the_columns_analysts_filter_on(assessments):
    table = assessments_table(assessments, dict.fromkeys(SIGNALS, 0.5))
    assert table.schema == OUTPUT_SCHEMA and table.num_rows == len(assessments)
    seed = table.to_pylist()[0]
    assert seed["id"] == "seed" and seed["severity_level"] == "high" and seed["fatalities"] == 27
    assert seed["primary_country_code"] == "LY" and 0.0 <= seed["primary_risk_score"] <= 1.0
    assert seed["top_event_type"] in json.loads(seed["event_types_json"])
    assert seed["top_event_type_probability"] == max(json.loads(seed["event_types_json"]).values())
    assert len(json.loads(seed["event_types_json"])) == 25
    evidence = json.loads(seed["evidence_json"])
    assert evidence and all(evidence[name] for name in evidence)  # only signals that have sentences


def test_present_flags_follow_the_models_thresholds(assessments):
    seed = assessments[0]
    probability = seed["signals"]["regrouping"]["probability"]
    at = flatten_assessment(seed, {"regrouping": probability})
    above = flatten_assessment(seed, {"regrouping": min(1.0, probability + 1e-6)})
    assert at["regrouping_present"] is True and above["regrouping_present"] is False
    default = flatten_assessment(seed, {})
    assert all(default[f"{n}_present"] == (seed["signals"][n]["probability"] >= 0.5) for n in SIGNALS)


def test_the_spark_struct_mirrors_the_assessment_schema():
    pytest.importorskip("pyspark")
    from pyspark.sql import types as t

    from threatscore.batch.spark import assessment_struct, from_spark

    struct = assessment_struct()
    assert isinstance(struct, t.StructType)
    assert struct.fieldNames() == list(Assessment.model_fields)
    signals = struct["signals"].dataType
    assert isinstance(signals, t.MapType) and signals.valueType.fieldNames() == ["probability", "evidence"]
    assert isinstance(struct["severity"].dataType["fatalities"].dataType, t.LongType)
    # Arrow hands maps back as (key, value) pairs; from_spark restores the dicts, in order.
    value = {"probabilities": [("none", 0.1), ("high", 0.9)], "level": "high", "fatalities": None}
    assert from_spark(value, struct["severity"].dataType) == {
        "level": "high",
        "fatalities": None,
        "probabilities": {"none": 0.1, "high": 0.9},
    }
