"""ConfliBERT's classification benchmarks, with their own train/dev/test splits and named labels.

The raw TSVs have no header: column 0 is the text, the rest are 0/1 labels (one class index for
``cameo_class``). The label meaning of each column was established as follows (details in data/README.md):

* ``BBC_News``: one binary column. Its 417 positives out of 2,225 articles are exactly the size of the BBC
  dataset's "politics" category, and the positives read as UK politics; ConfliBERT calls the task
  relevance. Named ``relevance`` (= BBC politics vs business/entertainment/sport/tech).
* ``satp_relevant``: matched row by row to the SATP TagTog annotations (``satp_snowood1``): column 1 agrees
  with "Armed Assault" on 99%, 2 with "Bombing/Explosion" on 99.6%, 3 with "Kidnapping" on 99.4%, and 4 with
  "any other concrete type" (Facility/Infrastructure Attack, Assassination, Unarmed Assault, Hijacking,
  Barricade Incident, Unknown) on 98.7%.
* ``IndiaPoliceEvents_docs``: matched to the original ``docs.csv``: columns 1-5 equal KILL, ARREST,
  ANY_ACTION, FAIL, FORCE on 100% of matched documents (the original column order).
* ``insightCrime``: no public key; inferred from each column's most discriminative words and titles:
  1 drug trafficking (kilos, cocaine, precursor, shipment), 2 corruption (bribes, scandal, elites),
  3 security policy and justice (reform, policing, penal, extradition), 4 violence and homicide (massacre,
  gunmen, homicides), 5 extortion, kidnapping and money laundering (ransom, laundered, extorting),
  6 environmental crime (illegal mining, logging, wildlife), 7 arms, human and contraband trafficking
  (firearms, migrants, sexual exploitation, contraband).
* ``cameo_class``: single class 0-4, read as CAMEO PentaClass from examples: 0 neutral statements,
  1 verbal cooperation, 2 material cooperation, 3 verbal conflict, 4 material conflict.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final, Literal

import pandas as pd

from training.corpus.loadutils import read_tsv_noheader

logger = logging.getLogger(__name__)

Task = Literal["binary", "multilabel", "multiclass"]

#: Benchmark name -> label column names, in the raw column order.
BENCHMARK_LABELS: Final[dict[str, tuple[str, ...]]] = {
    "BBC_News": ("relevance",),
    "satp_relevant": ("armed_assault", "bombing_explosion", "kidnapping", "other_attack"),
    "IndiaPoliceEvents_docs": ("kill", "arrest", "any_action", "fail", "force"),
    "insightCrime": (
        "drug_trafficking",
        "corruption",
        "security_policy",
        "violence_homicide",
        "extortion_kidnapping_laundering",
        "environmental_crime",
        "arms_human_contraband_trafficking",
    ),
    "cameo_class": ("neutral", "verbal_cooperation", "material_cooperation", "verbal_conflict", "material_conflict"),
}

#: Benchmark name -> task type (multiclass = exactly one label column is 1 per row).
BENCHMARK_TASKS: Final[dict[str, Task]] = {
    "BBC_News": "binary",
    "satp_relevant": "multilabel",
    "IndiaPoliceEvents_docs": "multilabel",
    "insightCrime": "multilabel",
    "cameo_class": "multiclass",
}

#: How sure we are of the label names (see the module docstring).
LABEL_NAME_EVIDENCE: Final[dict[str, str]] = {
    "BBC_News": "inferred: positives = BBC 'politics' category (417/2225)",
    "satp_relevant": "verified against satp_snowood1 annotations (>=98.7% agreement per column)",
    "IndiaPoliceEvents_docs": "verified against india_police_events/docs.csv (100% agreement)",
    "insightCrime": "inferred from discriminative words and titles; no published key",
    "cameo_class": "inferred from examples (CAMEO PentaClass)",
}

#: The benchmarks written by default (the ones DESIGN.md reports, plus cameo_class).
DEFAULT_BENCHMARKS: Final[tuple[str, ...]] = tuple(BENCHMARK_LABELS)

CONFLIBERT_FOLDER: Final = "conflibert"
SPLIT_FILES: Final[dict[str, str]] = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}


def benchmark_files(raw_dir: Path, name: str) -> dict[str, Path]:
    """Split name -> TSV path for the splits the benchmark ships (cameo_class has no dev)."""
    folder = raw_dir / CONFLIBERT_FOLDER / name
    return {split: folder / fname for split, fname in SPLIT_FILES.items() if (folder / fname).exists()}


def benchmark_id(name: str, split: str, row: int) -> str:
    """The corpus id of a benchmark row (the same id the row has in corpus.parquet, if kept there)."""
    return f"conflibert/{name}:{split}:{row}"


def read_benchmark(raw_dir: Path, name: str) -> pd.DataFrame:
    """A benchmark as ``id, text, split`` plus one int8 column per label, text verbatim from the TSVs."""
    if name not in BENCHMARK_LABELS:
        raise KeyError(f"unknown benchmark {name!r}; known: {sorted(BENCHMARK_LABELS)}")
    labels = BENCHMARK_LABELS[name]
    files = benchmark_files(raw_dir, name)
    if not files:
        raise FileNotFoundError(f"no split files for benchmark {name} under {raw_dir / CONFLIBERT_FOLDER / name}")
    frames = []
    for split, path in files.items():
        raw = read_tsv_noheader(path)
        out = pd.DataFrame(
            {
                "id": [benchmark_id(name, split, i) for i in range(len(raw))],
                "text": raw[0].astype("string"),
                "split": split,
            }
        )
        if BENCHMARK_TASKS[name] == "multiclass":
            if raw.shape[1] != 2:
                raise ValueError(f"{path}: expected text + class index, got {raw.shape[1]} columns")
            cls = pd.to_numeric(raw[1], errors="raise").astype(int)
            if not cls.between(0, len(labels) - 1).all():
                raise ValueError(f"{path}: class index outside 0..{len(labels) - 1}")
            for k, lab in enumerate(labels):
                out[lab] = (cls == k).astype("int8")
        else:
            if raw.shape[1] != len(labels) + 1:
                raise ValueError(f"{path}: expected {len(labels)} label columns, got {raw.shape[1] - 1}")
            for k, lab in enumerate(labels, start=1):
                values = pd.to_numeric(raw[k], errors="raise").astype(int)
                if not values.isin([0, 1]).all():
                    raise ValueError(f"{path}: column {k} ({lab}) is not 0/1")
                out[lab] = values.astype("int8")
        frames.append(out)
    df = pd.concat(frames, ignore_index=True)
    df["split"] = df["split"].astype("string")
    df["id"] = df["id"].astype("string")
    return df


def benchmark_path(out_dir: Path, name: str) -> Path:
    """Where ``write_benchmarks`` puts a benchmark."""
    return out_dir / "benchmarks" / f"{name}.parquet"


def load_benchmark(out_dir: Path, name: str) -> pd.DataFrame:
    """Read a written benchmark (``id, text, split`` + int8 label columns named in ``BENCHMARK_LABELS``)."""
    path = benchmark_path(out_dir, name)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run `threatscore data build` first")
    df = pd.read_parquet(path)
    for col in ("id", "text", "split"):
        df[col] = df[col].astype("string")
    for lab in BENCHMARK_LABELS.get(name, ()):
        df[lab] = df[lab].astype("int8")
    return df
