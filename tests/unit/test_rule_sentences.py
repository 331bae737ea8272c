"""Rule-picked sentences as weak training rows: which sentences, which labels, what stays unknown."""

from __future__ import annotations

import numpy as np
import pandas as pd

from threatscore.taxonomy import SIGNALS
from training.annotation import UNLABELLED
from training.encoder_training import IGNORE
from training.rule_sentences import rule_sentence_rows

REGROUPED = "After its defeat last year, the group has regrouped in the mountains of the north."
QUIET = "The weather in the capital was mild and the markets were open as usual on Monday."
FRAME = pd.DataFrame(
    {
        "text": [
            f"{REGROUPED} {QUIET}",
            "Police said the youth club recruited new members for the football team this summer.",  # not relevant
            "Too short.",
        ],
        "relevance": [1, 0, 1],
    }
)


def test_a_firing_sentence_is_a_positive_and_a_quiet_one_a_negative():
    texts, targets = rule_sentence_rows(FRAME, per_signal=5, rules_version=2, seed=13, weight=0.5)
    assert texts == [REGROUPED, QUIET]  # the non-relevant row and the fragment give nothing
    regrouping = SIGNALS.index("regrouping")
    positive, negative = targets.signals
    assert positive[regrouping] == 1.0 and np.isnan(np.delete(positive, regrouping)).all()
    unlabelled = [SIGNALS.index(n) for n in UNLABELLED]
    assert (negative[unlabelled] == 0.0).all() and np.isnan(np.delete(negative, unlabelled)).all()
    assert targets.signal_weight[0, regrouping] == 0.5 and targets.signal_weight[0, 0] == 0.0
    # Relevance, event type, severity and resurgence are unknown: masked from the loss.
    assert np.isnan(targets.relevance).all() and not targets.relevance_weight.any()
    assert (targets.event_types == IGNORE).all() and (targets.severity == IGNORE).all()
    assert np.isnan(targets.resurgence).all() and not targets.resurgence_weight.any()


def test_per_signal_caps_the_positives_and_negatives_match_them():
    sentences = [f"Militants in district {k} have regrouped and appointed a new leader this year." for k in range(8)]
    quiet = [f"Schools in district {k} reopened after the holidays with new teachers and books." for k in range(20)]
    frame = pd.DataFrame({"text": [" ".join(sentences), " ".join(quiet)], "relevance": [1, 1]})
    texts, targets = rule_sentence_rows(frame, per_signal=3, rules_version=1, seed=13, weight=0.5)
    positives = targets.signals[:, SIGNALS.index("regrouping")] == 1.0
    assert positives.sum() == 3 and len(texts) == 6 and len(set(texts)) == 6
    again, _ = rule_sentence_rows(frame, per_signal=3, rules_version=1, seed=13, weight=0.5)
    assert again == texts  # seeded
