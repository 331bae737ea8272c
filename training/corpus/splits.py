"""Deduplication and split assignment.

Rules (data/README.md, "Splits"):

1. Exact duplicates (same ``text_key``) are removed: the row of the earliest source in build order is kept,
   and it inherits the strongest source split of the whole duplicate set (test > dev > train), so a text that
   is in a benchmark's test file stays in test.
2. Each remaining row gets a proposed split by its source's policy (``SPLIT_POLICY``):
   ``source`` = the split the source ships (ConfliBERT, PLOVER test); ``time`` = per stratum, the latest
   ~15% of rows by date -> test, the ~15% before -> dev, the rest -> train, cut at date boundaries so that
   one day never straddles two splits (rows without a date fall back to ``hash``); ``hash`` = a fixed
   function of the near-duplicate key (70/15/15); ``hash_train_dev`` = the same into train/dev only (85/15),
   for rows of a source whose test set is given.
3. Near-duplicate groups (rows linked by the same ``near_key``, or by the same first 40 masked tokens of a
   long text) are put in one split: a source split of any member wins (test > dev > train); otherwise the
   majority of the members' proposed splits (ties -> test > dev > train).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Final, Literal

import numpy as np
import pandas as pd

from training.corpus.textnorm import all_keys, unit_interval

logger = logging.getLogger(__name__)

Policy = Literal["time", "hash", "source", "hash_train_dev"]

#: Split priority when members of one group disagree: the most held-out split wins.
SPLIT_PRIORITY: Final[dict[str, int]] = {"train": 0, "dev": 1, "test": 2}
TEST_SHARE: Final = 0.15
DEV_SHARE: Final = 0.15
LEAD_TOKENS: Final = 40

#: Source -> policy for rows without a source split. Sources not listed use ``hash``.
SPLIT_POLICY: Final[dict[str, Policy]] = {
    "acled": "time",
    "ucdp": "time",
    "isaf": "time",
    "satp": "hash",
    "rand": "hash",
    "india_police": "hash",
    "plover": "hash_train_dev",
}

#: Sources whose time split runs per ``source_file`` (separate extracts covering different periods/regions).
STRATIFY_BY_FILE: Final[frozenset[str]] = frozenset({"acled"})


def lead_key(text: str) -> str | None:
    """The first ``LEAD_TOKENS`` masked tokens of a long text (None for shorter texts)."""
    return all_keys(text, LEAD_TOKENS)[2]


def strongest(splits: Iterable[object]) -> str | None:
    """The most held-out split among ``splits`` (test > dev > train), ignoring missing values."""
    present = [str(s) for s in splits if isinstance(s, str) and s in SPLIT_PRIORITY]
    return max(present, key=SPLIT_PRIORITY.__getitem__) if present else None


def drop_exact_duplicates(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first row (frame order) per ``text_key``; it inherits the strongest source split of its
    duplicates. Returns (kept rows, a frame of (dropped source, kept source) pairs)."""
    priority = df["split"].map(SPLIT_PRIORITY).astype("Float64")
    best = priority.groupby(df["text_key"]).max()
    names = {v: k for k, v in SPLIT_PRIORITY.items()}
    pins = best.dropna().astype(int).map(names)
    first = ~df.duplicated("text_key", keep="first")
    kept = df[first].copy()
    kept["split"] = kept["text_key"].map(pins).astype("string")
    keeper_source = kept.set_index("text_key")["source"]
    dropped = df[~first]
    pairs = pd.DataFrame(
        {"dropped": dropped["source"].to_numpy(), "kept": dropped["text_key"].map(keeper_source).to_numpy()}
    )
    return kept.reset_index(drop=True), pairs


