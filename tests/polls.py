"""Helpers for poll tests: a poll file, written into a test instance."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import token_of

AGENCY = "orel-city-admin"
POLL = """\
title = { ru = "Благоустройство 2027" }
description = { ru = "Выберите, что сделать в первую очередь 🌳" }
opens = 2026-01-01T00:00:00+03:00
closes = 2035-12-31T23:59:59+03:00
results = "after_vote"

[[questions]]
id = "priority"
kind = "single"
title = { ru = "Что благоустроить первым?" }

[[questions.options]]
id = "park"
title = { ru = "Парк у реки" }

[[questions.options]]
id = "square"
title = { ru = "Площадь Ленина" }

[[questions]]
id = "extras"
kind = "multiple"
max_choices = 2
required = false
title = { ru = "Что добавить в парке?" }

[[questions.options]]
id = "lights"
title = { ru = "Освещение" }

[[questions.options]]
id = "benches"
title = { ru = "Скамейки" }

[[questions.options]]
id = "playground"
title = { ru = "Детская площадка" }

[[questions]]
id = "mood"
kind = "scale"
title = { ru = "Насколько вы довольны двором?" }
"""


def write_poll(instance: Path, poll_id: str, body: str = POLL, agency_id: str = AGENCY) -> Path:
    path = instance / "polls" / agency_id / f"{poll_id}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    stat = path.stat()  # an edit within one timestamp tick is seen all the same
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    return path


def url(poll_id: str, tail: str = "", surface: str = "embed") -> str:
    return f"/{surface}/{AGENCY}/polls/{poll_id}{tail}"


# Answers to every question of POLL.
GOOD = {"q-priority": "park", "q-extras": ["lights", "benches"], "q-mood": "4"}


def vote(client, poll_id="dvor", ip="203.0.113.7", **fields):
    """A vote as a citizen casts one: the poll's page for its token, then the POST."""
    page = client.get(url(poll_id), environ_base={"REMOTE_ADDR": ip})
    data = {"token": token_of(page.get_data(as_text=True)), "website": "", **fields}
    return client.post(url(poll_id), data=data, environ_base={"REMOTE_ADDR": ip})


def counts(app, poll_id: str, agency_id: str = AGENCY) -> dict:
    """The poll's tallies as the app keeps them."""
    from widget import polls

    with app.app_context():
        return polls.tallies(app).counts(agency_id, poll_id)
