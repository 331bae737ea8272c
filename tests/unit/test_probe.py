"""The wire-style probe items' event types (training.probe)."""

from __future__ import annotations

from threatscore.taxonomy import EVENT_TYPES
from training.probe import event_type_hits, load_items


def test_probe_items_name_known_event_types():
    items = load_items()
    assert len(items) == 48
    assert all(set(item["event_types"]) <= set(EVENT_TYPES) for item in items)


def test_hits_count_a_top_type_among_the_items_own():
    items = [
        {"id": "a", "event_types": ["Suicide bomb"]},
        {"id": "b", "event_types": ["Armed clash", "Attack"]},
        {"id": "c", "event_types": ["Air/drone strike"]},
    ]
    predictions = [
        {"id": "a", "event_types": {"Suicide bomb": 0.6, "Attack": 0.4}},
        {"id": "b", "event_types": {"Attack": 0.5, "Peaceful protest": 0.2}},
        {"id": "c", "event_types": {"Peaceful protest": 0.5, "Air/drone strike": 0.3}},
    ]
    hits, misses = event_type_hits(predictions, items)
    assert hits == 2
    assert misses == {"Air/drone strike -> Peaceful protest": 1}
