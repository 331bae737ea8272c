"""The encoder pipeline end to end on a tiny random BERT: train, calibrate, export, quantize, score."""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.tiny_corpus import tiny_minilm_config
from threatscore.encoder_heads import EncoderHeads
from threatscore.schemas import Article
from threatscore.scorer import Scorer
from threatscore.taxonomy import SIGNALS
from training.config import MiniLMExperiment
from training.minilm import build_targets, fit_minilm, fit_temperature


@pytest.fixture(scope="module")
def tiny_encoder_fit(tiny_gold, tiny_bert_dir):
    corpus, gold = tiny_gold
    return fit_minilm(corpus, gold, tiny_minilm_config("tiny-encoder", tiny_bert_dir), show_progress=False)


def test_targets_prefer_gold_over_source_over_weak():
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "relevance": pd.array([1, None, 0], dtype="Int8"),
            "sub_event_type": ["Attack", None, "Peaceful protest"],
            "fatalities": pd.array([3, None, 0], dtype="Int64"),
            **{f"sig_{s}": pd.array([1, None, None], dtype="Int8") for s in SIGNALS},
        }
    )
    weak = {s: np.array([0.2, 0.7, np.nan]) for s in (*SIGNALS, "resurgence")}
    gold = pd.DataFrame([{"id": "b", "part": "train", **{f"sig_{s}": 0 for s in SIGNALS}, "resurgence": 1}])
    t = build_targets(frame, weak, gold, weak_weight=0.5)
    assert t.signals[0, 0] == 1.0 and t.signal_weight[0, 0] == 1.0  # source label beats weak
    assert t.signals[1, 0] == 0.0 and t.signal_weight[1, 0] == 1.0  # gold beats weak
    assert np.isnan(t.signals[2, 0]) and t.signal_weight[2, 0] == 0.0  # nothing known: masked
    assert t.resurgence[1] == 1.0 and t.event_types[1] == -100 and t.severity[0] == 2


def test_temperature_fixes_overconfidence():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000).astype(float)
    logits = (y * 2 - 1) * 1.0 + rng.normal(0, 1, 2000)
    # the calibrated logit of this mixture is 2x; 8x is 4 times overconfident
    assert 3.3 < fit_temperature(logits * 8, y, "binary") < 4.7


def test_fit_exports_int8_onnx_and_scores(tiny_encoder_fit, seed_text):
    heads = tiny_encoder_fit.heads
    assert isinstance(heads, EncoderHeads)
    assert "int8_delta.max_abs" in tiny_encoder_fit.dev_metrics  # int8 checked against fp32 on dev
    assert heads.onnx_model[:2] != b"" and set(heads.temperatures) >= {"signals", "relevance"}
    scorer = Scorer(heads, tiny_encoder_fit.scorer_config)
    (a,) = scorer.score([Article(id="seed", text=seed_text)])
    assert a.severity.fatalities == 27
    assert 0.0 <= a.resurgence.score <= 1.0
    out = heads.predict(["Gunmen attacked the town.", "The club won the cup."])
    assert out.signals.shape == (2, 10) and np.allclose(out.event_types.sum(axis=1), 1.0)


def test_heads_pickle_roundtrip_gives_same_outputs(tiny_encoder_fit):
    import pickle

    heads = tiny_encoder_fit.heads
    texts = ["Soldiers clashed with fighters near Gao.", "Rates were unchanged.", "word " * 300]
    before = heads.predict(texts).signals
    after = pickle.loads(pickle.dumps(heads)).predict(texts).signals
    assert np.allclose(before, after)


def test_int8_export_keeps_the_heads_in_fp32(tiny_bert_dir, tmp_path):
    import onnx
    from transformers import AutoTokenizer

    from training.encoder_training import build_torch_model
    from training.minilm import export_onnx

    model, _ = build_torch_model(tiny_bert_dir, 1)
    model.eval()
    _, int8 = export_onnx(model, AutoTokenizer.from_pretrained(str(tiny_bert_dir)), tmp_path, quantize=True)
    nodes = onnx.load(str(int8)).graph.node
    outputs = {"relevance", "signals", "event_types", "severity", "resurgence"}
    producer = {o: n for n in nodes for o in n.output}
    heads = [n for n in nodes if set(n.output) & outputs]
    assert len(heads) == 5
    for node in heads:  # the head's projection (Gemm, or MatMul + Add) is float, never MatMulInteger
        chain = [node, *(producer[i] for i in node.input if i in producer)]
        assert {"Gemm", "MatMul"} & {n.op_type for n in chain}, [n.op_type for n in chain]
        assert "MatMulInteger" not in {n.op_type for n in chain}
    assert any(n.op_type in {"MatMulInteger", "QAttention"} for n in nodes)  # the encoder is quantised


