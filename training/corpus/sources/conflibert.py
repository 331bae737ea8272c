"""ConfliBERT's benchmark data (``conflibert/*``) as corpus rows, each keeping ConfliBERT's own split.

Loaded: the classification sets BBC_News, satp_relevant, IndiaPoliceEvents_docs, insightCrime, cameo_class
(label names in ``training.corpus.benchmarks``) and the MUC-4 documents (texts only: its annotations are
role fillers, not classes). Not loaded: IndiaPoliceEvents_sents (sentences of the same documents, re-split
by ConfliBERT, so they would straddle the document splits), cameo_ner and re3d (token-level NER).

Labels set in the corpus: BBC_News ``relevance``, and every signal 0 on BBC's non-relevant articles
(business, entertainment, sport, tech); satp_relevant ``relevance`` = 1 (SATP). The other benchmarks'
labels are not our taxonomy and are kept in ``source_label`` only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import pandas as pd

from training.corpus.benchmarks import BENCHMARK_LABELS, CONFLIBERT_FOLDER, benchmark_files, read_benchmark
from training.corpus.schema import SIGNAL_COLUMNS
from training.corpus.textnorm import fix_mojibake, fix_transliterated_nbsp

SOURCE_PREFIX: Final = "conflibert"
CORPUS_BENCHMARKS: Final = ("BBC_News", "satp_relevant", "IndiaPoliceEvents_docs", "insightCrime", "cameo_class")
MUC4_SPLITS: Final = {"train": "train.json", "dev": "dev.json", "test": "test.json"}


def input_files(raw_dir: Path) -> list[Path]:
    """Every ConfliBERT file this loader (and the benchmark writer) reads."""
    files = [p for name in CORPUS_BENCHMARKS for p in benchmark_files(raw_dir, name).values()]
    muc = raw_dir / CONFLIBERT_FOLDER / "muc4"
    files += [muc / f for f in MUC4_SPLITS.values() if (muc / f).exists()]
    return files


def load(raw_dir: Path) -> pd.DataFrame:
    """ConfliBERT texts as corpus rows with ``split`` = ConfliBERT's split."""
    frames = [_benchmark_rows(raw_dir, name) for name in CORPUS_BENCHMARKS]
    frames.append(_muc4_rows(raw_dir))
    return pd.concat(frames, ignore_index=True)


def _benchmark_rows(raw_dir: Path, name: str) -> pd.DataFrame:
    bench = read_benchmark(raw_dir, name)
    labels = BENCHMARK_LABELS[name]
    idx = bench.index
    text = bench["text"].astype(str).map(fix_mojibake)
    if name == "IndiaPoliceEvents_docs":
        text = text.map(fix_transliterated_nbsp)
    positives = bench[list(labels)].to_numpy()
    source_label = [";".join(lab for lab, v in zip(labels, row, strict=True) if v) or "none" for row in positives]
    df = pd.DataFrame(
        {
            "source": f"{SOURCE_PREFIX}/{name}",
            "source_id": bench["id"].str.split(":", n=1).str[1],
            "source_file": name + "/" + bench["split"],
            "text": text,
            "split": bench["split"],
            "source_label": source_label,
        }
    )
    for col in SIGNAL_COLUMNS:
        df[col] = pd.Series(pd.NA, index=idx, dtype="Int8")
    if name == "BBC_News":
        relevant = bench["relevance"].astype(int)
        df["relevance"] = relevant.astype("Int8")
        for col in SIGNAL_COLUMNS:
            df[col] = pd.Series(0, index=idx, dtype="Int8").mask(relevant == 1)
    elif name == "satp_relevant":
        df["relevance"] = pd.Series(1, index=idx, dtype="Int8")
    return df


def _muc4_rows(raw_dir: Path) -> pd.DataFrame:
    rows = []
    folder = raw_dir / CONFLIBERT_FOLDER / "muc4"
    for split, fname in MUC4_SPLITS.items():
        path = folder / fname
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            docs = json.load(fh)
        for doc_id, doc in docs.items():
            rows.append(
                {
                    "source": f"{SOURCE_PREFIX}/muc4",
                    "source_id": doc_id,
                    "source_file": f"muc4/{split}",
                    "text": str(doc["doc"]).strip(),
                    "split": split,
                }
            )
    return pd.DataFrame(rows)
