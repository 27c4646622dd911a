"""What every benchmark script shares: the machine, gunicorn, the load generator and
the results file. Not a benchmark itself (the leading underscore keeps `make bench`
from running it).

Each script writes ``bench/results/<name>.json``::

    {"name": "web", "machine": {...}, "rows": [
        {"figure": "form page GET /embed/<agency>", "value": 812.0, "unit": "req/s",
         "baseline": 1020.0, "ratio": 0.8, "aim": ">= 0.7", "ok": true, "note": "..."}]}

Only ``figure``, ``value`` and ``unit`` are required in a row; bench/report.py prints
every row of every file as one table.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Absolute links come from public_url alone, required outside demo (docs/settings.md)
PUBLIC_URL = "https://otklik.example.ru"
BENCH = ROOT / "bench"
# tests/test_bench.py points it elsewhere, to leave the last real figures alone
RESULTS = Path(os.environ.get("OTKLIK_BENCH_RESULTS") or BENCH / "results")
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
SHARED_NOTE = "the load generator runs on the same machine and takes CPU from the server"
CONNECTIONS = 16  # wrk's, for every comparison
THREADS = 2


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_generator": "wrk" if have_wrk() else "python (bench/_pyload.py; wrk is lighter)",
        "note": SHARED_NOTE,
    }


def print_machine() -> None:
    m = machine()
    print(
        f"# {m['cores']} cores, Python {m['python']}, load generator: {m['load_generator']}; "
        f"{SHARED_NOTE}",
        flush=True,
    )


def write_results(name: str, rows: list[dict]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"name": name, "machine": machine(), "rows": rows}
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def shown(path: Path) -> str:
    """``path`` as a run prints it: under the checkout when it is there."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def row(figure: str, value, unit: str, **extra) -> dict:
    """One result row; printed at once so a long run shows progress."""
    out = {"figure": figure, "value": value, "unit": unit, **extra}
    shown = f"{figure}: {value} {unit}"
    if out.get("baseline") is not None:
        shown += f" (baseline {out['baseline']} {unit}"
        shown += f", ratio {out['ratio']})" if out.get("ratio") is not None else ")"
    if out.get("aim"):
        shown += f" aim {out['aim']}" + ("" if out.get("ok", True) else "  ** MISSED **")
    print("  " + shown, flush=True)
    return out


def ratio_row(figure, value, baseline, unit, aim_ratio: float, **extra) -> dict:
    ratio = round(value / baseline, 2) if baseline else None
    return row(
        figure,
        value,
        unit,
        baseline=baseline,
        ratio=ratio,
        aim=f"ratio >= {aim_ratio}",
        ok=ratio is not None and ratio >= aim_ratio,
        **extra,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- gunicorn -----------------------------------------------------------------


@dataclass
class Server:
    """gunicorn with the production gunicorn.conf.py, serving ``app`` (module:var)."""

    app: str
    env: dict = field(default_factory=dict)
    pythonpath: str | None = None
    ready_path: str = "/"
    port: int = field(default_factory=free_port)
    started_in: float = 0.0  # seconds from process start to the first 200 on ready_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.log = tempfile.NamedTemporaryFile(prefix="otklik-bench-", suffix=".log")
        environ = {**os.environ, **self.env, "OTKLIK_BIND": f"127.0.0.1:{self.port}"}
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)]
        if self.pythonpath:
            command += ["--pythonpath", self.pythonpath]
        start = time.monotonic()
        # The access log goes to the log file, as it would go to journald in production.
        self.process = subprocess.Popen(
            [*command, self.app],
            cwd=ROOT,
            env=environ,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = start + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as response:
                    if response.status == 200:
                        self.started_in = time.monotonic() - start
                        return self
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.005)
        self.__exit__()
        raise RuntimeError(f"gunicorn did not answer 200 on {self.ready_path}:\n{self.log_text()}")

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")[-4000:]

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def peak_rss_mb(self) -> list[float]:
        """Each worker's peak resident memory (VmHWM) in MiB."""
        peaks = []
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            if match:
                peaks.append(round(int(match.group(1)) / 1024, 1))
        return peaks

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the workers and the arbiter."""
        return sum(cpu_seconds(pid) for pid in [self.process.pid, *self.workers()])

    def worker_count(self) -> int:
        return len(self.workers())

    def __exit__(self, *_exc) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process ``pid`` used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


# --- the load generator -------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors, timeouts and statuses >= 400
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return round(self.requests / self.seconds, 1) if self.seconds else 0.0


def wrk(
    url: str,
    seconds: float,
    connections: int,
    threads: int = 2,
    script: Path | None = None,
    env: dict | None = None,
) -> Load:
    """Run wrk and parse its --latency report; a Lua ``done`` may print ``key=value`` lines."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script:
        command += ["-s", str(script)]
    result = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    )
    out = result.stdout
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))
    amount, unit = re.search(r"requests in ([\d.]+)(\w+)", out).groups()
    elapsed = float(amount) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        errors += int(bad.group(1))
    extra = dict(re.findall(r"^(\w+)=(\S+)$", out, re.M))
    return Load(
        requests=requests,
        seconds=elapsed,
        p50_ms=_wrk_latency(out, "50%"),
        p99_ms=_wrk_latency(out, "99%"),
        errors=errors,
        extra=extra,
    )


def _wrk_latency(out: str, percentile: str) -> float:
    amount, unit = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    return round(float(amount) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[unit], 2)


def have_wrk() -> bool:
    """wrk is installed, and not turned off with OTKLIK_BENCH_NO_WRK=1 (to try the
    Python load generator)."""
    return shutil.which("wrk") is not None and not os.environ.get("OTKLIK_BENCH_NO_WRK")
