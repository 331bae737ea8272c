"""Passages of non-relevant articles as training rows (``training.baseline.negative_passages``) and as a benchmark
row (``training.evaluate``): what is cut, what each passage keeps, and where it is used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.tiny_corpus import tiny_minilm_config
from threatscore.text import model_input
from training.baseline import PASSAGE_SOURCE_SUFFIX, article_passages, negative_passages, with_negative_passages

CALM = [
    "The striker scored twice as the home side won the cup final on Saturday.",
    "Shares in the telecom company rose after it reported record profits.",
    "The film festival opened with a sold-out premiere and a concert.",
    "The central bank kept interest rates unchanged, citing steady inflation.",
    "The new smartphone goes on sale next week with a larger battery.",
]


def _frame() -> pd.DataFrame:
    long_calm = " ".join(CALM)  # 55 words in five sentences
    return pd.DataFrame(
        {
            "id": ["bbc:1", "bbc:2", "bbc:3"],
            "source": ["conflibert/BBC_News"] * 3,
            "source_id": ["1", "2", "3"],
            "split": ["train"] * 3,
            "title": ["A headline", None, None],
            "text": [long_calm, CALM[0], "Gunmen attacked a patrol. " * 12],
            "relevance": [0.0, 0.0, 1.0],
            "sig_militant_attack": pd.array([0, 0, 1], dtype="Int8"),
            "fatalities": [np.nan, np.nan, 3.0],
        },
        index=[10, 20, 30],
    )


def test_only_non_relevant_articles_longer_than_a_passage_are_cut_and_relevance_is_each_passages_only_label():
    frame = _frame()
    passages = negative_passages(frame, max_words=25, cap=None, seed=0)
    expected = article_passages(frame.loc[10, "text"], 25)
    assert len(expected) == 3 and all(len(p.split()) <= 25 for p in expected)
    assert passages["id"].tolist() == ["bbc:1#p0", "bbc:1#p1", "bbc:1#p2"]  # not the short or the relevant article
    assert passages["text"].tolist() == expected
    assert " ".join(expected) == frame.loc[10, "text"]  # consecutive, nothing dropped, nothing repeated
    assert set(passages["source"]) == {"conflibert/BBC_News" + PASSAGE_SOURCE_SUFFIX}
    assert passages["title"].isna().all()  # a passage is read without its article's headline
    assert (passages["relevance"] == 0).all() and passages["source_id"].eq("1").all()
    assert passages["sig_militant_attack"].isna().all() and passages["fatalities"].isna().all()  # not the article's 0
    assert str(passages["sig_militant_attack"].dtype) == "Int8"


def test_passages_are_capped_per_source_with_the_seed():
    frame = _frame()
    first = negative_passages(frame, max_words=25, cap=2, seed=3)
    again = negative_passages(frame, max_words=25, cap=2, seed=3)
    assert len(first) == 2 and first["id"].tolist() == again["id"].tolist()


def test_without_a_passage_size_the_training_rows_are_left_as_they_are():
    frame = _frame()
    assert with_negative_passages(frame, None, None, 0) is frame
    added = with_negative_passages(frame, 25, None, 0)
    assert len(added) == len(frame) + 3
    assert added.index.tolist() == list(range(len(added)))  # no index shared by an article and its passages


def test_the_encoder_trains_on_the_passages_as_a_relevance_group_of_their_own(tiny_gold, tiny_bert_dir):
    """With ``data.negative_passage_words`` the MiniLM training set holds the passages, non-relevant, and the
    balanced relevance weights give them the same total weight as every other (source, label) cell."""
    from training.minilm import minilm_training_set

    corpus, gold = tiny_gold
    corpus = corpus.copy()
    calm_train = (corpus["relevance"] == 0) & (corpus["split"] == "train") & (corpus["source"] != "acled")
    corpus.loc[calm_train, "text"] = corpus.loc[calm_train, "text"] + " " + " ".join(CALM)
    base = tiny_minilm_config("tiny-passages", tiny_bert_dir)
    config = base.model_copy(update={"data": base.data.model_copy(update={"negative_passage_words": 20})})
    plain = minilm_training_set(corpus, gold, base, show_progress=False)
    data = minilm_training_set(corpus, gold, config, show_progress=False)
    is_passage = data.train["source"].str.endswith(PASSAGE_SOURCE_SUFFIX).to_numpy()
    assert is_passage.sum() >= 2 * calm_train.sum()  # every lengthened calm article gives two passages or more
    assert len(data.train) == len(plain.train) + is_passage.sum()
    n = len(data.train)  # the training rows come first in the targets, then the gold repeats
    relevance, weights = data.train_targets.relevance[:n], data.train_targets.relevance_weight[:n]
    assert (relevance[is_passage] == 0).all()
    cells = pd.DataFrame({"source": data.train["source"].to_numpy(), "y": relevance, "w": weights}).dropna()
    totals = cells.groupby(["source", "y"])["w"].sum()
    assert totals.to_numpy() == pytest.approx(np.full(len(totals), totals.mean()))
    first = int(np.flatnonzero(is_passage)[0])
    assert data.texts[first] == model_input(data.train["text"].iloc[first])  # read as served, without a title


def test_the_evaluation_scores_each_passage_of_the_non_relevant_test_articles_alone(registered_tiny):
    """The specificity row: one example per passage of a non-relevant article, none from a relevant one, and its
    value is the share of those passages scored under the model's relevance threshold."""
    from threatscore.registry import load_model
    from training.evaluate import PASSAGE_WORDS, _passage_rows

    model = load_model(f"models:/threatscore/{registered_tiny['result'].version}")
    threshold = model.pyfunc.unwrap_python_model().scorer.config.relevance_threshold
    long_calm = " ".join(CALM * 4)  # 216 words: two passages of <= 160
    bbc_test = pd.DataFrame(
        {
            "id": ["b:1", "b:2", "b:3"],
            "text": [long_calm, CALM[1], "Gunmen attacked a patrol and killed four soldiers. " * 30],
            "split": ["test"] * 3,
            "relevance": [0, 0, 1],
        }
    )
    examples: list[pd.DataFrame] = []
    (row,) = _passage_rows(model, bbc_test, threshold, examples)
    (shown,) = examples
    assert shown["id"].tolist() == [f"b:1#p{k}" for k in range(len(article_passages(long_calm, PASSAGE_WORDS)))]
    assert row.n == len(shown) == 2 and row.metric == "specificity"
    assert row.value == pytest.approx(float((shown["relevance"] < threshold).mean()))
    assert row.extra["median_relevance"] == pytest.approx(float(shown["relevance"].median()))
