"""Archive scoring benchmark: ``threatscore score-batch`` with the local engine against the Spark engine.

For each model (the baseline and a MiniLM) it writes one synthetic archive (a folder of Parquet parts of short,
paragraph-length articles built from the templates below: conflict reports, protests, sport, business; no
corpus text), then scores it once per engine, each case in its own process (the real CLI), sampling the memory
of the whole process tree (CLI, JVM, PySpark daemon and workers) every half second with psutil. It reports
articles/s end to end (process start to exit: imports, model download and load, Spark start-up included) and
while scoring, peak RSS and PSS of the tree (RSS counts pages the forked Spark workers share once per process;
PSS splits them, so it is the honest total), and checks that the two engines wrote the same rows.

    # the full run (takes a while; run it on a quiet machine):
    .venv/bin/python benchmarks/batch_scoring.py --n-baseline 100000 --n-minilm 5000 \\
        --json benchmarks/batch_scoring.json --results benchmarks/RESULTS.md
    # a smoke run:
    .venv/bin/python benchmarks/batch_scoring.py --n-baseline 2000 --n-minilm 200 --results benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("batch_scoring")

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Archive scoring (local vs Spark)"
FULL_COMMAND = (
    ".venv/bin/python benchmarks/batch_scoring.py --n-baseline 100000 --n-minilm 5000 "
    "--json benchmarks/batch_scoring.json --results benchmarks/RESULTS.md"
)

PLACES = [
    ("Qatrun", "Murzuq", "Libya"),
    ("Maiduguri", "Borno", "Nigeria"),
    ("Gao", "Gao", "Mali"),
    ("Diffa", "Diffa", "Niger"),
    ("Djibo", "Sahel", "Burkina Faso"),
    ("Hasakah", "Al-Hasakah", "Syria"),
    ("Kandahar", "Kandahar", "Afghanistan"),
    ("Pemba", "Cabo Delgado", "Mozambique"),
]
GROUPS = ["the Islamic State", "Boko Haram", "ISWAP", "JNIM", "al-Shabaab", "the Taliban"]
TEMPLATES = [
    "Gunmen from {group} attacked a police post near {town} in {region}, {country}, killing {n} officers and "
    "wounding several civilians. Officials said the attackers came on motorcycles and burned two vehicles before "
    "fleeing. Security sources said the group has stepped up raids since troops withdrew from outposts last year.",
    "{group} claimed responsibility for a roadside bomb that struck an army convoy outside {town}, {country}, "
    "killing {n} soldiers. In a statement the group said it was rebuilding its cells in {region} and urged young "
    "men to join. Analysts said the attack showed the group regaining strength after a string of defeats.",
    "Troops launched a clearing operation around {town} in {region} after an assault on a prison freed dozens of "
    "detainees, including {n} suspected members of {group}. The army said it was pursuing the escapees toward the "
    "border, where officials fear they will link up with affiliates abroad.",
    "Hundreds of residents marched peacefully through {town}, {country}, to demand better roads and water. The "
    "protest ended without incident, and the governor of {region} promised to meet community leaders next week "
    "to discuss the budget for schools and clinics.",
    "The national football team beat its rivals 3-{n} in a friendly match. Fans in {town} celebrated late into the "
    "night, and the coach praised the young squad for its discipline ahead of the regional championship.",
    "Shares in the largest telecom company in {country} rose {n} percent after it reported record profits and "
    "announced new mobile towers in {region}. Analysts expect the expansion to reach {town} by the end of the year.",
]


def make_articles(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` short articles (60–80 words) with unique ids, deterministic from ``seed``."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        town, region, country = rng.choice(PLACES)
        text = rng.choice(TEMPLATES).format(
            town=town, region=region, country=country, group=rng.choice(GROUPS), n=rng.randint(1, 40)
        )
        rows.append(
            {
                "id": f"bench-{seed}-{i:07d}",
                "text": text,
                "title": None,
                "published": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "source": "batch-benchmark",
            }
        )
    return rows


def write_archive(folder: Path, n: int, seed: int, parts: int) -> Path:
    """A folder of ``parts`` Parquet files holding ``n`` articles."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rows = make_articles(n, seed)
    size = math.ceil(n / parts)
    for k in range(parts):
        chunk = rows[k * size : (k + 1) * size]
        if chunk:
            pq.write_table(pa.Table.from_pylist(chunk), folder / f"part-{k:05d}.parquet")
    return folder


