"""Public polls («Высказать мнение»): the files that describe them, their tallies.

- ``schema``: the model of a poll file (no Flask);
- ``reading``: reading poll files, and the ``Polls`` cache (reloaded by the file's stamp);
- ``lint``: the check, run by ``flask agencies check``;
- ``store``: where the tallies are kept (the outbox, or Redis);
- ``votes``: a posted ballot checked against its poll;
- ``cli``: ``flask polls new`` and ``flask polls results``.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from .reading import PollError, PollNotFound, Polls, poll_ids, polls_dir, read
from .schema import POLL_ID, Poll, Question, words_in

__all__ = [
    "POLL_ID",
    "Poll",
    "PollError",
    "PollNotFound",
    "Polls",
    "Question",
    "init_app",
    "load",
    "poll_ids",
    "polls_dir",
    "read",
    "registry",
    "tallies",
    "words_in",
]

EXTENSION = "otklik.polls"
TALLIES = "otklik.tallies"


def load(agency_id: str, poll_id: str) -> Poll:
    """The poll as this app has it now. Raises PollNotFound or PollError."""
    return current_app.extensions[EXTENSION].get(agency_id, poll_id)


def registry(app=None) -> Polls:
    return (app or current_app).extensions[EXTENSION]


def tallies(app=None):
    return (app or current_app).extensions[TALLIES]


def init_app(app) -> None:
    from .. import outbox, settings
    from . import store

    app.extensions[EXTENSION] = Polls(polls_dir(Path(app.instance_path)))
    uri = app.config["TALLIES_URI"]
    try:
        app.extensions[TALLIES] = store.from_settings(
            uri, app.config["TALLIES_KEY_PREFIX"], outbox.get_db
        )
    except ValueError as e:
        raise settings.SettingsError(str(e)) from None
