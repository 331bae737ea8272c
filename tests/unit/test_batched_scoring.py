"""The scoring path's speed changes keep its outputs: evidence sentences of all articles in one model call,
and length-sorted batches that are padded to their own longest text only."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from threatscore.encoder_heads import EncoderHeads, available_cpus, unfuse_skip_layer_norm
from threatscore.schemas import Article
from threatscore.scorer import Scorer
from threatscore.taxonomy import SIGNALS


class CountingHeads:
    """Real heads, with the number of texts and calls each method received."""

    def __init__(self, heads: Any) -> None:
        self.inner = heads
        self.max_words = heads.max_words
        self.calls: dict[str, list[int]] = {"predict": [], "predict_signals": []}

    def predict(self, texts):
        self.calls["predict"].append(len(texts))
        return self.inner.predict(texts)

    def predict_signals(self, texts):
        self.calls["predict_signals"].append(len(texts))
        return self.inner.predict_signals(texts)

    def describe(self):
        return self.inner.describe()


def _articles(seed_text: str) -> list[Article]:
    return [
        Article(id="seed", text=seed_text, title="ISIS attacks army patrol near Qatrun", published="2022-01-29"),
        Article(id="sport", text="The striker scored twice as the club won the cup final on Saturday."),
        Article(id="claim", text="The group claimed responsibility for the attack. Gunmen killed 12 soldiers."),
        Article(id="prison", text="Militants stormed the prison in Hasakah and freed dozens of inmates."),
    ]


def test_a_batch_gives_each_article_what_it_gets_alone(tiny_scorer, seed_text):
    articles = _articles(seed_text)
    together = [a.model_dump() for a in tiny_scorer.score(articles)]
    alone = [tiny_scorer.score([a])[0].model_dump() for a in articles]
    assert together == alone
    assert any(s["evidence"] for s in together[0]["signals"].values())  # evidence was chosen at all


def test_evidence_sentences_of_all_articles_go_to_the_model_in_one_call(tiny_scorer, seed_text):
    counting = CountingHeads(tiny_scorer.heads)
    scorer = Scorer(counting, tiny_scorer.config)
    articles = _articles(seed_text)
    scored = scorer.score(articles)
    assert len(counting.calls["predict"]) == 1
    assert len(counting.calls["predict_signals"]) == 1  # was one call per article with evidence
    assert counting.calls["predict_signals"][0] > len(articles)  # the sentences of several articles
    assert [a.model_dump() for a in scored] == [a.model_dump() for a in tiny_scorer.score(articles)]


@pytest.fixture(scope="module")
def tiny_onnx(tiny_bert_dir, tmp_path_factory):
    """fp32 and int8 ONNX graphs of a tiny random five-head encoder, and a tokenizer JSON that pads (as the
    all-MiniLM-L6-v2 tokenizer saved by transformers does)."""
    from transformers import AutoTokenizer

    from training.encoder_training import build_torch_model
    from training.minilm import export_onnx

    model, torch = build_torch_model(tiny_bert_dir, trainable_layers=0)
    torch.manual_seed(0)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    out = tmp_path_factory.mktemp("tiny-onnx")
    fp32, int8 = export_onnx(model, tokenizer, out, quantize=True)
    # After the export: calling the HF tokenizer resets its backend's padding.
    backend = tokenizer.backend_tokenizer
    backend.enable_padding(pad_id=0, pad_token="[PAD]")
    assert backend.padding is not None
    return fp32.read_bytes(), int8.read_bytes(), backend.to_str()


TEXTS = [
    "gunmen attacked the patrol",
    "the army said it killed militants near the border after the attack on the patrol and the base",
    "the group claimed the attack",
    "militants overran the town and the army withdrew from the base near the border after the attack",
    "killing",
]


def _shapes(heads: EncoderHeads, texts: list[str]) -> list[tuple[int, int]]:
    """(rows, width) of every batch the encoder ran on for ``texts``."""
    shapes: list[tuple[int, int]] = []
    run = heads._run_batch

    def recording(
        ids: np.ndarray, mask: np.ndarray, session: Any = None, states: bool = False
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        shapes.append(ids.shape)
        return run(ids, mask, session, states)

    heads._ensure_loaded()
    heads._run_batch = recording  # type: ignore[method-assign]
    heads.logits(texts)
    return shapes


def _widths(heads: EncoderHeads, texts: list[str]) -> list[int]:
    return [width for _, width in _shapes(heads, texts)]


def test_batches_are_padded_to_their_own_longest_text(tiny_onnx):
    fp32, _, tokenizer_json = tiny_onnx
    heads = EncoderHeads(fp32, tokenizer_json, max_length=64, max_words=40, batch_size=2)
    heads._ensure_loaded()
    assert heads._tokenizer.padding is None  # the saved tokenizer's padding is switched off
    lengths = sorted(len(heads._tokenizer.encode(t).ids) for t in TEXTS)
    # length-sorted batches of two: each as wide as its longer text, not as the longest text of the call
    assert _widths(heads, TEXTS) == [lengths[1], lengths[3], lengths[4]]


def test_batches_stay_within_the_token_budget(tiny_onnx):
    fp32, _, tokenizer_json = tiny_onnx
    heads = EncoderHeads(fp32, tokenizer_json, max_length=64, max_words=40, batch_size=32, max_batch_tokens=12)
    heads._ensure_loaded()
    longest = max(len(heads._tokenizer.encode(t).ids) for t in TEXTS)
    assert longest > 12  # the budget is smaller than the longest text
    shapes = _shapes(heads, TEXTS * 3)
    assert sum(rows for rows, _ in shapes) == len(TEXTS) * 3  # every text scored once
    # rows x width within the budget, except a text longer than the budget, which goes alone
    assert all(rows * width <= 12 or rows == 1 for rows, width in shapes)
    assert (1, longest) in shapes and len(shapes) > 3
    unbounded = EncoderHeads(fp32, tokenizer_json, max_length=64, max_words=40, batch_size=32, max_batch_tokens=10**6)
    assert _shapes(unbounded, TEXTS * 3) == [(len(TEXTS) * 3, longest)]
    np.testing.assert_allclose(  # fp32: the batching does not change the scores
        heads.logits(TEXTS)["signals"], unbounded.logits(TEXTS)["signals"], rtol=1e-4, atol=1e-5
    )


def test_heads_pickled_before_the_token_budget_get_the_default(tiny_onnx):
    import pickle

    from threatscore.encoder_heads import DEFAULT_BATCH_TOKENS

    fp32, _, tokenizer_json = tiny_onnx
    heads = EncoderHeads(fp32, tokenizer_json, max_length=64, max_words=40)
    state = heads.__getstate__()
    del state["max_batch_tokens"]
    old = EncoderHeads.__new__(EncoderHeads)
    old.__setstate__(state)
    assert old.max_batch_tokens == DEFAULT_BATCH_TOKENS
    assert pickle.loads(pickle.dumps(heads)).logits(TEXTS)["signals"].shape == (len(TEXTS), 10)


def test_int8_scores_of_a_text_do_not_depend_on_longer_texts_in_the_call(tiny_onnx):
    """Dynamic int8 quantisation reads its range off the whole batch, padding included: when the tokenizer
    padded every text to the call's longest, a short text's scores changed with what else was in the call."""
    _, int8, tokenizer_json = tiny_onnx
    heads = EncoderHeads(int8, tokenizer_json, max_length=64, max_words=40, batch_size=1)
    alone = heads.logits(TEXTS[:1])
    with_others = heads.logits(TEXTS)
    for name in alone:
        np.testing.assert_array_equal(alone[name][0], with_others[name][0])


def test_an_int8_text_is_scored_the_same_whatever_else_is_in_the_call(tiny_onnx):
    """Dynamic int8 reads each activation's range off the whole batch: the same article in another request, batch
    size or engine (Spark) would get other scores. Each text of an int8 graph is its own batch."""
    _, int8, tokenizer_json = tiny_onnx
    heads = EncoderHeads(int8, tokenizer_json, max_length=64, max_words=40)  # default batch size and budget
    shapes = _shapes(heads, TEXTS)
    assert [rows for rows, _ in shapes] == [1] * len(TEXTS)
    together = heads.logits(TEXTS * 2)
    for k, text in enumerate(TEXTS):
        alone = heads.logits([text])
        for name in alone:
            np.testing.assert_array_equal(alone[name][0], together[name][k])
            np.testing.assert_array_equal(alone[name][0], together[name][k + len(TEXTS)])


def test_parallel_batches_give_the_same_logits_as_batches_in_turn(tiny_onnx):
    fp32, int8, tokenizer_json = tiny_onnx
    for graph in (fp32, int8):
        heads = EncoderHeads(graph, tokenizer_json, max_length=64, max_words=40, batch_size=2, threads=2)
        heads.parallel_batches = False
        in_turn = heads.logits(TEXTS * 3)
        heads.parallel_batches = True
        assert heads._pool is not None  # two threads: batches go to the pool
        side_by_side = heads.logits(TEXTS * 3)
        for name in in_turn:
            np.testing.assert_allclose(in_turn[name], side_by_side[name], rtol=1e-5, atol=1e-6)


def test_an_encoder_with_a_pool_shortens_the_switch_interval_and_one_thread_leaves_it(tiny_onnx):
    """Pool threads hand the GIL back and forth for every input: the first load of a several-thread encoder lowers the
    interpreter's switch interval to ``SWITCH_INTERVAL_S`` (never raises it); a one-thread encoder has no pool and
    leaves the interpreter as it is."""
    import sys

    from threatscore.encoder_heads import SWITCH_INTERVAL_S

    _, int8, tokenizer_json = tiny_onnx
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        EncoderHeads(int8, tokenizer_json, max_length=64, max_words=40, threads=1)._ensure_loaded()
        assert sys.getswitchinterval() == pytest.approx(0.005)
        EncoderHeads(int8, tokenizer_json, max_length=64, max_words=40, threads=2)._ensure_loaded()
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)
        sys.setswitchinterval(0.0001)  # someone chose shorter: kept
        EncoderHeads(int8, tokenizer_json, max_length=64, max_words=40, threads=2)._ensure_loaded()
        assert sys.getswitchinterval() == pytest.approx(0.0001)
    finally:
        sys.setswitchinterval(before)


def test_text_work_beside_the_encoder_gives_the_same_assessments(tiny_onnx, tiny_fit, seed_text, monkeypatch):
    """The blend's TF-IDF heads, places, death counts and language run on a second thread while the encoder runs:
    the assessments are exactly those of the same work in sequence, and the work did run off the caller's thread."""
    import threading

    import threatscore.scorer as scoring
    from threatscore.heads import BLENDED_OUTPUTS, BlendedHeads

    _, int8, tokenizer_json = tiny_onnx
    encoder = EncoderHeads(int8, tokenizer_json, max_length=64, max_words=40, threads=2)
    heads = BlendedHeads(encoder, tiny_fit.heads, dict.fromkeys(BLENDED_OUTPUTS, 0.5))
    scorer = Scorer(heads, tiny_fit.scorer_config)
    articles = _articles(seed_text)
    threads: list[str] = []
    facts = scoring._text_facts

    def recording(p):
        threads.append(threading.current_thread().name)
        return facts(p)

    monkeypatch.setattr(scoring, "_text_facts", recording)
    beside = [a.model_dump() for a in scorer.score(articles)]
    assert len(threads) == len(articles) and all(name.startswith("threatscore-text") for name in threads)
    scorer.parallel_text_work = False
    threads.clear()
    in_turn = [a.model_dump() for a in scorer.score(articles)]
    assert threads == [threading.current_thread().name] * len(articles)
    assert beside == in_turn
    assert beside[0]["regions"] and beside[0]["severity"]["fatalities"]  # the side work's results are in them


