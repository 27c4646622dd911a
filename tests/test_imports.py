"""Each module's imports show what it needs: importing one part of the package (the
forwarder's outbox, the counter store, gunicorn.conf.py's logs and metrics) does not
build the web app around it; ``create_app`` wires the app."""

from __future__ import annotations

import subprocess
import sys

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
