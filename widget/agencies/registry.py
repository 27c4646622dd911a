"""Agencies: the schema of their TOML files, loading with ``extends``, and the cache.

One file per agency, ``<instance>/agencies/<id>.toml``; bases live in ``_bases/`` and
are never served. A file is read the first time its agency is asked for, kept in a
bounded LRU cache, and read again when its (or a base's) mtime or size changes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import logging
import multiprocessing
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import limits
import tomli as toml  # compiled: parses agency files 3-5x faster than tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import agency_errors, counters, i18n, logos, metrics, routing

log = logging.getLogger(__name__)

AGENCY_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
BASE_REF = re.compile(r"_bases/[a-z0-9][a-z0-9_-]{0,63}")
LANGUAGE = r"^[a-z]{2,3}$"
# Agencies kept parsed per worker. Each costs about 7 kB, and its blank form page (cached
# in web/pages.py, as many) 5 kB more; a miss costs one parse of a small file (about
# 0.2 ms), so a larger cache buys little for the memory (bench/agencies_160k.py).
CACHE_SIZE = 1024


class AgencyError(Exception):
    """An agency file cannot be used. ``problems`` are ``path: field: message`` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems
        self.sources: list[Path] = []  # the files consulted before the problem was found
        self.stamps: list[Stamp] = []
        self.file: Path | None = None  # the file at fault, when not the agency's own
        self.origins: tuple[str, ...] = ()  # who may frame its error page (Registry sets it)


class AgencyNotFound(LookupError):
    """No file for this agency id."""


# --- the schema ---------------------------------------------------------------