def test_sentences_tf_idf_read_ahead_on_the_second_thread_give_the_same_evidence(tiny_onnx, tiny_fit, seed_text):
    """A blend's TF-IDF signals of the sentences of short and medium articles are read on the second thread while
    the encoder runs, once per distinct sentence; evidence is exactly what reading them when needed gives. A long
    article's sentences are read only when evidence asks for them."""
    import threading

    from threatscore.heads import BLENDED_OUTPUTS, BlendedHeads
    from threatscore.scorer import SENTENCE_LEXICAL_MAX_CHUNKS

    _, int8, tokenizer_json = tiny_onnx
    encoder = EncoderHeads(int8, tokenizer_json, max_length=64, max_words=40, threads=2)
    heads = BlendedHeads(encoder, tiny_fit.heads, dict.fromkeys(BLENDED_OUTPUTS, 0.5))
    # Every signal over its threshold, so that every article asks for evidence.
    config = tiny_fit.scorer_config.model_copy(update={"signal_thresholds": dict.fromkeys(SIGNALS, 0.0)})
    scorer = Scorer(heads, config)
    short = "Gunmen attacked a police post in Kano. The group claimed the attack. Two officers were killed."
    articles = [*_articles(seed_text), Article(id="short", text=short), Article(id="again", text=short)]
    prepared = [scorer._prepare(a) for a in articles]
    assert any(len(p.chunks) > SENTENCE_LEXICAL_MAX_CHUNKS for p in prepared)  # the seed article is long here
    calls: list[tuple[str, list[str]]] = []
    lexical = tiny_fit.heads.predict_signals

    def recording(texts):
        calls.append((threading.current_thread().name, list(texts)))
        return lexical(texts)

    tiny_fit.heads.predict_signals = recording
    try:
        ahead = [a.model_dump() for a in scorer.score(articles)]
        read_ahead = [texts for name, texts in calls if name.startswith("threatscore-text")]
        scorer.parallel_text_work = False
        calls.clear()
        when_needed = [a.model_dump() for a in scorer.score(articles)]
    finally:
        del tiny_fit.heads.predict_signals
    assert ahead == when_needed
    assert any(s["evidence"] for a in ahead for s in a["signals"].values())
    assert len(read_ahead) == 1
    expected = [s for p in prepared if len(p.chunks) <= SENTENCE_LEXICAL_MAX_CHUNKS for s in p.sentence_inputs]
    assert read_ahead[0] == list(dict.fromkeys(expected))  # each distinct sentence once, the long article's none


