"""The schema of an agency file: the pydantic models and their validators.

Knows nothing of Flask, Babel or where the files are: the registry reads them, the
linter (``lint``) adds what serving forgives, and ``i18n`` picks a page's language
among an agency's.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

import limits
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from .. import ratelimit_store

AGENCY_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
ID_RULE = "2–64 characters: a-z, 0-9 and -, starting with a letter or digit"
BASE_REF = re.compile(r"_bases/[a-z0-9][a-z0-9_-]{0,63}")
LANGUAGE = r"^[a-z]{2,3}$"

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
    per_ip: str = "5 per hour"  # accepted messages from one address
    # every POST of the form from one address: messages, forms with errors, language switches
    attempts_per_ip: str = "60 per hour"

    @field_validator("per_ip", "attempts_per_ip")
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
    if windows[-1].get_expiry() > ratelimit_store.LONGEST_WINDOW:  # the counter store's limit
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

    # Which version of its files it was read from (``validated``); 0: built in code.
    _version: int = PrivateAttr(default=0)

    @classmethod
    def validated(cls, data: dict, version: int) -> Agency:
        """The agency ``data`` describes (ValidationError when it is not one), read from
        the ``version`` of its files: a number that changes when any of them changes."""
        agency = cls.model_validate(data)
        agency._version = version
        return agency

    @functools.cached_property
    def key(self) -> tuple[str, int]:
        """What the caches of things made from an agency (its form classes, its blank
        form) know it by: its id and the version of its files, so that an edit is a new
        key and shows on the next request. Remembered (pydantic supports it on a frozen
        model): a private attribute is read through pydantic's ``__getattr__``, which
        cost a page as much as choosing its language, and each page hashes its agency."""
        return (self.id, self._version)

    # Equal agencies have equal keys: pydantic's equality compares private attributes
    # too, so two readings of unchanged files are equal, and an edited one is not.
    def __hash__(self) -> int:
        return hash(self.key)

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
