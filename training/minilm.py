"""Fine-tune all-MiniLM-L6-v2 with five heads (relevance, signals, event types, severity, resurgence).

Targets per row come from the best label available: the team's gold set, then source labels, then the weak
label model (soft targets, down-weighted); a head whose label is missing for a row is masked out of the loss.
After training: temperature scaling per head and per-signal thresholds on dev, export to ONNX, transformer
graph fusion and int8 dynamic quantisation. The result is an ``EncoderHeads`` the scorer serves, or, with
``lexical_blend``, a ``BlendedHeads`` of it and TF-IDF heads (``training.lexical_blend``).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import mlflow
import numpy as np
import pandas as pd

from threatscore.encoder_heads import OUTPUTS, EncoderHeads
from threatscore.heads import RuleSignal, TextHeads, rule_proba
from threatscore.schemas import Article
from threatscore.scorer import Scorer, ScorerConfig
from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS, severity_level
from training.baseline import (
    FitResult,
    model_texts,
    sample_per_source,
    sample_training_rows,
    with_negative_passages,
)
from training.config import MiniLMExperiment
from training.device_run import DeviceRun
from training.encoder_training import (
    IGNORE,
    Targets,
    base_model,
    fit_encoder,
    load_checkpoint,
    save_checkpoint,
    text_lengths,
    tokenize_for_training,
)
from training.metrics import bagged_threshold, best_f1, best_threshold, binary_report
from training.rule_sentences import rule_sentence_rows
from training.weak_event_types import with_weak_event_rows

logger = logging.getLogger(__name__)


def build_targets(
    frame: pd.DataFrame, weak: dict[str, np.ndarray] | None, gold: pd.DataFrame | None, weak_weight: float
) -> Targets:
    """Targets for ``frame`` rows: gold overrides source labels, which override weak labels."""
    n = len(frame)
    signals = np.full((n, len(SIGNALS)), np.nan)
    weights = np.zeros((n, len(SIGNALS)))
    resurgence = np.full(n, np.nan)
    res_weight = np.zeros(n)
    if weak is not None:
        for j, name in enumerate(SIGNALS):
            w = weak[name]
            known = ~np.isnan(w)
            signals[known, j], weights[known, j] = w[known], weak_weight
        known = ~np.isnan(weak["resurgence"])
        resurgence[known], res_weight[known] = weak["resurgence"][known], weak_weight
    for j, name in enumerate(SIGNALS):
        column = frame[f"sig_{name}"].to_numpy(dtype="float64", na_value=np.nan)
        known = ~np.isnan(column)
        signals[known, j], weights[known, j] = column[known], 1.0
    if gold is not None and len(gold):
        position = {row_id: i for i, row_id in enumerate(frame["id"])}
        for _, g in gold.iterrows():
            i = position.get(g["id"])
            if i is None:
                continue
            for j, name in enumerate(SIGNALS):
                signals[i, j], weights[i, j] = g[f"sig_{name}"], 1.0
            resurgence[i], res_weight[i] = g["resurgence"], 1.0
    relevance = frame["relevance"].to_numpy(dtype="float64", na_value=np.nan)
    sources = frame["source"].astype(str).to_numpy() if "source" in frame else np.full(n, "")
    relevance_weight = balanced_weights(sources, relevance)
    event_index = {e: k for k, e in enumerate(EVENT_TYPES)}
    events = np.array([event_index.get(e, IGNORE) if isinstance(e, str) else IGNORE for e in frame["sub_event_type"]])
    sev_index = {s: k for k, s in enumerate(SEVERITY_LEVELS)}
    severity = np.array([sev_index[severity_level(int(f))] if pd.notna(f) else IGNORE for f in frame["fatalities"]])
    return Targets(relevance, relevance_weight, signals, weights, events, severity, resurgence, res_weight)


def contrastive_rows(groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mask of the rows whose group has both a 0 and a 1 label (NaN labels count as neither)."""
    frame = pd.DataFrame({"g": groups, "y": labels})
    both = frame.dropna().groupby("g")["y"].nunique() == 2
    return frame["g"].map(both).eq(True).to_numpy(dtype=bool)  # NaN (a group without both labels): False


