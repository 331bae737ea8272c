"""The comparison UI in a real browser: Playwright drives Debian's Chromium against the app served by uvicorn.

The registry is the session's temporary one: the tiny baseline (``registered_tiny``, champion) and a second,
differently regularised tiny baseline trained here through the real job (it must become challenger, not
champion). Numbers on the pages are checked against the registry (MlflowClient) and the models themselves.
Every page is saved as a screenshot (``$THREATSCORE_TEST_ARTIFACTS/ui-screenshots``, else a temporary folder).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.ui.conftest import ServedApp
from threatscore.schemas import MAX_TEXT_CHARS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MODEL = "threatscore"
RELEVANCE_F1 = "eval.relevance__bbc_news_test.F1"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="browser tests need Debian's Chromium at /usr/bin/chromium (CI installs it: apt-get install chromium)",
)


@pytest.fixture(scope="module")
def versions(registered_tiny, tmp_path_factory) -> Iterator[dict[str, str]]:
    """The tiny champion and a second version trained with stronger regularisation (so the two disagree)."""
    from training.train import train

    first = registered_tiny["result"].version
    config = yaml.safe_load(Path(registered_tiny["config_path"]).read_text(encoding="utf-8"))
    config["name"] = "tiny-strong-regularisation"
    config["head"]["c_grid"] = [0.05]
    # Its own experiment with artifacts in tmp (an experiment made by set_experiment stores them under ./mlruns).
    folder = tmp_path_factory.mktemp("ui-exp")
    client = MlflowClient()
    if client.get_experiment_by_name("ui-browser-tests") is None:
        client.create_experiment("ui-browser-tests", artifact_location=(folder / "artifacts").as_uri())
    config["tracking"] = {**config.get("tracking", {}), "experiment": "ui-browser-tests"}
    path = folder / "tiny-b.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    second = train(path, registered_tiny["settings"], evaluate=True).version
    yield {"first": first, "second": second}
    # The other tests of this session expect the tiny version as champion and challenger: give it back.
    client.set_registered_model_alias(MODEL, "champion", first)
    client.set_registered_model_alias(MODEL, "challenger", first)


@pytest.fixture(scope="module")
def server(versions, registered_tiny, key_store, tmp_path_factory) -> Iterator[ServedApp]:
    from ui.app import create_app

    app = create_app(
        registered_tiny["settings"], db_url=key_store["url"], cache_dir=tmp_path_factory.mktemp("ui-cache")
    )
    with ServedApp(app) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, server) -> Iterator[object]:
    """A fresh browser page that may reach the app only: any other request fails the test (charts offline)."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    outside: list[str] = []

    def only_the_app(route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_app)
    tab = context.new_page()
    yield tab
    context.close()
    assert not outside, f"the pages tried to reach outside the app: {outside}"


def _metric(version: str, key: str) -> float:
    client = MlflowClient()
    return client.get_run(client.get_model_version(MODEL, version).run_id).data.metrics[key]


def _screenshot(page, path: Path) -> None:
    """Save the whole page as a test artifact."""
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def _submit(page, button: str, path: str):
    """Click a form's submit button and return the response to the POST."""
    with page.expect_response(lambda r: r.url.endswith(path) and r.request.method == "POST") as response:
        page.click(button)
    page.wait_for_load_state()
    return response.value


def test_second_training_becomes_challenger_not_champion(versions):
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(MODEL, "challenger").version) == versions["second"]
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == versions["first"]


