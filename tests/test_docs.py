"""The docs keep up with the code: every setting and command is documented, and the
README's set-up is the two make commands."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from widget.settings import SETTINGS


def test_every_setting_is_documented():
    """docs/settings.md has a section with text for each setting, and none for a setting
    that is gone."""
    text = (ROOT / "docs" / "settings.md").read_text()
    sections = dict(re.findall(r"^### (\w+)\n(.*?)(?=^#|\Z)", text, re.M | re.S))
    documented = set(sections)
    assert {s.name for s in SETTINGS} <= documented
    assert documented <= {s.name for s in SETTINGS}, "docs/settings.md lists a setting that is gone"
    assert [name for name, body in sections.items() if not body.strip()] == []


def commands(app):
    """``(["outbox", "list"], command)`` for each of our commands and command groups."""

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    for name, command in app.cli.commands.items():
        yield from walk(command, [name])


def test_every_command_and_group_has_help(app):
    found = list(commands(app))
    assert found
    for path, command in found:
        assert (command.help or "").strip(), f"flask {' '.join(path)} has no help"


def test_every_command_is_named_in_the_docs(app):
    docs = "\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
    leaves = [path for path, command in commands(app) if not getattr(command, "commands", None)]
    assert leaves
    missing = [p for p in leaves if not re.search(rf"flask {' '.join(p)}\b", docs)]
    assert missing == [], "a command no page in docs/ names"


def test_the_readme_names_exactly_the_two_setup_commands():
    """The commands in the README's "Set up" section are `make run` and `make test`."""
    readme = (ROOT / "README.md").read_text()
    setup = re.search(r"^## Set up\n(.*?)^## ", readme, re.M | re.S).group(1)
    lines = re.findall(r"^    (\S[^#\n]*)", setup, re.M)
    assert [line.strip() for line in lines] == ["make run", "make test"]
