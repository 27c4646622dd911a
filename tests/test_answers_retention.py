"""Retention of what came back (issue 18): an answer and staff's notes go
`retention_days` after the message is closed (the status and dates stay); a rating's
comment goes once delivered."""

from __future__ import annotations

import time

from tests.answers import forward_all, rate, receipt_of, sent, text_of, update
from tests.outbox_db import rows
from tests.updates import history
from widget import outbox
from widget.transports import open_transport

DAY = 86400


def test_an_answer_goes_retention_days_after_closing_its_status_stays(client, app, runner):
    old, recent, open_one = sent(client), sent(client), sent(client)
    long_ago = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 40 * DAY))
    lately = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 2 * DAY))
    earlier = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 50 * DAY))
    for done, closed_at in ((old, long_ago), (recent, lately)):
        update(app, done, "answered", time=earlier)
        update(app, done, "closed", time=closed_at, note="Иван Петрович, спасибо за сигнал")
    update(app, open_one, "answered", time=earlier)  # answered long ago, never closed
    # opened before the purge, the page is kept rendered (pages.py): it must not outlive it
    assert "суп теперь подают горячим" in text_of(client.get(old))

    purged = runner.invoke(args=["outbox", "purge"])  # retention_days: 30 by default
    assert purged.exit_code == 0
    assert "1 message(s) closed over 30 days ago: answers and notes dropped" in purged.output

    kept = {done: history(app, receipt_of(done)) for done in (old, recent, open_one)}
    assert [u.answer for u in kept[old]] == [None, None]
    assert [u.note for u in kept[old]] == [None, None]
    assert kept[recent][1].note == "Иван Петрович, спасибо за сигнал"
    assert [u.status for u in kept[old]] == ["answered", "closed"]
    assert kept[old][0].answered_by == "Администрация школы"
    assert kept[recent][0].answer and kept[open_one][0].answer
    page = text_of(client.get(old))
    assert "Статус: Закрыто" in page and "суп теперь подают горячим" not in page
    assert "Дан ответ" in page  # its history stays


def test_a_rating_comment_leaves_the_outbox_once_delivered(client, app, tmp_path):
    done = sent(client)
    update(app, done, "answered")
    comment = "Ответили быстро, но суп всё ещё чуть тёплый 🤷"
    assert rate(client, done, solved="partly", score="4", comment=comment).status_code == 303
    assert comment in text_of(client.get(done))  # shown back, and the page kept so
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        assert [r["comment"] for r in db["ratings"].rows] == [comment]  # until delivered
        forward_all(app, open_transport(f"spool:{tmp_path / 'central'}"))
        (kept,) = db["ratings"].rows
    finally:
        db.close()
    assert kept["comment"] is None and (kept["solved"], kept["score"]) == ("partly", 4)
    assert comment not in repr(rows(app))
    assert comment not in text_of(client.get(done))
    db_rows = rows(app)
    assert {r["kind"] for r in db_rows} == {"message", "rating"}
    assert all(r["status"] == "delivered" for r in db_rows)