def test_models_page_shows_the_registry_numbers_and_selects_a_pair(page, server, versions, screenshots):
    response = page.goto(f"{server.url}/models")
    assert response.status == 200
    for version in versions.values():
        row = page.locator(f'tr[data-version="{version}"]')
        assert row.locator(f'td[data-metric="{RELEVANCE_F1}"]').inner_text() == f"{_metric(version, RELEVANCE_F1):.3f}"
        manifest = MlflowClient().get_run(MlflowClient().get_model_version(MODEL, version).run_id).data.tags
        assert manifest["data.manifest_sha256"][:12] in row.inner_text()
    assert "champion" in page.locator(f'tr[data-version="{versions["first"]}"]').inner_text()
    assert "challenger" in page.locator(f'tr[data-version="{versions["second"]}"]').inner_text()
    _screenshot(page, screenshots / "models.png")
    page.check(f'input[name="a"][value="{versions["second"]}"]')
    page.check(f'input[name="b"][value="{versions["first"]}"]')
    page.click("text=Compare A vs B")
    page.wait_for_url(re.compile(r"/compare\?"))
    assert f"a={versions['second']}" in page.url and f"b={versions['first']}" in page.url
    assert page.locator("h1").inner_text().startswith(f"v{versions['second']} vs v{versions['first']}")


def test_compare_page_matches_the_registry_and_draws_offline_charts(page, server, versions, screenshots):
    a, b = versions["first"], versions["second"]
    response = page.goto(f"{server.url}/compare?a={a}&b={b}")
    assert response.status == 200
    row = page.locator('tr[data-task="relevance (BBC_News test)"][data-metric="F1"]')
    value_a, value_b = _metric(a, RELEVANCE_F1), _metric(b, RELEVANCE_F1)
    assert row.locator('td[data-side="a"]').inner_text() == f"{value_a:.3f}"
    assert row.locator('td[data-side="b"]').inner_text() == f"{value_b:.3f}"
    delta = f"{value_b - value_a:+.3f}"
    assert row.locator("td.delta").inner_text() == (delta[1:] if float(delta) == 0 else delta.replace("-", "−"))
    assert page.locator("table.per-label").count() >= 1
    page.wait_for_selector(".js-plotly-plot .main-svg")
    assert page.evaluate("typeof window.Plotly") == "object"
    assert page.locator(".js-plotly-plot").count() >= 3  # confusion matrices and reliability diagrams
    _screenshot(page, screenshots / "compare.png")


def _expected_disagreements(a: str, b: str, tmp_path: Path, **query) -> int:
    """The count the page should show, computed here from the two runs' example tables."""
    import pandas as pd

    from ui.data import DisagreementQuery, disagreements, expand_examples, join_examples

    tables = []
    for version in (a, b):
        run_id = MlflowClient().get_model_version(MODEL, version).run_id
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="evaluation/examples.parquet", dst_path=str(tmp_path / version)
        )
        tables.append(expand_examples(pd.read_parquet(local)))
    return disagreements(join_examples(*tables), DisagreementQuery(**query)).matched


def test_disagreements_filter_by_label_and_source(page, server, versions, screenshots, tmp_path):
    a, b = versions["first"], versions["second"]
    assert page.goto(f"{server.url}/disagreements?a={a}&b={b}&min_gap=0").status == 200
    everything = _expected_disagreements(a, b, tmp_path, min_gap=0.0)
    assert everything > 0, "the two tiny versions should disagree somewhere"
    assert page.locator("#summary b").inner_text() == f"{everything:,}"
    sources = [s for s in page.locator('select[name="source"] option').evaluate_all("o => o.map(x => x.value)") if s]
    source = sources[0]
    page.select_option('select[name="label"]', "relevance")
    page.select_option('select[name="source"]', source)
    page.fill('input[name="min_gap"]', "0.001")
    page.click("#filters button")
    page.wait_for_url(re.compile(r"label=relevance"))
    expected = _expected_disagreements(a, b, tmp_path, label="relevance", source=source, min_gap=0.001)
    assert page.locator("#summary b").inner_text() == f"{expected:,}"
    items = page.locator("li.example")
    assert items.count() == min(expected, 50)
    gaps = [float(g) for g in items.evaluate_all("els => els.map(e => e.dataset.gap)")]
    assert gaps == sorted(gaps, reverse=True) and all(g >= 0.001 for g in gaps)
    for i in range(items.count()):
        assert source in items.nth(i).locator(".example-head").inner_text()
    _screenshot(page, screenshots / "disagreements.png")