def test_side_by_side_keeps_the_order_and_stops_at_the_first_error():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from threatscore.encoder_heads import _side_by_side

    seen: list[str] = []

    def square(x: int) -> int:
        seen.append(threading.current_thread().name)
        return x * x

    with ThreadPoolExecutor(2, thread_name_prefix="side") as pool:
        assert _side_by_side(pool, 2, square, list(range(50))) == [x * x for x in range(50)]
        assert set(seen) <= {"side_0", "side_1"} and len(seen) == 50
        done: list[int] = []

        def failing(x: int) -> int:
            if x == 3:
                raise ValueError("batch 3")
            done.append(x)
            return x

        with pytest.raises(ValueError, match="batch 3"):
            _side_by_side(pool, 2, failing, list(range(1000)))
        assert len(done) < 999  # the other thread stopped after its current item
    # A pool shut down under a call (before a fork): the call scores the rest on its own thread.
    seen.clear()
    assert _side_by_side(pool, 2, square, list(range(10))) == [x * x for x in range(10)]
    assert seen == [threading.current_thread().name] * 10


def test_releasing_an_encoder_joins_its_pool_threads(tiny_onnx):
    """Before a fork no thread of the encoder's pool may be left between two steps: ``_release`` waits for them."""
    _, int8, tokenizer_json = tiny_onnx
    heads = EncoderHeads(int8, tokenizer_json, max_length=64, max_words=40, threads=2)
    heads.logits(TEXTS * 2)
    pool = heads._pool
    assert pool is not None and pool._threads
    heads._release()
    assert heads._runtime is None and not any(t.is_alive() for t in pool._threads)
    assert heads.logits(TEXTS)["signals"].shape[0] == len(TEXTS)  # loaded again at the next call


