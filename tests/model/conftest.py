"""Behavioural tests run against a model: the real one when THREATSCORE_TEST_MODEL_URI names it
(``THREATSCORE_TEST_MODEL_URI=models:/threatscore@challenger pytest tests/model``), else the tiny baseline."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from threatscore.schemas import Article, Assessment

MODEL_URI = os.environ.get("THREATSCORE_TEST_MODEL_URI")


@pytest.fixture(scope="session")
def assess(request: pytest.FixtureRequest) -> Callable[[str], Assessment]:
    """Score one text with the model under test."""
    if MODEL_URI:
        from threatscore.registry import configure_tracking, load_model
        from threatscore.settings import get_settings

        configure_tracking(get_settings())
        model = load_model(MODEL_URI)

        def run(text: str) -> Assessment:
            (out,) = model.predict([{"id": "t", "text": text}])
            return Assessment.model_validate(out)

        return run
    scorer: Any = request.getfixturevalue("tiny_scorer")
    return lambda text: scorer.score([Article(id="t", text=text)])[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``real_model`` tests need THREATSCORE_TEST_MODEL_URI: a tiny model cannot be held to them."""
    if MODEL_URI:
        return
    skip = pytest.mark.skip(reason="needs THREATSCORE_TEST_MODEL_URI (a real trained model)")
    for item in items:
        if "real_model" in item.keywords:
            item.add_marker(skip)
