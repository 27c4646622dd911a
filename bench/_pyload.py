"""A small load generator in Python, for a machine without wrk: several processes,
each opening a connection per request (gunicorn's sync workers close it anyway).
It takes more CPU than wrk, so its figures are lower; bench/report.py says which
generator ran."""

from __future__ import annotations

import http.client
import multiprocessing
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench._common import Load

PROCESSES = 4
TOKEN = re.compile(r'name="token" value="([^"]+)"')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _request(netloc: str, method: str, path: str, body: str | None = None):
    start = time.perf_counter()
    conn = http.client.HTTPConnection(netloc, timeout=10)
    try:
        conn.request(method, path, body=body, headers=FORM if body is not None else {})
        response = conn.getresponse()
        data = response.read()
        return response.status, response.getheader("Location"), data, time.perf_counter() - start
    finally:
        conn.close()


def _worker(url, seconds, kind, body, tokens, results) -> None:
    parts = urlsplit(url)
    # the query too: a message's page is its done URL with the seal (?at=…)
    netloc, path = parts.netloc, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    latencies, errors, visits, used = [], 0, 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if kind == "get":
                status, _, _, took = _request(netloc, "GET", path)
                latencies.append(took)
                errors += status >= 400
            elif kind == "post":
                token = tokens[min(used, len(tokens) - 1)]
                used += 1
                status, _, _, took = _request(netloc, "POST", path, f"{body}&token={token}")
                latencies.append(took)
                errors += status >= 400
            else:
                status, _, page, took = _request(netloc, "GET", path)
                latencies.append(took)
                token = TOKEN.search(page.decode())
                status, location, _, took = _request(
                    netloc, "POST", path, f"{body}&token={token.group(1)}"
                )
                latencies.append(took)
                status, _, _, took = _request(netloc, "GET", location)
                latencies.append(took)
                visits += status == 200
        except OSError:
            errors += 1
    results.put((latencies, errors, visits, used))


def python_load(url: str, seconds: float, kind: str, body: str, tokens: Path | None) -> Load:
    lines = tokens.read_text().split() if tokens else []
    results = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=_worker, args=(url, seconds, kind, body, lines[i::PROCESSES], results)
        )
        for i in range(PROCESSES)
    ]
    start = time.monotonic()
    for w in workers:
        w.start()
    gathered = [results.get() for _ in workers]
    for w in workers:
        w.join()
    elapsed = time.monotonic() - start
    latencies = sorted(t for g in gathered for t in g[0])

    def pct(p: float) -> float:
        return round(latencies[int(p * (len(latencies) - 1))] * 1000, 2) if latencies else 0.0

    return Load(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=pct(0.5),
        p99_ms=pct(0.99),
        errors=sum(g[1] for g in gathered),
        extra={"visits": sum(g[2] for g in gathered), "used": sum(g[3] for g in gathered)},
    )