def test_fp32_logits_are_the_same_whatever_the_batching(tiny_onnx):
    fp32, _, tokenizer_json = tiny_onnx
    one = EncoderHeads(fp32, tokenizer_json, max_length=64, max_words=40, batch_size=1).logits(TEXTS)
    many = EncoderHeads(fp32, tokenizer_json, max_length=64, max_words=40, batch_size=32).logits(TEXTS)
    for name in one:
        np.testing.assert_allclose(one[name], many[name], rtol=1e-4, atol=1e-5)


def _op_types(graph: bytes) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load_from_string(graph).graph.node}


@pytest.mark.parametrize("which", [0, 1], ids=["fp32", "int8"])
def test_skip_layer_norm_is_unfused_into_standard_ops(tiny_onnx, which):
    graph = tiny_onnx[which]
    assert "SkipLayerNormalization" in _op_types(graph)  # what the exporter's fusion produced
    unfused, disabled = unfuse_skip_layer_norm(graph)
    ops = _op_types(unfused)
    assert "SkipLayerNormalization" not in ops and "LayerNormalization" in ops
    assert disabled == ["SkipLayerNormFusion"]
    assert unfuse_skip_layer_norm(unfused) == (unfused, [])  # nothing left to rewrite


def test_unfused_graph_computes_the_same_fp32_logits(tiny_onnx):
    import onnxruntime as ort

    fp32, _, tokenizer_json = tiny_onnx
    heads = EncoderHeads(fp32, tokenizer_json, max_length=64, max_words=40)
    unfused = heads.logits(TEXTS)  # the session runs the unfused graph
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    fused_session = ort.InferenceSession(fp32, options, providers=["CPUExecutionProvider"])  # the fused graph
    heads._runtime = heads._ensure_loaded()._replace(session=fused_session, solo=fused_session)
    fused = heads.logits(TEXTS)
    for name in fused:
        np.testing.assert_allclose(unfused[name], fused[name], rtol=1e-4, atol=1e-5)


