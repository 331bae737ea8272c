"""Event types of the wire-style probe items (``tests/fixtures/places_probe.jsonl``), per model.

The items were written for the place-resolution check, not drawn from any corpus; each relevant one also carries
the ACLED sub-event types an ACLED coder could give it (one or a few). The share of items whose top event type is
among them says how a model's event-type head reads news prose rather than ACLED's notes. 48 items: a check of
generalisation with wide error bars, never a benchmark to choose on.

``python -m training.probe MODEL_URI [MODEL_URI ...]``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

DEFAULT_ITEMS = Path("tests/fixtures/places_probe.jsonl")


def load_items(path: Path = DEFAULT_ITEMS, *, with_event_types: bool = True) -> list[dict[str, object]]:
    """The probe items; only those that carry event types unless ``with_event_types`` is False."""
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [item for item in items if item.get("event_types") or not with_event_types]


def event_type_hits(predictions: list[dict[str, object]], items: list[dict[str, object]]) -> tuple[int, Counter[str]]:
    """How many items' top event type is one of theirs, and the misses as "gold -> predicted" counts."""
    wanted = {str(item["id"]): list(item["event_types"]) for item in items}  # type: ignore[call-overload]
    hits, misses = 0, Counter[str]()
    for assessment in predictions:
        types = assessment["event_types"]
        assert isinstance(types, dict)
        top = max(types, key=types.__getitem__)
        gold = wanted[str(assessment["id"])]
        if top in gold:
            hits += 1
        else:
            misses[f"{gold[0]} -> {top}"] += 1
    return hits, misses


def main(argv: list[str] | None = None) -> int:
    """Print each model's hits on the probe items."""
    from threatscore.registry import configure_tracking, load_model
    from threatscore.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--items", type=Path, default=DEFAULT_ITEMS)
    args = parser.parse_args(argv)
    configure_tracking(get_settings())
    items = load_items(args.items)
    records = [{"id": item["id"], "text": item["text"]} for item in items]
    for uri in args.models:
        predictions = load_model(uri).predict(records)
        hits, misses = event_type_hits(predictions, items)
        lines = [f"{uri}: {hits}/{len(items)} top event types among the item's own"]
        lines += [f"  {miss}: {count}" for miss, count in misses.most_common()]
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
