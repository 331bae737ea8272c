"""The ceiling of place accuracy from a hand audit (``training.places_ceiling``)."""

from __future__ import annotations

import json

import pytest

from training.evaluate_places import PlacesReport, SourceScore
from training.places_ceiling import AuditRow, Share, load_places_audit, places_ceiling


def _row(row_id: str, population: str, *, places=(), country_cue=False, admin1_cue=False, cc="SY", admin1="Idlib"):
    return AuditRow(
        split="dev",
        population=population,
        id=row_id,
        source="acled",
        gold_country=cc,
        gold_admin1=admin1,
        named_places=tuple(places),
        country_cue=country_cue if population == "no_region" else None,
        admin1_cue=admin1_cue,
        note="test",
    )


def _report() -> PlacesReport:
    score = SourceScore("acled", rows=100, covered=96, country_correct=90, admin1_rows=80, admin1_correct=60, seconds=0)
    return PlacesReport(
        [score],
        no_region_ids=frozenset({"a", "b", "c", "d"}),
        country_only_ids=frozenset({"e", "f"}),
        admin1_row_ids=frozenset({"a", "b", "d", "e", "f", "g"}),
    )


def test_wilson_interval() -> None:
    low, high = Share(5, 10).interval
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    assert Share(0, 0).interval == (0.0, 1.0) and Share(0, 0).value == 0.0
    low, high = Share(0, 20).interval
    assert low == 0.0 and 0.1 < high < 0.2


def test_ceiling_counts_rows_whose_text_names_nothing() -> None:
    audit = [
        _row("a", "no_region"),  # names nothing: no country, no region
        _row("b", "no_region", places=["Hasakah"], admin1="Al Hasakah"),  # a place the offline gazetteer holds in SY
        _row("c", "no_region", country_cue=True, admin1=None),  # an actor of one country; no gold admin-1
        _row("x", "no_region"),  # placed by today's resolver: not in the population any more
        _row("e", "country_only"),
        _row("f", "country_only", places=["Korizena"], cc="BF", admin1="Sahel"),  # a village no package holds
    ]
    ceiling = places_ceiling(_report(), audit, "dev")
    assert ceiling is not None and ceiling.dropped == 1
    assert (ceiling.no_country.hits, ceiling.no_country.n) == (1, 3)
    assert ceiling.country_bound(ceiling.no_country.value) == pytest.approx(1 - 4 * (1 / 3) / 100)
    assert ceiling.no_region_admin == 3  # a, b and d carry a gold admin-1
    # Any resolver: a and e name nothing -> 1/2 of each population; offline: f's village is unknown too.
    assert ceiling.admin1_bound(offline=False) == pytest.approx(1 - (3 * 0.5 + 2 * 0.5) / 80)
    assert ceiling.admin1_bound(offline=True) == pytest.approx(1 - (3 * 0.5 + 2 * 1.0) / 80)
    low, high = ceiling.admin1_bound(offline=False, pick=1), ceiling.admin1_bound(offline=False, pick=0)
    assert low < ceiling.admin1_bound(offline=False) < high
    text = ceiling.render()
    assert "| country | 1/3 = 0.33 | 0.987 |" in text and "admin-1, offline" in text


def test_no_ceiling_for_a_split_without_audit_or_without_audited_rows_left() -> None:
    assert places_ceiling(_report(), [_row("a", "no_region")], "test") is None
    assert places_ceiling(_report(), [_row("x", "no_region"), _row("a", "country_only")], "dev") is None


def test_a_bad_audit_line_names_its_number_and_field(tmp_path) -> None:
    good = _row("a", "no_region").model_dump()
    path = tmp_path / "audit.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "colour": "red"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"audit\.jsonl:2:.*colour"):
        load_places_audit(path)


def test_the_committed_audit_is_valid() -> None:
    rows = load_places_audit()
    assert len(rows) >= 150 and len({r.id for r in rows}) == len(rows)
    assert {r.population for r in rows} == {"no_region", "country_only"}
    assert all(r.split == "dev" for r in rows)  # chosen on dev: the test split is never read row by row
