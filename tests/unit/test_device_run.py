"""Training on another machine through a bundle (``training.device_run``): what comes back is exactly what was trained,
from exactly this config and data, and anything else is refused by name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.tiny_corpus import tiny_minilm_config
from training.device_run import BASE, FACTS, BundleError, DeviceRun, main, write_bundle
from training.encoder_training import (
    base_tokenizer,
    build_torch_model,
    fit_encoder,
    text_lengths,
    tokenize_for_training,
)
from training.minilm import fit_minilm, minilm_training_set

PROBE = ["Gunmen attacked the patrol near the border.", "The council approved the school budget."]


def _logits(model, tokenizer) -> list[np.ndarray]:
    import torch

    enc = tokenizer(PROBE, padding=True, return_tensors="pt")
    with torch.no_grad():
        return [t.numpy() for t in model(enc["input_ids"], enc["attention_mask"])]


@pytest.fixture(scope="module")
def trained_bundle(tiny_gold, tiny_bert_dir, tmp_path_factory):
    """A bundle of the tiny experiment, trained by the device entry point (here, on the CPU)."""
    import yaml

    corpus, gold = tiny_gold
    config = tiny_minilm_config("tiny-device", tiny_bert_dir)
    root = tmp_path_factory.mktemp("device")
    config_path = root / "experiment.yaml"
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    data = minilm_training_set(corpus, gold, config, show_progress=False)
    tokenizer = base_tokenizer(config.encoder)
    ids = tokenize_for_training(tokenizer, data.texts, config.encoder.train_max_length)
    write_bundle(
        root / "bundle", config_path, config, ids, text_lengths(data.texts), data.train_targets, tokenizer.pad_token_id
    )
    assert main([str(root / "bundle"), str(root / "out")]) == 0
    return {"config": config, "data": data, "root": root, "bundle": root / "bundle", "out": root / "out"}


def test_the_weights_brought_back_are_the_weights_the_loop_trained(trained_bundle):
    """Loading the result gives the model ``fit_encoder`` trains here from the bundle's own base folder, bit for
    bit: the device run is the one training loop, run elsewhere."""
    import torch

    b = trained_bundle
    config, data = b["config"], b["data"]
    model, tokenizer, facts = DeviceRun(b["bundle"], b["out"]).load(data.texts, data.train_targets, config)
    assert facts["train_steps"] == facts["train_steps_planned"] > 0
    torch.manual_seed(config.seed)
    here, _ = build_torch_model(b["bundle"] / BASE, config.encoder.trainable_layers)
    untrained = _logits(here.eval(), tokenizer)  # eval: no dropout, so torch's generator is left as it was
    ids = tokenize_for_training(tokenizer, data.texts, config.encoder.train_max_length)
    fit_encoder(
        here,
        ids,
        text_lengths(data.texts),
        data.train_targets,
        config,
        pad_id=tokenizer.pad_token_id,
        show_progress=False,
    )
    for got, want, before in zip(_logits(model, tokenizer), _logits(here, tokenizer), untrained, strict=True):
        np.testing.assert_array_equal(got, want)
        assert not np.allclose(got, before)  # it trained
    # The frozen parameters are the bundle's fp16 base, the trained ones came back in fp32 shards under 16 MiB.
    record = json.loads((b["out"] / FACTS).read_text())
    assert all((b["out"] / name).stat().st_size < 16 * 2**20 for name in record["shards"])
    embeddings = model.encoder.embeddings.word_embeddings.weight
    np.testing.assert_array_equal(embeddings.detach().numpy(), embeddings.detach().half().float().numpy())


def test_a_result_is_refused_for_another_config_other_data_a_probe_or_a_changed_shard(trained_bundle, tmp_path):
    b = trained_bundle
    config, data = b["config"], b["data"]
    run = DeviceRun(b["bundle"], b["out"])
    other_seed = config.model_copy(update={"seed": config.seed + 1})
    with pytest.raises(BundleError, match="another config"):
        run.load(data.texts, data.train_targets, other_seed)
    with pytest.raises(BundleError, match="other data"):
        run.load([*data.texts[:-1], data.texts[-1] + " changed"], data.train_targets, config)
    probe = tmp_path / "probe"
    assert main([str(b["bundle"]), str(probe), "--max-steps", "1"]) == 0
    with pytest.raises(BundleError, match="timing probe"):
        DeviceRun(b["bundle"], probe).load(data.texts, data.train_targets, config)
    tampered = tmp_path / "tampered"
    shutil.copytree(b["out"], tampered)
    shard = next(tampered.glob("trained-*.safetensors"))
    shard.write_bytes(shard.read_bytes()[:-1] + b"\0")
    with pytest.raises(BundleError, match="differs from the digest"):
        DeviceRun(b["bundle"], tampered).load(data.texts, data.train_targets, config)


def test_a_damaged_bundle_is_refused_before_training(trained_bundle, tmp_path, capsys):
    copy = tmp_path / "bundle"
    shutil.copytree(trained_bundle["bundle"], copy)
    (copy / "train_set.npz").write_bytes(b"not the training set")
    assert main([str(copy), str(tmp_path / "out")]) == 2
    assert "train_set.npz is missing or differs from the manifest" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_run_finished_from_a_device_result_scores_like_any_run(trained_bundle, tiny_gold):
    """``fit_minilm`` with a device run skips training and calibrates, exports and thresholds the weights brought
    back: its served int8 graph scores, and the facts say where it was trained."""
    corpus, gold = tiny_gold
    b = trained_bundle
    fit = fit_minilm(corpus, gold, b["config"], show_progress=False, device_run=DeviceRun(b["bundle"], b["out"]))
    assert fit.dev_metrics["train.on_gpu"] == 0.0
    assert fit.dev_metrics["train.train_steps"] > 0
    logits = fit.heads.logits(PROBE)
    assert logits["signals"].shape == (2, 10) and np.isfinite(logits["signals"]).all()


def test_a_bundle_needs_a_base_encoder_and_something_to_train(tiny_bert_dir, tmp_path: Path):
    config = tiny_minilm_config("warm", tiny_bert_dir)
    warm = config.model_copy(update={"encoder": config.encoder.model_copy(update={"init_from_run": "abc"})})
    idle = config.model_copy(update={"optim": config.optim.model_copy(update={"epochs": 0.0})})
    for bad, why in ((warm, "init_from_run"), (idle, "nothing to train")):
        with pytest.raises(BundleError, match=why):
            write_bundle(tmp_path / "b", tmp_path / "x.yaml", bad, [], np.array([]), None, 0)  # type: ignore[arg-type]
        assert not (tmp_path / "b").exists()
