"""Dependencies point one way: the core imports neither training nor serving; serving never imports training
(training reads only the service's database module)."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _imports(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            found.update((str(path.relative_to(REPO)), n.split(".")[0]) for n in names)
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("threatscore", {"training", "serving", "threatscore_cli", "ui"}),
        ("serving", {"training", "threatscore_cli", "ui"}),
        # training may read the service's database (see test_training_uses_only_the_service_database)
        ("training", {"threatscore_cli", "ui"}),
        # the comparison UI is an app like the CLI: it may import the others, nothing imports it
        ("ui", {"threatscore_cli"}),
    ],
)
def test_dependencies_point_one_way(package, forbidden):
    bad = sorted(f"{path} imports {mod}" for path, mod in _imports(package) if mod in forbidden)
    assert not bad, bad


#: What training may import from serving: the retraining job reads analysts' feedback and scored articles from the
#: service's database and keeps its lock there (the tables and the URL setting; never the service or BentoML).
TRAINING_MAY_IMPORT = {"serving.db", "serving.config"}


def test_training_uses_only_the_service_database():
    found = set()
    for path in (REPO / "training").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from serving import db`` imports the module serving.db
                names = [f"{node.module}.{a.name}" if node.module == "serving" else node.module for a in node.names]
            else:
                continue
            found.update((str(path.relative_to(REPO)), n) for n in names if n.split(".")[0] == "serving")
    bad = sorted(f"{path} imports {mod}" for path, mod in found if mod not in TRAINING_MAY_IMPORT)
    assert not bad, bad
    assert ("training/retrain.py", "serving.db") in found  # the check sees the imports it allows


def test_layering_check_sees_imports():
    # guard against a check that cannot fail: the CLI does import training
    assert ("threatscore_cli/main.py", "training") in _imports("threatscore_cli")
