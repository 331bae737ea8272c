"""What the comparison pages show, computed from plain data: no registry, no HTTP, no templates here.

Inputs are what an evaluation logs on a model's run (``training/evaluate.py``): ``evaluation/evaluation.json``
(benchmark rows with per-label detail) and ``evaluation/examples.parquet`` (one row per scored example, gold
labels beside the model's outputs). Every function is pure, so the numbers on the pages are unit-tested
without a browser.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS
from training.metrics import expected_calibration_error

#: Examples per page of the disagreements list (and versions per page of the models list).
PER_PAGE = 50
#: The default smallest disagreement listed: a 0.2 probability gap, or one severity level apart.
DEFAULT_MIN_GAP = 0.2
#: Bins of the reliability diagrams (equal width, as ``training.metrics.expected_calibration_error``).
RELIABILITY_BINS = 10

#: Headline numbers of the models list: (column title, run metric key, higher is better).
HEADLINE_METRICS: tuple[tuple[str, str, bool], ...] = (
    ("relevance F1 (BBC)", "eval.relevance__bbc_news_test.F1", True),
    ("ACLED weighted F1", "eval.acled_sub_event_types__held_out_slice.weighted F1", True),
    ("severity macro F1", "eval.severity.macro F1", True),
    ("signals macro F1 (gold)", "eval.signals__gold_test_part.macro F1", True),
    ("resurgence F1 (gold)", "eval.resurgence__gold_test_part.F1", True),
    ("ms / article", "eval.timing.ms_per_article", False),
)

#: What a disagreement can be about: the overall score, then each output the examples table holds.
DISAGREEMENT_LABELS: tuple[str, ...] = ("any", "relevance", "resurgence", "event_type", "severity", *SIGNALS)
_SEVERITY_RANK = {level: i for i, level in enumerate(SEVERITY_LEVELS)}
_VERSION = re.compile(r"^[1-9]\d{0,8}$")


class UIError(Exception):
    """A problem with what the user asked for, shown on the page with an HTTP status (never a traceback)."""

    status: int = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadInputError(UIError):
    """Malformed input: a version that is not a number, an unknown filter, a field missing from a form."""

    status = 422


class NotFoundError(UIError):
    """Something that does not exist, e.g. a model version the registry does not have."""

    status = 404


# --------------------------------------------------------------------------------------------- input


def parse_version(raw: str | None, what: str = "model version") -> str:
    """A registry version number as a string; ``BadInputError`` for anything else."""
    value = (raw or "").strip()
    if not _VERSION.match(value):
        raise BadInputError(f"{what} must be a version number like 3, got {raw!r}")
    return value


def parse_int(raw: str | None, what: str, *, default: int, minimum: int = 1) -> int:
    """A whole number from a query string (``default`` when absent); ``BadInputError`` when malformed."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInputError(f"{what} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise BadInputError(f"{what} must be at least {minimum}, got {value}")
    return value


