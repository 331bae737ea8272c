"""Session fixtures for the corpus tests: one real build into a temporary folder, shared by every test.

The raw corpora live outside the repository (``../shared/data/raw``, or ``$THREATSCORE_RAW_DIR``); when they
are absent, every test that asks for the build is skipped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from training.corpus import CorpusSummary, build_corpus, load_corpus

REPO = Path(__file__).resolve().parents[2]
RAW_DIR = Path(os.environ.get("THREATSCORE_RAW_DIR", REPO.parent / "shared" / "data" / "raw"))


@dataclass(frozen=True)
class CorpusBuild:
    """A finished build: where it went, what it printed, what it wrote, how long it took."""

    raw_dir: Path
    out_dir: Path
    committed_manifest: Path
    summary: CorpusSummary
    corpus: pd.DataFrame
    seconds: float


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """The raw data folder; skips the test when it is absent."""
    if not RAW_DIR.is_dir():
        pytest.skip(f"raw corpora not available at {RAW_DIR}")
    return RAW_DIR


@pytest.fixture(scope="session")
def corpus_build(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusBuild]:
    """Build the corpus once per test session into a temporary folder (never into data/)."""
    root = tmp_path_factory.mktemp("corpus")
    out_dir = root / "processed"
    committed = root / "manifest.json"
    started = time.perf_counter()
    summary = build_corpus(raw_dir, out_dir, show_progress=False, committed_manifest=committed)
    seconds = time.perf_counter() - started
    yield CorpusBuild(raw_dir, out_dir, committed, summary, load_corpus(out_dir), seconds)
