"""The update event (docs/status.schema.json) and how the outbox keeps updates: each id
once, every distinct one, the current status by time whatever the arrival order."""

from __future__ import annotations

import json

import pytest

from tests.central import fill
from tests.outbox_db import rows as messages
from tests.updates import ANSWER, RECEIPT, body_of, history, rows, status_event
from widget import outbox, updates
from widget.outbox import updates as stored


def invalid(event_or_body) -> str:
    body = event_or_body if isinstance(event_or_body, bytes) else body_of(event_or_body)
    with pytest.raises(updates.InvalidUpdate) as caught:
        updates.parse(body)
    return str(caught.value)


# -- bad input first ---------------------------------------------------------------------


def test_a_body_that_is_not_json_says_where_it_breaks():
    problem = invalid(b'{"specversion": "1.0", "id": ')
    assert problem == "not JSON: Expecting value at line 1 column 30"
    assert invalid("Ответ: да".encode("cp1251")) == "not UTF-8 (byte 0)"
    assert invalid(b"[]") == "the event: must be an object"


def test_a_missing_field_is_named():
    event = status_event()
    del event["data"]["agency_id"]
    assert invalid(event) == "data.agency_id: required"
    del event["data"]["answer"]
    assert invalid(event) == (
        "data.agency_id: required; data.answer: required when status is answered"
    )
    event = status_event()
    del event["time"]
    assert invalid(event) == "time: required"


def test_an_unknown_status_is_refused_with_the_known_ones():
    problem = invalid(status_event("done"))
    assert problem == (
        "data.status: not one of received, in_progress, answered, redirected, closed ('done')"
    )
    # free text sent as a status is not repeated back
    assert "Рассмотрено" not in invalid(status_event("Рассмотрено, ответ дан"))


def test_an_answer_over_20000_characters_is_refused_without_quoting_it():
    long = (ANSWER + " ") * 200
    problem = invalid(status_event(answer=long[:20_001]))
    assert problem == "data.answer: longer than 20,000 characters (20,001)"
    assert updates.parse(body_of(status_event(answer="🙂" * 20_000))).answer == "🙂" * 20_000


def test_html_in_an_answer_is_kept_as_text():
    answer = 'Ответ в <a href="https://school57.example.ru">приложении</a> <script>x()</script>'
    assert updates.parse(body_of(status_event(answer=answer))).answer == answer


def test_answered_needs_the_answer_and_redirected_where_to():
    event = status_event()
    del event["data"]["answer"]
    assert invalid(event) == "data.answer: required when status is answered"
    assert invalid(status_event(answer=None)) == "data.answer: must be a string"
    event = status_event("redirected")
    del event["data"]["redirected_to"]
    assert invalid(event) == "data.redirected_to: required when status is redirected"


def test_the_subject_must_be_the_receipt():
    event = status_event()
    event["subject"] = "AAAA-BBBB"
    assert invalid(event) == "subject: must be the receipt, the same as data.receipt"


def test_times_and_dates_must_be_real_and_carry_their_offset():
    assert invalid(status_event(time="2026-12-03 10:15")).startswith(
        "time: not in the expected form (RFC 3339 with its offset"
    )
    assert invalid(status_event(time="2026-12-03T10:15:00")).startswith("time: not in")
    assert invalid(status_event(time="2026-02-30T10:15:00Z")) == "time: not a real date and time"
    assert invalid(status_event(answer_by="2026-13-01")) == "data.answer_by: not a real date"


def test_control_characters_are_refused_but_line_breaks_and_tabs_kept():
    assert invalid(status_event(note="Срок\x00продлён")) == (
        "data.note: holds a control character (only tab and line breaks may be used)"
    )
    note = "Срок продлён:\r\n\tнужен ответ подрядчика"
    assert updates.parse(body_of(status_event("in_progress", note=note))).note == note


