"""Updates from the central system: a ``feedback.status.v1`` CloudEvent becomes an
:class:`Update`, or an :class:`InvalidUpdate` saying what is wrong.

docs/status.schema.json is the contract, and every intake (the spool, RabbitMQ, the HTTP
push) validates with it through :func:`parse`; what JSON Schema cannot say (the subject
is the receipt, the dates are real dates) is checked here after it. Error messages name
the field and the rule broken, never the value sent: an answer is personal data, and
the messages go to logs, reason files and HTTP answers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

import jsonschema
from jsonschema.exceptions import ValidationError

from . import ROOT

SCHEMA = json.loads((ROOT / "docs" / "status.schema.json").read_text(encoding="utf-8"))
# In the order a message goes through them: of two updates with the same time, the later
# status is the current one.
STATUSES = tuple(SCHEMA["$defs"]["data"]["properties"]["status"]["enum"])
# A bound no valid event comes near (20,000 characters of answer, each escaped as a
# surrogate pair, are 240 kB): anything larger is refused before it is parsed.
LARGEST = 1024 * 1024
MOST_PROBLEMS_SAID = 5
# What of a sent value an error may quote: a short lower-case word (a mistyped status),
# never free text.
QUOTABLE = re.compile(r"[a-z_]{1,30}")
FIELD_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")  # an unknown field's name is said when it is one


class InvalidUpdate(ValueError):
    """The event breaks the contract; ``str(e)`` says where and how, without its values."""


@dataclass(frozen=True)
class Update:
    id: str
    source: str
    time: str  # as sent (RFC 3339 with its offset)
    happened_at: float  # the same moment in Unix seconds: what orders a receipt's updates
    receipt: str
    agency_id: str
    status: str
    message_id: str | None = None
    answer: str | None = None
    answered_by: str | None = None
    answer_by: str | None = None  # YYYY-MM-DD
    redirected_to: str | None = None
    note: str | None = None


@cache
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SCHEMA)


def parse(body: bytes | str) -> Update:
    """The update ``body`` holds (one event, UTF-8 JSON), or InvalidUpdate."""
    if len(body) > LARGEST:
        raise InvalidUpdate(f"larger than any valid update ({len(body)} bytes)")
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8-sig")  # a byte-order mark from a Windows tool is fine
        except UnicodeDecodeError as e:
            raise InvalidUpdate(f"not UTF-8 (byte {e.start})") from None
    try:
        event = json.loads(body)
    except json.JSONDecodeError as e:
        raise InvalidUpdate(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    problems: dict[str, str] = {}  # the first problem of each field
    for error in sorted(validator().iter_errors(event), key=lambda e: list(map(str, e.path))):
        line = describe(error)
        problems.setdefault(line.split(":", 1)[0], line)
    if problems:
        said = list(problems.values())[:MOST_PROBLEMS_SAID]
        more = len(problems) - len(said)
        raise InvalidUpdate("; ".join(said) + (f"; and {more} more" if more else ""))
    data = event["data"]
    if event["subject"] != data["receipt"]:
        raise InvalidUpdate("subject: must be the receipt, the same as data.receipt")
    try:
        happened_at = datetime.fromisoformat(event["time"]).timestamp()
    except ValueError:
        raise InvalidUpdate("time: not a real date and time") from None
    if data.get("answer_by") is not None:
        try:
            date.fromisoformat(data["answer_by"])
        except ValueError:
            raise InvalidUpdate("data.answer_by: not a real date") from None
    return Update(
        id=event["id"],
        source=event["source"],
        time=event["time"],
        happened_at=happened_at,
        receipt=data["receipt"],
        agency_id=data["agency_id"],
        status=data["status"],
        message_id=data.get("message_id"),
        answer=data.get("answer"),
        answered_by=data.get("answered_by"),
        answer_by=data.get("answer_by"),
        redirected_to=data.get("redirected_to"),
        note=data.get("note"),
    )


def describe(error: ValidationError) -> str:
    """One schema error as ``field: what is wrong``, from the schema's side only."""
    where = ".".join(map(str, error.absolute_path)) or "the event"
    rule, expected, sent = error.validator, error.validator_value, error.instance
    if rule == "required":
        missing = [name for name in expected if name not in sent]
        field = ".".join([*map(str, error.absolute_path), missing[0]])
        status = sent.get("status") if "then" in error.schema_path else None
        return f"{field}: required" + (f" when status is {status}" if status else "")
    if rule == "type":
        kinds = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{where}: must be {'an' if kinds[0] in 'aeiou' else 'a'} {kinds}"
    if rule == "enum":
        quoted = f" ({sent!r})" if isinstance(sent, str) and QUOTABLE.fullmatch(sent) else ""
        return f"{where}: not one of {', '.join(map(str, expected))}{quoted}"
    if rule == "const":
        return f"{where}: must be {expected!r}"
    if rule == "maxLength":
        return f"{where}: longer than {expected:,} characters ({len(sent):,})"
    if rule == "minLength":
        return f"{where}: must not be empty"
    if rule == "pattern":
        if "\\u0000" in expected:
            return f"{where}: holds a control character (only tab and line breaks may be used)"
        form = error.schema.get("description")
        return f"{where}: not in the expected form" + (f" ({form})" if form else "")
    if rule == "additionalProperties":
        allowed = error.schema.get("patternProperties", {})
        extra = sorted(
            name
            for name in set(sent) - set(error.schema.get("properties", {}))
            if not any(re.search(pattern, name) for pattern in allowed)
        )
        named = [name for name in extra if FIELD_NAME.fullmatch(name)]
        return f"{where}: unknown field" + (f" {', '.join(named)}" if named else "")
    return f"{where}: breaks the schema's {rule!r} rule"
