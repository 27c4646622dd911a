"""The schema of a poll file: the pydantic models and their validators.

Knows nothing of Flask or where the files are (``reading`` reads them, ``lint`` adds
what serving forgives). A poll belongs to one agency: ``<instance>/polls/<agency>/<poll>.toml``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from ..agencies.schema import LANGUAGE, Strict, policy_url_problem

POLL_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
OPTION_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SCALE = (1, 2, 3, 4, 5)
KINDS = ("single", "multiple", "scale")
RESULTS = ("after_vote", "after_close", "hidden")

Words = dict[
    Annotated[str, Field(pattern=LANGUAGE)], Annotated[str, Field(min_length=1, max_length=500)]
]
LongWords = dict[
    Annotated[str, Field(pattern=LANGUAGE)], Annotated[str, Field(min_length=1, max_length=3000)]
]


def words_in(words: dict[str, str] | None, lang: str, fallback: str) -> str:
    """``words`` in ``lang``, else in ``fallback`` (the agency's first language), else any."""
    if not words:
        return ""
    return words.get(lang) or words.get(fallback) or next(iter(words.values()))


class Option(Strict):
    id: Annotated[str, Field(pattern=OPTION_ID)]
    title: Words


class Question(Strict):
    id: Annotated[str, Field(pattern=OPTION_ID)]
    kind: Literal["single", "multiple", "scale"]
    title: Words
    hint: Words | None = None
    required: bool = True
    max_choices: Annotated[int, Field(ge=1, le=50)] | None = None  # multiple only
    options: list[Option] = Field(default_factory=list)  # none for a scale: 1 to 5

    @model_validator(mode="after")
    def _fits_kind(self) -> Question:
        if self.kind == "scale":
            if self.options:
                raise ValueError("a scale question has no options: its answers are 1 to 5")
        elif len(self.options) < 2:
            raise ValueError(f"a {self.kind} question needs at least 2 options")
        if self.max_choices is not None:
            if self.kind != "multiple":
                raise ValueError("max_choices is for multiple choice questions only")
            if self.max_choices > len(self.options):
                raise ValueError(
                    f"max_choices is {self.max_choices}, but there are {len(self.options)} options"
                )
        ids = [o.id for o in self.options]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"option id {twice[0]!r} is used twice")
        return self

    @property
    def choices(self) -> tuple[str, ...]:
        """The answers it takes, as posted: option ids, or "1" to "5" for a scale."""
        if self.kind == "scale":
            return tuple(str(n) for n in SCALE)
        return tuple(o.id for o in self.options)

    @property
    def fingerprint(self) -> str:
        """What a vote's meaning depends on: the kind, the answers it takes and how many.
        Recorded at the first vote; a poll edited so that it changes is refused."""
        shape = f"{self.kind}|{self.max_choices or ''}|{','.join(self.choices)}"
        return hashlib.sha256(shape.encode()).hexdigest()[:16]


class Poll(Strict):
    id: str
    agency_id: str
    title: Words
    description: LongWords | None = None
    opens: datetime
    closes: datetime
    results: Literal["after_vote", "after_close", "hidden"] = "after_vote"
    # Where a binding vote on the same matter is held (the state portal, with sign-in).
    binding_url: Annotated[str, Field(max_length=2000)] | None = None
    questions: Annotated[list[Question], Field(min_length=1, max_length=50)]

    _version: int = PrivateAttr(default=0)

    @classmethod
    def validated(cls, data: dict, version: int) -> Poll:
        poll = cls.model_validate(data)
        poll._version = version
        return poll

    @functools.cached_property
    def key(self) -> tuple[str, str, int]:
        """Remembered, as ``Agency.key`` is: the results page hashes its poll each visit."""
        return (self.agency_id, self.id, self._version)

    def __hash__(self) -> int:
        return hash(self.key)

    @field_validator("opens", "closes")
    @classmethod
    def _zoned(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a time zone, such as 2026-12-01T00:00:00+03:00")
        return value

    @field_validator("binding_url")
    @classmethod
    def _binding_url(cls, url: str | None) -> str | None:
        problem = None if url is None else policy_url_problem(url)
        if problem:
            raise ValueError(f"{url!r}: {problem}")
        return url

    @field_validator("questions")
    @classmethod
    def _unique_questions(cls, questions: list[Question]) -> list[Question]:
        ids = [q.id for q in questions]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"question id {twice[0]!r} is used twice")
        return questions

    @model_validator(mode="after")
    def _in_order(self) -> Poll:
        if self.closes <= self.opens:
            raise ValueError(
                f"closes ({self.closes.isoformat()}) must be after opens ({self.opens.isoformat()})"
            )
        return self

    def state(self, now: datetime) -> str:
        """ "upcoming", "open" or "closed" at ``now`` (aware)."""
        if now < self.opens:
            return "upcoming"
        return "open" if now < self.closes else "closed"

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def results_shown(self, now: datetime) -> bool:
        """Whether the results page shows the tallies (a vote's thank-you links to it)."""
        if self.results == "hidden":
            return False
        return self.results == "after_vote" or self.state(now) == "closed"

    def fingerprints(self) -> dict[str, str]:
        return {q.id: q.fingerprint for q in self.questions}
