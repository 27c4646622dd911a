"""gunicorn settings for Otklik (gunicorn reads this file from the working folder).

Override any of them on the command line or with GUNICORN_CMD_ARGS; the address
with OTKLIK_BIND (default 127.0.0.1:8000), the worker count with OTKLIK_WORKERS.
docs/deploy.md explains each choice.
"""

import gc
import multiprocessing
import os
import socket
import sys
from pathlib import Path

# Before the app is imported (preload, below): the metrics of every worker and of the
# forwarder go to files in this folder, and /metrics sums them. The forwarder must be
# given the same folder (run.sh and the systemd units in docs/deploy.md do).
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    str(Path(os.environ.get("OTKLIK_INSTANCE_PATH") or "instance").resolve() / "metrics"),
)

from widget import logs, metrics  # after the metrics folder is chosen

bind = os.environ.get("OTKLIK_BIND", "127.0.0.1:8000")
# Sync workers: a request is CPU (render, sign) plus one fsync'ed commit. 2 per core + 1,
# capped: more workers than that only queue on the same cores and the same disk.
workers = int(os.environ.get("OTKLIK_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9)))
# gunicorn's sync worker, whose answers to requests it refuses itself (400, 414, 431,
# 501) carry our headers and are logged without the client's address (widget/worker.py).
worker_class = "widget.worker.Worker"
# Import the app once in the arbiter, then fork the workers: they start in a fraction
# of the time (importing the app costs each worker about a second of CPU) and share
# the imported code's memory. A new release therefore needs a restart, not a HUP.
# Nothing holds a connection across the fork (the outbox opens one per worker).
preload_app = True
# A request that runs 30 s is stuck (the outbox's busy timeout is 10 s): the worker is
# killed and replaced. On SIGTERM, requests in hand get 20 s to finish.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Header limits: a widget needs none of the large headers attackers send.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# Forwarded headers are the app's to read, as many hops as trusted_proxies says
# (ProxyFix in widget/__init__.py); gunicorn believes none of them, from anywhere, so
# that a client on this machine cannot pass for https when no proxy is trusted.
forwarded_allow_ips = ""
secure_scheme_headers = {}
# Logs: JSON lines (widget/logs.py). The access log has neither the client address nor
# the query string: both can identify a citizen (promise 6); it has the request id.
accesslog = "-"
access_log_format = '"%(m)s %(U)s" %(s)s %(B)sB %(M)sms %({x-request-id}o)s'
errorlog = "-"
logconfig_dict = logs.CONFIG
# gunicorn 27 opens a control socket by default, at a path every gunicorn on the machine
# shares (~/.gunicorn/gunicorn.ctl): two services would fight over it. The widget is
# managed with signals (systemd), so none is opened. (Older gunicorn ignores the name.)
control_socket_disable = True


def on_starting(server):
    """Before the workers: check that the address is free, then empty the metrics folder
    if nothing else writes there."""
    check_address(server)
    metrics.clean_folder()


def when_ready(server):
    """The app is imported (preload) and no worker is forked yet: move everything alive
    now out of the garbage collector's sight (gc.freeze, as Python's gc documentation
    advises before a fork). A worker's full collections then walk only what it made
    itself, not the whole imported app, a pause that came every few hundred requests,
    and they no longer write into the memory the workers share with the arbiter."""
    gc.collect()
    gc.freeze()


def check_address(server) -> None:
    """Exit with one line when a TCP address cannot be had (gunicorn alone would try
    five times, a second apart, logging two lines each time). Sockets handed over by
    systemd or by the old master of a USR2 upgrade are in use by design: not checked."""
    if "LISTEN_FDS" in os.environ or "GUNICORN_FD" in os.environ:
        return
    for address in server.cfg.address:
        if not isinstance(address, tuple):  # a unix socket or a file descriptor
            continue
        host, port = address[:2]
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            try:
                probe.bind(address)
            except OSError as e:
                shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                sys.exit(
                    f"otklik: cannot listen on {shown}: {e.strerror}"
                    " (is another server running there? OTKLIK_BIND chooses the address)"
                )


def child_exit(server, worker):
    metrics.process_exited(worker.pid)
