"""Reading poll files, and the polls of one instance cached per worker.

A poll is ``<instance>/polls/<agency-id>/<poll-id>.toml``. Its problems are written as
the agencies' are (``path:line: field: message``, by the same Locator and words); a
cached poll is read again when its file's stamp changes, as an agency is, so an edit
shows on the next request in every worker, with no restart.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from pathlib import Path

import tomli as toml
from pydantic import ValidationError

from ..agencies import errors
from ..agencies.lines import Locator
from ..agencies.reading import Stamp, shown, stamp_of
from ..agencies.schema import AGENCY_ID
from .schema import POLL_ID, Poll

CACHE_SIZE = 4096  # polls kept parsed per worker; a miss is one parse of a small file


class PollError(Exception):
    """A poll file cannot be used; ``problems`` are ``path[:line]: field: message`` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class PollNotFound(LookupError):
    """No such poll file."""


def polls_dir(instance: Path) -> Path:
    return instance / "polls"


@functools.lru_cache(maxsize=CACHE_SIZE)  # looked up for every request of a poll's pages
def poll_path(folder: Path, agency_id: str, poll_id: str) -> Path:
    """Remembered: joining a Path costs twice the ``stat`` each request makes of it."""
    return folder / agency_id / f"{poll_id}.toml"


def parse(path: Path, agency_id: str, poll_id: str, text: str | None = None) -> Poll:
    """The poll in ``path`` (or in ``text``, not yet written there). Raises PollError."""
    try:
        if text is None:
            with path.open("rb") as f:
                data = toml.load(f)
        else:
            data = toml.loads(text)
    except toml.TOMLDecodeError as e:
        raise PollError([f"{shown(path)}:{e.lineno}: toml: {e.msg}"]) from None
    except UnicodeDecodeError as e:
        raise PollError([f"{shown(path)}: toml: {e}"]) from None
    data = {**data, "id": poll_id, "agency_id": agency_id}
    try:
        return Poll.validated(data, version=hash(stamp_of(path)))
    except ValidationError as e:
        where = Locator([path], path, unwritten=text)
        problems = errors.problems(e, data, Poll, where)
        raise PollError([p.text(shown) for p in problems]) from None


def read(folder: Path, agency_id: str, poll_id: str) -> Poll:
    """One poll, for tools; request code asks the Polls cache."""
    if not AGENCY_ID.fullmatch(agency_id) or not POLL_ID.fullmatch(poll_id):
        raise PollNotFound(poll_id)
    path = poll_path(folder, agency_id, poll_id)
    try:
        return parse(path, agency_id, poll_id)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise PollNotFound(poll_id) from None


def poll_ids(folder: Path, agency_id: str) -> list[str]:
    """The ids of an agency's poll files, sorted (one scandir of its folder)."""
    try:
        entries = list(os.scandir(folder / agency_id))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(
        e.name[: -len(".toml")]
        for e in entries
        if e.name.endswith(".toml") and POLL_ID.fullmatch(e.name[: -len(".toml")])
    )


class Polls:
    """The polls of one instance, loaded lazily, cached (at most ``size``), read again
    when a file's stamp changes. A broken file is cached as its PollError, so a flood
    of requests re-parses nothing; it takes that poll alone down (503), never the
    agency's form or its other polls. Thread-safe."""

    def __init__(self, folder: Path, size: int = CACHE_SIZE):
        self.folder = folder
        self.size = size
        self._cache: OrderedDict[tuple[str, str], tuple[Stamp, Poll | PollError]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, agency_id: str, poll_id: str) -> Poll:
        """Raises PollNotFound, or PollError while the file is broken."""
        if not POLL_ID.fullmatch(poll_id):
            raise PollNotFound(poll_id)
        path = poll_path(self.folder, agency_id, poll_id)
        stamp = stamp_of(path)
        if stamp is None:
            with self._lock:
                self._cache.pop((agency_id, poll_id), None)
            raise PollNotFound(poll_id)
        with self._lock:
            cached = self._cache.get((agency_id, poll_id))
            if cached is not None:
                self._cache.move_to_end((agency_id, poll_id))
        if cached is None or cached[0] != stamp:
            try:
                result: Poll | PollError = read(self.folder, agency_id, poll_id)
            except PollError as e:
                result = e
            cached = (stamp, result)
            with self._lock:
                self._cache[(agency_id, poll_id)] = cached
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        if isinstance(cached[1], PollError):
            raise cached[1].with_traceback(None)
        return cached[1]

    def of_agency(self, agency_id: str) -> tuple[list[Poll], list[str]]:
        """The agency's good polls and the ids of its broken ones."""
        good, broken = [], []
        for poll_id in poll_ids(self.folder, agency_id):
            try:
                good.append(self.get(agency_id, poll_id))
            except PollError:
                broken.append(poll_id)
            except PollNotFound:  # removed meanwhile
                continue
        return good, broken
