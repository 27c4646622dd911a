"""Test modules import what they share from modules named for it (tests/forms.py,
tests/outbox_db.py, conftest's fixtures...), never from one another: a test module
can then be edited, split or deleted without breaking a test elsewhere."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_test_modules(source: str) -> list[str]:
    """Every ``test_*`` module that ``source`` imports, however it spells the import."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [n for n in names if any(p.startswith("test_") for p in n.split("."))]
    return found


def test_the_check_sees_every_way_of_importing_a_test_module():
    for line in (
        "from tests.test_form import send",
        "from tests import test_ops",
        "import tests.test_ops",
        "from .test_form import rows",
        "from . import test_ops",
    ):
        assert imported_test_modules(line), line
    assert imported_test_modules("from tests.forms import send") == []


def test_no_test_module_imports_another():
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if (found := imported_test_modules(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "move the shared helper out of the test module"
