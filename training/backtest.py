"""Backtest of the regional risk index (DESIGN.md "Region risk"; ``threatscore backtest``).

Does the index computed on month *t* rank the admin-1 regions whose fatalities rise in month *t+1* above
those whose fatalities do not, better than persistence (last month's fatalities) and last month's event
count? Data: the dated event texts of UCDP Syria 2016-19, ACLED Burkina Faso 2018-20 and ACLED Nigeria
2014-16 from the unified corpus. Steps:

1. :func:`load_events` takes each dataset's events (text, event date, gold country/admin-1, gold fatalities).
2. :func:`score_events` scores the texts with a registered model; assessments are cached in
   ``data/processed/backtest_cache/<name>-<version>.parquet`` so a rerun scores nothing.
3. :func:`build_panel` assigns every event to its *gold* admin-1 (the backtest judges the index, not the
   geocoder) or, in the ``model`` variant, to the model's own primary region; runs
   ``threatscore.region_index.region_index`` per month; and lays out the full region x month grid with the
   gold targets.
4. :func:`evaluate_panel` measures, pooled over the months of each dataset, ROC AUC and average precision
   for ``fatalities(t+1) > fatalities(t)`` and Spearman against ``fatalities(t+1)``, with a month-block
   bootstrap CI and the per-month spread, for every ranker in :data:`RANKERS`.

No parameter is chosen on the reported months: the one choice (the smoothing half-life of the ``index``
ranker, see :func:`smoothed`) is made on the first half of each dataset's months and every number is
reported on the second half (and, for reference only, on all months).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from threatscore.region_index import ScoredArticle, region_index
from threatscore.risk import region_risk
from threatscore.schemas import Assessment, Region, Score
from threatscore.taxonomy import risk_level

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "models:/threatscore@champion"
CACHE_DIR = Path("data/processed/backtest_cache")


@dataclass(frozen=True)
class BacktestDataset:
    """One evaluation dataset: a slice of the corpus and the months it fully covers."""

    name: str
    label: str
    source: str
    source_file: str | None
    country_code: str
    first_month: str  # YYYY-MM
    last_month: str  # YYYY-MM, the last *complete* month of the extract


#: The three datasets of DESIGN.md. Burkina Faso's extract ends on 3 Dec 2020 and Nigeria's on 15 Apr 2016:
#: those partial last months are left out (a partial month would read as a fall).
DATASETS: tuple[BacktestDataset, ...] = (
    BacktestDataset("ucdp_syria", "UCDP Syria 2016-19", "ucdp", None, "SY", "2016-01", "2019-11"),
    BacktestDataset(
        "acled_burkina_faso",
        "ACLED Burkina Faso 2018-20",
        "acled",
        "ElliottMess_acled_burkina_faso",
        "BF",
        "2018-01",
        "2020-11",
    ),
    BacktestDataset(
        "acled_nigeria",
        "ACLED Nigeria 2014-16",
        "acled",
        "bridgetrkane_acled_nigeria2014",
        "NG",
        "2014-01",
        "2016-03",
    ),
)
#: Misspellings in the gold admin-1 column (an OCR-style "l" for "I").
ADMIN1_FIXES: dict[str, str] = {"Akwa lbom": "Akwa Ibom"}
EVENT_COLUMNS = ("id", "dataset", "text", "date", "country_code", "admin1", "fatalities")


# -- 1. events ---------------------------------------------------------------------------------------------


def load_events(corpus: pd.DataFrame, datasets: Sequence[BacktestDataset] = DATASETS) -> pd.DataFrame:
    """The events of each dataset with a gold admin-1 and an event date known to the month.

    Columns ``id, dataset, text, date (datetime.date), country_code, admin1, fatalities (int)``. Rows dated
    only to the year are dropped (their month is unknown), as are rows outside the dataset's months.
    """
    frames = []
    for ds in datasets:
        rows = corpus[corpus["source"] == ds.source]
        if ds.source_file is not None:
            rows = rows[rows["source_file"] == ds.source_file]
        if "date_precision" in rows.columns:
            rows = rows[rows["date_precision"].fillna("day") != "year"]
        rows = rows[rows["admin1"].notna() & rows["event_date"].notna()]
        month = rows["event_date"].dt.to_period("M")
        rows = rows[(month >= pd.Period(ds.first_month, "M")) & (month <= pd.Period(ds.last_month, "M"))]
        frame = pd.DataFrame(
            {
                "id": rows["id"].astype(str).to_numpy(),
                "dataset": ds.name,
                "text": rows["text"].astype(str).to_numpy(),
                "date": rows["event_date"].dt.date.to_numpy(),
                "country_code": ds.country_code,
                "admin1": rows["admin1"].astype(str).replace(ADMIN1_FIXES).to_numpy(),
                "fatalities": rows["fatalities"].fillna(0).astype(int).to_numpy(),
            }
        )
        logger.info("%s: %d events, %d regions", ds.label, len(frame), frame["admin1"].nunique())
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[list(EVENT_COLUMNS)]


# -- 2. scoring, cached ------------------------------------------------------------------------------------


def cache_path(cache_dir: Path, name: str | None, version: str | None, uri: str) -> Path:
    """``<cache_dir>/<name>-<version>.parquet`` for a registry model, else a slug of the URI."""
    if name and version:
        stem = f"{name}-{version}"
    else:
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in uri).strip("_")
    return cache_dir / f"{stem}.parquet"


def score_events(
    events: pd.DataFrame,
    model_uri: str = DEFAULT_MODEL,
    cache_dir: Path = CACHE_DIR,
    batch_size: int = 512,
    progress: bool = True,
) -> tuple[dict[str, dict[str, Any]], str]:
    """Assessment dicts by event id, and the pinned model URI; only ids missing from the cache are scored.

    The model is loaded only when something is missing. Rows the model rejects (error dicts) are logged and
    left out.
    """
    from tqdm import tqdm

    from threatscore.registry import load_model, resolve

    ref = resolve(model_uri)
    path = cache_path(cache_dir, ref.name, ref.version, model_uri)
    cached: dict[str, str] = {}
    if path.exists():
        frame = pd.read_parquet(path)
        cached = dict(zip(frame["id"].astype(str), frame["assessment"].astype(str), strict=True))
        logger.info("cache %s: %d assessments", path, len(cached))
    todo = events[~events["id"].isin(cached)]
    if len(todo):
        logger.info("scoring %d events with %s", len(todo), ref.pinned_uri)
        model = load_model(model_uri)
        records = [
            {"id": i, "text": t, "published": d.isoformat()}
            for i, t, d in zip(todo["id"], todo["text"], todo["date"], strict=True)
        ]
        new: dict[str, str] = {}
        bar = tqdm(total=len(records), desc="scoring", unit="event", disable=not progress)
        for lo in range(0, len(records), batch_size):
            batch = records[lo : lo + batch_size]
            for rec, result in zip(batch, model.predict(batch), strict=True):
                if "error" in result:
                    logger.warning("model rejected %s: %s", rec["id"], result["error"])
                    continue
                new[str(rec["id"])] = json.dumps(result, ensure_ascii=False)
            bar.update(len(batch))
        bar.close()
        cached.update(new)
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"id": list(cached), "assessment": list(cached.values())}).to_parquet(path, index=False)
        logger.info("cache %s: wrote %d assessments (%d new)", path, len(cached), len(new))
    wanted = set(events["id"])
    return {k: json.loads(v) for k, v in cached.items() if k in wanted}, ref.pinned_uri
