"""The benchmark's three cases compute the same model: fp32 torch behind the scorer matches the ONNX export of the
same weights, and the naive pipelines give each head's probabilities for the whole text. On a tiny random encoder."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.cases import (
    CHECKPOINT_SOURCE_RUN,
    Checkpoint,
    TorchHeads,
    build_naive,
    build_torch_fp32,
    load_fp32,
    naive_text,
)
from threatscore.encoder_heads import OUTPUTS, EncoderHeads
from threatscore.schemas import Assessment
from threatscore.scorer import Scorer, ScorerConfig
from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS

TEXTS = ["gunmen attacked the patrol near the border", "the army said it killed militants", "killing"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_bert_dir, tmp_path_factory):
    """A ``torch_checkpoint/`` folder as a MiniLM run logs it (``training.minilm.save_checkpoint``), tiny."""
    from transformers import AutoTokenizer

    from training.encoder_training import build_torch_model, save_checkpoint

    model, torch = build_torch_model(tiny_bert_dir, trainable_layers=0)
    torch.manual_seed(1)
    for layer in model.heads.values():  # non-trivial head weights
        torch.nn.init.normal_(layer.weight, std=0.5)
    model.eval()
    out = tmp_path_factory.mktemp("checkpoint")
    save_checkpoint(model, AutoTokenizer.from_pretrained(str(tiny_bert_dir)), out)
    return Checkpoint(CHECKPOINT_SOURCE_RUN, out, "run-id")


def test_torch_heads_match_the_onnx_export_of_the_same_weights(tiny_checkpoint, tmp_path):
    from training.minilm import export_onnx

    model, tokenizer = load_fp32(tiny_checkpoint)
    fp32_onnx, _ = export_onnx(model, tokenizer, tmp_path, quantize=False)
    tokenizer_json = tokenizer.backend_tokenizer.to_str()
    onnx_heads = EncoderHeads(fp32_onnx.read_bytes(), tokenizer_json, max_length=64, max_words=40)
    torch_heads = TorchHeads(model, tokenizer_json, max_length=64, max_words=40, temperatures=None, batch_size=2)
    a, b = onnx_heads.logits(TEXTS), torch_heads.logits(TEXTS)
    for name in OUTPUTS:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-3, atol=1e-4)


def test_torch_fp32_case_scores_full_assessments(tiny_checkpoint):
    reference = None  # no served encoder model: the MiniLM defaults apply
    case = build_torch_fp32(tiny_checkpoint, reference)
    out = case.score([{"id": "a", "text": "Gunmen attacked a patrol near Gao, killing 4 soldiers."}, {"id": "b"}])
    Assessment.model_validate(out[0])
    assert out[1]["field"] == "text"  # a bad record is reported, as by the served pyfunc
    assert isinstance(case.info["scorer"], Scorer) and case.info["scorer"].config == ScorerConfig()


def test_torch_fp32_case_of_a_blended_model_keeps_its_tfidf_heads(tiny_checkpoint, tiny_fit, tmp_path):
    """For a served ``BlendedHeads`` the fp32 case is the same blend with the encoder in torch: same TF-IDF heads,
    weights, temperatures and keyword rules; its outputs match the fp32 ONNX blend of the same weights."""
    from threatscore.heads import BlendedHeads, RuleSignal
    from training.minilm import export_onnx

    model, tokenizer = load_fp32(tiny_checkpoint)
    fp32_onnx, _ = export_onnx(model, tokenizer, tmp_path, quantize=False)
    encoder = EncoderHeads(fp32_onnx.read_bytes(), tokenizer.backend_tokenizer.to_str(), max_length=64, max_words=40)
    encoder.rule_signals = {"claimed_responsibility": RuleSignal(0.9, 0.02)}
    weights = {"relevance": 0.4, "signals": 0.8, "event_types": 0.5, "severity": 1.0}
    served = BlendedHeads(encoder, tiny_fit.heads, weights, {"relevance": 1.5})
    case = build_torch_fp32(tiny_checkpoint, Scorer(served, tiny_fit.scorer_config))
    heads = case.info["scorer"].heads
    assert isinstance(heads, BlendedHeads) and isinstance(heads.encoder, TorchHeads)
    assert heads.lexical is tiny_fit.heads and heads.weights == weights and heads.temperatures == served.temperatures
    assert heads.encoder.rule_signals == encoder.rule_signals
    a, b = served.predict(TEXTS), heads.predict(TEXTS)
    for name in ("relevance", "signals", "event_types", "severity"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-3, atol=1e-4)


def test_naive_pipelines_give_each_heads_probabilities(tiny_checkpoint):
    model, tokenizer = load_fp32(tiny_checkpoint)
    naive = build_naive(tiny_checkpoint)
    records = [{"id": str(i), "text": t, "title": None} for i, t in enumerate(TEXTS)]
    per_head = naive.score(records)
    assert len(per_head) == len(OUTPUTS) and all(len(rows) == len(TEXTS) for rows in per_head)
    torch_heads = TorchHeads(
        model, tokenizer.backend_tokenizer.to_str(), max_length=512, max_words=40, temperatures=None, batch_size=1
    )
    logits = torch_heads.logits([naive_text(r) for r in records])
    labels = {"signals": SIGNALS, "event_types": EVENT_TYPES, "severity": SEVERITY_LEVELS}
    for head, rows in zip(OUTPUTS, per_head, strict=True):
        z = logits[head]
        expected = (
            np.exp(z) / np.exp(z).sum(1, keepdims=True) if head in ("event_types", "severity") else 1 / (1 + np.exp(-z))
        )
        names = labels.get(head, (head,))
        for k, row in enumerate(rows):
            got = {d["label"]: d["score"] for d in row}
            assert set(got) == set(names)
            np.testing.assert_allclose([got[n] for n in names], expected[k], rtol=1e-3, atol=1e-5)


def test_stages_of_a_blended_model_time_its_tfidf_heads_apart(tiny_checkpoint, tiny_fit, tmp_path):
    from benchmarks.stages import instrument
    from threatscore.heads import BlendedHeads
    from threatscore.schemas import Article
    from training.minilm import export_onnx

    model, tokenizer = load_fp32(tiny_checkpoint)
    fp32_onnx, _ = export_onnx(model, tokenizer, tmp_path, quantize=False)
    encoder = EncoderHeads(fp32_onnx.read_bytes(), tokenizer.backend_tokenizer.to_str(), max_length=64, max_words=40)
    heads = BlendedHeads(
        encoder, tiny_fit.heads, dict.fromkeys(("relevance", "signals", "event_types", "severity"), 0.5)
    )
    scorer = Scorer(heads, tiny_fit.scorer_config)
    timed = instrument(heads, scorer)
    scorer.score([Article(id="a", text="Gunmen attacked a patrol near Gao, killing 4 soldiers. " * 20)])
    seconds = timed.clock.seconds
    assert seconds["lexical heads"] > 0 and seconds["model"] > 0 and seconds["tokenization"] > 0
