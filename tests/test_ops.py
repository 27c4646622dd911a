"""What an operator relies on: /readyz, /metrics, request ids, outbox backups."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import re
import sqlite3
import subprocess

import pytest

from tests import central
from tests.conftest import CheckedClient, fill_disk, token_of
from tests.prometheus import metric
from widget import create_app, logs, metrics, outbox

SCHOOL = "/embed/orel-school-57"
TEXT = "Во дворе школы третий день не убран снег"


def send(client, token=None, **fields):
    if token is None:
        token = token_of(client.get(SCHOOL).get_data(as_text=True))
    data = {"topic": "food", "text": TEXT, "email": "a@example.ru", "consent": "y"}
    data.update(token=token, website="")
    data.update(fields)
    return client.post(SCHOOL, data=data)


# -- /readyz ----------------------------------------------------------------------------


def test_readyz_answers_ready_with_the_outbox_depth(client):
    send(client)
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ready"] is True
    assert body["outbox"]["pending"] == 1 and body["outbox"]["dead"] == 0
    assert body["outbox"]["oldest_pending_age"] >= 0


def test_readyz_is_503_when_the_agencies_folder_is_gone(client, instance):
    (instance / "agencies").rename(instance / "agencies-moved")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["agencies"].startswith("error")


def test_readyz_is_503_while_another_process_holds_the_outbox_write_lock(app, client):
    # The old check took its "lock" on a TEMP table, in SQLite's temp database: it
    # answered ready while the outbox itself could take no write.
    other = sqlite3.connect(app.config["OUTBOX_PATH"], timeout=0)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with app.app_context():
            outbox.get_db().execute("PRAGMA busy_timeout=200")
        response = client.get("/readyz")
    finally:
        other.rollback()
        other.close()
    assert response.status_code == 503
    assert "locked" in response.get_json()["checks"]["outbox"]
    assert client.get("/readyz").status_code == 200


# -- a full disk and a read-only outbox, for real: the outbox on a tiny tmpfs -----------


@pytest.fixture
def disk_app(instance, config, small_disk):
    config.update(outbox_path=str(small_disk / "outbox.sqlite3"), max_content_length=256 * 1024)
    app = create_app(config, instance_path=instance)
    app.test_client_class = CheckedClient
    yield app
    close_outbox(app)


def close_outbox(app) -> None:
    kept = app.extensions["otklik.outbox"]
    if kept.db is not None:
        kept.db.close()
        kept.db = None


@contextlib.contextmanager
def json_log():
    """The app's log lines, as logs.CONFIG writes them, while the block runs."""
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    logger = logging.getLogger("widget")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def test_a_full_disk_gets_the_503_form_with_the_text_kept_and_readyz_503(disk_app, small_disk):
    client = disk_app.test_client()
    assert send(client).status_code == 303  # the outbox works on this disk
    fill_disk(small_disk)
    with pytest.raises(OSError) as full:
        (small_disk / "one-more").write_bytes(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC

    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    long_text = (TEXT + ". ") * 80  # needs new pages in the WAL: no room for them
    with json_log() as lines:
        refused = send(client, token=token, text=long_text)
    assert refused.status_code == 503
    # The operator's log line: JSON, with the request id the response carried.
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert logged[0]["level"] == "error" and "outbox write failed" in logged[0]["message"]
    assert logged[0]["request_id"] == refused.headers["X-Request-Id"]
    assert TEXT not in lines.getvalue()
    html = refused.get_data(as_text=True)
    assert "Сейчас мы не можем принять сообщение" in html
    assert long_text.strip() in html  # the citizen's text is still in the form
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["ready"] is False
    assert "full" in ready.get_json()["checks"]["outbox"]

    (small_disk / "filler").unlink()
    assert client.get("/readyz").status_code == 200
    assert send(client, token=token, text=long_text).status_code == 303  # the same form, again
    with disk_app.app_context():
        assert outbox.depth(outbox.get_db())["pending"] == 2


def test_an_app_started_on_a_full_disk_answers_503_and_migrates_once_there_is_room(
    instance, config, small_disk, caplog
):
    """No outbox yet and no room to make one: the app starts all the same (one warning),
    the form keeps the citizen's text under a 503, and the first request after room is
    made creates the tables and takes the message."""
    fill_disk(small_disk)
    config.update(outbox_path=str(small_disk / "outbox.sqlite3"), max_content_length=256 * 1024)
    with caplog.at_level(logging.WARNING, logger="widget.outbox"):
        app = create_app(config, instance_path=instance)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "the outbox cannot be opened now: database or disk is full" in caplog.text
    app.test_client_class = CheckedClient
    client = app.test_client()
    try:
        token = token_of(client.get(SCHOOL).get_data(as_text=True))
        refused = send(client, token=token)
        assert refused.status_code == 503
        assert TEXT in refused.get_data(as_text=True)
        assert client.get("/readyz").status_code == 503

        (small_disk / "filler").unlink()
        assert send(client, token=token).status_code == 303  # the same form, again
        assert client.get("/readyz").status_code == 200
        with app.app_context():
            assert outbox.depth(outbox.get_db())["pending"] == 1
    finally:
        close_outbox(app)


def test_a_read_only_outbox_gets_the_503_form_and_readyz_503(disk_app, small_disk):
    client = disk_app.test_client()
    assert send(client).status_code == 303
    close_outbox(disk_app)  # a file system with a file open for writing cannot go read-only
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        refused = send(client)
        assert refused.status_code == 503
        assert TEXT in refused.get_data(as_text=True)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["outbox"] != "ok"
    finally:
        close_outbox(disk_app)
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert client.get("/readyz").status_code == 200


# -- /metrics ---------------------------------------------------------------------------


def test_metrics_count_submissions_by_outcome_and_requests_by_route(client, instance):
    school = instance / "agencies" / "orel-school-57.toml"
    # Three messages an hour: two accepted and the honeypot's decoy, which counts as one.
    school.write_text(school.read_text() + '\n[limits]\nper_ip = "3 per hour"\n')
    before = client.get("/metrics").get_data(as_text=True)
    send(client)  # accepted
    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    send(client, token=token)
    send(client, token=token)  # the same token again: a double press
    send(client, text="")  # invalid
    send(client, token="forged")  # the token
    send(client, website="http://spam.example")  # the honeypot
    assert send(client).status_code == 429  # the 4th message: the limit
    client.get("/f/orel-school-57")
    after = client.get("/metrics").get_data(as_text=True)

    def grew(name, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels)

    for outcome, count in [
        ("accepted", 2),
        ("duplicate", 1),
        ("invalid", 1),
        ("token", 1),
        ("honeypot", 1),
        ("limit", 1),
    ]:
        assert grew("otklik_submissions_total", outcome=outcome) == count, outcome
    route = "/embed/<agency:agency_id>"
    assert grew("otklik_http_requests_total", route=route, method="POST", status=303) == 4
    assert grew("otklik_http_requests_total", route=route, method="POST", status=422) == 2
    standalone = "/f/<agency:agency_id>"
    assert grew("otklik_http_requests_total", route=standalone, method="GET", status=200) == 1
    assert "/embed/orel-school-57" not in after  # the pattern, never the raw path
    assert TEXT not in after


def test_flask_outbox_stats_readyz_and_metrics_agree_on_the_depth(app, client, runner):
    central.fill(app, 5)
    db = outbox.connect(app.config["OUTBOX_PATH"])
    with db.atomic():  # as the forwarder leaves a message it gave up on
        db.execute("UPDATE messages SET status = 'dead' WHERE rowid IN (1, 2)")
        db.execute("UPDATE messages SET created_at = created_at - 3600 WHERE rowid = 3")
    db.close()

    stats = runner.invoke(args=["outbox", "stats"]).output
    ready = client.get("/readyz").get_json()["outbox"]
    scraped = client.get("/metrics").get_data(as_text=True)

    assert "pending: 3" in stats and "dead: 2" in stats
    assert ready["pending"] == 3 == metric(scraped, "otklik_outbox_pending")
    assert ready["dead"] == 2 == metric(scraped, "otklik_outbox_dead")
    age = int(re.search(r"oldest pending age: (\d+) s", stats).group(1))
    assert 3600 <= age < 3660
    assert 3600 <= ready["oldest_pending_age"] < 3660
    assert 3600 <= metric(scraped, "otklik_outbox_oldest_pending_age_seconds") < 3660


# -- request ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        None,
        "",
        "short",
        "ivan.petrov@example.ru",
        "x" * 65,
        "id with spaces 1234",
        "abc\u0434\u0435\u0444123456",
    ],
)
def test_a_missing_or_odd_request_id_is_replaced_by_a_fresh_one(client, given):
    headers = {} if given is None else {"X-Request-Id": given}
    first = client.get("/healthz", headers=headers).headers["X-Request-Id"]
    second = client.get("/healthz", headers=headers).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_forked_workers_give_different_request_ids():
    """gunicorn forks its workers from one process: each must draw ids of its own."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a worker; it must never go on with the test session
        try:
            os.write(write, logs.request_id({}).encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 64).decode() != logs.request_id({})
    os.close(read)
    os.close(write)


def test_a_sane_request_id_from_the_proxy_is_kept(client):
    given = "7f3e2a9c-0b1d-4e5f-8a6b-1c2d3e4f5a6b"
    assert client.get(SCHOOL, headers={"X-Request-Id": given}).headers["X-Request-Id"] == given


# -- backups ----------------------------------------------------------------------------


def test_outbox_backup_copies_what_is_committed_while_in_use(app, runner, tmp_path):
    ids = central.fill(app, 7)
    writer = outbox.connect(app.config["OUTBOX_PATH"])  # open, its commits in the WAL
    target = tmp_path / "backup" / "outbox-copy.sqlite3"
    target.parent.mkdir()
    try:
        result = runner.invoke(args=["outbox", "backup", str(target)])
        assert result.exit_code == 0, result.output
    finally:
        writer.close()
    copy = sqlite3.connect(target)
    assert [row[0] for row in copy.execute("SELECT id FROM messages ORDER BY created_at")] == ids
    copy.close()
    assert sorted(p.name for p in target.parent.iterdir()) == ["outbox-copy.sqlite3"]

    again = runner.invoke(args=["outbox", "backup", str(target)])
    assert again.exit_code != 0 and "exists" in again.output  # never overwrites a backup


def test_the_metrics_folder_is_emptied_only_when_no_process_that_wrote_there_runs(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    dead_pid = 2**22 + 17  # above the kernel's pid limit: never a running process
    running = subprocess.Popen(["sleep", "60"])
    try:
        (folder / f"counter_{dead_pid}.db").write_bytes(b"counts of a worker that exited")
        (folder / f"counter_{running.pid}.db").write_bytes(b"counts of the forwarder")
        metrics.clean_folder(folder)  # a web unit restarts while the forwarder runs
        assert len(list(folder.iterdir())) == 2  # no count is lost, no counter goes down
    finally:
        running.kill()
        running.wait()
    metrics.clean_folder(folder)  # every unit had stopped: a fresh start
    assert list(folder.iterdir()) == []
