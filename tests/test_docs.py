"""The docs keep up with the code: every setting and command is documented, and the
README's set-up is the two make commands."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.conftest import ROOT
from tests.polls import write_poll
from widget import signatures, updates
from widget.settings import SETTINGS

FLASK = Path(sys.executable).with_name("flask")


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


def test_the_events_in_docs_updates_md_are_valid_updates():
    """The JSON example and the spool file's heredoc are events every intake takes."""
    text = (ROOT / "docs" / "updates.md").read_text()
    examples = re.findall(r"```json\n(.*?)```", text, re.S)
    examples += re.findall(r"<<'EOF'\n(.*?)EOF\n", text, re.S)
    events = [e for e in examples if "feedback.status.v1" in e]
    assert len(events) == 2
    for event in events:
        assert updates.parse(event.encode()).receipt == "K7M2-9QXD"


def test_the_openssl_line_in_docs_updates_md_signs_as_the_intake_checks(tmp_path):
    text = (ROOT / "docs" / "updates.md").read_text()
    (line,) = [line for line in text.splitlines() if line.startswith("signature=$(openssl")]
    body = '{\n  "note": "Передано 🍲"\n}\n'.encode()
    (tmp_path / "update.json").write_bytes(body)
    env = {"PATH": os.environ["PATH"], "OTKLIK_INTAKE_SECRET": "s3cret-for-docs"}
    found = subprocess.run(
        ["bash", "-c", f'{line}\necho "sha256=$signature"'],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert signatures.valid(body, found, ["s3cret-for-docs"])


def backup_command(instance, backups) -> list[str]:
    """docs/operations.md's otklik-backup.service ExecStart, for ``instance``, as systemd
    would run it (its escapes undone)."""
    text = (ROOT / "docs" / "operations.md").read_text()
    unit = re.search(r"```ini\n\[Unit\]\nDescription=Otklik backup \(.*?```", text, re.S).group(0)
    command = re.search(r"^ExecStart=(.*)$", unit.replace("\\\n", ""), re.M).group(1)
    command = command.replace("%%", "%").replace("$$", "$")
    command = command.replace("/srv/otklik/app/.venv/bin/flask", str(FLASK))
    command = command.replace("/srv/otklik/instance", str(instance))
    return shlex.split(command.replace("/var/backups/otklik", str(backups)))


def archived(backups) -> set[str]:
    """What the one archive the backup made holds."""
    (archive,) = backups.glob("config-*.tar.gz")
    with tarfile.open(archive) as tar:
        return set(tar.getnames())


def test_the_documented_backup_keeps_settings_agency_and_poll_files_and_the_spools(
    app, instance, tmp_path
):
    """What waits in a spool is nowhere else: the outbox drops a message's personal data
    once it is in outbound/, and an update in inbound/ is not in the outbox yet."""
    (instance / "settings.toml").write_text('demo = true\nsecret_key = "s3cret"\n')
    env = {**os.environ, "OTKLIK_INSTANCE_PATH": str(instance)}
    backups = tmp_path / "backups"
    backups.mkdir()

    # without polls or spools (a queue_url of amqp:, no poll yet): it still runs
    subprocess.run(backup_command(instance, backups), cwd=ROOT, env=env, check=True)
    kept = {"settings.toml", "agencies/orel-school-57.toml", "logos/orel-city.svg"}
    assert kept <= archived(backups)
    for made in backups.iterdir():
        made.unlink()

    write_poll(instance, "parks-2027")
    (instance / "outbound").mkdir()
    (instance / "outbound" / "0190a1b2-message.json").write_text("{}")
    (instance / "inbound").mkdir()
    (instance / "inbound" / "status-1.json").write_text("{}")
    subprocess.run(backup_command(instance, backups), cwd=ROOT, env=env, check=True)
    assert {
        "polls/orel-city-admin/parks-2027.toml",
        "outbound/0190a1b2-message.json",
        "inbound/status-1.json",
    } <= archived(backups)
    assert len(list(backups.glob("outbox-*.sqlite3"))) == 1
