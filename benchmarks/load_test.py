"""Load test of a running threatscore service (``threatscore serve``), 127.0.0.1 only, bounded in time and count.

For each concurrency level, N asyncio clients send ``POST /score`` requests back to back for a fixed time, each
with fresh paragraph-length articles (unique ids), and the script reports requests/s, articles/s, latency
p50/p95/p99, errors, the server's RSS over time (the ``bentoml serve`` process and all its workers), and finally
checks that every article the service answered for is in its database.

    .venv/bin/python benchmarks/load_test.py --url http://127.0.0.1:3000 --key "$KEY" \\
        --db-url sqlite:///load.db --clients 8 32 --duration 60 --json benchmarks/load_test.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx

logger = logging.getLogger("load_test")

#: Hard bounds, whatever the arguments say.
MAX_DURATION_S = 600
MAX_REQUESTS = 500_000

PLACES = [
    ("Maiduguri", "Borno State", "Nigeria"),
    ("Qatrun", "Murzuq", "Libya"),
    ("Gao", "Gao Region", "Mali"),
    ("Diffa", "Diffa Region", "Niger"),
    ("Peshawar", "Khyber Pakhtunkhwa", "Pakistan"),
    ("Hasakah", "Al-Hasakah", "Syria"),
    ("Djibo", "Sahel Region", "Burkina Faso"),
    ("Pemba", "Cabo Delgado", "Mozambique"),
]
TEMPLATES = [
    "Gunmen attacked a police post near {town} in {region}, {country}, on {day}, killing {n} officers and wounding "
    "several civilians. Local officials said the attackers arrived on motorcycles and set fire to two vehicles before "
    "fleeing into the bush. No group has claimed responsibility, but security sources blamed militants who have "
    "stepped up raids in the area since government troops withdrew from several outposts last year.",
    "Militants claimed responsibility for a roadside bomb that struck an army convoy outside {town}, {country}, "
    "killing {n} soldiers. In a statement posted online, the group said it was rebuilding its cells in {region} and "
    "urged young men to join its ranks. Analysts warned that the attack showed the group regaining capability after "
    "a string of defeats, exploiting divisions among local authorities.",
    "Security forces launched a clearing operation around {town} in {region} after an assault on a prison freed "
    "dozens of detainees, including {n} suspected fighters. The army said helicopters and ground troops were "
    "pursuing the escapees toward the border, where officials fear they will link up with affiliates abroad.",
    "Hundreds of residents marched peacefully through {town}, {country}, on {day} to demand better roads and "
    "water supplies. The protest ended without incident, and the regional governor of {region} promised to meet "
    "community leaders next week to discuss the budget.",
    "The national football team beat its rivals 3-{n} in a friendly match on {day}. Fans in {town} celebrated late "
    "into the night, and the coach praised the young squad for its discipline ahead of the regional championship.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def make_article(rng: random.Random, prefix: str, index: int) -> dict[str, Any]:
    """A paragraph-length article (60-80 words) with a unique id."""
    town, region, country = rng.choice(PLACES)
    text = rng.choice(TEMPLATES).format(
        town=town, region=region, country=country, day=rng.choice(DAYS), n=rng.randint(1, 30)
    )
    day = rng.randint(1, 28)
    return {"id": f"{prefix}-{index}", "text": text, "published": f"2024-03-{day:02d}", "source": "load-test"}


@dataclass
class LevelResult:
    """What one concurrency level measured."""

    clients: int
    articles_per_request: int
    duration_s: float
    requests: int
    errors: int
    error_examples: list[str]
    requests_per_s: float
    articles_per_s: float
    latency_ms: dict[str, float]
    rss_mb: list[tuple[float, float]] = field(default_factory=list)
    scored_ids: list[str] = field(default_factory=list, repr=False)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def server_processes(port: int, pid: int | None) -> list[Any]:
    """The server process tree: ``pid`` (or the ``bentoml serve`` process behind ``port``) and its children."""
    import psutil

    root = None
    if pid is not None:
        root = psutil.Process(pid)
    else:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                root = psutil.Process(conn.pid)
                break
        while root is not None:  # climb to the process that started the workers
            parent = root.parent()
            if parent is None or "bentoml" not in " ".join(parent.cmdline()):
                break
            root = parent
    if root is None:
        return []
    return [root, *root.children(recursive=True)]


def rss_mb(port: int, pid: int | None) -> float:
    """Resident memory of the whole server process tree, in MB."""
    import psutil

    total = 0
    for process in server_processes(port, pid):
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total / 1e6


async def sample_rss(
    port: int, pid: int | None, out: list[tuple[float, float]], stop: asyncio.Event, every: float
) -> None:
    """Sample the server's RSS every ``every`` seconds until ``stop``."""
    started = time.monotonic()
    while not stop.is_set():
        out.append((round(time.monotonic() - started, 1), round(await asyncio.to_thread(rss_mb, port, pid), 1)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def run_level(args: argparse.Namespace, clients: int, prefix: str) -> LevelResult:
    """N clients scoring back to back for ``args.duration`` seconds (or until the request budget is spent)."""
    latencies: list[float] = []
    errors: list[str] = []
    scored: list[str] = []
    budget = {"left": min(args.max_requests, MAX_REQUESTS)}
    deadline = time.monotonic() + min(args.duration, MAX_DURATION_S)
    headers = {"Authorization": f"Bearer {args.key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    port = urlparse(args.url).port or 80
    rss: list[tuple[float, float]] = []
    stop = asyncio.Event()

    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=60, limits=limits) as http:

        async def client(number: int) -> None:
            rng = random.Random(f"{prefix}-{number}")
            index = 0
            while time.monotonic() < deadline and budget["left"] > 0:
                budget["left"] -= 1
                batch = [make_article(rng, f"{prefix}-c{number}", index + i) for i in range(args.articles_per_request)]
                index += len(batch)
                started = time.perf_counter()
                try:
                    response = await http.post("/score", json={"articles": batch})
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                body = response.json()
                if body["errors"] or len(body["assessments"]) != len(batch):
                    errors.append(f"item errors: {body['errors'][:2]}")
                scored.extend(a["id"] for a in body["assessments"])

        sampler = asyncio.create_task(sample_rss(port, args.server_pid, rss, stop, args.rss_every))
        started = time.monotonic()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.monotonic() - started
        stop.set()
        await sampler
    rss.append((round(elapsed, 1), round(rss_mb(port, args.server_pid), 1)))
    ok = len(latencies)
    return LevelResult(
        clients=clients,
        articles_per_request=args.articles_per_request,
        duration_s=round(elapsed, 2),
        requests=ok,
        errors=len(errors),
        error_examples=errors[:5],
        requests_per_s=round(ok / elapsed, 2),
        articles_per_s=round(len(scored) / elapsed, 2),
        latency_ms={
            "p50": round(percentile(latencies, 50), 1),
            "p95": round(percentile(latencies, 95), 1),
            "p99": round(percentile(latencies, 99), 1),
            "mean": round(statistics.fmean(latencies), 1) if latencies else float("nan"),
            "max": round(max(latencies), 1) if latencies else float("nan"),
        },
        rss_mb=rss,
        scored_ids=scored,
    )


def check_stored(db_url: str, ids: set[str]) -> dict[str, int]:
    """How many of the answered article ids have an assessment in the service's database."""
    from sqlalchemy import create_engine, text

    from serving.db import normalize_url

    engine = create_engine(normalize_url(db_url))
    found: set[str] = set()
    ordered = sorted(ids)
    with engine.connect() as connection:
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            params = {f"p{i}": v for i, v in enumerate(chunk)}
            placeholders = ", ".join(f":p{i}" for i in range(len(chunk)))
            rows = connection.execute(
                text(
                    "SELECT DISTINCT a.article_id FROM articles a JOIN assessments s ON s.article_pk = a.id "
                    f"WHERE a.article_id IN ({placeholders})"
                ),
                params,
            )
            found.update(r[0] for r in rows)
    engine.dispose()
    return {"answered": len(ids), "in_database": len(found), "missing": len(ids - found)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="The running service (127.0.0.1 only).")
    parser.add_argument("--key", default=os.environ.get("THREATSCORE_API_KEY"), help="API key with the score role.")
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32], help="Concurrency levels, run in turn.")
    parser.add_argument("--duration", type=float, default=60.0, help=f"Seconds per level (at most {MAX_DURATION_S}).")
    parser.add_argument("--articles-per-request", type=int, default=1)
    parser.add_argument("--max-requests", type=int, default=100_000, help="Request budget per level.")
    parser.add_argument("--db-url", help="The service's database, to check every scored article was kept.")
    parser.add_argument("--server-pid", type=int, help="Server process (default: found by the port).")
    parser.add_argument("--rss-every", type=float, default=5.0, help="Seconds between RSS samples.")
    parser.add_argument("--warmup", type=int, default=20, help="Requests sent before measuring.")
    parser.add_argument("--json", help="Also write the results here.")
    args = parser.parse_args(argv)
    host = urlparse(args.url).hostname
    if host not in {"127.0.0.1", "localhost"}:
        parser.error("the load test only targets a service on 127.0.0.1")
    if not args.key:
        parser.error("an API key is needed: --key or THREATSCORE_API_KEY")
    if not 1 <= args.articles_per_request <= 256:
        parser.error("--articles-per-request must be 1 to 256")
    return args


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, run every level, check the database; returns the report."""
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(
        base_url=args.url, headers={"Authorization": f"Bearer {args.key}"}, timeout=60
    ) as http:
        ready = await http.get("/readyz")
        ready.raise_for_status()
        model_response = await http.get("/model")
        if model_response.status_code != 200:
            # A wrong or missing key fails every request: say so now rather than after minutes of 401s.
            raise SystemExit(f"GET /model answered {model_response.status_code}: {model_response.text[:300]}")
        model = model_response.json()
        rng = random.Random(run)
        for i in range(args.warmup):
            warm = await http.post("/score", json={"articles": [make_article(rng, f"warm-{run}", i)]})
            if warm.status_code != 200:
                raise SystemExit(f"warm-up POST /score answered {warm.status_code}: {warm.text[:300]}")
    levels = []
    for clients in args.clients:
        logger.info("level: %d clients x %.0f s", clients, args.duration)
        result = await run_level(args, clients, f"load-{run}-{clients}")
        logger.info(
            "%d clients: %.1f req/s, %.1f articles/s, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, %d errors",
            clients,
            result.requests_per_s,
            result.articles_per_s,
            result.latency_ms["p50"],
            result.latency_ms["p95"],
            result.latency_ms["p99"],
            result.errors,
        )
        levels.append(result)
    report: dict[str, Any] = {
        "url": args.url,
        "model": {k: model.get(k) for k in ("name", "version", "alias", "source")},
        "levels": [{k: v for k, v in asdict(level).items() if k != "scored_ids"} for level in levels],
    }
    if args.db_url:
        report["database_check"] = check_stored(args.db_url, {i for level in levels for i in level.scored_ids})
    return report


def render(report: dict[str, Any]) -> str:
    """The results as a Markdown table, RSS as first/max/last samples, and the database check."""
    model = report["model"]
    lines = [
        f"model {model['name']} version {model['version']} ({model['alias']}, from the {model['source']})",
        "",
        "| clients | articles/request | duration s | requests | req/s | articles/s | p50 ms | p95 ms | p99 ms "
        "| errors | server RSS MB (start → max → end) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level in report["levels"]:
        rss = [mb for _, mb in level["rss_mb"]] or [float("nan")]
        latency = level["latency_ms"]
        lines.append(
            f"| {level['clients']} | {level['articles_per_request']} | {level['duration_s']} | {level['requests']} "
            f"| {level['requests_per_s']} | {level['articles_per_s']} | {latency['p50']} | {latency['p95']} "
            f"| {latency['p99']} | {level['errors']} | {rss[0]:.0f} → {max(rss):.0f} → {rss[-1]:.0f} |"
        )
    if "database_check" in report:
        check = report["database_check"]
        lines += [
            "",
            f"database: {check['in_database']} of {check['answered']} answered articles stored, "
            f"{check['missing']} missing",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the load test; exit 1 when a request failed or an answered article is missing from the database."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    report = asyncio.run(main_async(args))
    sys.stdout.write(render(report) + "\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(report, indent=1) + "\n")
    failed = any(level["errors"] for level in report["levels"])
    missing = report.get("database_check", {}).get("missing", 0)
    return 1 if failed or missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