def test_available_cpus_is_within_the_machine():
    import os

    assert 1 <= available_cpus() <= (os.cpu_count() or 1)


class ChunkingHeads(CountingHeads):
    """The tiny baseline's heads read in chunks of ``max_words`` words, as the encoder reads long articles."""

    def __init__(self, heads: Any, max_words: int) -> None:
        super().__init__(heads)
        self.max_words = max_words


def test_long_articles_quote_only_sentences_of_the_chunks_that_carry_the_signal(tiny_fit):
    from threatscore.taxonomy import SIGNALS
    from threatscore.text import chunk_spans, prepare, sentence_spans

    quiet = "The council met on Monday to discuss the new school budget and the repair of the old bridge."
    loud = "The group claimed responsibility for the attack. Militants stormed the prison and freed dozens of inmates."
    text = " ".join([quiet] * 6 + [loud] + [quiet] * 6)
    document = prepare(text)
    chunks = chunk_spans(document.text, 40, 1)
    assert len(chunks) > 3
    chunk_probs = tiny_fit.heads.predict([c.of(document.text) for c in chunks]).signals
    # The signals the loud chunk carries and the quiet ones do not, made present; the others absent.
    carried = [
        n
        for j, n in enumerate(SIGNALS)
        if n != "mass_casualty" and np.sort(chunk_probs[:, j])[-2] < 0.5 * chunk_probs[:, j].max()
    ]
    assert carried
    thresholds = {n: 0.0 if n in carried else 1.0 for n in SIGNALS}
    config = tiny_fit.scorer_config.model_copy(update={"signal_thresholds": thresholds, "chunk_overlap_sentences": 1})
    heads = ChunkingHeads(tiny_fit.heads, max_words=40)
    assessment = Scorer(heads, config).score([Article(id="long", text=text)])[0]

    # Only the sentences of the loud chunk are read for evidence, not all the article's sentences.
    loud_chunk = chunks[int(np.argmax(chunk_probs[:, SIGNALS.index(carried[0])]))]
    in_loud = [s for s in sentence_spans(document.text) if s.start < loud_chunk.end and loud_chunk.start < s.end]
    assert heads.calls["predict_signals"] == [len(in_loud)]
    assert len(in_loud) < len(sentence_spans(document.text))
    for name in carried:
        quotes = assessment.signals[name].evidence
        assert quotes and all(q in loud_chunk.of(document.text) for q in quotes), name


