"""The docs keep up with the code: every setting and command is documented."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from widget.settings import SETTINGS


def test_every_setting_is_documented():
    documented = set(re.findall(r"^### (\w+)$", (ROOT / "docs" / "settings.md").read_text(), re.M))
    assert {s.name for s in SETTINGS} <= documented
    assert documented <= {s.name for s in SETTINGS}, "docs/settings.md lists a setting that is gone"


def test_every_command_has_help(app):
    def walk(command, path):
        if getattr(command, "commands", None):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    ours = {name: app.cli.commands[name] for name in app.cli.commands}
    found = list(walk(type("G", (), {"commands": ours})(), []))
    assert found
    for path, command in found:
        assert (command.help or "").strip(), f"flask {' '.join(path)} has no help"


def test_the_readme_names_exactly_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