def test_unknown_fields_are_named_and_extensions_ignored():
    event = status_event(answerd_by="Директор")
    assert invalid(event) == "data: unknown field answerd_by"
    event = status_event()
    event["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert updates.parse(body_of(event)).status == "answered"


def test_several_problems_are_said_together_without_values():
    event = status_event("answered", answer=12, note="", agency_id="Школа 57")
    problem = invalid(event)
    assert problem == (
        "data.agency_id: not in the expected form (The agency's Otklik id (its file's name):"
        " lower-case letters, digits and dashes.); data.answer: must be a string or null;"
        " data.note: must not be empty"
    )


def test_a_valid_event_becomes_a_typed_update():
    event = status_event(
        message_id="6f1c1e43-6a4c-4b0e-9d62-0f5bd0f6a0c1", answer_by="2027-01-15", note=None
    )
    update = updates.parse(body_of(event))
    assert update == updates.Update(
        id=event["id"],
        source="/central/57",
        time="2026-12-03T10:15:00+03:00",
        happened_at=1796282100.0,  # 07:15 UTC
        receipt=RECEIPT,
        agency_id="orel-school-57",
        status="answered",
        message_id="6f1c1e43-6a4c-4b0e-9d62-0f5bd0f6a0c1",
        answer=ANSWER,
        answered_by="Администрация школы",
        answer_by="2027-01-15",
    )
    assert updates.parse(b"\xef\xbb\xbf" + body_of(event)) == update  # with a byte-order mark


# -- storage ---------------------------------------------------------------------------


def record(app, *events, intake="spool") -> list[bool]:
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        return stored.record(db, [updates.parse(body_of(e)) for e in events], intake)
    finally:
        db.close()


def test_a_repeated_id_is_a_no_op_that_still_succeeds(app):
    event = status_event()
    assert record(app, event) == [True]
    changed = json.loads(json.dumps(event))
    changed["data"]["answer"] = "Другой текст"  # a sender's bug: the first one stays
    assert record(app, event, changed) == [False, False]
    (kept,) = rows(app)
    assert kept["answer"] == ANSWER and kept["intake"] == "spool"


def test_the_same_id_twice_in_one_batch_is_kept_once(app):
    event = status_event()
    assert record(app, event, event) == [True, False]
    assert len(rows(app)) == 1


def test_an_older_update_arriving_after_a_newer_one_does_not_become_current(app):
    answered = status_event(time="2026-12-10T15:00:00+03:00")
    in_progress = status_event("in_progress", time="2026-12-04T09:00:00Z", note="Передано повару")
    received = status_event("received", time="2026-12-03T08:00:00.5+00:00")
    assert record(app, answered) == [True]
    assert record(app, received, in_progress) == [True, True]
    found = history(app)
    assert [u.status for u in found] == ["received", "in_progress", "answered"]
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        assert stored.current(db, "orel-school-57", RECEIPT).status == "answered"
        assert stored.current(db, "orel-school-57", "ZZZZ-ZZZZ") is None
    finally:
        db.close()


def test_two_updates_at_the_same_moment_are_ordered_by_status_not_arrival(app):
    closed = status_event("closed", time="2026-12-10T12:00:00Z")
    answered = status_event(time="2026-12-10T15:00:00+03:00")  # the same moment
    record(app, closed)
    record(app, answered)
    assert [u.status for u in history(app)] == ["answered", "closed"]


def test_an_update_for_a_receipt_never_seen_here_is_kept(app):
    fill(app, 1)
    assert RECEIPT not in {m["receipt"] for m in messages(app)}
    assert record(app, status_event("received")) == [True]
    assert [u.status for u in history(app)] == ["received"]


def test_updates_are_kept_per_agency_and_receipt(app):
    fill(app, 1)
    (message,) = messages(app)
    mine = status_event("received", receipt=message["receipt"])
    other = status_event("received", receipt=message["receipt"], agency_id="orel-library-3")
    record(app, mine, other)
    assert [u.id for u in history(app, message["receipt"])] == [mine["id"]]