def balanced_weights(groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Weights that give every (group, label) cell the same total weight (mean 1 over labelled rows; 0 where the
    label is missing). Relevance labels are tied to sources; without this the head learns house style."""
    weights = np.zeros(len(labels))
    known = ~np.isnan(labels)
    if not known.any():
        return weights
    cells = np.array([f"{g}\x1f{y}" for g, y in zip(groups[known], labels[known], strict=True)])
    _, inverse, counts = np.unique(cells, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    weights[known] = w * (known.sum() / w.sum())
    return weights


#: Run artifact folder holding the fine-tuned torch encoder, tokenizer and head weights.
CHECKPOINT_ARTIFACT = "torch_checkpoint"


def has_checkpoint(run_id: str) -> bool:
    """Whether run ``run_id`` kept its fine-tuned fp32 weights (a ``torch_checkpoint/`` artifact)."""
    from mlflow.tracking import MlflowClient

    return any(a.path == CHECKPOINT_ARTIFACT for a in MlflowClient().list_artifacts(run_id))


def download_checkpoint(run_id: str, dst_path: Path | None = None) -> Path:
    """The local folder of run ``run_id``'s ``torch_checkpoint/`` artifact (downloaded from the tracking server, into
    ``dst_path`` when given)."""
    return Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=CHECKPOINT_ARTIFACT, dst_path=None if dst_path is None else str(dst_path)
        )
    )


def train_encoder(
    train_texts: list[str], targets: Targets, config: MiniLMExperiment, show_progress: bool = True
) -> tuple[Any, Any, dict[str, float]]:
    """Fine-tune here; returns (torch model, tokenizer, training facts). Stops at the configured wall-clock budget."""
    import torch

    # Seeded before the model is built: the new heads' initial weights are drawn here. Drawn after whatever the
    # process had done before (a test suite, a retraining job), they made a run depend on more than its config.
    torch.manual_seed(config.seed)
    if config.encoder.init_from_run:
        model, tokenizer = load_checkpoint(
            download_checkpoint(config.encoder.init_from_run), trainable_layers=config.encoder.trainable_layers
        )
    else:
        model, tokenizer = base_model(config.encoder)
    token_ids = tokenize_for_training(tokenizer, train_texts, config.encoder.train_max_length)
    facts = fit_encoder(
        model,
        token_ids,
        text_lengths(train_texts),
        targets,
        config,
        pad_id=tokenizer.pad_token_id,
        show_progress=show_progress,
    )
    return model, tokenizer, facts


def export_onnx(model: Any, tokenizer: Any, out_dir: Path, *, quantize: bool) -> tuple[Path, Path]:
    """Export to ONNX and fuse attention (onnxruntime transformer optimizer); returns (fp32 fused, served)
    where served is the int8 dynamically quantised graph when ``quantize``, else the fp32 one."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer as ort_optimizer

    sample = tokenizer(["An example sentence for export."], return_tensors="pt")
    fp32 = out_dir / "model.onnx"
    torch.onnx.export(
        model,
        (sample["input_ids"], sample["attention_mask"]),
        str(fp32),
        input_names=["input_ids", "attention_mask"],
        output_names=list(OUTPUTS),
        dynamic_axes={
            "input_ids": {0: "batch", 1: "seq"},
            "attention_mask": {0: "batch", 1: "seq"},
            **{o: {0: "batch"} for o in OUTPUTS},
        },
        opset_version=17,
        dynamo=False,
    )
    hidden = model.encoder.config.hidden_size
    heads = model.encoder.config.num_attention_heads
    fused = out_dir / "model.opt.onnx"
    optimized = ort_optimizer.optimize_model(str(fp32), model_type="bert", num_heads=heads, hidden_size=hidden)
    optimized.save_model_to_file(str(fused))
    if not quantize:
        return fused, fused
    int8 = out_dir / "model.int8.onnx"
    # The five head projections stay fp32: they are tiny (384 x 41 weights) and int8 rounding there moved the
    # 25-way event-type argmax enough to cost 0.21 dev macro F1 (run f99dbaf6, version 3). The encoder's
    # MatMuls and attention, where the time goes, are quantised.
    head_nodes = [n.name for n in onnx.load(str(fused)).graph.node if set(n.output) & set(OUTPUTS)]
    # quantize_dynamic first rewrites each Gemm into "<name>_MatMul" + "<name>_Add": exclude those names too.
    head_nodes += [f"{name}_MatMul" for name in head_nodes]
    # Fused ops (com.microsoft domain) defeat ONNX shape inference; their float tensors are float32.
    quantize_dynamic(
        str(fused),
        str(int8),
        weight_type=QuantType.QInt8,
        nodes_to_exclude=head_nodes,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    logger.info("int8 quantisation kept %d head node(s) in fp32", len(head_nodes))
    return fused, int8


def fit_temperature(logits: np.ndarray, targets: np.ndarray, kind: str) -> float:
    """The temperature minimising dev NLL (grid search in [0.25, 5]); 1.0 when there is no dev label."""
    if kind == "binary":
        known = ~np.isnan(targets)
        if known.sum() < 10:
            return 1.0
        z, y = logits[known], targets[known]
    else:
        known = targets != IGNORE
        if known.sum() < 10:
            return 1.0
        z, y = logits[known], targets[known]
    best_t, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.25), np.log(5.0), 60)):
        if kind == "binary":
            p = np.clip(1 / (1 + np.exp(-z / t)), 1e-7, 1 - 1e-7)
            nll = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        else:
            s = z / t
            s = s - s.max(axis=1, keepdims=True)
            logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
            nll = -np.mean(logp[np.arange(len(y)), y.astype(int)])
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def calibrate_and_threshold(
    heads: EncoderHeads,
    dev_texts: list[str],
    dev_targets: Targets,
    base_name: str,
    dev: pd.DataFrame | None = None,
    relevance_pooling: Literal["max", "mean"] = "max",
    rule_blend: bool = False,
    rules_version: int = 1,
    threshold_resamples: int = 0,
    seed: int = 0,
    hazard_relevance_cap: float | None = None,
    hazard_caps_signals: bool = False,
    hazard_rules_version: Literal[1, 2, 3] = 1,
) -> tuple[EncoderHeads, ScorerConfig, dict[str, float]]:
    """Fit temperatures per output on dev, then choose per-signal and relevance thresholds on calibrated dev.

    The relevance threshold is chosen on the dev rows (``dev``, aligned with ``dev_texts``) of the sources that
    carry both labels (BBC_News in this corpus): every other source is all-relevant, and on them any low threshold
    looks right. On those rows relevance is computed as the scorer computes it for an article (chunks pooled by
    ``relevance_pooling``), not on the first 256 tokens: v4–v6 chose their thresholds on single truncated inputs
    and were then served max-pooled chunks, and called most long BBC business and sport articles relevant.
    Signal thresholds likewise: on every dev row with a signal label, the signals are the max over the article's
    chunks, as served (up to v8 they were the first 256 tokens' probabilities). With ``rule_blend`` a signal's
    keyword rule (of ``rules_version``) is blended in where it helps on dev (``choose_rule_blend``). The signal and
    resurgence temperatures are fitted on each article's largest chunk logit, which is what the served max over chunks
    reads (a temperature keeps the order, so the max of the calibrated chunks is the calibrated max)."""
    config = ScorerConfig(
        name=base_name,
        relevance_pooling=relevance_pooling,
        hazard_relevance_cap=hazard_relevance_cap,
        hazard_caps_signals=hazard_caps_signals,
        hazard_rules_version=hazard_rules_version,
    )
    heads.rule_signals = {}
    raw = heads.logits(dev_texts)
    pooled_raw = raw
    if dev is not None:
        pooled_raw = article_max_logits(heads, Scorer(heads, config), dev, raw, dev_targets)
    temps = {
        "relevance": fit_temperature(raw["relevance"].reshape(-1), dev_targets.relevance, "binary"),
        "signals": fit_temperature(
            pooled_raw["signals"].reshape(-1),
            np.where(dev_targets.signal_weight >= 1.0, dev_targets.signals, np.nan).reshape(-1),
            "binary",
        ),
        "event_types": fit_temperature(raw["event_types"], dev_targets.event_types, "multiclass"),
        "severity": fit_temperature(raw["severity"], dev_targets.severity, "multiclass"),
        "resurgence": fit_temperature(
            pooled_raw["resurgence"].reshape(-1),
            np.where(dev_targets.resurgence_weight >= 1.0, dev_targets.resurgence, np.nan),
            "binary",
        ),
    }
    heads.temperatures = temps
    probs = heads.outputs(raw, dev_texts)
    # Served, an article's signals are the max over its chunks, not its first 256 tokens' probabilities: the
    # thresholds are chosen on what is served (the mismatch relevance had in v4–v6). The calibrated max over
    # chunks is the calibration of the largest chunk logit, already in ``pooled_raw`` for the labelled rows.
    signals = heads.outputs(pooled_raw, dev_texts).signals
    metrics = {f"dev.temperature.{k}": v for k, v in temps.items()}
    if rule_blend:
        heads.rule_signals, signals, blend_metrics = choose_rule_blend(signals, dev_texts, dev_targets, rules_version)
        metrics.update(blend_metrics)
    relevance = probs.relevance
    if dev is not None:
        rows = relevance_rows(dev, dev_targets)
        relevance = relevance.copy()
        relevance[rows] = Scorer(heads, config).relevance(corpus_articles(dev[rows]))
    config = choose_thresholds(config, dev, dev_targets, signals, relevance, metrics, threshold_resamples, seed)
    return heads, config, metrics


