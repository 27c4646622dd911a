"""Each module's imports show what it needs: importing one part of the package (the
forwarder's outbox, the counter store, gunicorn.conf.py's logs and metrics) does not
build the web app around it; ``create_app`` wires the app."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

THE_APP = ("widget.web", "widget.cli")


@pytest.mark.parametrize(
    "module",
    ["widget.ratelimit_store", "widget.tokens", "widget.outbox", "widget.logs", "widget.metrics"],
)
def test_importing_a_module_does_not_import_the_app(module):
    found = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert module in found
    assert [name for name in found if name.startswith(THE_APP)] == []


def test_no_module_uses_another_modules_private_names():
    """A helper two modules need has a public name in one place (forms.strip_blank),
    not a private one reached into from outside."""
    package = Path(__file__).resolve().parent.parent / "widget"
    found = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level > 0
            for alias in node.names
        }
        found += [
            f"{path.relative_to(package)}:{node.lineno}: {node.value.id}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ]
    assert found == []
