"""Short training rows for the signals that long reports hide: single sentences picked by the keyword rules.

The gold items and the weak labels are whole reports, and an encoder fine-tuned on them scores a plain one-sentence
statement of a rare signal ("The group has regrouped in the mountains") near 0 (experiments/RESULTS.md, "Where the
rare signals are lost"). These rows show it such statements: sentences of relevant train rows on which a signal's
keyword rule fires, labelled 1 for that signal, and sentences on which no rule fires, labelled 0 for the signals no
corpus labels. Their weight is a weak label's; relevance, event type, severity and resurgence are left unknown
(masked from the loss), because a sentence cut from a report says nothing reliable about those.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from threatscore.rules import rule_fires
from threatscore.taxonomy import SIGNALS
from threatscore.text import sentences
from training.annotation import UNLABELLED
from training.encoder_training import IGNORE, Targets

#: Sentences shorter or longer than this (in words) are not picked: a fragment or a run-on paragraph is no statement.
MIN_WORDS, MAX_WORDS = 6, 60
#: Relevant rows searched for sentences, at most (the rules on every sentence of every train row take minutes).
MAX_SEARCHED_ROWS = 20_000


def rule_sentence_rows(
    frame: pd.DataFrame, per_signal: int, rules_version: int, seed: int, weight: float
) -> tuple[list[str], Targets]:
    """Texts and targets of the sentence rows drawn from ``frame``'s relevant rows (``relevance == 1``).

    For each signal of ``UNLABELLED``, up to ``per_signal`` sentences on which its rule (of ``rules_version``)
    fires, labelled 1 for it (its other signals unknown); then as many sentences as all the positives together on
    which no rule of any signal fires, labelled 0 for the ``UNLABELLED`` signals. Seeded draws; each sentence is used
    once."""
    rng = np.random.default_rng(seed)
    relevant = frame[frame["relevance"] == 1]
    if len(relevant) > MAX_SEARCHED_ROWS:
        relevant = relevant.iloc[np.sort(rng.choice(len(relevant), MAX_SEARCHED_ROWS, replace=False))]
    candidates = sorted(
        {
            s.strip()
            for text in relevant["text"]
            for s in sentences(str(text))
            if MIN_WORDS <= len(s.split()) <= MAX_WORDS
        }
    )
    fired = {name: [s for s in candidates if rule_fires(name, s, rules_version)] for name in SIGNALS}
    any_fired = set().union(*fired.values())
    quiet = [s for s in candidates if s not in any_fired]
    texts: list[str] = []
    signal_rows: list[np.ndarray] = []
    used: set[str] = set()
    for name in UNLABELLED:
        pool = [s for s in fired[name] if s not in used]
        for k in rng.permutation(len(pool))[:per_signal]:
            row = np.full(len(SIGNALS), np.nan)
            row[SIGNALS.index(name)] = 1.0
            texts.append(pool[k])
            signal_rows.append(row)
            used.add(pool[k])
    negatives = len(texts)
    for k in rng.permutation(len(quiet))[:negatives]:
        row = np.full(len(SIGNALS), np.nan)
        row[[SIGNALS.index(n) for n in UNLABELLED]] = 0.0
        texts.append(quiet[k])
        signal_rows.append(row)
    n = len(texts)
    signals = np.array(signal_rows).reshape(n, len(SIGNALS))
    targets = Targets(
        relevance=np.full(n, np.nan),
        relevance_weight=np.zeros(n),
        signals=signals,
        signal_weight=np.where(np.isnan(signals), 0.0, weight),
        event_types=np.full(n, IGNORE),
        severity=np.full(n, IGNORE),
        resurgence=np.full(n, np.nan),
        resurgence_weight=np.zeros(n),
    )
    return texts, targets