def test_relevance_pooling_mean_reads_the_article_as_a_whole(tiny_fit):
    quiet = "The council met on Monday to discuss the new school budget and the repair of the old bridge."
    loud = "Gunmen attacked the army base and killed twelve soldiers. Militants stormed the prison."
    article = Article(id="mixed", text=" ".join([quiet] * 6 + [loud] + [quiet] * 6))
    heads = ChunkingHeads(tiny_fit.heads, max_words=40)
    by = {
        pooling: Scorer(heads, tiny_fit.scorer_config.model_copy(update={"relevance_pooling": pooling}))
        for pooling in ("max", "mean")
    }
    chunks = [c for c in by["max"]._prepare(article).chunks]
    per_chunk = tiny_fit.heads.predict(chunks).relevance
    for pooling, expected in (("max", per_chunk.max()), ("mean", per_chunk.mean())):
        scorer = by[pooling]
        assert scorer.relevance([article])[0] == pytest.approx(expected)
        assert scorer.score([article])[0].relevance == pytest.approx(expected, abs=1e-4)  # the same number
    assert per_chunk.mean() < per_chunk.max()


_FORK_SCRIPT = """
import os, sys, time, numpy as np
from threatscore.encoder_heads import EncoderHeads
texts = sys.argv[3].split("|")
heads = EncoderHeads(open(sys.argv[1], "rb").read(), open(sys.argv[2]).read(), max_length=64, max_words=40, threads=2)
expected = heads.logits(texts)["signals"]  # loaded here, pool threads started
read, write = os.pipe()
pid = os.fork()
if pid == 0:  # the child: score, report, and exit the normal way (interpreter teardown included)
    fresh = heads._runtime is None  # released before the fork, not carried into the child
    same = np.array_equal(heads.logits(texts)["signals"], expected)
    os.write(write, b"ok" if fresh and same else b"carried" if not fresh else b"differ")
    sys.exit(0)
os.close(write)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    if os.waitpid(pid, os.WNOHANG)[0]:
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    print("hung")
    sys.exit(1)
child = os.read(read, 16).decode()
# The parent let go of its sessions too, and loads them again at its next call.
print(child if np.array_equal(heads.logits(texts)["signals"], expected) else "parent differs")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_process_forked_after_loading_scores_with_its_own_threads(tiny_onnx, tmp_path):
    """A pre-forking server or a multiprocessing pool may fork after the model is loaded. A session carried into
    the child hangs it when destroyed there, so sessions are released before the fork and both processes build
    new ones. Run in a fresh interpreter, whose teardown the child goes through: a pytest worker holds other
    tests' sessions and threads."""
    import subprocess
    import sys

    _, int8, tokenizer_json = tiny_onnx
    (tmp_path / "model.onnx").write_bytes(int8)
    (tmp_path / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    args = [str(tmp_path / "model.onnx"), str(tmp_path / "tokenizer.json"), "|".join(TEXTS * 2)]
    done = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT, *args], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "ok", done.stdout + done.stderr


# ------------------------------------------------------------------------------ evidence read inside its chunk


@pytest.mark.parametrize("which", [0, 1], ids=["fp32", "int8"])
def test_token_states_pooled_like_the_graph_give_its_signal_logits(tiny_onnx, which):
    graph, tokenizer_json = tiny_onnx[which], tiny_onnx[2]
    heads = EncoderHeads(graph, tokenizer_json, max_length=64, max_words=40)
    heads._ensure_loaded()
    assert heads._sentence_head is not None  # the exported layout was recognised
    weight, bias = heads._sentence_head
    ids = np.array([heads._tokenizer.encode(TEXTS[1]).ids])
    outputs, states = heads._run_batch(ids, np.ones_like(ids), states=True)
    assert states is not None and states.shape[:2] == ids.shape
    # The head on the mean of all the text's token vectors is the graph's own signal output.
    np.testing.assert_allclose(states[0].mean(axis=0) @ weight + bias, outputs[1][0], atol=1e-4)


