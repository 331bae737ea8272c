"""Zero-shot PLOVER sentences (Hu et al., ACL 2024; ``plover_zsp/PLV_{train,test}.tsv``): news sentences
with a marked source/target pair and its gold PLOVER event code (15 root codes, penta-class).

One sentence can carry several pairs; rows are grouped per sentence and the gold codes kept in
``source_label``. PLOVER codes do not map 1:1 to ACLED types or our signals, so no label column is set.
The paper's test file keeps its test split; the train file is split into train/dev by hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pandas as pd

from training.corpus.loadutils import read_csv_str

SOURCE: Final = "plover"
FOLDER: Final = "plover_zsp"
FILES: Final = {"PLV_train.tsv": None, "PLV_test.tsv": "test"}


def input_files(raw_dir: Path) -> list[Path]:
    """The two PLOVER TSVs."""
    return [raw_dir / FOLDER / name for name in FILES]


def load(raw_dir: Path) -> pd.DataFrame:
    """PLOVER sentences as corpus rows, one per sentence."""
    frames = []
    for path in input_files(raw_dir):
        raw = read_csv_str(path, sep="\t")
        raw["sentence"] = raw["sentence"].str.strip()
        raw["sentence_id"] = raw["sentence_id"].str.strip()
        grouped = (
            raw.groupby("sentence_id", sort=False)
            .agg(text=("sentence", "first"), codes=("gold_root", lambda s: ";".join(sorted(set(s) - {""}))))
            .reset_index()
        )
        frames.append(
            pd.DataFrame(
                {
                    "source": SOURCE,
                    "source_id": path.stem + ":" + grouped["sentence_id"],
                    "source_file": path.stem,
                    "text": grouped["text"],
                    "split": FILES[path.name],
                    "source_label": grouped["codes"].replace("", None),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
