import json

from threatscore.articles import ArticleError, parse_article, parse_lines, read_articles
from threatscore.schemas import MAX_TEXT_CHARS, Article


def _errors(items):
    return [i for i in items if isinstance(i, ArticleError)]


def test_valid_article():
    a = parse_article({"id": "a1", "text": "Gunmen attacked.", "published": "2022-01-29"})
    assert isinstance(a, Article)
    assert str(a.published) == "2022-01-29"


def test_empty_text_names_article_and_field():
    err = parse_article({"id": "a1", "text": "   "})
    assert isinstance(err, ArticleError)
    assert (err.article_id, err.field) == ("a1", "text")
    assert "empty" in err.message


def test_text_over_limit():
    err = parse_article({"id": "big", "text": "x" * (MAX_TEXT_CHARS + 1)})
    assert isinstance(err, ArticleError)
    assert err.field == "text" and "limit" in err.message


def test_unknown_and_ambiguous_dates():
    for bad in ("29/01/2022", "2022-13-01", "yesterday", "2022-1-5"):
        err = parse_article({"id": "d", "text": "t", "published": bad})
        assert isinstance(err, ArticleError), bad
        assert err.field == "published"
        assert "YYYY-MM-DD" in err.message


def test_missing_text_and_extra_field():
    missing = parse_article({"id": "m"})
    assert isinstance(missing, ArticleError) and missing.field == "text" and missing.message == "is required"
    extra = parse_article({"id": "m", "text": "t", "body": "x"})
    assert isinstance(extra, ArticleError) and extra.field == "body"


def test_batch_with_bad_lines_keeps_the_good_ones():
    lines = [
        json.dumps({"id": "good1", "text": "Attack in Gao."}).encode(),
        b"{not json",
        b"\xff\xfe invalid utf-8",
        b"",
        json.dumps({"id": "empty", "text": ""}).encode(),
        json.dumps(["not", "an", "object"]).encode(),
        json.dumps({"id": "good2", "text": "Clash in Kidal."}).encode(),
    ]
    items = list(parse_lines(lines))
    good = [i.id for i in items if isinstance(i, Article)]
    assert good == ["good1", "good2"]
    errs = _errors(items)
    assert [e.line for e in errs] == [2, 3, 5, 6]
    assert "malformed JSON" in errs[0].message
    assert "UTF-8" in errs[1].message
    assert errs[2].article_id == "empty"
    assert "line 5, article 'empty', field 'text'" in errs[2].describe()


def test_read_txt_json_and_jsonl(tmp_path):
    txt = tmp_path / "story-1.txt"
    txt.write_text("<p>Gunmen attacked a base.</p><p>Four died.</p>", encoding="utf-8")
    (a,) = read_articles(txt)
    assert isinstance(a, Article) and a.id == "story-1"
    js = tmp_path / "many.json"
    js.write_text(json.dumps([{"id": "x", "text": "t"}, {"id": "y"}]), encoding="utf-8")
    items = list(read_articles(js))
    assert isinstance(items[0], Article) and isinstance(items[1], ArticleError)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9")
    (err,) = read_articles(bad)
    assert isinstance(err, ArticleError) and "UTF-8" in err.message and err.article_id == "bad"
