"""`make run`: the web server, the forwarder and the listener together, stopped together
by Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from tests.central import ROOT, fill
from tests.conftest import fill_disk
from tests.services import free_port
from tests.updates import ANSWER, drop, history, status_event
from tests.updates import rows as updates_rows
from widget import create_app


def make_run(env: dict, **streams) -> subprocess.Popen:
    """`make run`'s script as a terminal starts it: in a session of its own, whose
    group gets a Ctrl-C, with SIGINT handled as usual. A job that a shell starts in the
    background (a test run may be one) inherits SIGINT ignored, and a shell cannot trap
    a signal ignored when it started: run.sh would then never hear the Ctrl-C."""
    return subprocess.Popen(
        ["./run.sh"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **streams,
    )


def test_run_serves_forwards_listens_and_stops_all_three_on_ctrl_c(app, instance):
    ids = fill(app, 3)
    update = status_event("received")
    drop(instance / "inbound", update)
    port = free_port()
    env = dict(
        os.environ,
        OTKLIK_INSTANCE_PATH=str(instance),
        OTKLIK_DEMO="true",
        OTKLIK_BIND=f"127.0.0.1:{port}",
        OTKLIK_WORKERS="1",
    )
    # its own process group, which gets the SIGINT as a terminal's Ctrl-C would
    process = make_run(env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    spool = instance / "outbound"
    try:
        deadline = time.time() + 30
        health = None
        while time.time() < deadline and (
            health is None or len(list(spool.glob("*.json"))) < 3 or not updates_rows(app)
        ):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    health = r.read()
            except OSError:
                pass
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            # its three hold the output open if they are still up: do not wait for ever
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.communicate(timeout=10)
    assert health == b"ok"
    assert sorted(p.stem for p in spool.glob("*.json")) == sorted(ids)
    assert process.returncode == 0, output
    assert "forwarder stopped" in output and "Shutting down: Master" in output
    assert "listener stopped" in output
    assert [row["id"] for row in updates_rows(app)] == [update["id"]]
    assert list((instance / "inbound").glob("*.json")) == []
    assert "Traceback" not in output


def get(url: str | urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


def test_make_run_started_on_a_full_outbox_disk_keeps_both_up_until_there_is_room(
    instance, small_disk
):
    """`make run` (re)started while the outbox's disk is full, as systemd would after a
    crash: SQLite cannot even make the outbox's shared-memory file. The web server
    starts and answers 503 with the citizen's text kept, the forwarder says why it
    cannot open the outbox and keeps trying, and everything goes once there is room."""
    path = small_disk / "outbox.sqlite3"
    app = create_app(
        {"secret_key": "test-secret", "demo": True, "outbox_path": str(path)},
        instance_path=instance,
    )
    ids = fill(app, 3)  # and closed: no connection is left, no -wal or -shm file
    fill_disk(small_disk)
    port = free_port()
    env = dict(
        os.environ,
        OTKLIK_INSTANCE_PATH=str(instance),
        OTKLIK_DEMO="true",
        OTKLIK_OUTBOX_PATH=str(path),
        OTKLIK_TOKEN_MIN_SECONDS="0",
        OTKLIK_MAX_CONTENT_LENGTH=str(256 * 1024),  # /readyz wants that much room
        OTKLIK_BIND=f"127.0.0.1:{port}",
        OTKLIK_WORKERS="1",
    )
    log = instance / "run.log"
    with log.open("wb") as out:
        process = make_run(env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    spool = instance / "outbound"

    def wait_for(condition, seconds=30):
        deadline = time.time() + seconds
        while not condition():
            assert time.time() < deadline and process.poll() is None, log.read_text()
            time.sleep(0.2)

    def answers() -> bool:
        try:
            return get(url + "/healthz") == (200, "ok")
        except OSError:
            return False

    try:
        wait_for(answers)
        wait_for(lambda: log.read_text().count("the outbox failed: disk I/O error") >= 2)
        assert process.poll() is None  # neither stopped the other
        status, ready = get(url + "/readyz")
        assert status == 503 and json.loads(ready)["checks"]["outbox"] != "ok"

        text = "Во дворе школы третий день не убран снег 🙁, убирите пожалуйста"
        status, form = get(url + "/embed/orel-school-57")
        token = re.search(r'name="token" value="([^"]+)"', form).group(1)
        fields = {"topic": "food", "text": text, "email": "a@example.ru", "consent": "y"}
        fields.update(token=token, website="")
        request = urllib.request.Request(
            url + "/embed/orel-school-57", data=urllib.parse.urlencode(fields).encode()
        )
        status, page = get(request)
        assert status == 503 and "не можем принять сообщение" in page and text in page
        assert list(spool.glob("*.json")) == []
        answered = drop(instance / "inbound", status_event())  # the agency answers meanwhile
        wait_for(lambda: "update(s) in hand" in log.read_text())
        assert answered.exists()

        (small_disk / "filler").unlink()  # the operator makes room
        wait_for(lambda: len(list(spool.glob("*.json"))) == 3)
        wait_for(lambda: not answered.exists())
        assert get(url + "/readyz")[0] == 200
        status, page = get(request)  # the citizen sends the kept text again
        assert status == 200 and "Сообщение отправлено" in page
        wait_for(lambda: len(list(spool.glob("*.json"))) == 4)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = log.read_text()
    assert len(list(spool.glob("*.json"))) == 4
    assert set(ids) <= {p.stem for p in spool.glob("*.json")}
    assert process.returncode == 0, output
    # One warning from each of the three at start, then their own lines while they wait.
    assert output.count("the outbox cannot be opened now") == 3
    assert [u.status for u in history(app)] == ["answered"]
    assert "Traceback" not in output and text not in output and ANSWER not in output
