"""The check of poll files, run by ``flask agencies check``: what serving needs (the
schema), and what it forgives but citizens would notice, with file and line."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..agencies.lines import Locator
from ..agencies.reading import AgencyError, AgencyNotFound, shown
from .reading import PollError, PollNotFound, poll_ids, poll_path, read
from .schema import POLL_ID, Poll

Fingerprints = Callable[[str, str], dict[str, str]]


def check(
    folder: Path,
    agency_of: Callable[[str], object],
    fingerprints: Fingerprints,
    agency_ids: list[str] | None = None,
) -> list[str]:
    """``path[:line]: field: message`` for every problem of the polls of ``agency_ids``
    (default: every agency folder under ``folder``). ``agency_of(id)`` reads an agency
    (its languages); ``fingerprints(agency, poll)`` the questions' shapes at the first vote."""
    if not folder.is_dir():
        return []
    ids = (
        agency_ids
        if agency_ids is not None
        else sorted(e.name for e in os.scandir(folder) if e.is_dir())
    )
    found = []
    for agency_id in ids:
        try:
            languages = agency_of(agency_id).languages
        except AgencyNotFound:
            found.append(
                f"{shown(folder / agency_id)}: folder: no agency {agency_id!r} has these polls"
            )
            continue
        except AgencyError:
            languages = None  # its own check says what is wrong
        for entry in os.scandir(folder / agency_id):
            stem = entry.name.removesuffix(".toml")
            if entry.name.endswith(".toml") and not POLL_ID.fullmatch(stem):
                found.append(
                    f"{shown(Path(entry.path))}: file: never served, the name is not <poll-id>.toml"
                )
        for poll_id in poll_ids(folder, agency_id):
            found.extend(check_one(folder, agency_id, poll_id, languages, fingerprints))
    return found


def check_one(folder, agency_id, poll_id, languages, fingerprints: Fingerprints) -> list[str]:
    path = poll_path(folder, agency_id, poll_id)
    try:
        poll = read(folder, agency_id, poll_id)
    except PollError as e:
        return e.problems
    except PollNotFound:
        return [f"{shown(path)}: file: no such poll file"]
    where = Locator([path], path)
    problems = [where.problem(loc, message) for loc, message in lint_poll(poll, languages or [])]
    kept = fingerprints(agency_id, poll_id)
    for i, q in enumerate(poll.questions):
        if q.id in kept and kept[q.id] != q.fingerprint:
            problems.append(where.problem(("questions", i), (
                f"question {q.id!r} has changed its kind or options since the first vote; "
                "votes already cast would count for other answers: put it back as it was, "
                "or hold a new poll")))  # fmt: skip
    for q_id in sorted(set(kept) - {q.id for q in poll.questions}):
        removed = f"question {q_id!r} was removed after the first vote"
        problems.append(
            where.problem(("questions",), f"{removed}: put it back, or hold a new poll")
        )
    return [p.text(shown) for p in sorted(problems, key=lambda p: p.line or 0)]


def lint_poll(poll: Poll, languages: list[str]) -> list[tuple[tuple, str]]:
    """(location, message) for texts missing in a language the agency offers."""
    found = []

    def need(loc: tuple, words: dict | None) -> None:
        if words is None:
            return
        missing = [lang for lang in languages if lang not in words]
        if missing:
            found.append(
                (loc, f"no text in {', '.join(missing)} (the agency offers {', '.join(languages)})")
            )

    need(("title",), poll.title)
    need(("description",), poll.description)
    for i, q in enumerate(poll.questions):
        need(("questions", i, "title"), q.title)
        need(("questions", i, "hint"), q.hint)
        for j, o in enumerate(q.options):
            need(("questions", i, "options", j, "title"), o.title)
    return found
