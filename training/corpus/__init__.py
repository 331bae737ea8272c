"""The unified training corpus: ``threatscore data build`` calls ``build_corpus``.

``build_corpus(raw_dir, out_dir)`` reads every raw source under ``raw_dir`` (one loader per source in
``training.corpus.sources``), maps it to the taxonomy, removes duplicates, assigns leak-free splits and writes
``corpus.parquet``, ``benchmarks/<name>.parquet`` and ``manifest.json`` under ``out_dir`` (plus the committed
``data/manifest.json``). ``load_corpus`` and ``load_benchmark`` read them back. See ``data/README.md``.
"""

from training.corpus.benchmarks import BENCHMARK_LABELS, BENCHMARK_TASKS
from training.corpus.build import CorpusBuildError, build_corpus, load_benchmark, load_corpus
from training.corpus.schema import BINARY_LABEL_COLUMNS, COLUMNS, SIGNAL_COLUMNS, SPLITS
from training.corpus.summary import CorpusSummary, render_summary

__all__ = [
    "BENCHMARK_LABELS",
    "BENCHMARK_TASKS",
    "BINARY_LABEL_COLUMNS",
    "COLUMNS",
    "SIGNAL_COLUMNS",
    "SPLITS",
    "CorpusBuildError",
    "CorpusSummary",
    "build_corpus",
    "load_benchmark",
    "load_corpus",
    "render_summary",
]
