"""One assessment → one table row: the single flattening both batch engines use, so their outputs cannot diverge.

Scalars an analyst filters on become columns (relevance, resurgence, one probability and one present flag per
signal, the top event type, severity, the primary region, the model); everything else is kept as compact JSON
strings (evidence, the full event-type distribution, severity probabilities, warnings, regions), so that
``unflatten(flatten(a)) == a``: nothing an assessment says is lost in the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from threatscore.taxonomy import SIGNALS

_JSON_COLUMNS = ("warnings_json", "evidence_json", "event_types_json", "severity_probabilities_json", "regions_json")

#: The Parquet schema of every assessment part file, whichever engine wrote it.
OUTPUT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("model_name", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("model_alias", pa.string()),
        pa.field("language", pa.string()),
        pa.field("relevance", pa.float64()),
        pa.field("resurgence_score", pa.float64()),
        pa.field("resurgence_level", pa.string()),
        *[
            field
            for name in SIGNALS
            for field in (pa.field(f"{name}_probability", pa.float64()), pa.field(f"{name}_present", pa.bool_()))
        ],
        pa.field("top_event_type", pa.string()),
        pa.field("top_event_type_probability", pa.float64()),
        pa.field("severity_level", pa.string()),
        pa.field("fatalities", pa.int64()),
        pa.field("primary_country_code", pa.string()),
        pa.field("primary_country", pa.string()),
        pa.field("primary_admin1", pa.string()),
        pa.field("primary_risk_score", pa.float64()),
        pa.field("primary_risk_level", pa.string()),
        *[pa.field(name, pa.string()) for name in _JSON_COLUMNS],
    ]
)


def _json(value: Any) -> str:
    # Compact, key order kept, non-ASCII kept as is: the same bytes whichever engine scored the row.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def signals_present(assessment: Mapping[str, Any], thresholds: Mapping[str, float]) -> dict[str, bool]:
    """Each signal at or over the model's own decision threshold (0.5 when the model names none), as the
    service decides ``signals_present``."""
    signals = assessment["signals"]
    return {name: signals[name]["probability"] >= thresholds.get(name, 0.5) for name in SIGNALS}


def flatten_assessment(assessment: Mapping[str, Any], thresholds: Mapping[str, float]) -> dict[str, Any]:
    """One Assessment dict (as the pyfunc returns it) → one row of ``OUTPUT_SCHEMA``."""
    signals = assessment["signals"]
    present = signals_present(assessment, thresholds)
    event_types: Mapping[str, float] = assessment["event_types"]
    # max() keeps the first of equal maxima, i.e. the taxonomy's order: deterministic ties.
    top_event = max(event_types, key=lambda k: event_types[k]) if event_types else None
    regions = assessment.get("regions") or []
    primary = next((r for r in regions if r.get("primary")), None)
    model = assessment["model"]
    severity = assessment["severity"]
    row: dict[str, Any] = {
        "id": assessment["id"],
        "model_name": model.get("name"),
        "model_version": model.get("version"),
        "model_alias": model.get("alias"),
        "language": assessment["language"],
        "relevance": assessment["relevance"],
        "resurgence_score": assessment["resurgence"]["score"],
        "resurgence_level": assessment["resurgence"]["level"],
    }
    for name in SIGNALS:
        row[f"{name}_probability"] = signals[name]["probability"]
        row[f"{name}_present"] = present[name]
    row.update(
        {
            "top_event_type": top_event,
            "top_event_type_probability": event_types[top_event] if top_event is not None else None,
            "severity_level": severity["level"],
            "fatalities": severity["fatalities"],
            "primary_country_code": primary["country_code"] if primary else None,
            "primary_country": primary["country"] if primary else None,
            "primary_admin1": primary.get("admin1") if primary else None,
            "primary_risk_score": primary["risk"]["score"] if primary else None,
            "primary_risk_level": primary["risk"]["level"] if primary else None,
            "warnings_json": _json(list(assessment.get("warnings") or [])),
            "evidence_json": _json({name: signals[name]["evidence"] for name in SIGNALS if signals[name]["evidence"]}),
            "event_types_json": _json(dict(event_types)),
            "severity_probabilities_json": _json(dict(severity["probabilities"])),
            "regions_json": _json(list(regions)),
        }
    )
    return row


def assessments_table(assessments: Iterable[Mapping[str, Any]], thresholds: Mapping[str, float]) -> pa.Table:
    """Flatten assessments into a table of ``OUTPUT_SCHEMA`` (an empty table when there are none)."""
    rows = [flatten_assessment(a, thresholds) for a in assessments]
    return pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA)


def unflatten(row: Mapping[str, Any]) -> dict[str, Any]:
    """The Assessment dict a row was flattened from (the inverse of ``flatten_assessment``)."""
    evidence = json.loads(row["evidence_json"])
    return {
        "id": row["id"],
        "model": {"name": row["model_name"], "version": row["model_version"], "alias": row["model_alias"]},
        "language": row["language"],
        "warnings": json.loads(row["warnings_json"]),
        "relevance": row["relevance"],
        "resurgence": {"score": row["resurgence_score"], "level": row["resurgence_level"]},
        "signals": {
            name: {"probability": row[f"{name}_probability"], "evidence": evidence.get(name, [])} for name in SIGNALS
        },
        "event_types": json.loads(row["event_types_json"]),
        "severity": {
            "level": row["severity_level"],
            "fatalities": row["fatalities"],
            "probabilities": json.loads(row["severity_probabilities_json"]),
        },
        "regions": json.loads(row["regions_json"]),
    }