@dataclass
class Case:
    """One measured run: a model on an engine."""

    model: str
    model_uri: str
    engine: str
    articles: int
    wall_s: float = 0.0
    scoring_s: float = 0.0
    articles_per_s: float = 0.0
    scoring_articles_per_s: float = 0.0
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    processes_max: int = 0
    exit_code: int = 0
    summary: dict[str, Any] = field(default_factory=dict, repr=False)
    stderr_tail: str = ""


class TreeSampler:
    """Peak RSS and PSS of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_rss = 0
        self.peak_pss = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            rss = pss = 0
            for process in tree:
                try:
                    info = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.max_processes = max(self.max_processes, len(tree))
            self._stop.wait(self.interval)


def run_case(case: Case, archive: Path, out: Path, args: argparse.Namespace) -> Case:
    """Score ``archive`` into ``out`` with the CLI in a fresh process, sampling its process tree."""
    command = [
        sys.executable,
        "-c",
        "import sys; from threatscore_cli.main import app; sys.argv[0] = 'threatscore'; app()",
        "score-batch",
        str(archive),
        "-o",
        str(out),
        "--engine",
        case.engine,
        "--model",
        case.model_uri,
        "--chunk-size",
        str(args.chunk_size),
        "--no-progress",
    ]
    if case.engine == "spark":
        command += ["--master", args.master, "--conf", f"spark.driver.memory={args.driver_memory}"]
    env = {**os.environ, "THREATSCORE_TRACKING_URI": args.tracking_uri}
    logger.info("%s on %s: %d articles", case.model, case.engine, case.articles)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        with TreeSampler(process.pid) as sampler:
            case.exit_code = process.wait()
        case.wall_s = time.perf_counter() - started
        stderr.seek(0)
        case.stderr_tail = stderr.read().decode("utf-8", "replace")[-2000:]
    case.peak_rss_mb = sampler.peak_rss / 2**20
    case.peak_pss_mb = sampler.peak_pss / 2**20
    case.processes_max = sampler.max_processes
    if case.exit_code != 0:
        logger.error("%s on %s failed (exit %d):\n%s", case.model, case.engine, case.exit_code, case.stderr_tail)
        return case
    case.summary = json.loads((out / "_summary.json").read_text(encoding="utf-8"))
    case.scoring_s = case.summary["this_run"]["scoring_seconds"]
    case.articles_per_s = case.articles / case.wall_s
    case.scoring_articles_per_s = case.articles / case.scoring_s if case.scoring_s else 0.0
    return case


def compare_outputs(left: Path, right: Path, tol: float = 1e-9) -> dict[str, Any]:
    """Row-for-row comparison of two output folders: ids, floats within ``tol``, everything else equal."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    a = ds.dataset(left, format="parquet").to_table()
    b = ds.dataset(right, format="parquet").to_table()
    if a.column_names != b.column_names or a.num_rows != b.num_rows:
        return {"equal": False, "rows": [a.num_rows, b.num_rows], "reason": "shape"}
    if a.column("id").to_pylist() != b.column("id").to_pylist():
        return {"equal": False, "rows": a.num_rows, "reason": "ids or order differ"}
    max_diff = 0.0
    differing: list[str] = []
    for name in a.column_names:
        x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
        if a.schema.field(name).type.equals(pa.float64()):
            diffs = [abs(p - q) for p, q in zip(x, y, strict=True) if p is not None and q is not None]
            nulls_same = all((p is None) == (q is None) for p, q in zip(x, y, strict=True))
            max_diff = max([max_diff, *diffs])
            if not nulls_same or any(d > tol for d in diffs):
                differing.append(name)
        elif x != y:
            differing.append(name)
    return {"equal": not differing, "rows": a.num_rows, "max_abs_float_diff": max_diff, "differing": differing}