def test_operator_profile_of_the_served_graph(tiny_onnx):
    from benchmarks.op_profile import profile_ops

    heads = EncoderHeads(tiny_onnx[1], tiny_onnx[2], max_length=64, max_words=40)
    profile = profile_ops(heads, TEXTS[1], runs=3, peak_size=128)
    assert profile.tokens == len(heads._tokenizer.encode(TEXTS[1]).ids) and profile.threads == 1
    # The int8 projections' work is read off the profiled shapes, and the peaks measured beside them.
    assert sum(w["int8_gop"] for w in profile.work.values()) > 0 and set(profile.peaks) == {"int8_ops", "fp32_flops"}
    assert sum(w["ms"] for w in profile.work.values()) > 0
    assert profile.ms_per_input > 0 and sum(profile.shares.values()) == pytest.approx(1.0)
    assert any("MatMul" in op for op in profile.shares)  # the int8 projections are among the operators
    assert list(profile.shares.values()) == sorted(profile.shares.values(), reverse=True)


def test_sentences_are_located_among_the_tokens_in_order():
    from threatscore.encoder_heads import locate_sentences

    text = "Title. Gunmen attacked. Gunmen attacked. Then calm."
    # offsets of words, as a tokenizer gives them ((0, 0) for special tokens)
    offsets = [(0, 0), (0, 5), (5, 6), (7, 13), (14, 22), (22, 23), (24, 30), (31, 39), (39, 40), (41, 45), (0, 0)]
    found = locate_sentences(text, ["Gunmen attacked.", "Gunmen attacked.", "Absent.", "Then calm."], offsets)
    assert [f.tolist() for f in found] == [[3, 4, 5], [6, 7, 8], [], []]  # "Then calm." lies past the last token


def test_predict_in_context_gives_predict_and_a_row_per_sentence(tiny_onnx):
    heads = EncoderHeads(tiny_onnx[1], tiny_onnx[2], max_length=64, max_words=40)
    texts = ["gunmen attacked the patrol. the group claimed the attack.", "killing"]
    outputs, rows = heads.predict_in_context(texts, [["gunmen attacked the patrol.", "not there."], ["killing"]])
    np.testing.assert_allclose(outputs.signals, heads.predict(texts).signals)
    assert rows[0].shape == (2, len(outputs.signals[0])) and rows[1].shape == (1, len(outputs.signals[0]))
    assert np.isfinite(rows[0][0]).all() and np.isnan(rows[0][1]).all() and np.isfinite(rows[1]).all()
    # A one-sentence text read in context: its sentence's tokens are all but [CLS] and [SEP].
    probs = heads.signal_probs(rows[1], ["killing"])
    assert ((probs > 0) & (probs < 1)).all()


def _rows_run(heads: EncoderHeads) -> list[int]:
    """Records the rows of every encoder batch (every model input) from now on."""
    rows: list[int] = []
    run = heads._run_batch

    def recording(ids: np.ndarray, mask: np.ndarray, session: Any = None, states: bool = False) -> Any:
        rows.append(len(ids))
        return run(ids, mask, session, states)

    heads._ensure_loaded()
    heads._run_batch = recording  # type: ignore[method-assign]
    return rows


WANTED = ("militant_attack", "claimed_responsibility")
LONG_TEXT = (
    "The council met on Monday about the school budget. Gunmen attacked the patrol near the border. "
    "The group claimed the attack in a statement. Militants stormed the prison and freed inmates. "
    "The weather was calm for the rest of the week. Shops reopened and the market was busy again. "
    "Schools will open again on Monday next week."
)


