"""Shared fixtures. Every test runs offline with telemetry off."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from threatscore.registry import configure_tracking
from threatscore.settings import OFFLINE_ENV, Settings
from threatscore.taxonomy import SIGNALS

for _key, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED_ARTICLE = SHARED / "examples" / "seed-article.txt"
RAW_DIR = SHARED / "data" / "raw"

#: A stand-in for the seed article when ../shared is absent: the same kind of long report, written by the team.
_SEED_STANDIN = """The attack near Qatrun is the second by ISIS in a few days, coinciding with the attack on Ghweran prison in Hasaka, Syria, which indicates that the group is trying to reorganize its ranks in Libya, taking advantage of the chaos.

On Wednesday, ISIS targeted a patrol of the Libyan National Army in the municipality of Qatrun in southern Libya, killing 4 army men, who responded with an operation that killed 23 terrorists.

On January 18, ISIS claimed responsibility for detonating an explosive device at a headquarters in the town.

The operation resulted in the killing of 23 ISIS militants, 8 of whom blew themselves up before their arrest.

He believes that ISIS is preparing the ground for a return, attracting fighters from migrants in Libya and foreigners in the Sahel, which is linked to high coordination with the West Africa Province."""


@pytest.fixture(scope="session")
def seed_text() -> str:
    """The real seed article when ../shared is present, else the team's stand-in."""
    return SEED_ARTICLE.read_text(encoding="utf-8") if SEED_ARTICLE.exists() else _SEED_STANDIN


@pytest.fixture(scope="session")
def tiny_processed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The team's tiny corpus, written in the processed layout."""
    from tests.fixtures.tiny_corpus import write_tiny_processed

    return write_tiny_processed(tmp_path_factory.mktemp("processed"))


@pytest.fixture(scope="session")
def tiny_experiment(tiny_processed: Path):
    """A baseline experiment config sized for the tiny corpus."""
    from training.config import BaselineExperiment

    return BaselineExperiment.model_validate(
        {
            "name": "tiny",
            "data": {"processed_dir": str(tiny_processed), "max_rows_per_source": None},
            "tfidf": {"max_features": 5000, "min_df": 1},
            "head": {"c_grid": [1.0, 4.0], "calibration": "temperature"},
            "signals": {"min_positives": 5, "min_negatives": 5},
        }
    )


@pytest.fixture(scope="session")
def tiny_fit(tiny_experiment):
    """Baseline heads fitted on the tiny corpus (seconds)."""
    import pandas as pd

    from training.baseline import fit_baseline

    corpus = pd.read_parquet(tiny_experiment.data.processed_dir / "corpus.parquet")
    return fit_baseline(corpus, tiny_experiment)


@pytest.fixture(scope="session")
def tiny_scorer(tiny_fit):
    """A ``Scorer`` over the tiny baseline."""
    from threatscore.scorer import Scorer

    return Scorer(tiny_fit.heads, tiny_fit.scorer_config)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer random BERT with a small WordPiece vocabulary, saved like the packaged MiniLM folder."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from tests.fixtures.tiny_corpus import tiny_corpus

    out = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({w.strip(".,'").lower() for t in tiny_corpus()["text"] for w in t.split()} - {""})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *"abcdefghijklmnopqrstuvwxyz0123456789.,'"]
    (out / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(out / "vocab.txt")).save_pretrained(str(out))
    config = BertConfig(
        vocab_size=len(dict.fromkeys(vocab)),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    import torch

    # Seeded: unseeded, the weights depended on what the worker's earlier tests had drawn from torch's generator, and
    # so did every tiny model's scores (a stacking test failed on one xdist split of the suite and passed on others).
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = BertModel(config)
    model.save_pretrained(str(out))
    return out


# A real MLflow registry (SQLite file + local artifacts) in a temp folder, with the tiny baseline registered.
@pytest.fixture(scope="session")
def mlflow_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at a fresh SQLite tracking store, applied to this process."""
    root = tmp_path_factory.mktemp("mlflow")
    settings = Settings(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    configure_tracking(settings)
    import mlflow

    # Artifacts stay in tmp: without an explicit location they would go to ./mlruns, beside the real registry's.
    # ("threatscore" is the experiment the training configs log to.)
    for name in ("tests", "threatscore"):
        mlflow.create_experiment(name, artifact_location=(root / "artifacts" / name).as_uri())
    mlflow.set_experiment("tests")
    # Artifacts go to the experiment's default location next to the database; keep them inside tmp.
    return settings


@pytest.fixture(scope="session")
def registered_tiny(mlflow_settings: Settings, tiny_experiment, tmp_path_factory) -> dict:
    """Train the tiny experiment through the real job (log, register, evaluate) and return its facts."""
    import yaml

    from training.train import train

    config_path = Path(tmp_path_factory.mktemp("exp")) / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(tiny_experiment.model_dump(mode="json")), encoding="utf-8")
    result = train(config_path, mlflow_settings, evaluate=True)
    return {"result": result, "config_path": config_path, "settings": mlflow_settings}


@pytest.fixture(scope="session")
def tiny_gold(tiny_processed: Path):
    """The tiny corpus and a gold set over its first 60 ACLED rows (keyword-made labels)."""
    corpus = pd.read_parquet(tiny_processed / "corpus.parquet")
    rows = corpus[corpus["source"] == "acled"].head(60)
    gold = pd.DataFrame({"id": rows["id"], "part": rows["split"]})
    for name in SIGNALS:
        gold[f"sig_{name}"] = (
            rows["text"]
            .str.contains("overran|claimed" if name == "territorial_control" else "killing")
            .astype(int)
            .to_numpy()
        )
    gold["resurgence"] = rows["text"].str.contains("overran").astype(int).to_numpy()
    return corpus, gold