def relevance_rows(dev: pd.DataFrame | None, targets: Targets) -> np.ndarray:
    """The dev rows relevance thresholds and calibration are chosen on: those of the sources that carry both labels
    (BBC_News in this corpus) when there are at least 10, else every row with a relevance label."""
    known = ~np.isnan(targets.relevance)
    if dev is None:
        return known
    mixed = known & contrastive_rows(dev["source"].astype(str).to_numpy(), targets.relevance)
    return mixed if mixed.sum() >= 10 else known


def choose_thresholds(
    config: ScorerConfig,
    dev: pd.DataFrame | None,
    targets: Targets,
    signals: np.ndarray,
    relevance: np.ndarray,
    metrics: dict[str, float],
    resamples: int = 0,
    seed: int = 0,
) -> ScorerConfig:
    """Per-signal thresholds (best dev F1 on the rows with a gold or source label; with ``resamples``, the median of
    the best thresholds of that many bootstrap resamples, ``training.metrics.bagged_threshold``) and the relevance
    threshold (best F1 on ``relevance_rows``), from dev probabilities as the scorer serves them; adds them to
    ``metrics``."""
    thresholds = {}
    for j, name in enumerate(SIGNALS):
        gold = np.where(targets.signal_weight[:, j] >= 1.0, targets.signals[:, j], np.nan)
        known = ~np.isnan(gold)
        if name == "mass_casualty":
            # Served, mass_casualty is the probability of high severity, not this head's column (the scorer replaces
            # it): a threshold chosen on the column was applied to another number (v8–v15 chose 0.125–0.25 and
            # called most medium-severity articles mass casualties). At 0.5 it agrees with the severity level.
            thresholds[name] = 0.5
        elif known.sum() >= 10 and gold[known].sum() >= 3:
            y, p = gold[known].astype(int), signals[known, j]
            thresholds[name] = bagged_threshold(y, p, resamples, seed + j) if resamples else best_threshold(y, p)
        else:
            thresholds[name] = 0.5
        metrics[f"dev.signal.{name}.threshold"] = thresholds[name]
    known = relevance_rows(dev, targets)
    metrics["dev.relevance.threshold_rows"] = float(known.sum())
    gold = targets.relevance[known].astype(int)
    rel_threshold = best_threshold(gold, relevance[known]) if known.any() else 0.5
    metrics["dev.relevance.threshold"] = rel_threshold
    report = binary_report(gold, relevance[known], rel_threshold)
    metrics.update({f"dev.relevance.{k}": float(v) for k, v in report.items()})
    return config.model_copy(update={"signal_thresholds": thresholds, "relevance_threshold": rel_threshold})


