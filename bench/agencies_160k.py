"""160,000 agencies: start-up, first requests, memory per worker, and the full check.

Generates 160,000 agency files (each extending one of 85 regional bases, as a registry
import would write them) in a temporary instance, then measures:

- start-up: ``create_app`` in this process, and gunicorn (2 workers) until /healthz answers;
- the first request for never-seen agencies: at the server (the WSGI app in this process,
  no network) and over HTTP through gunicorn (p50, p99);
- the resident memory of each gunicorn worker after serving more distinct agencies than
  its cache holds;
- ``flask agencies check`` over all files, on all cores.

Aims (issue 6): start-up < 1 s, first request p50 < 5 ms at the server, < 100 MB per
worker, the full check < 30 s on 2 cores. Prints a table and writes
bench/results/agencies_160k.json. Run: ``.venv/bin/python bench/agencies_160k.py``
(``--count 20000`` for a quick run).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import PUBLIC_URL, ROOT, machine, row

RESULTS = ROOT / "bench" / "results" / "agencies_160k.json"
REGIONS = [f"{n:02d}" for n in range(1, 86)]
AIMS = {
    "startup_seconds": 1.0,
    "first_request_p50_ms_at_server": 5.0,
    "rss_mb_per_worker": 100.0,
    "check_seconds": 30.0,
}
AGENCY = """extends = "_bases/region-{region}"
name = "Муниципальное бюджетное учреждение № {n}"
short_name = "Учреждение № {n}"
region = "{region}"
embed_origins = ["https://org{n}.example.ru"]
routing_key = "{region}.municipal.org-{n}"
"""


def generate(instance: Path, count: int) -> float:
    started = time.perf_counter()
    folder = instance / "agencies"
    (folder / "_bases").mkdir(parents=True)
    demo_base = (ROOT / "instance" / "agencies" / "_bases" / "orel.toml").read_text("utf-8")
    topics = "".join(
        f'\n[[topics]]\nid = "{tid}"\ntitle = {{ ru = "{ru}", en = "{en}" }}\n'
        for tid, ru, en in [
            ("service", "Качество обслуживания", "Quality of service"),
            ("building", "Здание и территория", "Building and grounds"),
            ("other", "Другое", "Other"),
        ]
    )
    for region in REGIONS:
        text = demo_base.replace('region = "57"', f'region = "{region}"') + topics
        (folder / "_bases" / f"region-{region}.toml").write_text(text, "utf-8")
    for n in range(count):
        region = REGIONS[n % len(REGIONS)]
        path = folder / f"org-{n}.toml"
        path.write_text(AGENCY.format(n=n, region=region), "utf-8")
    (instance / "settings.toml").write_text(
        'secret_key = "bench-only-not-secret"\nqueue_url = "spool:outbound"\n'
        f'public_url = "{PUBLIC_URL}"\n'
        # one address asks for thousands of pages here: lift the page-view limit
        'ratelimit_pages = "100000000 per minute"\n',
        "utf-8",
    )
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def in_process(instance: Path, count: int, samples: int) -> dict:
    """create_app time and the first request for never-seen agencies, in this process."""
    os.environ["OTKLIK_INSTANCE_PATH"] = str(instance)
    started = time.perf_counter()
    from widget import create_app

    imported = time.perf_counter()
    app = create_app()
    created = time.perf_counter()
    client = app.test_client()
    client.get("/embed/org-0")  # warm up templates and the base cache of one region
    ids = random.Random(1).sample(range(1, count), samples)
    latencies, cpu = [], []
    for n in ids:
        t, c = time.perf_counter(), time.thread_time()
        response = client.get(f"/embed/org-{n}")
        cpu.append((time.thread_time() - c) * 1000)
        latencies.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (n, response.status_code)
    again = []  # the agencies asked for last: still in every cache (1,024 each)
    for n in ids[-500:]:
        t = time.perf_counter()
        client.get(f"/embed/org-{n}")
        again.append((time.perf_counter() - t) * 1000)
    return {
        "import_seconds": round(imported - started, 3),
        "create_app_seconds": round(created - imported, 3),
        "first_request_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p99": round(percentile(latencies, 99), 2),
            "samples": len(latencies),
        },
        "first_request_cpu_ms": {
            "p50": round(statistics.median(cpu), 2),
            "p99": round(percentile(cpu, 99), 2),
        },
        "cached_request_ms": {"p50": round(statistics.median(again), 2)},
    }


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def through_gunicorn(instance: Path, count: int, requests: int, workers: int) -> dict:
    port = free_port()
    env = {
        **os.environ,
        "OTKLIK_INSTANCE_PATH": str(instance),
        "OTKLIK_BIND": f"127.0.0.1:{port}",
        "OTKLIK_WORKERS": str(workers),
    }
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--access-logfile", "/dev/null"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if get(port, "/healthz") == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() - started > 30:
                raise RuntimeError("gunicorn did not answer within 30 s")
            time.sleep(0.01)
        startup = time.perf_counter() - started
        time.sleep(1)  # let every worker finish booting
        ids = random.Random(2).sample(range(count), min(requests, count))
        latencies = []
        for n in ids:
            t = time.perf_counter()
            status = get(port, f"/embed/org-{n}")
            latencies.append((time.perf_counter() - t) * 1000)
            assert status == 200, (n, status)
        rss = [rss_mb(pid) for pid in children(server.pid)]
        return {
            "workers": workers,
            "startup_seconds": round(startup, 3),
            "first_request_ms": {
                "p50": round(statistics.median(latencies), 2),
                "p99": round(percentile(latencies, 99), 2),
                "samples": len(latencies),
            },
            "rss_mb_per_worker": rss,
            "master_rss_mb": rss_mb(server.pid),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def full_check(instance: Path) -> dict:
    env = {**os.environ, "OTKLIK_INSTANCE_PATH": str(instance)}
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "widget", "agencies", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "check_seconds": round(seconds, 2),
        "check_cpu_seconds": round(cpu, 2),  # all its processes; / cores = unloaded wall time
        "exit_code": result.returncode,
        "summary": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=160_000, help="agency files")
    parser.add_argument("--samples", type=int, default=2000, help="in-process first requests")
    parser.add_argument(
        "--requests",
        type=int,
        default=10_000,
        help="HTTP requests for distinct agencies (more than a worker's cache of 4,096)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the generated instance")
    args = parser.parse_args()

    load_before = os.getloadavg()
    temporary = Path(tempfile.mkdtemp(prefix="otklik-bench-160k-"))
    instance = temporary / "instance"
    try:
        print(f"generating {args.count:,} agency files in {instance} …", flush=True)
        generated = generate(instance, args.count)
        print(f"  {generated:.1f} s", flush=True)
        print("measuring in process …", flush=True)
        local = in_process(instance, args.count, args.samples)
        print(f"measuring gunicorn with {args.workers} workers …", flush=True)
        served = through_gunicorn(instance, args.count, args.requests, args.workers)
        print("running flask agencies check …", flush=True)
        checked = full_check(instance)
        report(args, load_before, generated, local, served, checked)
    finally:
        if args.keep:
            print(f"kept {instance}")
        else:
            print(f"removing {instance} …", flush=True)
            shutil.rmtree(temporary, ignore_errors=True)


def report(args, load_before, generated, local, served, checked) -> None:
    """Print the figures as rows (one table with the other benchmarks in bench/report.py)
    and write them, with every detail measured, to bench/results/agencies_160k.json."""
    print()
    files = f"{args.count:,} files"
    rss = max(served["rss_mb_per_worker"] or [0.0])
    rows = [
        row("160k: create_app in process", local["create_app_seconds"], "s"),
        aim_row(
            "160k: gunicorn start-up until /healthz",
            served["startup_seconds"],
            "s",
            AIMS["startup_seconds"],
        ),
        aim_row(
            "160k: first request for a never-seen agency, p50 at the server",
            local["first_request_ms"]["p50"],
            "ms",
            AIMS["first_request_p50_ms_at_server"],
        ),
        row("160k: the same, p99 at the server", local["first_request_ms"]["p99"], "ms"),
        row(
            "160k: first request over HTTP, p50 / p99",
            f"{served['first_request_ms']['p50']} / {served['first_request_ms']['p99']}",
            "ms",
        ),
        row("160k: a cached agency, p50 at the server", local["cached_request_ms"]["p50"], "ms"),
        aim_row("160k: RSS of the largest worker", rss, "MB", AIMS["rss_mb_per_worker"]),
        aim_row(
            f"160k: agencies check of {files}", checked["check_seconds"], "s", AIMS["check_seconds"]
        ),
        row("160k: the check's CPU time, all processes", checked["check_cpu_seconds"], "s"),
    ]
    result = {
        "name": "agencies_160k",
        "machine": {**machine(), "load_average_before": load_before},
        "rows": rows,
        "agency_files": args.count,
        "generate_seconds": round(generated, 1),
        "in_process": local,
        "gunicorn": served,
        "check": checked,
    }
    result["machine"]["load_average_after"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"  check: {checked['summary']} (exit {checked['exit_code']})")
    print(f"  load average before/after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    if checked["exit_code"] != 0:
        sys.exit("the check found problems in the generated files")


def aim_row(figure: str, value: float, unit: str, under: float) -> dict:
    return row(figure, value, unit, aim=f"< {under:g}", ok=value < under)


if __name__ == "__main__":
    main()
