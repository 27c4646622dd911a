"""The agencies of one instance, cached per worker, with the last good version of each
agency whose files an edit broke."""

from __future__ import annotations

import contextlib
import logging
import os
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
from .schema import AGENCY_ID, Agency, origin_problem

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
    checks: tuple[tuple[str, Stamp], ...]


class Registry:
    """The agencies of one instance: lazily loaded, cached, reloaded on change.

    Nothing is read at start-up. ``get`` costs one ``stat`` per source file (the agency's
    and each base's) when cached, and one parse of the agency file when not (bases are
    parsed once, see BaseCache). At most ``size`` agencies are kept (least recently used
    go first), so memory stays bounded however many files there are. Each worker process
    has its own Registry; since every ``get`` compares stamps, an edit reaches all of them
    on their next request for that agency, with no restart and no signal.

    An edit that breaks a file (or a base) does not take down a form this worker has
    served: the last good version is served until the files are fixed, and the breakage
    is logged once and counted (``broken``, the ``otklik_agencies_broken`` gauge). An
    agency never loaded good here raises AgencyError, whose ``origins`` are those the
    broken file lists, so that its error page still shows in the agency's iframe. The
    broken state is cached like a good one: a flood of requests re-parses nothing.

    Thread-safe.
    """

    def __init__(self, folder: Path, size: int = CACHE_SIZE):
        self.folder = folder
        self.size = size
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
        last good version this worker read.

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
            raise
        except AgencyError as e:
            return self._keep_last_good(agency_id, e, cached)
        agency = found.agency
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
        if cached is not None and isinstance(cached[1], Agency):
            last_good = cached[1]
        else:
            last_good = before.last_good if before is not None else None
        if last_good is not None:
            origins = tuple(last_good.embed_origins)
        else:
            origins = stated_origins(self.folder, agency_id, self._bases)
            if origins is None:  # not TOML at all: what an earlier broken version said
                origins = before.origins if before is not None else ()
        error.origins = origins  # the one place they are set (see AgencyError)
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
                    "agencies extending it that this worker has served keep their last good "
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


def stated_origins(folder: Path, agency_id: str, bases: BaseCache) -> tuple[str, ...] | None:
    """The valid origins a broken agency file lists (its own ``embed_origins``, else its
    bases'), read leniently: the other keys may be wrong, and wrong origins are left
    out. None when the file is not TOML at all."""
    path = folder / f"{agency_id}.toml"
    try:
        with path.open("rb") as f:
            data = toml.load(f)
    except (OSError, UnicodeDecodeError, toml.TOMLDecodeError):
        return None
    if "embed_origins" not in data:
        with contextlib.suppress(AgencyError):
            data = over_bases(folder, path, data, bases)
    origins = data.get("embed_origins")
    if not isinstance(origins, list):
        return ()
    return tuple(o for o in origins if isinstance(o, str) and origin_problem(o) is None)