def test_relevance_weights_balance_source_label_cells():
    from training.minilm import balanced_weights

    groups = np.array(["acled"] * 8 + ["bbc"] * 4)
    labels = np.array([1.0] * 8 + [0.0, 0.0, 1.0, np.nan])
    w = balanced_weights(groups, labels)
    assert w[-1] == 0.0  # missing label: no weight
    cell_totals = {
        (g, y): w[(groups == g) & (labels == y)].sum() for g, y in [("acled", 1.0), ("bbc", 0.0), ("bbc", 1.0)]
    }
    totals = list(cell_totals.values())
    assert np.allclose(totals, totals[0])
    assert np.isclose(w[:-1].mean(), 1.0)


def test_relevance_threshold_is_chosen_where_both_labels_occur():
    from training.minilm import contrastive_rows

    groups = np.array(["acled"] * 4 + ["bbc"] * 4)
    labels = np.array([1.0] * 4 + [0.0, 1.0, 0.0, np.nan])
    assert contrastive_rows(groups, labels).tolist() == [False] * 4 + [True] * 4
    assert not contrastive_rows(groups[:4], labels[:4]).any()  # one label only: nowhere to choose a threshold


def test_checkpoint_roundtrip_gives_the_same_logits(tiny_bert_dir, tmp_path):
    """The torch checkpoint logged with a MiniLM run reloads to the same fp32 outputs."""
    import torch
    from transformers import AutoTokenizer

    from training.encoder_training import build_torch_model, load_checkpoint, save_checkpoint

    model, _ = build_torch_model(tiny_bert_dir, 1)
    with torch.no_grad():
        model.heads["signals"].weight.add_(0.5)  # differs from a fresh init, so a lost head would show
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    save_checkpoint(model, tokenizer, tmp_path)
    again, tokenizer2 = load_checkpoint(tmp_path)
    enc = tokenizer2(["Militants attacked a police post near Qatrun."], return_tensors="pt")
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    with torch.no_grad():
        for a, b in zip(model(**batch), again(**batch), strict=True):
            assert torch.allclose(a, b, atol=1e-6)


def test_warm_start_with_zero_epochs_reexports_the_logged_checkpoint(tiny_gold, tiny_bert_dir, mlflow_settings):
    """A run's torch_checkpoint/ warm-starts the next experiment; epochs 0 = the same weights re-calibrated."""
    import mlflow
    import torch
    from transformers import AutoTokenizer

    from training.encoder_training import build_torch_model, save_checkpoint
    from training.minilm import CHECKPOINT_ARTIFACT

    corpus, gold = tiny_gold
    model, _ = build_torch_model(tiny_bert_dir, 1)
    with torch.no_grad():
        model.heads["event_types"].weight.mul_(5.0)  # weights a fresh model would not have
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    with mlflow.start_run() as run:
        folder = Path(tempfile.mkdtemp())
        save_checkpoint(model, tokenizer, folder)
        mlflow.log_artifacts(str(folder), artifact_path=CHECKPOINT_ARTIFACT)
    base = {
        "name": "warm",
        "data": {"max_rows_per_source": None},
        "encoder": {"train_max_length": 32, "max_length": 64, "max_words": 40, "init_from_run": run.info.run_id},
        "optim": {"epochs": 0},
        "quantize": False,
    }
    config = MiniLMExperiment.model_validate(base)
    fit = fit_minilm(corpus, gold, config, show_progress=False)
    assert fit.dev_metrics["train.train_steps"] == 0
    text = "Gunmen attacked a police post near Qatrun."
    enc = tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        want = model(enc["input_ids"], enc["attention_mask"])[2].numpy()
    got = fit.heads.logits([text])["event_types"]
    np.testing.assert_allclose(got, want, atol=1e-4)
    with pytest.raises(ValueError, match="init_from_run"):
        MiniLMExperiment.model_validate({**base, "encoder": {"max_length": 64}})


