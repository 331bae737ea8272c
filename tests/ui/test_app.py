"""The UI app over HTTP (no browser): pages at scale, and every kind of bad input gets a clear 4xx page."""

from __future__ import annotations

import re

import pytest
from mlflow.tracking import MlflowClient
from starlette.testclient import TestClient

from tests.ui.conftest import N_EXAMPLES, SYNTHETIC
from threatscore.schemas import MAX_TEXT_CHARS
from ui.app import create_app


@pytest.fixture(scope="module")
def client(synthetic_registry, key_store, tmp_path_factory) -> TestClient:
    app = create_app(
        synthetic_registry["settings"], db_url=key_store["url"], cache_dir=tmp_path_factory.mktemp("ui-cache")
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _assert_clear_error(response, status: int, message: str) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_disagreements_page_renders_ten_thousand_examples_per_version(client, synthetic_registry):
    _, a, b = synthetic_registry["versions"]
    first = client.get(f"/disagreements?a={a}&b={b}&min_gap=0")
    assert first.status_code == 200
    assert f"of {N_EXAMPLES:,} examples both models scored" in first.text
    assert first.text.count('<li class="example"') == 50
    gaps = [float(g) for g in re.findall(r'data-gap="([0-9.]+)"', first.text)]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] > 0
    second = client.get(f"/disagreements?a={a}&b={b}&min_gap=0&page=2")
    assert second.status_code == 200 and "page 2 of" in second.text
    ids_1 = set(re.findall(r'data-id="([^"]+)"', first.text))
    ids_2 = set(re.findall(r'data-id="([^"]+)"', second.text))
    assert len(ids_2) == 50 and not ids_1 & ids_2
    filtered = client.get(f"/disagreements?a={a}&b={b}&label=relevance&source=acled&example_set=BBC_News+test")
    assert filtered.status_code == 200
    assert set(re.findall(r'<span class="tag">([^<]+)</span>', filtered.text)) <= {"acled", "BBC_News test"}


def test_models_page_defaults_to_champion_vs_challenger(client, synthetic_registry):
    v1, champion, challenger = synthetic_registry["versions"]
    page = client.get("/models")
    assert page.status_code == 200
    assert page.text.count("<tr data-version=") == 3
    assert re.search(rf'name="a" value="{champion}"[^>]*checked', page.text)
    assert re.search(rf'name="b" value="{challenger}"[^>]*checked', page.text)
    assert f"threatscore evaluate models:/{SYNTHETIC}/{v1}" in page.text


def test_compare_page_uses_the_bundled_plotly_never_a_cdn(client):
    page = client.get("/compare")
    assert page.status_code == 200
    script = re.search(r'<script src="(/assets/plotly-[^"]+\.min\.js)"', page.text)
    assert script and "cdn" not in page.text.lower()
    js = client.get(script.group(1))
    assert js.status_code == 200 and js.headers["content-type"].startswith("application/javascript")
    assert len(js.content) > 1_000_000 and "immutable" in js.headers["cache-control"]
    assert "Confusion matrix: event types" in page.text and "Calibration" in page.text


def test_a_version_without_evaluation_says_how_to_evaluate_it(client, synthetic_registry):
    v1, _, b = synthetic_registry["versions"]
    hint = f"Run threatscore evaluate models:/{SYNTHETIC}/{v1}"
    compare = client.get(f"/compare?a={v1}&b={b}")
    assert compare.status_code == 200 and hint in compare.text
    disagreements = client.get(f"/disagreements?a={v1}&b={b}")
    assert disagreements.status_code == 200 and hint in disagreements.text


def test_unknown_model_version_is_a_404_page(client):
    _assert_clear_error(client.get("/compare?a=1&b=999"), 404, f"model {SYNTHETIC} has no version 999")
    _assert_clear_error(client.get("/disagreements?a=999&b=1"), 404, "has no version 999")
    _assert_clear_error(client.post("/try", data={"a": "999", "b": "1", "text": "x"}), 404, "has no version 999")
    _assert_clear_error(client.get("/no/such/page"), 404, "There is no such page.")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("a=abc&b=1", "model A must be a version number like 3, got &#39;abc&#39;"),
        ("a=1&b=1.5", "model B must be a version number"),
        ("a=2&b=3&page=x", "page must be a whole number"),
        ("a=2&b=3&min_gap=2", "minimum gap must be between 0 and 1"),
        ("a=2&b=3&label=%3Cscript%3E", "label must be one of"),
    ],
)
def test_malformed_query_is_a_422_page(client, query, message):
    response = client.get(f"/disagreements?{query}")
    _assert_clear_error(response, 422, message)
    assert "<script>" not in response.text  # the bad value is escaped, never echoed as markup


