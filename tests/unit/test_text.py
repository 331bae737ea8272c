import itertools

import pytest

from threatscore.text import chunk_spans, looks_like_html, model_input, normalize, prepare, sentence_spans, sentences


def test_sentences_are_verbatim_substrings():
    text = (
        "Gen. Haftar's forces (LNA) said on Friday: \u201cWe cleared the area.\u201d  Then 4 soldiers died.\n\nNew para"
    )
    spans = sentence_spans(text)
    assert [s.of(text) for s in spans] == sentences(text)
    for span in spans:
        assert text[span.start : span.end] in text
    assert sentences(text)[0].startswith("Gen. Haftar")  # abbreviation does not end the sentence
    assert sentences(text)[-1] == "New para"


def test_sentence_split_on_paragraphs_and_initials():
    text = "The U.S. envoy met J. Smith in Kabul. Talks failed!\nA second line"
    assert sentences(text) == ["The U.S. envoy met J. Smith in Kabul.", "Talks failed!", "A second line"]


def test_html_is_stripped_with_paragraphs_kept():
    raw = "<html><head><style>p{}</style><script>var x=1;</script></head><body><p>First &amp; best.</p><p>Second.</p></body></html>"
    assert looks_like_html(raw)
    doc = prepare(raw)
    assert doc.was_html
    assert doc.text == "First & best.\n\nSecond."
    assert "var x" not in doc.text


def test_plain_text_is_kept_as_sent():
    raw = "Fighters 5 < 7 attacked & left.\r\nNext."
    doc = prepare(raw)
    assert not doc.was_html
    assert doc.text == "Fighters 5 < 7 attacked & left.\nNext."


def test_normalize_unifies_quotes_and_whitespace():
    assert normalize("\u201cHello\u201d \u2014  world\n\t!") == '"Hello" - world !'
    assert model_input("Body text.", "A title") == "A title. Body text."


def test_chunks_cover_long_text_whole_with_overlap():
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(300))
    chunks = chunk_spans(text, max_words=50, overlap_sentences=1)
    assert len(chunks) > 40
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end  # overlap: no gap between chunks
        assert len(a.of(text).split()) <= 50


def test_single_giant_sentence_is_split_not_dropped():
    text = "word " * 1000
    chunks = chunk_spans(text.strip(), max_words=100, overlap_sentences=0)
    assert sum(len(c.of(text).split()) for c in chunks) == 1000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("date 2022-01-29 The Qatrun attack is the second.", ["date 2022-01-29", "The Qatrun attack is the second."]),
        ("Published: 2024-03-01 10:15 Gunmen killed two.", ["Published: 2024-03-01 10:15", "Gunmen killed two."]),
        ("The 2024-03-01 meeting ended. No one came.", ["The 2024-03-01 meeting ended.", "No one came."]),
    ],
)
def test_a_leading_date_stamp_is_not_part_of_the_first_sentence(text, expected):
    assert sentences(text) == expected
