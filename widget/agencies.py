"""Agencies: the schema of their TOML files, loading with ``extends``, and the cache.

One file per agency, ``<instance>/agencies/<id>.toml``; bases live in ``_bases/`` and
are never served. A file is read the first time its agency is asked for, kept in a
bounded LRU cache, and read again when its (or a base's) mtime or size changes.
"""

from __future__ import annotations

import os
import re
import threading
import tomllib
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import limits
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

AGENCY_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
BASE_REF = re.compile(r"_bases/[a-z0-9][a-z0-9_-]{0,63}")
LANGUAGE = r"^[a-z]{2,3}$"
CACHE_SIZE = 4096


class AgencyError(Exception):
    """An agency file cannot be used. ``problems`` are ``path: field: message`` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


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
        try:
            limits.parse_many(value)
        except ValueError:
            raise ValueError(f"not a rate limit such as '5 per hour': {value!r}") from None
        return value


ATTACHMENT_TYPES = Literal["image/jpeg", "image/png", "image/heic", "image/heif", "application/pdf"]


class Attachments(Strict):
    max_files: Annotated[int, Field(ge=0, le=10)] = 0  # 0: no uploads
    max_mb: Annotated[int, Field(ge=1, le=20)] = 5  # per file
    max_total_mb: Annotated[int, Field(ge=1, le=20)] = 10
    types: Annotated[list[ATTACHMENT_TYPES], Field(min_length=1)] = [
        "image/jpeg",
        "image/png",
        "image/heic",
        "application/pdf",
    ]


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
    contact: Contact = Contact()
    topics: Annotated[list[Topic], Field(min_length=1)]
    texts: dict[Annotated[str, Field(pattern=LANGUAGE)], Texts] = {}
    theme: Theme = Theme()
    limits: Limits = Limits()
    attachments: Attachments = Attachments()

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


# --- loading ------------------------------------------------------------------


def agencies_dir(instance: Path) -> Path:
    return instance / "agencies"


def read(folder: Path, agency_id: str) -> tuple[Agency, list[Path]]:
    """Parse and validate one agency file; return it and the files it was built from.

    Raises AgencyNotFound when there is no such file, AgencyError when it is broken.
    """
    if not AGENCY_ID.fullmatch(agency_id):
        raise AgencyNotFound(agency_id)
    path = folder / f"{agency_id}.toml"
    if not path.is_file():
        raise AgencyNotFound(agency_id)
    data, sources = _merged(folder, path, [])
    data.pop("extends", None)
    data["id"] = agency_id
    try:
        return Agency.model_validate(data), sources
    except ValidationError as e:
        raise AgencyError(
            [f"{_shown(path)}: {_field(err['loc'])}: {err['msg']}" for err in e.errors()]
        ) from None


def _merged(folder: Path, path: Path, chain: list[Path]) -> tuple[dict, list[Path]]:
    if path in chain:
        cycle = " → ".join(_shown(p) for p in [*chain, path])
        raise AgencyError([f"{_shown(chain[0])}: extends: a cycle: {cycle}"])
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise AgencyError([f"{_shown(chain[-1])}: extends: no such base {_shown(path)}"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise AgencyError([f"{_shown(path)}: toml: {e}"]) from None
    except OSError as e:
        raise AgencyError([f"{_shown(path)}: file: cannot read ({e.strerror})"]) from None
    sources = [path]
    base = data.get("extends")
    if base is None:
        return data, sources
    if not isinstance(base, str) or not BASE_REF.fullmatch(base):
        raise AgencyError(
            [f'{_shown(path)}: extends: must name a base such as "_bases/schools", got {base!r}']
        )
    base_data, base_sources = _merged(folder, folder / f"{base}.toml", [*chain, path])
    base_data.pop("extends", None)
    return _deep_merge(base_data, data), sources + base_sources


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _field(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def _shown(path: Path) -> str:
    """A path as an operator would type it: relative to the working folder if inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _stamp(paths: list[Path]) -> tuple | None:
    try:
        return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in map(os.stat, paths))
    except OSError:
        return None


class Registry:
    """The agencies of one instance: lazily loaded, cached, reloaded on change.

    Thread-safe. A broken file is cached as broken (until it changes) so that a
    flood of requests to a broken agency does not re-parse it each time.
    """

    def __init__(self, folder: Path, size: int = CACHE_SIZE):
        self.folder = folder
        self.size = size
        self._cache: OrderedDict[str, tuple[tuple | None, list[Path], Agency | AgencyError]]
        self._cache = OrderedDict()
        self._lock = threading.Lock()

    def get(self, agency_id: str) -> Agency:
        """The agency, fresh from disk if its files changed.

        Raises AgencyNotFound or AgencyError.
        """
        if not AGENCY_ID.fullmatch(agency_id):
            raise AgencyNotFound(agency_id)
        with self._lock:
            cached = self._cache.get(agency_id)
            if cached is not None:
                self._cache.move_to_end(agency_id)
        if cached is not None:
            stamp, sources, result = cached
            if stamp is not None and _stamp(sources) == stamp:
                if isinstance(result, AgencyError):
                    raise result
                return result
        path = self.folder / f"{agency_id}.toml"
        try:
            agency, sources = read(self.folder, agency_id)
            result: Agency | AgencyError = agency
        except AgencyNotFound:
            with self._lock:
                self._cache.pop(agency_id, None)
            raise
        except AgencyError as e:
            result, sources = e, [path]
        self._store(agency_id, _stamp(sources), sources, result)
        if isinstance(result, AgencyError):
            raise result
        return result

    def _store(self, agency_id, stamp, sources, result) -> None:
        with self._lock:
            self._cache[agency_id] = (stamp, sources, result)
            self._cache.move_to_end(agency_id)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)


def all_ids(folder: Path) -> list[str]:
    """Every servable agency id (reads the folder: for tools, not for requests)."""
    return sorted(
        entry.name[: -len(".toml")]
        for entry in os.scandir(folder)
        if entry.name.endswith(".toml") and AGENCY_ID.fullmatch(entry.name[: -len(".toml")])
    )


def check(folder: Path, ids: list[str] | None = None) -> list[str]:
    """Validate agency files; return their problems as ``path: field: message`` lines."""
    problems = []
    for agency_id in ids if ids is not None else all_ids(folder):
        try:
            read(folder, agency_id)
        except AgencyNotFound:
            problems.append(f"{_shown(folder / (agency_id + '.toml'))}: file: no such agency file")
        except AgencyError as e:
            problems.extend(e.problems)
    return problems


def extension(app) -> Registry:
    return app.extensions["otklik.agencies"]


def init_app(app) -> None:
    app.extensions["otklik.agencies"] = Registry(agencies_dir(Path(app.instance_path)))
