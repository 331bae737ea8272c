"""One loader per raw source. Each exposes ``load(raw_dir) -> pandas.DataFrame`` in the corpus schema
(``training.corpus.schema``); ``split`` is set only where the source ships its own split."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

import pandas as pd

from training.corpus.sources import acled, conflibert, india_police, isaf, plover, rand, satp, ucdp

Loader = Callable[[Path], pd.DataFrame]

#: Source loaders in build order. Earlier sources win when two rows carry the same text (exact duplicates):
#: the event datasets with dates, places and labels come before the ConfliBERT copies of the same texts.
LOADERS: Final[dict[str, Loader]] = {
    "acled": acled.load,
    "ucdp": ucdp.load,
    "satp": satp.load,
    "isaf": isaf.load,
    "rand": rand.load,
    "india_police": india_police.load,
    "plover": plover.load,
    "conflibert": conflibert.load,
}

#: Raw files (relative to the raw folder) each loader reads, for the manifest.
INPUT_FILES: Final[dict[str, Callable[[Path], list[Path]]]] = {
    "acled": acled.input_files,
    "ucdp": ucdp.input_files,
    "satp": satp.input_files,
    "isaf": isaf.input_files,
    "rand": rand.input_files,
    "india_police": india_police.input_files,
    "plover": plover.input_files,
    "conflibert": conflibert.input_files,
}

__all__ = ["INPUT_FILES", "LOADERS", "Loader"]