def machine() -> dict[str, Any]:
    """CPU, memory and load of this machine (the benchmark shares it with whatever else runs)."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def render(report: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    smoke = report["smoke"]
    lines = [SECTION, ""]
    if smoke:
        lines += [
            f"**Smoke run, not a measurement:** {report['n_baseline']:,} baseline and {report['n_minilm']:,} MiniLM "
            "articles, on a machine shared with other jobs; it shows the benchmark works and the engines agree. "
            "The full benchmark is the command below, to be run on a quiet machine.",
            "",
        ]
    m = report["machine"]
    lines += [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; load average "
        f"{' / '.join(map(str, m['load_average_start']))} at start, {' / '.join(map(str, m['load_average_end']))} "
        f"at the end; Python {m['python']}. Spark master `{report['master']}`, driver memory "
        f"{report['driver_memory']}, chunk size {report['chunk_size']:,}. Articles: synthetic short reports "
        f"(60–80 words, templates in `benchmarks/batch_scoring.py`), as a folder of {report['parts']} Parquet parts.",
        "",
        "| model | engine | articles | wall s | articles/s (end to end) | articles/s (scoring) "
        "| peak RSS MB (tree) | peak PSS MB (tree) | processes | same rows as local |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in report["cases"]:
        same = "—" if case["engine"] == "local" else report["agreement"].get(case["model"], {}).get("equal")
        same_text = {True: "yes", False: "**no**"}.get(same, "—") if isinstance(same, bool) else same
        lines.append(
            f"| {case['model']} (`{case['model_uri']}`) | {case['engine']} | {case['articles']:,} | "
            f"{case['wall_s']:.1f} | {case['articles_per_s']:.1f} | {case['scoring_articles_per_s']:.1f} | "
            f"{case['peak_rss_mb']:.0f} | {case['peak_pss_mb']:.0f} | {case['processes_max']} | {same_text} |"
        )
    lines += [""]
    for model, agreement in report["agreement"].items():
        lines.append(
            f"- {model}: local and Spark outputs {'identical' if agreement.get('equal') else 'DIFFER'} over "
            f"{agreement.get('rows')} rows (largest float difference {agreement.get('max_abs_float_diff', 0):.1e})."
        )
    lines += [
        "- *End to end* is process start to exit (imports, model download and load, for Spark the JVM start, the "
        "Python daemon and a model load per task); *scoring* divides by the time spent inside the engines.",
        "- Memory is the whole process tree: the CLI, and for Spark the JVM, the PySpark daemon and its workers. RSS "
        "counts memory the forked workers share once per process; PSS shares it out.",
        "- With a `local[*]` master MLflow's `spark_udf` loads the model in every task (it caches models only when it "
        "ships them to remote executors): a fixed cost per part and core that small parts make dominant.",
        "",
        "Command (the full benchmark):",
        "",
        "```bash",
        FULL_COMMAND,
        "```",
        "",
        f"This run: `{report['command']}`",
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace (or append) this benchmark's section in a Markdown file, leaving the other sections alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-baseline", type=int, default=100_000, help="Articles for the baseline.")
    parser.add_argument("--n-minilm", type=int, default=5_000, help="Articles for the MiniLM.")
    parser.add_argument("--baseline-model", default="models:/threatscore/2")
    parser.add_argument("--minilm-model", default="models:/threatscore@challenger")
    parser.add_argument("--engines", nargs="+", default=["local", "spark"], choices=["local", "spark"])
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--parts", type=int, default=4, help="Parquet part files per archive.")
    parser.add_argument("--tracking-uri", default=f"sqlite:///{REPO / 'mlflow.db'}")
    parser.add_argument("--workdir", type=Path, default=None, help="Where archives and outputs go (default: tmp).")
    parser.add_argument("--json", type=Path, default=None, help="Write the full report here.")
    parser.add_argument("--results", type=Path, default=None, help="Markdown file to write the section into.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every (model, engine) case and report."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    info = machine()
    info["load_average_start"] = info.pop("load_average")
    models = [("baseline", args.baseline_model, args.n_baseline), ("MiniLM", args.minilm_model, args.n_minilm)]
    with tempfile.TemporaryDirectory(prefix="ts-batch-bench-") as tmp:
        work = args.workdir or Path(tmp)
        cases: list[Case] = []
        agreement: dict[str, Any] = {}
        for seed, (name, uri, n) in enumerate(models):
            if n <= 0:
                continue
            archive = write_archive(work / f"archive-{name}", n, seed, args.parts)
            outputs = {}
            for engine in args.engines:
                outputs[engine] = work / f"out-{name}-{engine}"
                cases.append(run_case(Case(name, uri, engine, n), archive, outputs[engine], args))
            if {"local", "spark"} <= set(outputs) and all(c.exit_code == 0 for c in cases if c.model == name):
                agreement[name] = compare_outputs(outputs["local"], outputs["spark"])
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report = {
        "smoke": args.n_baseline < 100_000 or args.n_minilm < 5_000,
        "n_baseline": args.n_baseline,
        "n_minilm": args.n_minilm,
        "master": args.master,
        "driver_memory": args.driver_memory,
        "chunk_size": args.chunk_size,
        "parts": args.parts,
        "machine": info,
        "cases": [{k: v for k, v in asdict(c).items() if k not in {"summary", "stderr_tail"}} for c in cases],
        "agreement": agreement,
        "command": ".venv/bin/python benchmarks/batch_scoring.py "
        + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
    }
    text = render(report)
    sys.stdout.write(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.results:
        write_section(args.results, text)
    failed = any(c.exit_code != 0 for c in cases) or any(not a.get("equal") for a in agreement.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
