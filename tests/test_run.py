"""`make run`: the web server and the forwarder together, stopped together by Ctrl-C."""

from __future__ import annotations

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
from widget import create_app, outbox


def test_run_serves_forwards_and_stops_both_on_ctrl_c(app, instance):
    ids = fill(app, 3)
    port = free_port()
    env = dict(
        os.environ,
        OTKLIK_INSTANCE_PATH=str(instance),
        OTKLIK_DEMO="true",
        OTKLIK_BIND=f"127.0.0.1:{port}",
        OTKLIK_WORKERS="1",
    )
    # its own process group, which gets the SIGINT as a terminal's Ctrl-C would
    process = subprocess.Popen(
        ["./run.sh"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    spool = instance / "outbound"
    try:
        deadline = time.time() + 30
        health = None
        while time.time() < deadline and (health is None or len(list(spool.glob("*.json"))) < 3):
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
            process.communicate()
    assert health == b"ok"
    assert sorted(p.stem for p in spool.glob("*.json")) == sorted(ids)
    assert process.returncode == 0, output
    assert "forwarder stopped" in output and "Shutting down: Master" in output
    assert "Traceback" not in output


def get(url: str | urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode()


def test_a_full_outbox_disk_stops_neither_the_forwarder_nor_the_web_server(instance, small_disk):
    """The outbox on a tiny file system that fills up while `make run` runs: the web
    server keeps answering (503 with the citizen's text kept), the forwarder says why it
    cannot claim and keeps trying, and everything goes once there is room."""
    path = small_disk / "outbox.sqlite3"
    app = create_app(
        {"secret_key": "test-secret", "demo": True, "outbox_path": str(path)},
        instance_path=instance,
    )
    ids = fill(app, 3)
    db = outbox.connect(str(path))
    db.execute("UPDATE messages SET next_attempt_at = ?", [time.time() + 3600])  # not yet
    db.conn.commit()
    port = free_port()
    env = dict(
        os.environ,
        OTKLIK_INSTANCE_PATH=str(instance),
        OTKLIK_DEMO="true",
        OTKLIK_OUTBOX_PATH=str(path),
        OTKLIK_TOKEN_MIN_SECONDS="0",
        OTKLIK_BIND=f"127.0.0.1:{port}",
        OTKLIK_WORKERS="1",
    )
    log = instance / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["./run.sh"], cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=out
        )
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
        # The messages fall due in a moment; by then the disk is full, and the
        # write-ahead log empty, so that claiming them needs room the disk lacks.
        db.execute("UPDATE messages SET next_attempt_at = ?", [time.time() + 2])
        db.conn.commit()
        wait_for(lambda: db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0)
        db.close()
        fill_disk(small_disk)
        wait_for(lambda: log.read_text().count("database or disk is full") >= 2)

        assert answers() and process.poll() is None  # the web server is still up
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

        (small_disk / "filler").unlink()  # the operator makes room
        wait_for(lambda: len(list(spool.glob("*.json"))) == 3)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = log.read_text()
    assert sorted(p.stem for p in spool.glob("*.json")) == sorted(ids)
    assert process.returncode == 0, output
    assert "Traceback" not in output and text not in output