def _evidence_run(heads: EncoderHeads, shortlist: int | None) -> tuple[Any, int, int]:
    """(assessment of LONG_TEXT with WANTED present, its chunks, model inputs it took in all)."""
    from threatscore.scorer import ScorerConfig
    from threatscore.taxonomy import SIGNALS

    rows = _rows_run(heads)
    config = ScorerConfig(
        signal_thresholds={n: 0.0 if n in WANTED else 1.0 for n in SIGNALS}, evidence_shortlist=shortlist
    )
    scorer = Scorer(heads, config)
    article = Article(id="a", text=LONG_TEXT)
    assessment = scorer.score([article])[0]
    return assessment, len(scorer.chunks(article)), sum(rows)


def test_the_chunk_reading_shortlists_the_sentences_scored_alone(tiny_onnx):
    everything, chunks, inputs_all = _evidence_run(
        EncoderHeads(tiny_onnx[1], tiny_onnx[2], max_length=256, max_words=30), None
    )
    short, _, inputs_short = _evidence_run(EncoderHeads(tiny_onnx[1], tiny_onnx[2], max_length=256, max_words=30), 1)
    assert chunks == 3
    # One sentence per signal at most is read alone (and the chunks once); without a shortlist, every sentence of
    # each signal's best chunk: three (the seven sentences make three chunks of three under 30 words, one shared
    # between neighbours). max_length 256: no chunk is truncated, so every sentence is read in its chunk (a sentence
    # cut off by truncation would be kept and read alone).
    assert chunks < inputs_short <= chunks + len(WANTED) < chunks + 3 <= inputs_all
    for name in WANTED:
        assert len(short.signals[name].evidence) == 1 and short.signals[name].evidence[0] in LONG_TEXT, name
        assert everything.signals[name].evidence, name


def test_a_graph_without_token_states_scores_every_candidate_alone(tiny_onnx, monkeypatch):
    import threatscore.encoder_heads

    _, _, inputs_all = _evidence_run(EncoderHeads(tiny_onnx[1], tiny_onnx[2], max_length=256, max_words=30), None)
    monkeypatch.setattr(threatscore.encoder_heads, "expose_token_states", lambda graph: (graph, None))
    heads = EncoderHeads(tiny_onnx[1], tiny_onnx[2], max_length=256, max_words=30)
    assessment, _, inputs = _evidence_run(heads, 1)
    assert heads._sentence_head is None
    assert inputs == inputs_all  # no shortlist without the chunk's reading
    assert all(assessment.signals[name].evidence for name in WANTED)


def test_blend_parts_rank_each_part_of_a_blend(tiny_onnx, tiny_fit):
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from threatscore.heads import BLENDED_OUTPUTS, BlendedHeads
    from training.blend_parts import part_rankings, to_markdown

    encoder = EncoderHeads(tiny_onnx[1], tiny_onnx[2], max_length=64, max_words=40)
    heads = BlendedHeads(encoder, tiny_fit.heads, dict.fromkeys(BLENDED_OUTPUTS, 0.5))
    texts = [*TEXTS, "Gunmen stormed the central prison and freed 200 inmates.", "The council approved a budget."]
    labels = pd.DataFrame({f"sig_{s}": [0] * len(texts) for s in SIGNALS})
    labels["sig_prison_break"] = [0] * (len(texts) - 2) + [1, 0]
    labels["sig_militant_attack"] = [1, 0] * (len(texts) // 2) + [1] * (len(texts) % 2)
    table = part_rankings(heads, texts, labels)
    # Only signals with both classes get a row; the blend's AUC is that of the blend's own probabilities.
    assert set(table["signal"]) == {"prison_break", "militant_attack"}
    row = table.set_index("signal").loc["prison_break"]
    blend = heads.predict(texts).signals[:, list(SIGNALS).index("prison_break")]
    assert row["blend_auc"] == pytest.approx(roc_auc_score(labels["sig_prison_break"], blend))
    assert row["positives"] == 1 and all(0.0 <= row[f"{p}_auc"] <= 1.0 for p in ("encoder", "lexical", "blend"))
    text = to_markdown(table)
    assert text.count("**") == 2 * len(table) and "| prison_break | 1 |" in text
    with pytest.raises(ValueError, match="texts but"):
        part_rankings(heads, texts[:2], labels)
