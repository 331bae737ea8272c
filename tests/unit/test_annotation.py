"""Choosing what the team annotates next (training.annotation.select_more)."""

import pandas as pd

from training.annotation import select_more

_RECRUIT = "Militants recruited dozens of young men from the villages near the border over the last month."
_REGROUP = "The rebel group has regrouped in the hills after last year's offensive, officials said on Monday."
_PLAIN = "The council approved the budget for roads and schools after a long debate on Tuesday evening."


def _corpus() -> pd.DataFrame:
    rows = []
    for k in range(12):
        for kind, text in (("r", _RECRUIT), ("g", _REGROUP), ("p", _PLAIN)):
            for split in ("train", "test"):
                rows.append(
                    {
                        "id": f"s:{split}{kind}{k}",
                        "source": "s",
                        "source_id": f"{split}{kind}{k}",
                        "split": split,
                        "text": f"{text} Item {k}.",
                        "title": None,
                    }
                )
    rows.append(
        {"id": "s:long", "source": "s", "source_id": "long", "split": "train", "text": _RECRUIT * 30, "title": None}
    )
    return pd.DataFrame(rows)


def test_more_items_come_from_one_split_unannotated_by_keyword_quota_and_at_random():
    corpus = _corpus()
    annotated = pd.DataFrame({"id": ["s:trainr0", "s:trainr1", "s:traing0"]})
    out = select_more(corpus, annotated, {"recruitment": 5, "regrouping": 20}, random_items=4, max_chars=400)
    assert set(out.columns) == {"id", "source", "source_id", "split", "text", "title", "keyword_hits"}
    assert (out["split"] == "train").all()  # never a dev or test item
    assert not set(out["id"]) & set(annotated["id"])  # never one already annotated
    assert "s:long" not in set(out["id"])  # too long to rest a label on what training reads
    assert out["id"].is_unique
    recruit = out[out["text"].str.startswith("Militants recruited")]
    regroup = out[out["text"].str.startswith("The rebel group")]
    plain = out[out["text"].str.startswith("The council")]
    # Quotas: 5 recruitment hits; regrouping asks for 20 but only 11 unannotated train items fire its rule.
    assert len(regroup) == 11
    assert len(recruit) >= 5 and len(out) == 5 + 11 + 4
    assert all("recruitment" in h for h in recruit["keyword_hits"])
    assert len(plain) <= 4  # the random items may be any of what is left
    again = select_more(corpus, annotated, {"recruitment": 5, "regrouping": 20}, random_items=4, max_chars=400)
    pd.testing.assert_frame_equal(out, again)  # seeded: the same worklist every time
