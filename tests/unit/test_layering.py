"""Dependencies point one way: the core imports neither training nor serving; serving never imports training."""

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
        ("threatscore", {"training", "serving", "threatscore_cli"}),
        ("serving", {"training", "threatscore_cli"}),
        ("training", {"serving", "threatscore_cli"}),
    ],
)
def test_dependencies_point_one_way(package, forbidden):
    bad = sorted(f"{path} imports {mod}" for path, mod in _imports(package) if mod in forbidden)
    assert not bad, bad


def test_layering_check_sees_imports():
    # guard against a check that cannot fail: the CLI does import training
    assert ("threatscore_cli/main.py", "training") in _imports("threatscore_cli")
