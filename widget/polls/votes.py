"""A posted ballot, checked against its poll: the answers, or what is wrong with each.

Field names are the contract's: ``q-<question id>`` (one value for single choice and
scale, several for multiple choice), ``token``, and the honeypot ``website``. Errors
are kept by question, with the choices posted, so the form comes back as it was sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from werkzeug.datastructures import MultiDict

from .schema import Poll, Question

ONE = _l("Выберите один ответ")
AT_LEAST_ONE = _l("Выберите хотя бы один ответ")
UNKNOWN = _l("Выберите ответ из предложенных")
SCALE = _l("Выберите оценку от 1 до 5")
MAX_VALUES = 50  # more values than any question takes: not read further


def field_name(question: Question) -> str:
    return f"q-{question.id}"


@dataclass
class Hidden:
    """A hidden field's value, read and replaced as a WTForms field's (``.data``)."""

    data: str = ""


@dataclass
class Ballot:
    """What was posted (``chosen``: question id -> the values, as posted) and its errors."""

    poll: Poll
    chosen: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    token: Hidden = field(default_factory=Hidden)
    honeypot: str = ""

    @classmethod
    def posted(cls, poll: Poll, fields: MultiDict) -> Ballot:
        ballot = cls(
            poll, token=Hidden(fields.get("token", "")), honeypot=fields.get("website", "")
        )
        for question in poll.questions:
            values = [v.strip() for v in fields.getlist(field_name(question))[:MAX_VALUES]]
            ballot.chosen[question.id] = [v for v in values if v]
        return ballot

    def validate(self) -> bool:
        self.errors = {}
        for question in self.poll.questions:
            problem = self._problem(question, self.chosen.get(question.id, []))
            if problem:
                self.errors[question.id] = problem
        return not self.errors

    @staticmethod
    def _problem(question: Question, values: list[str]):
        if not values:
            if not question.required:
                return None
            return SCALE if question.kind == "scale" else (
                AT_LEAST_ONE if question.kind == "multiple" else ONE
            )  # fmt: skip
        if any(v not in question.choices for v in values) or len(set(values)) != len(values):
            return SCALE if question.kind == "scale" else UNKNOWN
        if question.kind != "multiple" and len(values) > 1:
            return SCALE if question.kind == "scale" else ONE
        most = question.max_choices or len(question.options)
        if question.kind == "multiple" and len(values) > most:
            return ngettext(
                "Выберите не больше %(num)d ответа", "Выберите не больше %(num)d ответов", most
            )
        return None

    def answers(self) -> dict[str, list[str]]:
        """The answers given (question id -> choices), unanswered optional ones left out."""
        return {q: list(v) for q, v in self.chosen.items() if v}

    def event_answers(self) -> dict[str, list[str] | int]:
        """As ``poll.voted.v1`` carries them: option ids, or the score of a scale."""
        kinds = {q.id: q.kind for q in self.poll.questions}
        return {q: int(v[0]) if kinds[q] == "scale" else v for q, v in self.answers().items()}

    def first_error(self) -> str | None:
        """The id of the first question with an error (where the summary's link goes)."""
        return next((q.id for q in self.poll.questions if q.id in self.errors), None)
