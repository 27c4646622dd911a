"""`make run`: the web server and the forwarder together, stopped together by Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request

from tests.central import ROOT, fill
from tests.services import free_port


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
