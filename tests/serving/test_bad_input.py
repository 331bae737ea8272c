"""Bad input answers 4xx with a JSON error naming the field, and never shows a stack trace."""

from __future__ import annotations

import json

import pytest

from tests.serving.conftest import auth
from threatscore.schemas import MAX_TEXT_CHARS

GOOD = {"id": "ok", "text": "Gunmen attacked a police post, killing two officers."}


def _post(client, keys, body, path="/score", role="admin", **kwargs):
    headers = {**auth(keys[role]), "Content-Type": "application/json", **kwargs.pop("headers", {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=content, headers=headers, **kwargs)


def _assert_error(response, status, field):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error", "field"} and body["error"]
    assert body["field"] == field, body
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"articles": "not a list"}, "articles", "list"),
        ({"articles": {"id": "a", "text": "t"}}, "articles", "list"),
        ({"articles": []}, "articles", "empty batch"),
        ({"articles": [GOOD] * 257}, "articles", "257"),
        ({}, "articles", "required"),
        ({"articles": [GOOD], "extra": 1}, "extra", "not a request field"),
        ([GOOD], "body", "object"),
        ("just a string", "body", "object"),
        ({"articles": [{"id": "a"}]}, "articles[0].text", "required"),
        ({"articles": [{"id": "a", "text": 42}]}, "articles[0].text", "string"),
        ({"articles": [{"id": 7, "text": "words"}]}, "articles[0].id", "string"),
        ({"articles": [{"id": "a", "text": "   "}]}, "articles[0].text", "empty"),
        ({"articles": [{"id": "a", "text": "t", "published": "2021-02-30"}]}, "articles[0].published", "YYYY-MM-DD"),
        ({"articles": [{"id": "a", "text": "t", "published": "29/01/2022"}]}, "articles[0].published", "YYYY-MM-DD"),
        ({"articles": [{"id": "a", "text": "t", "published": 20220129}]}, "articles[0].published", "date"),
        ({"articles": [{"id": "a", "text": "t", "colour": "red"}]}, "articles[0].colour", "not an article field"),
        ({"articles": [{"id": "a", "text": "x" * (MAX_TEXT_CHARS + 1)}]}, "articles[0].text", "limit"),
    ],
)
def test_bad_score_requests_name_the_field(client, keys, body, field, fragment):
    error = _assert_error(_post(client, keys, body), 422, field)
    assert fragment.lower() in error["error"].lower()


def test_a_batch_with_no_valid_article_lists_every_problem(client, keys):
    body = {"articles": [{"id": "a", "text": ""}, {"id": "b"}]}
    error = _assert_error(_post(client, keys, body), 422, "articles[0].text")
    assert [e["field"] for e in error["errors"]] == ["articles[0].text", "articles[1].text"]


@pytest.mark.parametrize("path", ["/score", "/feedback"])
def test_invalid_utf8_and_malformed_json_are_400(client, keys, path):
    error = _assert_error(_post(client, keys, b'{"articles": [{"id": "a", "text": "caf\xe9"}]}', path), 400, "body")
    assert "UTF-8" in error["error"]
    error = _assert_error(_post(client, keys, b'{"articles": [', path), 400, "body")
    assert "malformed JSON" in error["error"]
    _assert_error(_post(client, keys, b"", path), 400, "body")
    _assert_error(_post(client, keys, b"[" * 100_000, path), 400, "body")


def test_a_body_over_5_mb_is_413(client, keys):
    big = {"articles": [{"id": f"a{i}", "text": "x" * 150_000} for i in range(36)]}
    content = json.dumps(big).encode()
    assert len(content) > 5 * 1024 * 1024
    error = _assert_error(_post(client, keys, content), 413, "body")
    assert "limit" in error["error"]


def test_a_chunked_body_over_the_limit_is_413(client, keys):
    def chunks():
        yield b'{"articles": [{"id": "a", "text": "'
        for _ in range(6):
            yield b"x" * (1024 * 1024)
        yield b'"}]}'

    response = client.post(
        "/score", content=chunks(), headers={**auth(keys["admin"]), "Content-Type": "application/json"}
    )
    _assert_error(response, 413, "body")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=2024-13-01", "since"),
        ("since=2024-02-30", "since"),
        ("since=yesterday", "since"),
        ("since=2999-01-01", "since"),
        ("window=0", "window"),
        ("window=abc", "window"),
        ("window=day", "window"),
        ("country=LBY", "country"),
        ("since=1900-01-01&window=week", "since"),
    ],
)
def test_bad_region_queries_name_the_field(client, keys, query, field):
    _assert_error(client.get(f"/regions?{query}", headers=auth(keys["score"])), 422, field)


def test_unknown_paths_and_methods_answer_json(client, keys):
    assert client.get("/nowhere", headers=auth(keys["score"])).json()["error"]
    response = client.get("/score", headers=auth(keys["score"]))
    assert response.status_code == 405 and response.json()["error"]
