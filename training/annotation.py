"""The gold signal set: which corpus items the team annotates, and reading the annotations back.

Items are drawn per source and per corpus split (so a gold test item is also a corpus test item and no model
trains on it), half at random and half from keyword hits for the signals no source labels, so every
signal gets enough positives. The annotations (``data/annotations/signals.jsonl``) hold ids and labels only.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from threatscore.rules import signal_rules
from threatscore.taxonomy import SIGNALS
from training.weak_labels import WEAK_LABEL_RULES, rule_hits

logger = logging.getLogger(__name__)

#: Items drawn per source (long-article sources get fewer: each takes minutes to read properly).
PER_SOURCE: dict[str, int] = {
    "satp": 100,
    "acled": 100,
    "isaf": 60,
    "ucdp": 70,
    "india_police": 45,
    "conflibert/insightCrime": 45,
    "conflibert/BBC_News": 50,
    "rand": 100,
    "conflibert/muc4": 40,
}
#: Share of each source's items per corpus split; test is the fixed part no model or rule is tuned on.
SPLIT_SHARE: dict[str, float] = {"train": 0.45, "dev": 0.2, "test": 0.35}
#: Signals that no source labels: the keyword-hit half of the sample is drawn to find their positives.
UNLABELLED = (
    "claimed_responsibility",
    "regrouping",
    "recruitment",
    "prison_break",
    "cross_border",
    "security_vacuum",
    "territorial_control",
)
#: Extra keyword-hit items for the signals that random and per-source sampling rarely finds.
TARGETED: dict[str, int] = {
    "prison_break": 60,
    "recruitment": 25,
    "cross_border": 25,
    "security_vacuum": 25,
    "regrouping": 15,
    "claimed_responsibility": 10,
}
ANNOTATIONS = Path("data/annotations/signals.jsonl")


def _keyword_hits(text: str) -> set[str]:
    """The unlabelled signals whose keyword rules fire on ``text`` (the labeling functions' own test)."""
    hits = rule_hits(text)
    return {name for name in UNLABELLED if hits[name]}


#: The columns of an annotation worklist.
WORKLIST_COLUMNS = ["id", "source", "source_id", "split", "text", "title", "keyword_hits"]


def _with_hits(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each text's ``keyword_hits`` (the unlabelled signals whose rules fire on it), sorted."""
    return frame.assign(keyword_hits=[sorted(_keyword_hits(t)) for t in frame["text"]])


def select_for_annotation(corpus: pd.DataFrame, seed: int = 2026) -> pd.DataFrame:
    """The annotation worklist: ``id, source, source_id, split, text, title, keyword_hits`` per item."""
    picked = []
    for source, quota in PER_SOURCE.items():
        pool = corpus[corpus["source"] == source]
        for split, share in SPLIT_SHARE.items():
            part = pool[pool["split"] == split]
            n = round(quota * share)
            if part.empty or n == 0:
                continue
            # Look for keyword hits in a bounded random pool (a full scan of a large source is slow).
            probe = part.sample(n=min(len(part), 3000), random_state=seed)
            hits = probe["text"].map(_keyword_hits)
            with_hits = probe[hits.map(bool)]
            n_hit = min(len(with_hits), n // 2)
            chosen = with_hits.sample(n=n_hit, random_state=seed)
            rest = probe.drop(index=chosen.index)
            chosen = pd.concat([chosen, rest.sample(n=min(len(rest), n - n_hit), random_state=seed)])
            picked.append(_with_hits(chosen))
    out = pd.concat(picked)
    picked.append(_targeted(corpus.drop(index=out.index), seed))
    out = pd.concat(picked)
    logger.info("selected %d items for annotation", len(out))
    return out[WORKLIST_COLUMNS].reset_index(drop=True)


def _targeted(corpus: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Extra items for the rarest signals, found by their keyword rules over the whole corpus."""
    extra = []
    taken: set[str] = set()
    rules = signal_rules(WEAK_LABEL_RULES)  # the rules the draw of 26 Nov 2026 was made with
    for name, quota in TARGETED.items():
        patterns = rules[name]
        # Whole-text prefilter first (cheap), then the sentence-level rule, on a bounded sample.
        candidates = corpus[corpus["text"].map(lambda t, p=patterns: any(x.search(t) for x in p))]
        candidates = candidates[~candidates["id"].isin(taken)]
        candidates = candidates.sample(n=min(len(candidates), quota * 4), random_state=seed)
        candidates = candidates[candidates["text"].map(lambda t, n=name: n in _keyword_hits(t))]
        for split, share in SPLIT_SHARE.items():
            part = candidates[candidates["split"] == split]
            chosen = part.sample(n=min(len(part), round(quota * share)), random_state=seed)
            taken.update(chosen["id"])
            extra.append(chosen)
    out = pd.concat(extra)
    return _with_hits(out)


def write_worklist(worklist: pd.DataFrame, path: Path) -> None:
    """Write the worklist (with text: keep it out of git, under data/processed/) as JSON Lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in worklist.to_dict(orient="records"):
            handle.write(
                json.dumps(
                    {k: (None if pd.isna(v) else v) if not isinstance(v, list) else v for k, v in row.items()},
                    ensure_ascii=False,
                )
                + "\n"
            )


def load_annotations(path: Path = ANNOTATIONS) -> pd.DataFrame:
    """The gold set as a frame: ``id`` (``<source>:<source_id>``), ``part``, ``sig_<signal>`` (0/1), ``resurgence``."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = []
    for row in rows:
        unknown = set(row["signals"]) - set(SIGNALS)
        if unknown or set(row["signals"]) != set(SIGNALS):
            raise ValueError(f"{path}: item {row['source']}:{row['source_id']} has signals {sorted(row['signals'])}")
        records.append(
            {
                "id": f"{row['source']}:{row['source_id']}",
                "part": row["part"],
                **{f"sig_{k}": int(v) for k, v in row["signals"].items()},
                "resurgence": int(row["resurgence"]),
            }
        )
    return pd.DataFrame.from_records(records)


def select_more(
    corpus: pd.DataFrame,
    annotated: pd.DataFrame,
    per_signal: dict[str, int],
    *,
    split: str = "train",
    random_items: int = 0,
    min_chars: int = 80,
    max_chars: int = 900,
    seed: int = 2026,
) -> pd.DataFrame:
    """A further worklist from one corpus split: for each signal of ``per_signal``, that many not-yet-annotated
    items on which its keyword rule fires, plus ``random_items`` at random; texts of ``min_chars``–``max_chars``
    characters, so a label rests on what training reads (128 tokens). Keyword hits only choose what to read (many
    turn out negative: useful hard negatives); the labels come from reading. Same columns as
    ``select_for_annotation``."""
    pool = corpus[(corpus["split"] == split) & ~corpus["id"].isin(annotated["id"])]
    pool = pool[pool["text"].str.len().between(min_chars, max_chars)].drop_duplicates("id")
    # Probe a bounded random sample (the sentence-level rules over a whole large split are slow).
    probe = pool.sample(n=min(len(pool), 120000), random_state=seed)
    hits = probe["text"].map(_keyword_hits)
    picked: list[pd.DataFrame] = []
    taken: set[str] = set()
    for name, quota in per_signal.items():
        with_hit = probe[hits.map(lambda h, n=name: n in h) & ~probe["id"].isin(taken)]
        chosen = with_hit.sample(n=min(len(with_hit), quota), random_state=seed)
        if len(chosen) < quota:
            logger.warning("only %d of %d %s keyword hits left in %s", len(chosen), quota, name, split)
        taken.update(chosen["id"])
        picked.append(chosen)
    rest = probe[~probe["id"].isin(taken)]
    picked.append(rest.sample(n=min(len(rest), random_items), random_state=seed))
    out = pd.concat(picked)
    # The rules already ran on the probe: reuse their hits rather than running them again.
    out = out.assign(keyword_hits=[sorted(h) for h in hits.loc[out.index]])
    logger.info("selected %d more %s items for annotation", len(out), split)
    return out[WORKLIST_COLUMNS].reset_index(drop=True)