def time_split(dates: pd.Series, test_share: float = TEST_SHARE, dev_share: float = DEV_SHARE) -> pd.Series:
    """Split dated rows by time: the latest ~``test_share`` -> test, the previous ~``dev_share`` -> dev.

    Cuts fall between distinct dates (a date is never split) at the boundary whose share is closest to the
    target. Rows with a missing date get <NA>.
    """
    out = pd.Series(pd.NA, index=dates.index, dtype="string")
    dated = dates.dropna()
    if dated.empty:
        return out
    counts = dated.value_counts().sort_index()
    n = int(counts.sum())
    at_or_after = counts[::-1].cumsum()[::-1] / n  # share of rows on or after each date
    test_from = _closest_boundary(at_or_after, test_share)
    dev_candidates = at_or_after[at_or_after.index < test_from]
    dev_from = _closest_boundary(dev_candidates, test_share + dev_share) if len(dev_candidates) else test_from
    values = np.where(dated >= test_from, "test", np.where(dated >= dev_from, "dev", "train"))
    out.loc[dated.index] = values
    return out


def _closest_boundary(at_or_after: pd.Series, target: float) -> pd.Timestamp:
    diff = (at_or_after - target).abs()
    best = diff.min()
    # ties -> the later date (smaller held-out share)
    return pd.Timestamp(diff[diff == best].index.max())


def hash_split(keys: pd.Series, *, train_dev_only: bool = False) -> pd.Series:
    """Deterministic split from a key: 70/15/15 train/dev/test, or 85/15 train/dev."""
    u = keys.map(unit_interval)
    if train_dev_only:
        return pd.Series(np.where(u < 1 - DEV_SHARE, "train", "dev"), index=keys.index, dtype="string")
    return pd.Series(
        np.where(u < 1 - TEST_SHARE - DEV_SHARE, "train", np.where(u < 1 - TEST_SHARE, "dev", "test")),
        index=keys.index,
        dtype="string",
    )


def propose_splits(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each row's split before near-duplicate grouping, and the rule that gave it."""
    split = pd.Series(pd.NA, index=df.index, dtype="string")
    rule = pd.Series(pd.NA, index=df.index, dtype="string")
    pinned = df["split"].notna()
    split[pinned] = df.loc[pinned, "split"]
    rule[pinned] = "source"
    date = df["event_date"].fillna(df["published"])
    for source, rows in df[~pinned].groupby("source", sort=True):
        policy = SPLIT_POLICY.get(str(source), "hash")
        if policy == "time":
            strata = rows["source_file"] if source in STRATIFY_BY_FILE else pd.Series("all", index=rows.index)
            for _, part in rows.groupby(strata, sort=True):
                t = time_split(date[part.index])
                split[t.dropna().index] = t.dropna()
                rule[t.dropna().index] = "time"
        elif policy == "source":
            raise ValueError(f"{source}: policy 'source' but rows without a source split")
        todo = rows.index[split[rows.index].isna()]
        if len(todo):
            split[todo] = hash_split(df.loc[todo, "near_key"], train_dev_only=policy == "hash_train_dev")
            rule[todo] = "hash"
    return split, rule


def connected_groups(keys: Sequence[pd.Series]) -> pd.Series:
    """Connected components of rows linked by equal non-null values in any of ``keys``; each component is
    named by the smallest row position in it (as a zero-padded string)."""
    n = len(keys[0])
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for key in keys:
        codes, _ = pd.factorize(key.reset_index(drop=True), use_na_sentinel=True)
        first_of: dict[int, int] = {}
        for pos, code in enumerate(codes):
            if code < 0:
                continue
            if code in first_of:
                a, b = find(pos), find(first_of[code])
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                first_of[code] = pos
    roots = [find(i) for i in range(n)]
    return pd.Series([f"g{r:07d}" for r in roots], index=keys[0].index, dtype="string")


def resolve_groups(proposed: pd.Series, pinned: pd.Series, groups: pd.Series) -> pd.Series:
    """One split per group: the strongest pinned split of any member, else the members' majority
    (ties -> test > dev > train)."""
    frame = pd.DataFrame({"proposed": proposed, "pinned": pinned, "group": groups})
    decided: dict[str, str] = {}
    multi = frame[frame["group"].duplicated(keep=False)]
    for group, part in multi.groupby("group", sort=False):
        pin = strongest(part["pinned"].dropna())
        if pin is not None:
            decided[str(group)] = pin
            continue
        votes = Counter(str(s) for s in part["proposed"])
        decided[str(group)] = max(votes, key=lambda s: (votes[s], SPLIT_PRIORITY[s]))
    resolved = frame["group"].map(decided).astype("string")
    return resolved.fillna(frame["proposed"])