def article_max_logits(
    heads: EncoderHeads, scorer: Scorer, dev: pd.DataFrame, raw: dict[str, np.ndarray], targets: Targets
) -> dict[str, np.ndarray]:
    """``raw`` (one input per dev text) with the signal and resurgence logits of every row that carries one of
    those labels replaced by the largest logit over the article's chunks, as the scorer chunks it."""
    rows = np.flatnonzero((targets.signal_weight >= 1.0).any(axis=1) | (targets.resurgence_weight >= 1.0))
    out = {k: v.copy() for k, v in raw.items()}
    if not len(rows):
        return out
    articles = corpus_articles(dev.iloc[rows])
    chunks = [scorer.chunks(a) for a in articles]
    logits = heads.logits([c for cs in chunks for c in cs])
    bounds = np.cumsum([0] + [len(cs) for cs in chunks])
    for name in ("signals", "resurgence"):
        for row, start, end in zip(rows, bounds[:-1], bounds[1:], strict=True):
            out[name][row] = logits[name][start:end].max(axis=0)
    return out


def choose_rule_blend(
    signals: np.ndarray, texts: list[str], targets: Targets, rules_version: int = 1, min_gain: float = 0.01
) -> tuple[dict[str, RuleSignal], np.ndarray, dict[str, float]]:
    """Per signal, whether its keyword rule should be blended into the encoder's article-level probability.

    Blended, an article scores ``max(p_model, p_hit)`` when the rule fires on one of its sentences, where
    ``p_hit`` is the rule's precision on the labelled dev rows (rules of ``rules_version``). A signal is blended when
    that raises its best-threshold dev F1 by more than ``min_gain``: transparent rules catch lexical signals ("claimed
    responsibility") that a small gold set teaches the encoder poorly. Returns the chosen rules, the dev
    signals with them blended in, and the metrics behind each choice."""
    chosen: dict[str, RuleSignal] = {}
    blended = signals.copy()
    metrics: dict[str, float] = {}
    for j, name in enumerate(SIGNALS):
        y = np.where(targets.signal_weight[:, j] >= 1.0, targets.signals[:, j], np.nan)
        known = ~np.isnan(y)
        if known.sum() < 10 or np.nansum(y[known]) < 3:
            continue
        rows = [texts[i] for i in np.flatnonzero(known)]
        fired = rule_proba({name: RuleSignal(1.0, 0.0, rules_version)}, rows)[name] > 0
        if fired.sum() < 5:
            continue
        gold = y[known].astype(int)
        p_hit = float(np.clip(gold[fired].mean(), 0.05, 0.95))
        model = signals[known, j]
        with_rule = np.maximum(model, np.where(fired, p_hit, 0.0))
        f1 = {tag: best_f1(gold, p) for tag, p in (("model", model), ("with_rule", with_rule))}
        metrics |= {f"dev.signal.{name}.f1_{tag}": v for tag, v in f1.items()}
        metrics[f"dev.signal.{name}.rule_p_hit"] = p_hit
        blend = f1["with_rule"] > f1["model"] + min_gain
        metrics[f"dev.signal.{name}.rule_blend"] = float(blend)
        if blend:
            chosen[name] = RuleSignal(p_hit, 0.0, rules_version)
            blended[known, j] = with_rule
    logger.info("keyword rules blended into signals: %s", sorted(chosen) or "none")
    return chosen, blended, metrics