@pytest.mark.parametrize("resamples", [0, 30])
def test_signal_thresholds_are_chosen_on_articles_pooled_as_served(tiny_encoder_fit, tiny_gold, resamples):
    """Each signal's threshold is the best dev F1 of the *article's* signal (max over its chunks), not of its
    first input's: here the articles open with the same quiet paragraph, so their first inputs are alike while
    the signal is in a later chunk. With ``resamples``, the median best threshold of that many resamples of it."""
    import pickle

    from training.metrics import bagged_threshold, best_threshold
    from training.minilm import calibrate_and_threshold, corpus_articles, model_texts

    corpus, gold = tiny_gold
    dev = corpus[corpus["id"].isin(gold["id"])].copy()
    quiet = " ".join(["The council met to discuss the school budget and the bridge repairs."] * 6)
    dev["text"] = quiet + " " + dev["text"]
    # A copy: calibrate_and_threshold sets the heads' temperatures, and the module's other tests share the fixture
    # (run after this one on the same xdist worker, the stacking test read the re-calibrated heads and failed).
    heads = pickle.loads(pickle.dumps(tiny_encoder_fit.heads))
    targets = build_targets(dev, None, None, 0.5)
    # Gold that the articles' pooled signals separate: the top third of each signal's article-level scores.
    # Temperatures keep the order, so calibration does not change which articles these are.
    before = Scorer(heads, tiny_encoder_fit.scorer_config).pooled_outputs(corpus_articles(dev)).signals
    # By rank, not by a quantile of the scores: a tiny model's scores may tie, and every signal still gets a third.
    targets.signals = np.zeros_like(before)
    for j in range(before.shape[1]):
        targets.signals[np.argsort(-before[:, j], kind="stable")[: len(before) // 3], j] = 1.0
    targets.signal_weight = np.ones_like(targets.signals)
    heads, config, metrics = calibrate_and_threshold(
        heads, model_texts(dev), targets, "t", dev, "mean", threshold_resamples=resamples, seed=7
    )
    pooled = Scorer(heads, config).pooled_outputs(corpus_articles(dev)).signals
    single = heads.predict(model_texts(dev)).signals
    assert not np.allclose(pooled, single), "the articles must be longer than one input"
    checked = 0
    # mass_casualty is served as the high-severity probability, so its threshold is not chosen on its column.
    assert config.signal_thresholds["mass_casualty"] == 0.5
    for j, name in enumerate(SIGNALS):
        y = targets.signals[:, j].astype(int)
        if y.sum() < 3 or y.sum() == len(y) or name == "mass_casualty":
            continue
        # (Choosing on the first inputs instead gave other thresholds here, e.g. 0.05 against 0.25.)
        expected = bagged_threshold(y, pooled[:, j], resamples, 7 + j) if resamples else best_threshold(y, pooled[:, j])
        assert config.signal_thresholds[name] == expected, name
        assert metrics[f"dev.signal.{name}.threshold"] == config.signal_thresholds[name]
        checked += 1
    assert checked == len(SIGNALS) - 1


def test_a_rule_is_blended_into_a_signal_only_where_it_helps_on_dev():
    from training.minilm import Targets, choose_rule_blend

    n = 40
    claim = "The group claimed responsibility for the attack."
    texts = [claim if i % 4 == 0 else "Troops patrolled the market on Sunday." for i in range(n)]
    signals = np.full((n, len(SIGNALS)), 0.3)
    j = SIGNALS.index("claimed_responsibility")
    signals[:, j] = np.linspace(0.2, 0.4, n)  # the encoder cannot tell claims apart here
    labels = np.full((n, len(SIGNALS)), np.nan)
    labels[:, j] = [1.0 if i % 4 == 0 else 0.0 for i in range(n)]
    k = SIGNALS.index("militant_attack")
    labels[:, k] = labels[:, j]
    signals[:, k] = np.where(labels[:, k] == 1, 0.9, 0.1)  # the encoder is already right: no rule needed
    weights = np.where(np.isnan(labels), 0.0, 1.0)
    targets = Targets(
        np.full(n, np.nan), np.ones(n), labels, weights, np.zeros(n), np.zeros(n), np.full(n, np.nan), np.zeros(n)
    )
    chosen, blended, metrics = choose_rule_blend(signals, texts, targets)
    assert set(chosen) == {"claimed_responsibility"}
    assert chosen["claimed_responsibility"].p_hit == pytest.approx(0.95)  # precision 1.0, clipped
    assert metrics["dev.signal.claimed_responsibility.f1_with_rule"] == pytest.approx(1.0)
    assert metrics["dev.signal.claimed_responsibility.rule_blend"] == 1.0
    assert (blended[labels[:, j] == 1, j] >= 0.95).all()
    np.testing.assert_array_equal(blended[:, k], signals[:, k])


def test_a_blended_rule_lifts_the_texts_it_fires_on_and_survives_pickling(tiny_encoder_fit):
    import pickle

    from threatscore.heads import RuleSignal

    heads = pickle.loads(pickle.dumps(tiny_encoder_fit.heads))
    texts = ["The Islamic State claimed responsibility for the bombing.", "The council met on Monday."]
    j = SIGNALS.index("claimed_responsibility")
    before = heads.predict(texts).signals
    heads.rule_signals = {"claimed_responsibility": RuleSignal(0.97, 0.0)}
    after = pickle.loads(pickle.dumps(heads)).predict(texts).signals
    assert after[0, j] == pytest.approx(max(0.97, before[0, j]))
    np.testing.assert_allclose(after[1], before[1])
    np.testing.assert_allclose(np.delete(after[0], j), np.delete(before[0], j))
    # A model pickled before the blend existed loads without rules.
    state = heads.__getstate__()
    del state["rule_signals"]
    old = EncoderHeads.__new__(EncoderHeads)
    old.__setstate__(state)
    assert old.rule_signals == {}


def test_signal_and_resurgence_temperatures_read_the_articles_largest_chunk(tiny_encoder_fit, tiny_gold):
    from training.minilm import article_max_logits, corpus_articles, model_texts

    corpus, gold = tiny_gold
    dev = corpus[corpus["id"].isin(gold["id"])].copy()
    quiet = " ".join(["The council met to discuss the school budget and the bridge repairs."] * 6)
    dev["text"] = quiet + " " + dev["text"]
    targets = build_targets(dev, None, gold.rename(columns={"part": "split"}), 0.5)
    targets.signal_weight[1::2] = 0.0  # odd rows carry no label: they keep their one-input logits
    targets.resurgence_weight[1::2] = 0.0
    heads = tiny_encoder_fit.heads
    raw = heads.logits(model_texts(dev))
    scorer = Scorer(heads, tiny_encoder_fit.scorer_config)
    out = article_max_logits(heads, scorer, dev, raw, targets)
    for row, article in enumerate(corpus_articles(dev)):
        if row % 2:
            np.testing.assert_array_equal(out["signals"][row], raw["signals"][row])
            continue
        chunk_logits = heads.logits(scorer.chunks(article))
        assert len(scorer.chunks(article)) > 1
        np.testing.assert_allclose(out["signals"][row], chunk_logits["signals"].max(axis=0), rtol=1e-6)
        np.testing.assert_allclose(out["resurgence"][row], chunk_logits["resurgence"].max(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(out["event_types"], raw["event_types"])


@pytest.fixture(scope="module")
def tiny_blend_fit(tiny_gold, tiny_bert_dir):
    """The tiny encoder with TF-IDF heads blended in (``lexical_blend``)."""
    corpus, gold = tiny_gold
    lexical = {
        "max_rows_per_source": None,
        "tfidf": {"max_features": 5000, "min_df": 1},
        "signals": {"min_positives": 5, "min_negatives": 5},
        "weight_grid": [0.0, 0.5],
    }
    config = tiny_minilm_config("tiny-blend", tiny_bert_dir, lexical_blend=lexical)
    return fit_minilm(corpus, gold, config, show_progress=False)


def test_a_lexical_blend_is_chosen_on_dev_and_served_whole(tiny_blend_fit, seed_text):
    import pickle

    from threatscore.heads import BLENDED_OUTPUTS, BlendedHeads, SklearnHeads

    heads, metrics = tiny_blend_fit.heads, tiny_blend_fit.dev_metrics
    assert isinstance(heads, BlendedHeads)
    assert isinstance(heads.encoder, EncoderHeads) and isinstance(heads.lexical, SklearnHeads)
    assert heads.max_words == heads.encoder.max_words == 40
    for output in BLENDED_OUTPUTS:
        chosen = metrics[f"dev.blend.{output}.weight"]
        assert heads.weights[output] == chosen and chosen in (0.0, 0.5, 1.0)
        losses = {w: metrics[f"dev.blend.{output}.log_loss_at_{w:.2f}"] for w in (0.0, 0.5, 1.0)}
        assert all(0.0 <= metrics[f"dev.blend.{output}.f1_at_{w:.2f}"] <= 1.0 for w in losses)
        # The chosen share has the lowest dev log loss; a larger share is kept unless it is worse by over 1e-4.
        assert losses[chosen] <= min(losses.values()) + 1e-4
        assert all(losses[w] > losses[chosen] + 1e-4 for w in losses if w > chosen)
        assert heads.temperatures[output] == metrics[f"dev.blend.{output}.temperature"] > 0
        if chosen == 1.0:  # the encoder alone keeps its own calibration
            assert heads.temperatures[output] == 1.0
    assessment = Scorer(heads, tiny_blend_fit.scorer_config).score([Article(id="seed", text=seed_text)])[0]
    assert assessment.id == "seed" and set(assessment.signals) == set(SIGNALS)
    texts = ["Gunmen attacked the town and killed 12.", "The club won the cup."]
    again = pickle.loads(pickle.dumps(heads))
    np.testing.assert_allclose(again.predict(texts).event_types, heads.predict(texts).event_types)


def test_blended_outputs_are_the_weighted_average_of_both_heads(tiny_blend_fit):
    from threatscore.heads import BLENDED_OUTPUTS, BlendedHeads

    enc, lex = tiny_blend_fit.heads.encoder, tiny_blend_fit.heads.lexical
    texts = ["Militants overran the army base near Gao and claimed it.", "Rates were unchanged.", "word " * 90]
    a, b = enc.predict(texts), lex.predict(texts)
    for w in (0.0, 0.3, 1.0):
        got = BlendedHeads(enc, lex, dict.fromkeys(BLENDED_OUTPUTS, w)).predict(texts)
        for output in BLENDED_OUTPUTS:
            np.testing.assert_allclose(getattr(got, output), w * getattr(a, output) + (1 - w) * getattr(b, output))
        np.testing.assert_allclose(got.event_types.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(got.resurgence, a.resurgence)  # the encoder's alone
    mixed = BlendedHeads(enc, lex, {"relevance": 1.0, "signals": 0.25, "event_types": 0.0, "severity": 0.5})
    sentences = ["The group claimed the attack.", "Troops patrolled the market."]
    np.testing.assert_allclose(
        mixed.predict_signals(sentences), 0.25 * enc.predict_signals(sentences) + 0.75 * lex.predict_signals(sentences)
    )
    assert mixed.describe()["blend.signals"] == "0.25 encoder + 0.75 lexical, T=1.00"
    # A temperature above 1 pulls the blend towards 0.5 (or the uniform distribution) and keeps its order.
    hot = BlendedHeads(enc, lex, mixed.weights, {"relevance": 2.0, "event_types": 2.0})
    cold, warm = mixed.predict(texts), hot.predict(texts)
    assert np.all(np.abs(warm.relevance - 0.5) <= np.abs(cold.relevance - 0.5) + 1e-12)
    assert np.array_equal(np.argsort(warm.relevance), np.argsort(cold.relevance))
    assert np.array_equal(warm.event_types.argmax(axis=1), cold.event_types.argmax(axis=1))
    assert np.all(warm.event_types.max(axis=1) <= cold.event_types.max(axis=1) + 1e-12)
    np.testing.assert_allclose(warm.signals, cold.signals)  # no temperature given: unchanged


def test_a_signal_may_have_its_own_share_and_old_blends_still_load(tiny_blend_fit):
    import pickle

    from threatscore.heads import BlendedHeads

    enc, lex = tiny_blend_fit.heads.encoder, tiny_blend_fit.heads.lexical
    weights = {"relevance": 1.0, "signals": 0.8, "event_types": 0.5, "severity": 0.5}
    own = BlendedHeads(enc, lex, weights, signal_weights={"recruitment": 0.0})
    texts = ["The group recruited young men.", "Troops patrolled the market."]
    a, b = enc.predict(texts).signals, lex.predict(texts).signals
    j = SIGNALS.index("recruitment")
    got = own.predict(texts).signals
    np.testing.assert_allclose(got[:, j], b[:, j])  # the lexical head alone for that signal
    others = [k for k in range(len(SIGNALS)) if k != j]
    np.testing.assert_allclose(got[:, others], 0.8 * a[:, others] + 0.2 * b[:, others])
    # Sentences for evidence are blended the same way.
    sentences = enc.predict_signals(texts), lex.predict_signals(texts)
    np.testing.assert_allclose(own.predict_signals(texts)[:, j], sentences[1][:, j])
    assert own.describe()["blend.signal.recruitment"] == "0.00 encoder + 1.00 lexical"
    with pytest.raises(ValueError, match="must name signals"):
        BlendedHeads(enc, lex, weights, signal_weights={"recruiting": 0.5})
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        BlendedHeads(enc, lex, weights, signal_weights={"recruitment": -0.1})
    # A blend pickled before signals had their own shares loads with none.
    old = BlendedHeads(enc, lex, weights)
    state = dict(old.__dict__)
    del state["signal_weights"]
    revived = BlendedHeads.__new__(BlendedHeads)
    revived.__setstate__(state)
    assert revived.signal_weights == {}
    np.testing.assert_allclose(revived.predict(texts).signals, old.predict(texts).signals)
    again = pickle.loads(pickle.dumps(own))
    np.testing.assert_allclose(again.predict(texts).signals, got)


def test_a_signal_gets_its_own_share_only_where_its_dev_log_loss_clearly_drops():
    from training.lexical_blend import choose_signal_shares
    from training.minilm import Targets

    rng = np.random.default_rng(0)
    n = 200
    gold = (rng.random((n, len(SIGNALS))) < 0.2).astype(float)
    noise = rng.random((n, len(SIGNALS)))
    # The encoder reads every signal well but recruitment, which it scores at random; the lexical heads are the
    # other way round for recruitment and useless elsewhere.
    encoder = np.clip(0.1 + 0.8 * gold + 0.05 * (noise - 0.5), 0.01, 0.99)
    lexical = np.full((n, len(SIGNALS)), 0.2)
    j = SIGNALS.index("recruitment")
    encoder[:, j] = noise[:, j]
    lexical[:, j] = np.where(gold[:, j] == 1, 0.85, 0.05)
    weight = np.ones((n, len(SIGNALS)))
    weight[:, SIGNALS.index("prison_break")] = 0.5  # weak labels only: not a dev label
    empty = np.full(n, np.nan)
    targets = Targets(empty, np.ones(n), gold, weight, np.zeros(n, int), np.zeros(n, int), empty, np.zeros(n))
    grid = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)
    # The common share (the encoder alone) is kept where it is the best.
    assert choose_signal_shares(encoder, lexical, targets, grid, common=1.0) == {"recruitment": 0.0}
    # Against a common share that is clearly worse, the labelled signals move; mass_casualty (served as the
    # high-severity probability) and a signal with weak labels only never get a share of their own.
    chosen = choose_signal_shares(encoder, lexical, targets, grid, common=0.6)
    assert chosen["recruitment"] == 0.0 and chosen["militant_attack"] == 1.0
    assert "prison_break" not in chosen and "mass_casualty" not in chosen


def test_blend_weights_and_grids_are_validated(tiny_blend_fit):
    from pydantic import ValidationError

    from threatscore.heads import BlendedHeads
    from training.config import LexicalBlendConfig

    enc, lex = tiny_blend_fit.heads.encoder, tiny_blend_fit.heads.lexical
    with pytest.raises(ValueError, match="must name exactly"):
        BlendedHeads(enc, lex, {"relevance": 0.5})
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        BlendedHeads(enc, lex, {"relevance": 1.5, "signals": 0.5, "event_types": 0.5, "severity": 0.5})
    with pytest.raises(ValueError, match="temperatures must be positive"):
        BlendedHeads(enc, lex, dict.fromkeys(("relevance", "signals", "event_types", "severity"), 0.5), {"x": 1.0})
    assert LexicalBlendConfig(weight_grid=(0.5, 0.2)).weight_grid == (0.2, 0.5, 1.0)  # the encoder alone is a candidate
    with pytest.raises(ValidationError):
        LexicalBlendConfig(weight_grid=(1.2,))


def test_the_scorer_mixes_the_pooled_encoder_with_tfidf_over_the_whole_article(tiny_blend_fit, seed_text):
    heads, config = tiny_blend_fit.heads, tiny_blend_fit.scorer_config
    article = Article(id="seed", text=seed_text, title="ISIS attack in Qatrun")
    scorer = Scorer(heads, config)
    assert len(scorer.chunks(article)) > 1  # long enough to be chunked
    whole = scorer.whole_input(article)
    assert whole.startswith("ISIS attack in Qatrun.") and len(whole) > max(len(c) for c in scorer.chunks(article))
    expected = heads.mix(Scorer(heads.encoder, config).pooled_outputs([article]), heads.lexical.predict([whole]))
    got = scorer.pooled_outputs([article])
    for output in ("relevance", "signals", "event_types", "severity", "resurgence"):
        np.testing.assert_allclose(getattr(got, output), getattr(expected, output), rtol=1e-6)


def test_a_stacking_layer_is_kept_where_it_lowers_dev_log_loss_and_thresholds_follow_it(tiny_encoder_fit, tiny_gold):
    """Resurgence gold that the heads' own resurgence cannot read but the other served scores can (the articles
    whose militant_attack score is in the top third): the layer must be kept for resurgence, with the grid's lowest
    dev log loss; every output's decision matches its metrics; stacked signals get thresholds chosen on the stacked
    dev scores."""
    from training.config import StackingConfig
    from training.metrics import best_threshold
    from training.minilm import corpus_articles
    from training.stacking import fit_stacking, stack_and_rethreshold

    corpus, _ = tiny_gold
    heads, config = tiny_encoder_fit.heads, tiny_encoder_fit.scorer_config
    rows = corpus.drop_duplicates("id").reset_index(drop=True)
    scores = Scorer(heads, config).served_scores(corpus_articles(rows))
    attack = scores.signals[:, SIGNALS.index("militant_attack")]
    labels = pd.DataFrame({"id": rows["id"]})
    top = np.zeros(len(rows), dtype=int)
    top[np.argsort(-attack, kind="stable")[: len(rows) // 3]] = 1
    labels["resurgence"] = top
    for name in SIGNALS:  # the other gold signals: the tiny corpus' own keyword truth
        labels[f"sig_{name}"] = rows["text"].str.contains("killing|overran").astype(int).to_numpy()
    half = len(rows) // 2
    gold_train, dev = labels.iloc[:half], rows.iloc[half:].reset_index(drop=True)
    dev_targets = build_targets(dev, None, labels.iloc[half:], 0.5)
    settings = StackingConfig(c_grid=(0.1, 1.0), min_positives=3)

    stacked, metrics = stack_and_rethreshold(heads, config, gold_train, rows, dev, dev_targets, settings)
    assert stacked.stacking is not None and "resurgence" in stacked.stacking.layers
    assert "mass_casualty" not in stacked.stacking.layers
    for name in [k.split(".")[2] for k in metrics if k.endswith(".log_loss_heads")]:
        grid = [metrics[f"dev.stack.{name}.log_loss_at_c{c:g}"] for c in settings.c_grid]
        heads_loss = metrics[f"dev.stack.{name}.log_loss_heads"]
        if name in stacked.stacking.layers:
            assert metrics[f"dev.stack.{name}.log_loss"] == min(grid) < heads_loss - 1e-4
        else:
            assert min(grid) >= heads_loss - 1e-4 and f"dev.stack.{name}.c" not in metrics
    dev_scores = Scorer(heads, stacked).served_scores(corpus_articles(dev))
    for name in stacked.stacking.layers:
        if name == "resurgence":
            continue
        j = SIGNALS.index(name)
        y = dev_targets.signals[:, j].astype(int)
        if 3 <= y.sum() < len(y):
            assert stacked.signal_thresholds[name] == best_threshold(y, dev_scores.signals[:, j])
    # no gold positives enough: nothing is stacked and the config comes back unchanged
    same, _ = stack_and_rethreshold(
        heads, config, gold_train, rows, dev, dev_targets, StackingConfig(min_positives=len(rows))
    )
    assert same == config
    with pytest.raises(ValueError, match="before stacking"):
        fit_stacking(Scorer(heads, stacked), gold_train, rows, dev_scores, dev_targets, settings)


def test_resurgence_calibration_sets_a_platt_layer_and_the_dev_threshold(tiny_encoder_fit, tiny_gold):
    """Gold resurgence at a base rate the tiny heads' resurgence does not follow: the calibration is kept (an
    out-of-fold gain on dev), reads the resurgence score alone, and the decision threshold is the best on the
    calibrated dev scores; a calibration that cannot gain leaves the config as it was."""
    from training.config import ResurgenceCalibrationConfig
    from training.metrics import best_threshold
    from training.minilm import corpus_articles
    from training.stacking import calibrate_resurgence

    corpus, _ = tiny_gold
    heads, config = tiny_encoder_fit.heads, tiny_encoder_fit.scorer_config
    dev = corpus.drop_duplicates("id").reset_index(drop=True)
    before = Scorer(heads, config).served_scores(corpus_articles(dev))
    labels = pd.DataFrame({"id": dev["id"]})
    # The articles the heads rate highest for resurgence are the positives, but only one in six of them.
    labels["resurgence"] = 0
    labels.loc[np.argsort(-before.resurgence, kind="stable")[: max(6, len(dev) // 6)], "resurgence"] = 1
    for name in SIGNALS:
        labels[f"sig_{name}"] = 0
    targets = build_targets(dev, None, labels, 0.5)
    settings = ResurgenceCalibrationConfig(folds=3, min_gain=0.0)

    calibrated, metrics = calibrate_resurgence(heads, config, dev, targets, settings, seed=0)
    assert calibrated.stacking is not None and set(calibrated.stacking.layers) == {"resurgence"}
    layer = calibrated.stacking.layers["resurgence"]
    assert sum(c != 0 for c in layer.coef) == 1
    assert (
        metrics["dev.resurgence_calibration.log_loss_out_of_fold"]
        < metrics["dev.resurgence_calibration.log_loss_as_is"]
    )
    after = Scorer(heads, calibrated).served_scores(corpus_articles(dev))
    y = labels["resurgence"].to_numpy()
    assert calibrated.resurgence_threshold == best_threshold(y, after.resurgence)
    assert abs(after.resurgence.mean() - y.mean()) < abs(before.resurgence.mean() - y.mean())
    np.testing.assert_allclose(after.signals, before.signals)  # only resurgence moves
    unchanged, _ = calibrate_resurgence(heads, config, dev, targets, ResurgenceCalibrationConfig(min_gain=0.99), 0)
    assert unchanged == config


def test_a_fit_depends_on_its_seed_not_on_what_the_process_drew_before(tiny_gold, tiny_bert_dir):
    """The heads' initial weights come from the config's seed: two fits of one config give the same model whatever
    torch's generator was used for in between (the heads were once built before the seed was set)."""
    import torch

    corpus, gold = tiny_gold
    config = tiny_minilm_config("tiny-seeded", tiny_bert_dir)
    texts = ["Gunmen attacked the patrol near the border.", "The council approved the school budget."]
    torch.manual_seed(1)
    first = fit_minilm(corpus, gold, config, show_progress=False).heads.logits(texts)
    torch.manual_seed(2)
    torch.rand(1000)
    second = fit_minilm(corpus, gold, config, show_progress=False).heads.logits(texts)
    for name in first:
        np.testing.assert_allclose(first[name], second[name], rtol=1e-5, atol=1e-6)