def parse_gap(raw: str | None) -> float:
    """The smallest disagreement to list, in [0, 1] (``DEFAULT_MIN_GAP`` when absent)."""
    if raw is None or raw.strip() == "":
        return DEFAULT_MIN_GAP
    try:
        value = float(raw)
    except ValueError:
        raise BadInputError(f"minimum gap must be a number between 0 and 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise BadInputError(f"minimum gap must be between 0 and 1, got {value}")
    return value


# --------------------------------------------------------------------------------------------- versions


def default_pair(versions: Sequence[str], aliases: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The two versions compared when none are chosen: champion vs challenger, else the two newest.

    ``versions`` is newest first. With one version, both sides are that version.
    """
    if not versions:
        return None, None
    champion = aliases.get("champion")
    a = champion if champion in versions else versions[-1]
    challenger = aliases.get("challenger")
    if challenger in versions and challenger != a:
        return a, challenger
    b = next((v for v in versions if v != a), a)
    return a, b


def headline_columns(metrics_by_version: Sequence[Mapping[str, float]]) -> list[tuple[str, str, bool]]:
    """The headline metrics at least one of the versions has (the models list shows only those columns)."""
    return [h for h in HEADLINE_METRICS if any(h[1] in m for m in metrics_by_version)]


def redact_uri(uri: str) -> str:
    """A URI safe to show on a page: the password of ``scheme://user:password@host`` replaced by ***."""
    return re.sub(r"(//[^/:@]*):[^/]*@", r"\1:***@", uri)


def short_hash(value: str | None, length: int = 12) -> str:
    """The first characters of a hash, for a table cell ("—" when absent)."""
    return value[:length] if value else "—"


# --------------------------------------------------------------------------------------------- benchmarks


def higher_is_better(metric: str) -> bool:
    """False for calibration errors and latencies (lower is better); True for every score."""
    name = metric.lower()
    return not ("ece" in name or name.startswith("ms") or "megabytes" in name or name.endswith("_mb"))


def verdict(delta: float | None, better_high: bool, tolerance: float = 5e-4) -> str:
    """'better', 'worse' or 'same' for B minus A ('' when there is nothing to compare)."""
    if delta is None or math.isnan(delta):
        return ""
    if abs(delta) <= tolerance:
        return "same"
    return "better" if (delta > 0) == better_high else "worse"


@dataclass(frozen=True)
class BenchmarkLine:
    """One metric of one benchmark task for models A and B."""

    task: str
    data: str
    metric: str
    a: float | None
    b: float | None
    n_a: int | None = None
    n_b: int | None = None
    headline: bool = True

    @property
    def delta(self) -> float | None:
        """B minus A, when both have the metric."""
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def verdict(self) -> str:
        """Whether B is better, worse or the same as A on this metric."""
        return verdict(self.delta, higher_is_better(self.metric))


def _rows_by_task(evaluation: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {r["task"]: r for r in (evaluation or {}).get("rows", [])}


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def benchmark_lines(eval_a: Mapping[str, Any] | None, eval_b: Mapping[str, Any] | None) -> list[BenchmarkLine]:
    """The benchmark table side by side: each task's headline metric, then its extra metrics.

    Tasks keep A's order, then B's new ones; a model without a row shows None on its side.
    """
    rows_a, rows_b = _rows_by_task(eval_a), _rows_by_task(eval_b)
    lines: list[BenchmarkLine] = []
    for task in dict.fromkeys([*rows_a, *rows_b]):
        ra, rb = rows_a.get(task), rows_b.get(task)
        first = ra or rb
        assert first is not None
        lines.append(
            BenchmarkLine(
                task,
                str(first.get("data", "")),
                str(first["metric"]),
                _number(ra["value"]) if ra else None,
                _number(rb["value"]) if rb else None,
                int(ra["n"]) if ra else None,
                int(rb["n"]) if rb else None,
            )
        )
        extras = dict.fromkeys([*(ra or {}).get("extra", {}), *(rb or {}).get("extra", {})])
        for name in extras:
            lines.append(
                BenchmarkLine(
                    task,
                    "",
                    name,
                    _number((ra or {}).get("extra", {}).get(name)),
                    _number((rb or {}).get("extra", {}).get(name)),
                    headline=False,
                )
            )
    return lines


@dataclass(frozen=True)
class LabelLine:
    """Precision, recall, F1 and support of one label for models A and B."""

    label: str
    a: Mapping[str, float] | None
    b: Mapping[str, float] | None

    @property
    def delta_f1(self) -> float | None:
        """B's F1 minus A's."""
        if self.a is None or self.b is None:
            return None
        return float(self.b["f1"]) - float(self.a["f1"])

    @property
    def verdict(self) -> str:
        """Whether B's F1 is better, worse or the same as A's."""
        return verdict(self.delta_f1, True)


@dataclass(frozen=True)
class LabelTable:
    """The per-label lines of one benchmark task."""

    task: str
    lines: list[LabelLine] = field(default_factory=list)


def label_tables(eval_a: Mapping[str, Any] | None, eval_b: Mapping[str, Any] | None) -> list[LabelTable]:
    """Per-label P/R/F1 with support, for every task where either model reports labels."""
    rows_a, rows_b = _rows_by_task(eval_a), _rows_by_task(eval_b)
    tables = []
    for task in dict.fromkeys([*rows_a, *rows_b]):
        pa = (rows_a.get(task) or {}).get("per_label") or {}
        pb = (rows_b.get(task) or {}).get("per_label") or {}
        if not pa and not pb:
            continue
        tables.append(LabelTable(task, [LabelLine(label, pa.get(label), pb.get(label)) for label in {**pa, **pb}]))
    return tables


# --------------------------------------------------------------------------------------------- examples

#: Columns every examples table has (``training.evaluate.example_rows``); a table without them is not used.
EXAMPLE_COLUMNS = (
    "example_set",
    "id",
    "source",
    "text",
    "relevance",
    "event_type",
    "event_type_probability",
    "severity",
    "signals",
    "resurgence",
)
_KEY = ["example_set", "id"]
_PER_MODEL = (
    "error",
    "relevance",
    "event_type",
    "event_type_probability",
    "severity",
    "resurgence",
    "primary_region",
    *(f"p.{s}" for s in SIGNALS),
)


def _json_objects(column: pd.Series) -> list[dict[str, Any]]:
    """Each cell's JSON object ({} for an empty, malformed or non-object cell)."""
    cells = [c if isinstance(c, str) and c.strip() else "{}" for c in column]
    try:
        # One parse of a JSON array is much faster than 10,000 small ones.
        parsed = json.loads("[" + ",".join(cells) + "]")
    except json.JSONDecodeError:
        parsed = [_json_or_empty(c) for c in cells]
    if len(parsed) != len(cells):  # a cell held several values ("1, 2"): parse them one by one
        parsed = [_json_or_empty(c) for c in cells]
    return [value if isinstance(value, dict) else {} for value in parsed]


def _json_or_empty(cell: str) -> Any:
    try:
        return json.loads(cell)
    except json.JSONDecodeError:
        return {}


def expand_examples(frame: pd.DataFrame) -> pd.DataFrame:
    """The examples table with its JSON columns spread out: ``p.<signal>`` (the model's probability) and
    ``gold.<signal>`` (0/1, NaN when the example has no label for it). Duplicate keys keep the first row."""
    missing = [c for c in EXAMPLE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"examples table lacks columns {missing}")
    out = frame.drop_duplicates(_KEY).reset_index(drop=True).copy()
    for column in ("error", "gold_relevance", "gold_event_type", "gold_severity", "gold_resurgence"):
        if column not in out:
            out[column] = None
    out["source"] = out["source"].fillna("").astype(str)
    probs = pd.DataFrame.from_records(_json_objects(out["signals"]), columns=list(SIGNALS), index=out.index)
    gold_signals = out["gold_signals"] if "gold_signals" in out else pd.Series([None] * len(out), index=out.index)
    gold = pd.DataFrame.from_records(_json_objects(gold_signals), columns=list(SIGNALS), index=out.index)
    for name in SIGNALS:
        out[f"p.{name}"] = pd.to_numeric(probs[name], errors="coerce")
        out[f"gold.{name}"] = pd.to_numeric(gold[name], errors="coerce")
    for column in ("relevance", "event_type_probability", "resurgence", "gold_relevance", "gold_resurgence"):
        out[column] = pd.to_numeric(out[column], errors="coerce")
    if "primary_region" not in out:
        out["primary_region"] = None
    return out


def _gap_columns(joined: pd.DataFrame) -> pd.DataFrame:
    gaps = pd.DataFrame(index=joined.index)
    gaps["relevance"] = (joined["relevance_a"] - joined["relevance_b"]).abs()
    gaps["resurgence"] = (joined["resurgence_a"] - joined["resurgence_b"]).abs()
    differs = joined["event_type_a"].notna() & joined["event_type_b"].notna()
    differs &= joined["event_type_a"] != joined["event_type_b"]
    # A different top event type counts as much as the two models were sure of their picks: two hesitant
    # models picking different types among 25 disagree less than two confident ones.
    confidence = (joined["event_type_probability_a"].fillna(0) + joined["event_type_probability_b"].fillna(0)) / 2
    gaps["event_type"] = np.where(differs, confidence, 0.0)
    rank_a = joined["severity_a"].map(_SEVERITY_RANK)
    rank_b = joined["severity_b"].map(_SEVERITY_RANK)
    gaps["severity"] = (rank_a - rank_b).abs() / (len(SEVERITY_LEVELS) - 1)
    for name in SIGNALS:
        gaps[name] = (joined[f"p.{name}_a"] - joined[f"p.{name}_b"]).abs()
    return gaps.fillna(0.0)


def join_examples(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Both models' outputs on the examples both scored (inner join on example_set and id), with the gaps.

    Takes ``expand_examples`` tables. Adds ``gap.<label>`` for every label of ``DISAGREEMENT_LABELS`` but
    "any", ``gap`` (the largest of them) and ``gap_on`` (which label that is).
    """
    shared = [c for c in a.columns if c not in _PER_MODEL]
    left = a[shared + [c for c in _PER_MODEL if c in a]]
    right = b[_KEY + [c for c in _PER_MODEL if c in b]]
    joined = left.merge(right, on=_KEY, how="inner", suffixes=("_a", "_b"))
    gaps = _gap_columns(joined)
    for column in gaps:
        joined[f"gap.{column}"] = gaps[column].astype(float)
    joined["gap"] = gaps.max(axis=1) if len(gaps) else pd.Series(dtype=float)
    joined["gap_on"] = gaps.idxmax(axis=1) if len(gaps) else pd.Series(dtype=str)
    return joined


@dataclass(frozen=True)
class DisagreementQuery:
    """Filters of the disagreements list (all validated)."""

    label: str = "any"
    source: str = ""
    example_set: str = ""
    min_gap: float = DEFAULT_MIN_GAP
    page: int = 1

    def __post_init__(self) -> None:
        if self.label not in DISAGREEMENT_LABELS:
            raise BadInputError(f"label must be one of {', '.join(DISAGREEMENT_LABELS)}, got {self.label!r}")


@dataclass(frozen=True)
class DisagreementPage:
    """One page of disagreements, most disagreeing first."""

    rows: list[dict[str, Any]]
    matched: int
    total: int
    page: int
    pages: int


def disagreements(joined: pd.DataFrame, query: DisagreementQuery, per_page: int = PER_PAGE) -> DisagreementPage:
    """Filter (source, example set, label, minimum gap), sort by the gap on the label, and cut one page.

    The page number is clamped to the last page, so a stale link shows the last results, not an error.
    """
    frame = joined
    if query.source:
        frame = frame[frame["source"] == query.source]
    if query.example_set:
        frame = frame[frame["example_set"] == query.example_set]
    column = "gap" if query.label == "any" else f"gap.{query.label}"
    frame = frame[(frame[column] >= query.min_gap) & (frame[column] > 0)]
    frame = frame.sort_values([column, "example_set", "id"], ascending=[False, True, True], kind="mergesort")
    pages = max(1, math.ceil(len(frame) / per_page))
    page = min(query.page, pages)
    window = frame.iloc[(page - 1) * per_page : page * per_page]
    rows = [_display_row(r, column) for r in window.to_dict("records")]
    return DisagreementPage(rows=rows, matched=len(frame), total=len(joined), page=page, pages=pages)


def _display_row(record: dict[str, Any], column: str) -> dict[str, Any]:
    """What one disagreement shows: gold labels, both models' outputs, and the signals that differ."""
    signals = []
    for name in SIGNALS:
        pa, pb = record.get(f"p.{name}_a"), record.get(f"p.{name}_b")
        gold = record.get(f"gold.{name}")
        gap = record.get(f"gap.{name}", 0.0)
        if gap >= 0.05 or max(_or0(pa), _or0(pb)) >= 0.5 or (gold == 1):
            signals.append({"name": name, "a": _clean(pa), "b": _clean(pb), "gold": _clean(gold), "gap": gap})
    signals.sort(key=lambda s: -s["gap"])
    record = {k: _clean(v) for k, v in record.items()}
    record["shown_gap"] = record.get(column)
    record["signal_rows"] = signals
    return record


def _or0(value: Any) -> float:
    number = _number(value)
    return 0.0 if number is None else number


def _clean(value: Any) -> Any:
    """NaN and numpy scalars as plain Python (templates test ``is none``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def facet_values(frame: pd.DataFrame, column: str) -> list[str]:
    """Sorted distinct values of a column (the options of a filter)."""
    return sorted(str(v) for v in frame[column].dropna().unique())


# --------------------------------------------------------------------------------------------- charts' data


@dataclass(frozen=True)
class Confusion:
    """A confusion matrix: rows are gold labels, columns predictions."""

    labels: list[str]
    counts: list[list[int]]
    n: int

    @property
    def accuracy(self) -> float | None:
        """Share of the diagonal."""
        if not self.n:
            return None
        return sum(self.counts[i][i] for i in range(len(self.labels))) / self.n


def confusion(frame: pd.DataFrame, gold: str, pred: str, order: Sequence[str]) -> Confusion:
    """Gold ``gold`` against predicted ``pred`` over the rows that have both, labels in ``order`` first."""
    rows = frame[frame[gold].notna() & frame[pred].notna()]
    seen = set(rows[gold].astype(str)) | set(rows[pred].astype(str))
    labels = [label for label in order if label in seen] + sorted(seen - set(order))
    table = pd.crosstab(rows[gold].astype(str), rows[pred].astype(str)).reindex(
        index=labels, columns=labels, fill_value=0
    )
    return Confusion(labels, table.to_numpy(dtype=int).tolist(), len(rows))


def event_type_confusion(frame: pd.DataFrame) -> Confusion:
    """ACLED sub-event types: gold beside the model's top type."""
    return confusion(frame, "gold_event_type", "event_type", EVENT_TYPES)


def severity_confusion(frame: pd.DataFrame) -> Confusion:
    """Severity levels: gold (from reported fatalities) beside the model's level."""
    return confusion(frame, "gold_severity", "severity", SEVERITY_LEVELS)


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram: per probability bin, mean predicted probability against observed frequency."""

    mean_predicted: list[float]
    observed: list[float]
    counts: list[int]
    ece: float | None
    n: int


def reliability(
    gold: Sequence[float] | np.ndarray, proba: Sequence[float] | np.ndarray, bins: int = RELIABILITY_BINS
) -> Reliability:
    """Equal-width bins over [0, 1] (as ``training.metrics.expected_calibration_error``); empty bins left out."""
    y = np.asarray(gold, dtype=float)
    p = np.asarray(proba, dtype=float)
    keep = ~(np.isnan(y) | np.isnan(p))
    y, p = y[keep], p[keep]
    if len(y) == 0:
        return Reliability([], [], [], None, 0)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    mean_p, observed, counts = [], [], []
    for b in range(bins):
        mask = index == b
        if mask.any():
            mean_p.append(float(p[mask].mean()))
            observed.append(float(y[mask].mean()))
            counts.append(int(mask.sum()))
    ece = expected_calibration_error(y, p, bins)
    return Reliability(mean_p, observed, counts, float(ece), len(y))


def reliability_sets(frame: pd.DataFrame) -> dict[str, Reliability]:
    """Reliability of relevance, the ten signals pooled, and resurgence, over the examples with gold labels."""
    gold_signals = frame[[f"gold.{s}" for s in SIGNALS]].to_numpy(dtype=float).ravel()
    proba_signals = frame[[f"p.{s}" for s in SIGNALS]].to_numpy(dtype=float).ravel()
    return {
        "relevance": reliability(
            frame["gold_relevance"].to_numpy(dtype=float), frame["relevance"].to_numpy(dtype=float)
        ),
        "signals (pooled)": reliability(gold_signals, proba_signals),
        "resurgence": reliability(
            frame["gold_resurgence"].to_numpy(dtype=float), frame["resurgence"].to_numpy(dtype=float)
        ),
    }


# --------------------------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Segment:
    """A stretch of text and the signals whose evidence covers it (empty: plain text)."""

    text: str
    signals: tuple[str, ...] = ()


def highlight(text: str, evidence: Mapping[str, Sequence[str]]) -> list[Segment]:
    """Split ``text`` into segments, marking every verbatim occurrence of each signal's evidence sentences.

    Overlapping evidence of several signals marks the overlap with all of them. Sentences not found verbatim
    (e.g. the text was HTML and the model quoted the stripped text) mark nothing.
    """
    spans: list[tuple[int, int, str]] = []
    for name, sentences in evidence.items():
        for sentence in sentences:
            start = text.find(sentence) if sentence else -1
            while start != -1:
                spans.append((start, start + len(sentence), name))
                start = text.find(sentence, start + len(sentence))
    cuts = sorted({0, len(text)} | {s for s, _, _ in spans} | {e for _, e, _ in spans})
    segments: list[Segment] = []
    for start, end in itertools.pairwise(cuts):
        covering = {n for s, e, n in spans if s <= start and end <= e}
        names = tuple(n for n in evidence if n in covering)
        if segments and segments[-1].signals == names:
            segments[-1] = Segment(segments[-1].text + text[start:end], names)
        else:
            segments.append(Segment(text[start:end], names))
    return [s for s in segments if s.text]


def evidence_of(assessment: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each signal's evidence sentences from an assessment dict (signals without evidence left out)."""
    signals = assessment.get("signals") or {}
    return {name: list(s.get("evidence") or []) for name, s in signals.items() if s.get("evidence")}


def top_event_types(assessment: Mapping[str, Any], k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` most probable event types of an assessment."""
    events = assessment.get("event_types") or {}
    return sorted(events.items(), key=lambda kv: -kv[1])[:k]
