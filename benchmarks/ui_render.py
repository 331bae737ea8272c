"""Render times of the comparison UI's pages at scale: 50 registered versions, two evaluated on 10,000 examples.

Builds a synthetic registry (``tests/ui/synthetic.py``: real MLflow runs, artifacts and versions in a temporary
SQLite registry, nothing of the real one is touched), serves the app in-process and times each page: the first
request (cold: artifacts downloaded, parsed and joined) and the median / max of the next ``--repeat`` (warm).
Prints a Markdown table for ``benchmarks/RESULTS.md``.

    .venv/bin/python benchmarks/ui_render.py --versions 50 --examples 10000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    """Build the registry, time the pages, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from threatscore.settings import OFFLINE_ENV

    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)

    from starlette.testclient import TestClient

    from tests.ui.synthetic import build_registry
    from threatscore.settings import Settings
    from ui.app import create_app

    with tempfile.TemporaryDirectory(prefix="ui-render-") as tmp:
        root = Path(tmp)
        uri = f"sqlite:///{root / 'mlflow.db'}"
        started = time.perf_counter()
        versions = build_registry(
            uri, "ui-bench", root / "artifacts", n_examples=args.examples, n_versions=args.versions
        )
        built = time.perf_counter() - started
        sys.stderr.write(
            f"registry: {len(versions)} versions, {args.examples:,} examples x 2, built in {built:.1f} s\n"
        )
        app = create_app(
            Settings(tracking_uri=uri, model_name="ui-bench"),
            db_url=f"sqlite:///{root / 'keys.db'}",
            cache_dir=root / "cache",
        )
        a, b = versions[-2], versions[-1]
        pages = [
            ("Models (50 versions)", "/models"),
            ("Compare (benchmarks, per label, confusion, reliability)", f"/compare?a={a}&b={b}"),
            ("Disagreements, first page", f"/disagreements?a={a}&b={b}"),
            (
                "Disagreements, label + source filter, page 3",
                f"/disagreements?a={a}&b={b}&label=relevance&source=acled&page=3",
            ),
            ("Disagreements, every example (gap ≥ 0), last page", f"/disagreements?a={a}&b={b}&min_gap=0&page=200"),
            ("Try it (form + example picker)", f"/try?a={a}&b={b}"),
            ("Try it, example loaded", f"/try?a={a}&b={b}&example=ex-000123"),
            ("Promote (form)", f"/promote?a={a}&b={b}"),
        ]
        rows = []
        with TestClient(app) as client:
            for name, path in pages:
                times = []
                for _ in range(args.repeat + 1):
                    t0 = time.perf_counter()
                    response = client.get(path)
                    times.append(1000 * (time.perf_counter() - t0))
                    assert response.status_code == 200, (path, response.status_code, response.text[:300])
                rows.append((name, times[0], statistics.median(times[1:]), max(times[1:]), len(response.content)))
    lines = ["| page | first request ms (cold) | warm median ms | warm max ms | HTML kB |", "|---|---|---|---|---|"]
    lines += [
        f"| {name} | {cold:.0f} | {median:.0f} | {worst:.0f} | {size / 1000:.0f} |"
        for name, cold, median, worst, size in rows
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
