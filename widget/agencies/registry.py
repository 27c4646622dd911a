"""The agencies of one instance, cached per worker, with the last good version of each
agency whose files an edit broke (kept on disk, shared by the workers)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import tomli as toml

from .. import metrics
from .reading import (
    AgencyError,
    AgencyNotFound,
    BaseCache,
    Stamp,
    loaded,
    over_bases,
    stamp_of,
)
from .schema import AGENCY_ID, LANGUAGE, Agency, origin_problem

log = logging.getLogger("widget.agencies")  # the name docs/observability.md gives

# Agencies kept parsed per worker. Each costs about 7 kB, and its blank form page (cached
# in web/pages.py, as many) 5 kB more; a miss costs one parse of a small file (about
# 0.2 ms), so a larger cache buys little for the memory (bench/agencies_160k.py).
CACHE_SIZE = 1024


@dataclass(frozen=True)
class Broken:
    """An agency whose files, as this worker last read them, cannot be used."""

    agency_id: str
    file: str  # the file at fault, relative to the agencies folder: "x.toml", "_bases/y.toml"
    stamp: Stamp  # that file's, when it was read
    since: float  # when the newest of the agency's files was written (Unix time)
    last_good: Agency | None  # served meanwhile; None: the error page is
    origins: tuple[str, ...]  # who may frame that error page
    languages: tuple[str, ...]  # the languages it may be in
    checks: tuple[tuple[str, Stamp], ...]


class Registry:
    """The agencies of one instance: lazily loaded, cached, reloaded on change.

    Nothing is read at start-up. ``get`` costs one ``stat`` per source file (the agency's
    and each base's) when cached, and one parse of the agency file when not (bases are
    parsed once, see BaseCache). At most ``size`` agencies are kept (least recently used
    go first), so memory stays bounded however many files there are. Each worker process
    has its own Registry; since every ``get`` compares stamps, an edit reaches all of them
    on their next request for that agency, with no restart and no signal.

    An edit that breaks a file (or a base) does not take down a form that was ever read
    good: the last good version is served until the files are fixed, and the breakage
    is logged once and counted (``broken``, the ``otklik_agencies_broken`` gauge). Each
    new good version is written to ``last_good`` (``<id>.json``), so that every worker,
    also one started after the edit, has it; it is read only when the files are found
    broken and this worker has none in memory. An agency never read good raises
    AgencyError, whose ``origins`` and ``languages`` are those the broken file lists, so
    that its error page still shows in the agency's iframe, in its language. The broken
    state is cached like a good one: a flood of requests re-parses nothing.

    Thread-safe.
    """

    def __init__(self, folder: Path, size: int = CACHE_SIZE, last_good: Path | None = None):
        self.folder = folder
        self.size = size
        self.last_good = last_good  # None: kept in this worker's memory only
        self._unwritable = False  # warned that ``last_good`` cannot be written
        self._cache: OrderedDict[str, tuple[list[tuple[str, Stamp]], Agency | AgencyError]]
        self._cache = OrderedDict()
        # Outlives the cache's evictions, so that an evicted agency read again still
        # has its last good version; at most ``size`` of them.
        self._broken: dict[str, Broken] = {}
        self._bases = BaseCache()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many agencies are cached now (never more than ``size``)."""
        return len(self._cache)

    def get(self, agency_id: str) -> Agency:
        """The agency, fresh from disk if its files changed; while they are broken, the
        last good version read (by this worker or, through ``last_good``, another).

        Raises AgencyNotFound, or AgencyError when there is no good version to serve.
        """
        if not AGENCY_ID.fullmatch(agency_id):
            raise AgencyNotFound(agency_id)
        with self._lock:
            cached = self._cache.get(agency_id)
            if cached is not None:
                self._cache.move_to_end(agency_id)
        if cached is not None:
            checks, result = cached
            for path, stamp in checks:
                if stamp_of(path) != stamp:
                    break
            else:
                if isinstance(result, AgencyError):
                    raise result.with_traceback(None)  # a cached error: do not grow its traceback
                return result
        try:
            found = loaded(self.folder, agency_id, self._bases)
        except AgencyNotFound:
            with self._lock:
                self._cache.pop(agency_id, None)
                gone = self._broken.pop(agency_id, None)
            if gone is not None:
                self._count_broken()
            if self.last_good is not None:  # a file made again later starts afresh
                with contextlib.suppress(FileNotFoundError):
                    (self.last_good / f"{agency_id}.json").unlink()
            raise
        except AgencyError as e:
            return self._keep_last_good(agency_id, e, cached)
        agency = found.agency
        self._write_last_good(agency)
        self._store(agency_id, _checks(found.sources, found.stamps), agency)
        if agency_id in self._broken:  # rare: no lock taken on every miss
            with self._lock:
                healed = self._broken.pop(agency_id, None) is not None  # not another thread
            if healed:
                log.info("agency %s: its files are fixed; serving the new version", agency_id)
                self._count_broken()
        return agency

    def broken(self) -> list[Broken]:
        """The agencies this worker found broken, each checked again on disk now (a file
        fixed since is read again and drops out), by id."""
        with self._lock:
            found = list(self._broken.values())
        for record in found:
            if any(stamp_of(path) != stamp for path, stamp in record.checks):
                with contextlib.suppress(AgencyError, AgencyNotFound):
                    self.get(record.agency_id)
        with self._lock:
            return sorted(self._broken.values(), key=lambda record: record.agency_id)

    def _keep_last_good(self, agency_id: str, error: AgencyError, cached) -> Agency:
        """Record that the agency's files are broken; return its last good version, or
        raise ``error`` when there is none."""
        if not error.sources:  # an unreadable file (no stamp at all) is not cached
            log.warning("agency %s: %s", agency_id, "; ".join(error.problems))
            raise error
        before = self._broken.get(agency_id)
        # The kept file first: another worker may have read a newer good version than
        # this one, and all of them must serve the same.
        last_good = self._read_last_good(agency_id)
        if last_good is None and cached is not None and isinstance(cached[1], Agency):
            last_good = cached[1]
        if last_good is None and before is not None:
            last_good = before.last_good
        if last_good is not None:
            origins, languages = tuple(last_good.embed_origins), tuple(last_good.languages)
        else:
            found = stated(self.folder, agency_id, self._bases)
            if found is None:  # not TOML at all: what an earlier broken version said
                found = (before.origins, before.languages) if before is not None else ((), ())
            origins, languages = found
        error.origins, error.languages = origins, languages  # the one place (see AgencyError)
        checks = _checks(error.sources, error.stamps)
        at_fault = error.file or error.sources[0]
        stamp = error.stamps[error.sources.index(at_fault)]
        record = Broken(
            agency_id=agency_id,
            file=_within(self.folder, at_fault),
            stamp=stamp,
            since=max((s[0] for s in error.stamps if s is not None), default=0) / 1e9,
            last_good=last_good,
            origins=origins,
            languages=languages,
            checks=tuple(checks),
        )
        with self._lock:
            # one warning per broken edit: not per request, nor per agency of a broken base
            seen = any((r.file, r.stamp) == (record.file, stamp) for r in self._broken.values())
            self._broken.pop(agency_id, None)
            self._broken[agency_id] = record
            while len(self._broken) > self.size:
                del self._broken[next(iter(self._broken))]
        self._store(agency_id, checks, last_good or error)
        self._count_broken()
        if not seen:
            problems = "; ".join(error.problems)
            if at_fault != error.sources[0]:
                log.warning(
                    "base %s is broken (met first for agency %s): until it is fixed, the "
                    "agencies extending it that were ever read good keep their last good "
                    "version, the others answer 503: %s",
                    record.file,
                    agency_id,
                    problems,
                )
            else:
                served = "serves its last good version" if last_good else "answers 503"
                log.warning(
                    "agency %s: %s is broken: until it is fixed, its form %s: %s",
                    agency_id,
                    record.file,
                    served,
                    problems,
                )
        if last_good is None:
            raise error.with_traceback(None)  # a cached error: do not grow its traceback
        return last_good

    def _write_last_good(self, agency: Agency) -> None:
        """Keep ``agency`` as its last good version for every worker, unless the file
        already holds this version: one small file per agency, written once per edit (by
        whichever worker reads the edit first), atomically, so a reader never meets half."""
        if self.last_good is None:
            return
        path = self.last_good / f"{agency.id}.json"
        kept = {"version": agency.key[1], "agency": agency.model_dump(mode="json")}
        payload = json.dumps(kept, ensure_ascii=False, sort_keys=True).encode()
        with contextlib.suppress(OSError):
            if path.read_bytes() == payload:
                return
        try:
            self.last_good.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.last_good, prefix=f".{agency.id}.")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(payload)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as e:  # the form is served all the same; say it once, not per agency
            if not self._unwritable:
                self._unwritable = True
                log.warning("cannot keep the agencies' last good versions: %s", e)

    def _read_last_good(self, agency_id: str) -> Agency | None:
        """The last good version a worker kept on disk, if it still fits the schema (an
        upgrade may have changed it)."""
        if self.last_good is None:
            return None
        try:
            kept = json.loads((self.last_good / f"{agency_id}.json").read_bytes())
            agency = Agency.validated(kept["agency"], version=kept["version"])
        except (OSError, ValueError, TypeError, KeyError):  # ValidationError is a ValueError
            return None
        return agency if agency.id == agency_id else None

    def _count_broken(self) -> None:
        with self._lock:
            served_last_good = sum(1 for r in self._broken.values() if r.last_good is not None)
            total = len(self._broken)
        metrics.agencies_broken(last_good=served_last_good, error_page=total - served_last_good)

    def _store(self, agency_id, checks, result) -> None:
        with self._lock:
            self._cache[agency_id] = (checks, result)
            self._cache.move_to_end(agency_id)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)


def _checks(sources: list[Path], stamps: list[Stamp]) -> list[tuple[str, Stamp]]:
    """(path as str, stamp) pairs: stat needs no Path conversion on every request."""
    return [(os.fspath(path), stamp) for path, stamp in zip(sources, stamps, strict=True)]


def _within(folder: Path, path: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


def stated(
    folder: Path, agency_id: str, bases: BaseCache
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The valid origins and languages a broken agency file lists (its own
    ``embed_origins`` and ``languages``, else its bases'), read leniently: the other keys
    may be wrong, and wrong entries are left out. None when the file is not TOML at all."""
    path = folder / f"{agency_id}.toml"
    try:
        with path.open("rb") as f:
            data = toml.load(f)
    except (OSError, UnicodeDecodeError, toml.TOMLDecodeError):
        return None
    if "embed_origins" not in data or "languages" not in data:
        with contextlib.suppress(AgencyError):
            data = over_bases(folder, path, data, bases)
    origins = _strings(data.get("embed_origins"), lambda o: origin_problem(o) is None)
    return origins, _strings(data.get("languages"), lambda code: re.fullmatch(LANGUAGE, code))


def _strings(value, valid) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str) and valid(v))
