"""The production processes together: gunicorn with several workers and the forwarder,
one metrics view over all of them, and logs with no personal data in any line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

from tests.prometheus import metric
from tests.server import ROOT, UNIQUE, Gunicorn, submit
from widget import outbox


def wait_for(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_one_metrics_view_over_workers_and_forwarder_and_no_personal_data_in_any_log(instance):
    school = instance / "agencies" / "orel-school-57.toml"
    school.write_text(
        school.read_text()
        + '\n[limits]\nper_ip = "1000 per hour"\nattempts_per_ip = "1000 per hour"\n'
    )
    env = {"OTKLIK_TOKEN_MIN_SECONDS": "0", "OTKLIK_DEMO": "true"}
    server = Gunicorn(instance, workers=3, env=env)
    forwarder_log = instance / "forwarder.log"
    try:
        # One probe arrives slowly: the worker that accepted it waits for the rest of it,
        # so the other 30 are answered by other workers, and the metrics must add up.
        held = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        held.sendall(b"GET /readyz HTTP/1.1\r\n")
        time.sleep(0.5)  # accepted before the others arrive (the listen queue is FIFO)
        threads = [
            threading.Thread(target=lambda: [get(server.url + "/readyz") for _ in range(5)])
            for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        held.sendall(b"Host: localhost\r\nConnection: close\r\n\r\n")
        assert held.makefile("rb").readline().startswith(b"HTTP/1.1 200")
        held.close()
        results: list = []
        submit(server, 1, results)
        assert results[0][0] == 303

        # The forwarder, as systemd runs it: its own process, the same metrics folder.
        with forwarder_log.open("wb") as log:
            forwarding = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "forward"],
                cwd=ROOT,
                env={
                    **os.environ,
                    **env,
                    "OTKLIK_INSTANCE_PATH": str(instance),
                    "PROMETHEUS_MULTIPROC_DIR": str(instance / "metrics"),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        db = outbox.connect(str(instance / "outbox.sqlite3"))
        try:
            wait_for(lambda: outbox.depth(db)["pending"] == 0)
        finally:
            db.close()
        forwarding.terminate()
        assert forwarding.wait(timeout=30) == 0

        scraped = get(server.url + "/metrics").decode()
    finally:
        web_log = server.stop()

    # Every worker's count, summed: 31 readiness probes, answered by at least two workers.
    assert (
        metric(scraped, "otklik_http_requests_total", route="/readyz", method="GET", status=200)
        == 31
    )
    assert metric(scraped, "otklik_submissions_total", outcome="accepted") == 1
    # ... and the forwarder's, from its own process.
    delivered = {"transport": "spool", "outcome": "delivered"}
    assert metric(scraped, "otklik_forward_messages_total", **delivered) == 1
    assert metric(scraped, "otklik_forward_batch_seconds_count", transport="spool") >= 1
    assert metric(scraped, "otklik_outbox_pending") == 0

    lines = web_log.splitlines() + forwarder_log.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # one JSON object per line, no other text
    probes = [e for e in entries if e.get("event") == "request" and e["path"] == "/readyz"]
    assert len(probes) == 31 and all(e["request_id"] for e in probes)
    assert len({e["pid"] for e in probes}) >= 2, "one worker answered everything"
    assert any(e["logger"] == "widget.forwarder" for e in entries)

    everything = "\n".join(lines) + scraped
    for value in UNIQUE.values():
        for piece in (value, urllib.parse.quote_plus(value), value.split()[-1]):
            assert piece not in everything
    assert "127.0.0.1" not in everything.replace(server.url, "")  # no client address