def test_try_it_shows_both_assessments_with_evidence_highlighted(page, server, versions, screenshots, seed_text):
    from threatscore.registry import load_model

    a, b = versions["first"], versions["second"]
    assert page.goto(f"{server.url}/try?a={a}&b={b}").status == 200
    page.click(".picker button")  # load the first example of the picker
    page.wait_for_url(re.compile(r"example="))
    assert page.locator('textarea[name="text"]').input_value().strip()
    page.fill('textarea[name="text"]', seed_text)
    assert _submit(page, "#try-form button", "/try").status == 200
    sections = page.locator("section.assessment")
    assert sections.count() == 2
    for i, version in enumerate((a, b)):
        expected = load_model(f"models:/{MODEL}/{version}").predict([{"id": "pasted-text", "text": seed_text}])[0]
        section = sections.nth(i)
        assert section.get_attribute("data-version") == version
        assert section.locator('td[data-field="relevance"]').inner_text() == f"{expected['relevance']:.3f}"
        for region in expected["regions"]:
            assert region["country"] in section.locator("table.regions").inner_text()
        evidence = {name: s["evidence"] for name, s in expected["signals"].items() if s["evidence"]}
        marks = section.locator(".highlighted mark")
        assert marks.count() >= (1 if evidence else 0)
        for j in range(marks.count()):
            mark = marks.nth(j)
            names = mark.get_attribute("data-signals").split()
            assert any(mark.inner_text() in sentence for n in names for sentence in evidence[n])
    _screenshot(page, screenshots / "try.png")


def test_a_one_megabyte_paste_shows_the_limit(page, server, versions, screenshots):
    page.goto(f"{server.url}/try?a={versions['first']}&b={versions['second']}")
    page.fill('textarea[name="text"]', "x" * 1_000_000)
    assert _submit(page, "#try-form button", "/try").status == 413
    assert f"the limit is {MAX_TEXT_CHARS:,}" in page.locator(".error").inner_text()
    _screenshot(page, screenshots / "try-too-long.png")


def test_unknown_version_shows_a_404_page(page, server, versions, screenshots):
    response = page.goto(f"{server.url}/compare?a={versions['first']}&b=999")
    assert response.status == 404
    assert f"model {MODEL} has no version 999" in page.locator(".error").inner_text()
    _screenshot(page, screenshots / "unknown-version.png")


def test_promotion_needs_an_admin_key_and_a_reason(page, server, versions, key_store, screenshots):
    from training.promotion import current_version

    first, second = versions["first"], versions["second"]
    assert page.goto(f"{server.url}/promote?a={first}&b={second}").status == 200
    attempts = [
        ("", "better relevance", 401, "needs an admin API key"),
        ("ts_000000000000_notarealkeynotarealkey", "better relevance", 401, "not valid"),
        (key_store["score"].key, "better relevance", 403, "promotion needs admin"),
        (key_store["admin"].key, "  ", 422, "needs a reason"),
    ]
    for key, reason, status, message in attempts:
        page.fill('input[name="api_key"]', key)
        page.fill('textarea[name="reason"]', reason)
        assert _submit(page, "#promote-form button", "/promote").status == status
        assert message in page.locator(".error").inner_text()
        assert current_version(MODEL, "champion") == first
    page.fill('input[name="api_key"]', key_store["admin"].key)
    page.fill('textarea[name="reason"]', "browser test: better on the tiny benchmark")
    try:
        assert _submit(page, "#promote-form button", "/promote").status == 200
        assert f"v{first} → v{second}" in page.locator("#promoted").inner_text()
        assert "champion" in page.locator(".card.side-b").inner_text()
        assert current_version(MODEL, "champion") == second
        tags = MlflowClient().get_model_version(MODEL, second).tags
        assert tags["promotion_reason"] == "browser test: better on the tiny benchmark"
        assert tags["promoted_by"] == "ui-admin (ui)" and tags["replaced_version"] == first
        _screenshot(page, screenshots / "promote.png")
    finally:
        MlflowClient().set_registered_model_alias(MODEL, "champion", first)