def test_malformed_form_data_is_a_422_page(client, synthetic_registry):
    _, a, b = synthetic_registry["versions"]
    _assert_clear_error(client.post("/try", data={"a": a, "b": b}), 422, "The form lacks the field &#39;text&#39;")
    _assert_clear_error(client.post("/try", json={"a": a, "b": b, "text": "x"}), 422, "Send the page&#39;s form")
    _assert_clear_error(client.post("/try", data={"a": a, "b": b, "text": "   "}), 422, "Paste the text of an article")
    _assert_clear_error(
        client.post("/promote", data={"reason": "x"}), 422, "The form lacks the field &#39;version&#39;"
    )
    broken = client.post("/try", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"})
    assert broken.status_code in (400, 422) and "Traceback" not in broken.text


def test_a_one_megabyte_paste_is_refused_with_the_limit(client, synthetic_registry):
    _, a, b = synthetic_registry["versions"]
    response = client.post("/try", data={"a": a, "b": b, "text": "word " * 200_000})
    _assert_clear_error(response, 413, f"The pasted text has 1,000,000 characters; the limit is {MAX_TEXT_CHARS:,}")
    assert response.text.count("word word") < 10  # the megabyte is not echoed back


def test_promotion_with_a_revoked_admin_key_is_refused(client, synthetic_registry, key_store):
    from serving.keys import create_key, revoke_key

    _, champion, challenger = synthetic_registry["versions"]
    revoked = create_key(key_store["engine"], name="ui-old-admin", role="admin")
    revoke_key(key_store["engine"], revoked.key_id)
    response = client.post(
        "/promote", data={"version": challenger, "a": champion, "api_key": revoked.key, "reason": "better"}
    )
    _assert_clear_error(response, 401, "That API key is not valid")
    assert str(MlflowClient().get_model_version_by_alias(SYNTHETIC, "champion").version) == champion


def test_ui_command_is_registered_with_its_options():
    from typer.testing import CliRunner

    from threatscore_cli.main import app

    result = CliRunner().invoke(app, ["ui", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--host", "--db-url", "--cache-dir", "8050", "127.0.0.1"):
        assert option in result.output


def test_a_version_whose_model_cannot_load_gets_a_clear_503(client, synthetic_registry):
    _, a, b = synthetic_registry["versions"]  # synthetic versions have metrics and examples but no logged model
    response = client.post("/try", data={"a": a, "b": b, "text": "Gunmen attacked a police post."})
    _assert_clear_error(response, 503, f"Model v{a} cannot be loaded from the registry")


def test_a_version_that_failed_the_retraining_gate_needs_the_override(client, synthetic_registry, key_store):
    from training.promotion import GATE_TAG

    v1, champion, _ = synthetic_registry["versions"]
    registry = MlflowClient()
    registry.set_model_version_tag(SYNTHETIC, v1, GATE_TAG, "fail")
    form = {"version": v1, "a": champion, "api_key": key_store["admin"].key, "reason": "roll back to v1"}
    try:
        page = client.get(f"/promote?a={champion}&b={v1}")
        assert page.status_code == 200 and 'name="force"' in page.text and "<b>fail</b>" in page.text
        _assert_clear_error(client.post("/promote", data=form), 409, f"v{v1} failed the retraining gate")
        assert str(registry.get_model_version_by_alias(SYNTHETIC, "champion").version) == champion
        forced = client.post("/promote", data={**form, "force": "on"})
        assert forced.status_code == 200 and "Promoted:" in forced.text
        assert str(registry.get_model_version_by_alias(SYNTHETIC, "champion").version) == v1
        assert registry.get_model_version(SYNTHETIC, v1).tags["promotion_forced"] == "true"
    finally:
        registry.set_registered_model_alias(SYNTHETIC, "champion", champion)
        registry.delete_model_version_tag(SYNTHETIC, v1, GATE_TAG)