def corpus_articles(frame: pd.DataFrame) -> list[Article]:
    """Corpus rows as the articles a client would send (id, text, title)."""
    titles = frame["title"] if "title" in frame else pd.Series([None] * len(frame), index=frame.index)
    return [
        Article(id=str(i), text=t, title=ti if isinstance(ti, str) and ti else None)
        for i, t, ti in zip(frame["id"], frame["text"], titles, strict=True)
    ]


@dataclass
class TrainingSet:
    """The rows a MiniLM experiment trains and calibrates on, with their targets."""

    train: pd.DataFrame
    dev: pd.DataFrame
    gold_train: pd.DataFrame | None
    #: The training texts: ``train``'s, then the gold train items' repeats.
    texts: list[str]
    train_targets: Targets
    dev_targets: Targets


def minilm_training_set(
    corpus: pd.DataFrame, gold: pd.DataFrame | None, config: MiniLMExperiment, show_progress: bool = True
) -> TrainingSet:
    """Draw the train and dev rows (per-source caps, every gold item of a split), label them (gold, then source
    labels, then the weak label model) and repeat the gold train items ``data.gold_repeats`` times."""
    from training.weak_labels import LabelModel, apply_lfs

    rng_seed = config.seed
    cap = config.data.max_rows_per_source
    train = sample_training_rows(corpus, cap, rng_seed)
    dev = corpus[corpus["split"] == "dev"]
    if cap is not None:
        dev = sample_per_source(dev, max(200, cap // 5), rng_seed)
    gold_train = gold_dev = None
    if gold is not None and len(gold):
        gold_train, gold_dev = gold[gold["part"] == "train"], gold[gold["part"] == "dev"]
        # Every gold item of a split is in that split's rows, whatever the per-source cap drew.
        train = pd.concat([train, corpus[corpus["id"].isin(gold_train["id"]) & ~corpus["id"].isin(train["id"])]])
        dev = pd.concat([dev, corpus[corpus["id"].isin(gold_dev["id"]) & ~corpus["id"].isin(dev["id"])]])
    train = with_negative_passages(train, config.data.negative_passage_words, cap, rng_seed)
    train, dev = with_weak_event_rows(train, dev, config.data.weak_event_types)
    weak_train = weak_dev = None
    if gold_train is not None and len(gold_train):
        votes_train = apply_lfs(train, show_progress=show_progress)
        gold_rows = train.reset_index(drop=True)
        in_gold = gold_rows["id"].isin(gold_train["id"]).to_numpy()
        gold_aligned = gold_train.set_index("id").loc[gold_rows["id"][in_gold]]
        gold_frame = pd.DataFrame(
            {
                **{s: gold_aligned[f"sig_{s}"].to_numpy() for s in SIGNALS},
                "resurgence": gold_aligned["resurgence"].to_numpy(),
            }
        )
        label_model = LabelModel().fit({t: v[in_gold] for t, v in votes_train.items()}, gold_frame)
        weak_train = label_model.predict_proba(votes_train)
        weak_dev = label_model.predict_proba(apply_lfs(dev, show_progress=show_progress))
    train_targets = build_targets(train, weak_train, gold_train, config.data.weak_label_weight)
    dev_targets = build_targets(dev, weak_dev, gold_dev, config.data.weak_label_weight)
    texts = model_texts(train)
    if gold_train is not None and config.data.gold_repeats > 1:
        extra = np.flatnonzero(train["id"].isin(gold_train["id"]).to_numpy())
        reps = np.tile(extra, config.data.gold_repeats - 1)
        texts = texts + [texts[i] for i in reps]
        train_targets = _concat_targets(train_targets, reps)
    if config.data.rule_sentences:
        extra_texts, extra_targets = rule_sentence_rows(
            train, config.data.rule_sentences, config.rules_version, rng_seed, config.data.weak_label_weight
        )
        logger.info("adding %d rule-picked sentences as weak training rows", len(extra_texts))
        texts = texts + extra_texts
        train_targets = append_targets(train_targets, extra_targets)
    return TrainingSet(train, dev, gold_train, texts, train_targets, dev_targets)


def fit_minilm(
    corpus: pd.DataFrame,
    gold: pd.DataFrame | None,
    config: MiniLMExperiment,
    show_progress: bool = True,
    device_run: DeviceRun | None = None,
) -> FitResult:
    """Train, calibrate, export and package the MiniLM heads (int8 ONNX when ``config.quantize``). With
    ``device_run`` the encoder was trained elsewhere from a bundle of this very training set (checked), and only the
    steps after training run here."""
    data = minilm_training_set(corpus, gold, config, show_progress)
    train, dev, gold_train, texts = data.train, data.dev, data.gold_train, data.texts
    train_targets, dev_targets = data.train_targets, data.dev_targets
    if device_run is None:
        model, tokenizer, facts = train_encoder(texts, train_targets, config, show_progress)
    else:
        model, tokenizer, facts = device_run.load(texts, train_targets, config)
    metrics: dict[str, float] = {f"train.{k}": v for k, v in facts.items()}
    if mlflow.active_run() is not None:
        # The fine-tuned torch weights go with the run (not the served model): benchmarks compare the served
        # int8 graph with them, and a later experiment can start from them.
        with tempfile.TemporaryDirectory() as tmp:
            save_checkpoint(model, tokenizer, Path(tmp))
            mlflow.log_artifacts(tmp, artifact_path=CHECKPOINT_ARTIFACT)
    tokenizer_json = tokenizer.backend_tokenizer.to_str()
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path, onnx_path = export_onnx(model, tokenizer, Path(tmp), quantize=config.quantize)
        heads = EncoderHeads(
            onnx_path.read_bytes(),
            tokenizer_json,
            max_length=config.encoder.max_length,
            max_words=config.encoder.max_words,
        )
        fp32 = EncoderHeads(
            fp32_path.read_bytes(),
            tokenizer_json,
            max_length=config.encoder.max_length,
            max_words=config.encoder.max_words,
        )
        metrics["model.onnx_megabytes"] = onnx_path.stat().st_size / 1e6
        metrics["model.onnx_fp32_megabytes"] = fp32_path.stat().st_size / 1e6
    dev_texts = model_texts(dev)
    heads, scorer_config, cal = calibrate_and_threshold(
        heads,
        dev_texts,
        dev_targets,
        config.tracking.register_as,
        dev,
        config.encoder.relevance_pooling,
        config.rule_blend,
        config.rules_version,
        config.threshold_resamples,
        config.seed,
        config.hazard_relevance_cap,
        config.hazard_caps_signals,
        config.hazard_rules_version,
    )
    metrics.update(cal)
    if config.quantize:
        fp32.temperatures = dict(heads.temperatures)
        fp32.rule_signals = dict(heads.rule_signals)  # the same blend, so the deltas are the int8 graph's alone
        metrics.update(quantization_deltas(fp32, heads, dev, dev_targets, scorer_config))
    served: TextHeads = heads
    if config.lexical_blend is not None:
        from training.lexical_blend import choose_lexical_blend, fit_lexical_heads

        lexical = fit_lexical_heads(corpus, config)
        served, scorer_config, blend_metrics = choose_lexical_blend(
            heads,
            lexical,
            scorer_config,
            dev,
            dev_targets,
            config.lexical_blend.weight_grid,
            per_signal=config.lexical_blend.per_signal,
            threshold_resamples=config.threshold_resamples,
            seed=config.seed,
        )
        metrics.update(blend_metrics)
    if config.stacking is not None and gold_train is not None and len(gold_train):
        from training.stacking import stack_and_rethreshold

        scorer_config, stack_metrics = stack_and_rethreshold(
            served, scorer_config, gold_train, train, dev, dev_targets, config.stacking
        )
        metrics.update(stack_metrics)
    if config.resurgence_calibration is not None:
        from training.stacking import calibrate_resurgence

        scorer_config, res_metrics = calibrate_resurgence(
            served, scorer_config, dev, dev_targets, config.resurgence_calibration, config.seed
        )
        metrics.update(res_metrics)
    counts = {"train.rows": len(texts), "dev.rows": len(dev)}
    return FitResult(served, scorer_config, metrics, counts)


def quantization_deltas(
    fp32: EncoderHeads, int8: EncoderHeads, dev: pd.DataFrame, targets: Targets, config: ScorerConfig
) -> dict[str, float]:
    """Dev F1 of each head with the fp32 and the int8 graph, and their difference (int8 minus fp32), on the dev
    articles scored as served (chunks pooled), with the thresholds chosen that way."""
    from sklearn.metrics import f1_score

    out: dict[str, float] = {}
    articles = corpus_articles(dev)
    a, b = Scorer(fp32, config).pooled_outputs(articles), Scorer(int8, config).pooled_outputs(articles)
    known = ~np.isnan(targets.relevance)
    for tag, probs in (("fp32", a), ("int8", b)):
        out[f"dev.{tag}.relevance_f1"] = float(
            f1_score(targets.relevance[known].astype(int), probs.relevance[known] >= config.relevance_threshold)
        )
        for j, name in enumerate(SIGNALS):
            gold = np.where(targets.signal_weight[:, j] >= 1.0, targets.signals[:, j], np.nan)
            k = ~np.isnan(gold)
            if k.sum() and gold[k].sum():
                out[f"dev.{tag}.signal.{name}.f1"] = float(
                    f1_score(gold[k].astype(int), probs.signals[k, j] >= config.signal_thresholds[name])
                )
        ev = targets.event_types != IGNORE
        out[f"dev.{tag}.event_types_macro_f1"] = float(
            f1_score(targets.event_types[ev], probs.event_types[ev].argmax(axis=1), average="macro")
        )
    for key in [k for k in out if k.startswith("dev.fp32.")]:
        twin = key.replace("dev.fp32.", "dev.int8.")
        out[key.replace("dev.fp32.", "int8_delta.")] = out[twin] - out[key]
    deltas = [v for k, v in out.items() if k.startswith("int8_delta.")]
    out["int8_delta.max_abs"] = float(max(abs(d) for d in deltas)) if deltas else 0.0
    logger.info("int8 vs fp32: largest dev F1 change %.4f", out["int8_delta.max_abs"])
    return out


def _concat_targets(t: Targets, extra: np.ndarray) -> Targets:
    return append_targets(t, Targets(*(getattr(t, f)[extra] for f in Targets.__dataclass_fields__)))


def append_targets(first: Targets, second: Targets) -> Targets:
    """The rows of ``first``, then those of ``second``."""
    return Targets(*(np.concatenate([getattr(first, f), getattr(second, f)]) for f in Targets.__dataclass_fields__))