ContactMode = Literal["required", "optional", "hidden"]
Text = Annotated[str, Field(min_length=1, max_length=5000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(Strict):
    name: ContactMode = "optional"
    email: ContactMode = "optional"
    phone: ContactMode = "optional"
    address: ContactMode = "hidden"
    anonymous: bool = False

    def shown(self) -> list[str]:
        return [f for f in CONTACT_FIELDS if getattr(self, f) != "hidden"]


CONTACT_FIELDS = ("name", "email", "phone", "address")
WAYS = ("email", "phone", "address")  # the contact fields that reach someone: a name does not


class Topic(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    title: dict[Annotated[str, Field(pattern=LANGUAGE)], Text] | Text
    answer_within_days: Annotated[int, Field(ge=1, le=365)] = 30

    def title_in(self, lang: str) -> str:
        if isinstance(self.title, str):
            return self.title
        return self.title.get(lang) or next(iter(self.title.values()))


class Texts(Strict):
    intro: Text | None = None
    consent: Text | None = None
    consent_version: Annotated[str, Field(max_length=64)] | None = None
    success: Text | None = None
    description: Annotated[str, Field(max_length=300)] | None = None


class Theme(Strict):
    accent: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#0d4cd3"
    # A file in the instance's logos/ folder: name.svg, name.png or name.jpg.
    logo: (
        Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}\.(svg|png|jpg|jpeg)$")] | None
    ) = None


class Limits(Strict):
    per_ip: str = "5 per hour"

    @field_validator("per_ip")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_limit(value)  # its ValueError says what is wrong
        return value


@functools.lru_cache(maxsize=256)  # the same few limits are written in thousands of files
def parse_limit(text: str) -> tuple[limits.RateLimitItem, ...]:
    """The windows of a rate limit such as ``"60 per minute; 600 per hour"``, shortest
    first; ValueError, saying what is wrong, when it is not one."""
    try:
        windows = tuple(sorted(limits.parse_many(text), key=lambda item: item.get_expiry()))
    except ValueError:
        windows = ()
    if not windows:
        raise ValueError(f"not a rate limit such as '5 per hour': {text!r}")
    if windows[-1].get_expiry() > counters.LONGEST_WINDOW:  # the counter store's limit
        raise ValueError(f"a rate limit's window is a year at most: {text!r}")
    return windows


ATTACHMENT_TYPES = Literal["image/jpeg", "image/png", "image/heic", "image/heif", "application/pdf"]


class Attachments(Strict):
    max_files: Annotated[int, Field(ge=0, le=10)] = 0  # 0: no uploads
    max_mb: Annotated[int, Field(ge=1, le=20)] = 5  # per file
    max_total_mb: Annotated[int, Field(ge=1, le=20)] = 10
    types: Annotated[list[ATTACHMENT_TYPES], Field(min_length=1)] = Field(
        default_factory=lambda: ["image/jpeg", "image/png", "image/heic", "application/pdf"]
    )


class Agency(Strict):
    id: str
    name: Annotated[str, Field(min_length=1, max_length=300)]
    short_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    region: Annotated[str, Field(pattern=r"^[0-9]{2,3}$")]
    languages: Annotated[list[Annotated[str, Field(pattern=LANGUAGE)]], Field(min_length=1)] = [
        "ru"
    ]
    browser_language: bool = False  # pick among `languages` by Accept-Language
    embed_origins: list[str] = []
    routing_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,255}$")]
    contact: Contact = Field(default_factory=Contact)
    topics: Annotated[list[Topic], Field(min_length=1)]
    texts: dict[Annotated[str, Field(pattern=LANGUAGE)], Texts] = {}
    theme: Theme = Field(default_factory=Theme)
    limits: Limits = Field(default_factory=Limits)
    attachments: Attachments = Field(default_factory=Attachments)
    # The agency's policy on personal data (152-FZ, art. 18.1), linked beside the consent.
    privacy_url: Annotated[str, Field(max_length=2000)] | None = None

    def __hash__(self) -> int:  # cached derived objects (form classes) key on identity
        return id(self)

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            problem = origin_problem(origin)
            if problem:
                raise ValueError(f"{origin!r}: {problem}")
        return origins

    @field_validator("privacy_url")
    @classmethod
    def _policy_url(cls, url: str | None) -> str | None:
        problem = None if url is None else policy_url_problem(url)
        if problem:
            raise ValueError(f"{url!r}: {problem}")
        return url

    @field_validator("topics")
    @classmethod
    def _unique_topics(cls, topics: list[Topic]) -> list[Topic]:
        seen = set()
        for topic in topics:
            if topic.id in seen:
                raise ValueError(f"topic id {topic.id!r} is used twice")
            seen.add(topic.id)
        return topics

    @property
    def display_name(self) -> str:
        return self.short_name or self.name

    @property
    def language(self) -> str:
        return self.languages[0]

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def text(self, lang: str, key: str) -> str | None:
        """An agency text in ``lang``, else in the agency's first language."""
        for candidate in (lang, self.language):
            texts = self.texts.get(candidate)
            if texts is not None and getattr(texts, key):
                return getattr(texts, key)
        return None


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` is not a bare https origin (http only for localhost), or None."""
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "not a URL"
    local = parts.hostname in ("localhost", "127.0.0.1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        return "must start with https:// (http:// only for localhost)"
    if not parts.hostname or parts.username or parts.password:
        return "must be scheme://host[:port]"
    if parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")):
        return "must be an origin without a path, such as https://school.example.ru"
    if not re.fullmatch(r"[a-z0-9.:-]+", parts.netloc):
        return "the host must be lower case ASCII (use the punycode form of .рф names)"
    return None


def policy_url_problem(url: str) -> str | None:
    """Why ``url`` is not the https address of a page, or None."""
    if re.search(r"[\s\x00-\x1f\x7f]", url):
        return "a URL has no spaces or line breaks"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "not a URL"
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https:// address, such as https://school.example.ru/privacy"
    if parts.username or parts.password:
        return "must not hold a user name or password"
    return None


# --- loading ------------------------------------------------------------------


def agencies_dir(instance: Path) -> Path:
    return instance / "agencies"


Stamp = tuple[int, int, int] | None  # (mtime_ns, size, inode) of a file; None: no such file


def read(folder: Path, agency_id: str, bases: BaseCache | None = None) -> tuple[Agency, list[Path]]:
    """Parse and validate one agency file; return it and the files it was built from.

    Raises AgencyNotFound when there is no such file, AgencyError when it is broken.
    """
    agency, sources, _stamps, _stated = _read(folder, agency_id, bases or BaseCache())
    return agency, sources


def _read(
    folder: Path, agency_id: str, bases: BaseCache
) -> tuple[Agency, list[Path], list[Stamp], object]:
    """As ``read``, also returning each source's stamp as it was when it was read, and
    the ``id`` key the files state (ignored: the file name is the id), if any.

    On AgencyError, ``e.sources`` and ``e.stamps`` name the files consulted so far, so a
    cache can tell when a fix (of the file or of a base) makes it worth reading again.
    """
    if not AGENCY_ID.fullmatch(agency_id):
        raise AgencyNotFound(agency_id)
    path = folder / f"{agency_id}.toml"
    consulted: list[tuple[Path, Stamp]] = []
    try:
        data = _merged(folder, path, [], bases, consulted)
    except FileNotFoundError:
        raise AgencyNotFound(agency_id) from None
    except AgencyError as e:
        e.sources = [p for p, _ in consulted]
        e.stamps = [s for _, s in consulted]
        # the file being read when it failed (for a missing base: the one naming it)
        e.file = next((p for p, s in reversed(consulted) if s is not None), None)
        raise
    stated_id = data.get("id")
    data = {k: v for k, v in data.items() if k != "extends"}
    data["id"] = agency_id
    sources = [p for p, _ in consulted]
    stamps = [s for _, s in consulted]
    try:
        return Agency.model_validate(data), sources, stamps, stated_id
    except ValidationError as e:
        error = AgencyError(_schema_problems(e, data, agency_errors.Locator(sources, path)))
        error.sources, error.stamps = sources, stamps
        raise error from None


class BaseCache:
    """Parsed base files, shared by the thousands of agencies that extend each of them.

    A base is parsed once and re-parsed only when its stamp changes (one ``stat`` per
    use). Parsing a base took 40 % of the time to load an agency (bench/agencies_160k.py).
    The parsed data is shared: callers must not change it.
    """

    MAX_BASES = 1024

    def __init__(self) -> None:
        self._parsed: dict[Path, tuple[dict, Stamp]] = {}
        self._paths: dict[tuple[Path, str], Path] = {}

    def path(self, folder: Path, base: str) -> Path:
        """The file of ``base`` ("_bases/x"): one Path object per base, whose hash is
        then computed once (hashing new Path objects was 5 % of the check)."""
        found = self._paths.get((folder, base))
        if found is None:
            found = self._paths[(folder, base)] = folder / f"{base}.toml"
        return found

    def load(self, path: Path) -> tuple[dict, Stamp]:
        hit = self._parsed.get(path)
        if hit is not None and hit[1] == _stamp_of(path):
            return hit
        with path.open("rb") as f:
            stamp = _stamp_of_fd(f.fileno())
            data = toml.load(f)
        if len(self._parsed) >= self.MAX_BASES:
            self._parsed.clear()
            self._paths.clear()
        self._parsed[path] = (data, stamp)
        return data, stamp


def _merged(
    folder: Path,
    path: Path,
    chain: list[Path],
    bases: BaseCache,
    consulted: list[tuple[Path, Stamp]],
) -> dict:
    """The file's data deep-merged over its bases'. A FileNotFoundError for the agency
    file itself propagates (the caller turns it into AgencyNotFound)."""
    if path in chain:
        cycle = " → ".join(_shown(p) for p in [*chain, path])
        raise AgencyError([f"{_shown(chain[0])}: extends: a cycle: {cycle}"])
    try:
        if chain:
            data, stamp = bases.load(path)
        else:
            with path.open("rb") as f:
                stamp = _stamp_of_fd(f.fileno())
                data = toml.load(f)
    except FileNotFoundError:
        if not chain:
            raise
        consulted.append((path, None))
        raise AgencyError([f"{_shown(chain[-1])}: extends: no such base {_shown(path)}"]) from None
    except toml.TOMLDecodeError as e:
        consulted.append((path, _stamp_of(path)))
        raise AgencyError([f"{_shown(path)}:{e.lineno}: toml: {e.msg}"]) from None
    except UnicodeDecodeError as e:
        consulted.append((path, _stamp_of(path)))
        raise AgencyError([f"{_shown(path)}: toml: {e}"]) from None
    except IsADirectoryError:
        raise AgencyError([f"{_shown(path)}: file: is a folder, not a file"]) from None
    except OSError as e:
        raise AgencyError([f"{_shown(path)}: file: cannot read ({e.strerror})"]) from None
    consulted.append((path, stamp))
    return over_bases(folder, path, data, chain, bases, consulted)


def over_bases(
    folder: Path,
    path: Path,
    data: dict,
    chain: list[Path],
    bases: BaseCache,
    consulted: list[tuple[Path, Stamp]],
) -> dict:
    """``data`` (the contents of ``path``) deep-merged over the bases it extends."""
    base = data.get("extends")
    if base is None:
        return data
    if not isinstance(base, str) or not BASE_REF.fullmatch(base):
        raise AgencyError(
            [f'{_shown(path)}: extends: must name a base such as "_bases/schools", got {base!r}']
        )
    base_data = _merged(folder, bases.path(folder, base), [*chain, path], bases, consulted)
    return _deep_merge({k: v for k, v in base_data.items() if k != "extends"}, data)


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _schema_problems(error: ValidationError, data: dict, where: agency_errors.Locator) -> list[str]:
    """``path[:line]: field: message`` lines, in plain words, for the schema's errors."""
    return [p.text(_shown) for p in agency_errors.problems(error, data, Agency, where)]


def _shown(path: Path) -> str:
    """A path as an operator would type it: relative to the working folder if inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _stamp_of_fd(fd: int) -> Stamp:
    s = os.fstat(fd)
    return (s.st_mtime_ns, s.st_size, s.st_ino)


def _stamp_of(path: str | Path) -> Stamp:
    try:
        s = os.stat(path)
    except OSError:
        return None
    return (s.st_mtime_ns, s.st_size, s.st_ino)


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
                if _stamp_of(path) != stamp:
                    break
            else:
                if isinstance(result, AgencyError):
                    raise result.with_traceback(None)  # a cached error: do not grow its traceback
                return result
        try:
            agency, sources, stamps, _stated = _read(self.folder, agency_id, self._bases)
        except AgencyNotFound:
            with self._lock:
                self._cache.pop(agency_id, None)
                gone = self._broken.pop(agency_id, None)
            if gone is not None:
                self._count_broken()
            raise
        except AgencyError as e:
            return self._keep_last_good(agency_id, e, cached)
        self._store(agency_id, _checks(sources, stamps), agency)
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
            if any(_stamp_of(path) != stamp for path, stamp in record.checks):
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
        error.origins = origins
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
            data = over_bases(folder, path, data, [], bases, [])
    origins = data.get("embed_origins")
    if not isinstance(origins, list):
        return ()
    return tuple(o for o in origins if isinstance(o, str) and origin_problem(o) is None)


def all_ids(folder: Path) -> list[str]:
    """Every servable agency id (reads the folder: for tools, not for requests)."""
    return sorted(
        entry.name[: -len(".toml")]
        for entry in os.scandir(folder)
        if entry.name.endswith(".toml") and AGENCY_ID.fullmatch(entry.name[: -len(".toml")])
    )


# --- checking -----------------------------------------------------------------

MIN_CONTRAST = 4.5  # WCAG 2.2 AA, 1.4.3, for normal text
TEXT_KEYS = ("intro", "consent", "success", "description")
PARALLEL_FROM = 400  # fewer files than this are checked in this process


def check(folder: Path, ids: list[str] | None = None, workers: int | None = None) -> list[str]:
    """Validate agency files (all, or ``ids``); return their problems as
    ``path[:line]: field: message`` lines, in the order of the ids, with the line when
    it is known (of the base, when the key comes from one), and in plain words.

    Beyond what serving needs (the schema, ``extends``, origins, unique topics), it finds
    what serving forgives: an ``id`` key that differs from the file name, files whose
    names are not agency ids (never served), an accent colour too pale for white text,
    and texts or topic titles missing in a listed language. A routing key that the
    documented bindings would miss is a warning (``path:line: warning: field: message``,
    see ``agency_errors.is_warning``), not a problem. Large sets are checked on all
    cores (``workers`` processes, default: one per core).
    """
    problems = misnamed(folder) if ids is None else []
    ids = all_ids(folder) if ids is None else ids
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(ids) < PARALLEL_FROM:
        return problems + _check_many(folder, ids)
    size = max(100, len(ids) // (workers * 8))
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    # spawn, not fork: forking a process that has threads (a server, a test runner) can
    # deadlock, and Python 3.12+ warns about it.
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=spawn) as pool:
        for found in pool.map(_check_many, [folder] * len(chunks), chunks):
            problems.extend(found)
    return problems


def _check_many(folder: Path, ids: list[str]) -> list[str]:
    bases = BaseCache()
    problems = []
    for agency_id in ids:
        problems.extend(check_one(folder, agency_id, bases))
    return problems


def problems_of(folder: Path, agency_id: str, text: str, lint: bool = True) -> list[str]:
    """What would be wrong with ``text`` as the file ``<agency_id>.toml``, before it is
    written (for tools that write agency files): the schema's problems, or else (with
    ``lint``) the check's. Lines are ``path: field: message`` (a base's with its line)."""
    path = folder / f"{agency_id}.toml"
    consulted: list[tuple[Path, Stamp]] = []
    try:
        merged = over_bases(folder, path, toml.loads(text), [], BaseCache(), consulted)
        merged = {k: v for k, v in merged.items() if k != "extends"}
        data = {**merged, "id": agency_id}
        agency = Agency.model_validate(data)
    except AgencyError as e:
        return e.problems
    except ValidationError as e:
        files = [path, *(p for p, _ in consulted)]
        return _schema_problems(e, data, agency_errors.Locator(files, path, unwritten=text))
    return [f"{_shown(path)}: {problem}" for problem in lint_agency(agency)] if lint else []


def check_one(folder: Path, agency_id: str, bases: BaseCache | None = None) -> list[str]:
    """The problems of one agency file (see ``check``)."""
    path = folder / f"{agency_id}.toml"
    if not AGENCY_ID.fullmatch(agency_id):
        return [f"{_shown(path)}: file: {agency_id!r} is not an agency id ({ID_RULE})"]
    try:
        agency, sources, _stamps, stated_id = _read(folder, agency_id, bases or BaseCache())
    except AgencyNotFound:
        return [f"{_shown(path)}: file: no such agency file"]
    except AgencyError as e:
        return e.problems
    problems = []
    if stated_id is not None and stated_id != agency_id:
        problems.append(
            f"id: is {stated_id!r}, but the file is named {path.name}; the file name is the id "
            "(remove the key or rename the file)"
        )
    problems.extend(lint_agency(agency))
    if agency.theme.logo:
        try:
            logos.load(logos.folder(folder.parent), agency.theme.logo)
        except logos.LogoError as e:
            problems.append(f"theme.logo: {e}; the form is shown without it")
    where = agency_errors.Locator(sources, path)
    found = []
    for problem in problems:
        field, _, message = problem.partition(": ")
        found.append(where.problem(agency_errors.loc_of(field), message))
    unrouted = routing.key_problem(agency.routing_key, agency.region, agency_id, agency.name)
    if unrouted:
        found.append(where.problem(("routing_key",), unrouted, warning=True))
    return [problem.text(_shown) for problem in agency_errors.in_order(found, where)]


ID_RULE = "2–64 characters: a-z, 0-9 and -, starting with a letter or digit"


def misnamed(folder: Path) -> list[str]:
    """Files in the agencies folder that look like agency files but are never served."""
    problems = []
    for entry in os.scandir(folder):
        stem, dot, suffix = entry.name.rpartition(".")
        if not dot or suffix.lower() != "toml" or not entry.is_file():
            continue
        if suffix != "toml" or not AGENCY_ID.fullmatch(stem):
            problems.append(
                f"{_shown(Path(entry.path))}: file: never served, the name is not "
                f"<agency-id>.toml ({ID_RULE})"
            )
    return sorted(problems)


def lint_agency(agency: Agency) -> list[str]:
    """``field: message`` lines for what serving forgives but citizens would notice."""
    problems = []
    ratio = contrast(agency.theme.accent, "#ffffff")
    if ratio < MIN_CONTRAST:
        problems.append(
            f"theme.accent: {agency.theme.accent} on white has contrast {ratio:.2f}:1, "
            f"below {MIN_CONTRAST}:1 (WCAG 2.2 AA): buttons and links would be hard to "
            "read; choose a darker colour"
        )
    languages = agency.languages
    for key in TEXT_KEYS:
        have = [
            lang for lang in languages if lang in agency.texts and getattr(agency.texts[lang], key)
        ]
        if have:
            for lang in languages:
                if lang not in have:
                    problems.append(
                        f"texts.{lang}.{key}: missing, but given for {', '.join(have)}; "
                        f"every listed language ({', '.join(languages)}) needs it"
                    )
    for index, topic in enumerate(agency.topics):
        if isinstance(topic.title, str):
            if len(languages) > 1:
                problems.append(
                    f"topics.{index}.title: topic {topic.id!r} has one title for "
                    f"{len(languages)} languages; give one per language, such as "
                    f"title = {{ {', '.join(f'{lang} = ...' for lang in languages)} }}"
                )
            continue
        for lang in languages:
            if lang not in topic.title:
                problems.append(
                    f"topics.{index}.title.{lang}: topic {topic.id!r} has no title in {lang}"
                )
    problems.extend(consent_problems(agency))
    if len(set(languages)) != len(languages):
        problems.append("languages: a language is listed twice")
    for lang in dict.fromkeys(languages):
        if lang not in i18n.catalogued():
            problems.append(
                f"languages: the widget has no translation into {lang!r}: its own words "
                f"(labels, buttons, error messages) would be Russian on the {lang} page; "
                "remove it, or add the translation (docs/languages.md)"
            )
    return problems


CONSENT_SLOTS = ("{data}", "{operator}")


def consent_problems(agency: Agency) -> list[str]:
    """An agency's own consent wording must say {data} and {operator}, which the form
    fills in with the personal data it asks for and the agency's name: written out by
    hand, the list goes stale when [contact] changes (152-FZ, art. 9)."""
    problems = []
    for lang, texts in agency.texts.items():
        missing = [slot for slot in CONSENT_SLOTS if texts.consent and slot not in texts.consent]
        if missing and agency.contact.shown():
            problems.append(
                f"texts.{lang}.consent: write {' and '.join(missing)} into the wording: the "
                "form puts there the personal data it asks for and the operator (the agency's "
                "name), so the consent always says what is collected and by whom"
            )
    return problems


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(colour: str) -> float:
    channels = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def extension(app) -> Registry:
    return app.extensions["otklik.agencies"]


def init_app(app) -> None:
    app.extensions["otklik.agencies"] = Registry(agencies_dir(Path(app.instance_path)))
