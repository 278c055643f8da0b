"""The suite's own house rules, checked over every test file at once: helpers come from
tests/support, and no test waits on a guess longer than 0.2 s."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
LONGEST_SLEEP = 0.2


def _files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if path.name != "conftest.py")


def _imports(tree: ast.Module) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def test_helpers_come_from_tests_support_never_from_conftest_or_another_test() -> None:
    wrong: dict[str, list[str]] = {}
    for path in _files():
        modules = _imports(ast.parse(path.read_text(encoding="utf-8")))
        bad = [
            module
            for module in modules
            if (module.startswith("tests.") and not module.startswith("tests.support"))
            or module.split(".")[-1].startswith("test_")
        ]
        if bad:
            wrong[str(path.relative_to(TESTS))] = bad
    assert wrong == {}


def test_no_test_sleeps_longer_than_a_fifth_of_a_second() -> None:
    """Wait on what is awaited (tests/support/alerts.settle, wait_until), not on a guess."""
    long: dict[str, list[int]] = {}
    for path in _files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lines = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "sleep"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "time"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, int | float)
            and node.args[0].value > LONGEST_SLEEP
        ]
        if lines:
            long[str(path.relative_to(TESTS))] = lines
    assert long == {}
