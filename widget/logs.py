"""Logging: one JSON object per line, with the request id; set up in this one place.

``CONFIG`` is the stdlib ``dictConfig`` for every process: gunicorn loads it
(``logconfig_dict`` in gunicorn.conf.py) for its own loggers and the app's, the forwarder
through ``configure()``. The gunicorn access log becomes a JSON line built from its
fields (method, path without the query string, status, bytes, milliseconds, request id):
never the client address nor the query string. Nor does the error log have them: the
requests gunicorn refuses itself are logged by widget/worker.py, by status and kind only.

Personal data is never logged: the code logs ids, receipts, counts and errors, never
a form's fields; the request id is only accepted from the client when it is a short
token of safe characters.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import secrets
import time

from flask import has_request_context, request

REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"  # the header as WSGI gives it
REQUEST_ID_KEY = "otklik.request_id"  # where the WSGI environ keeps the id given
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")
# gunicorn's access-log atoms kept, under our names. Not h (the client address),
# q (the query string), r (the request line, with the query), a (user agent), f (referer).
ACCESS_FIELDS = {"m": "method", "U": "path", "s": "status", "B": "bytes", "M": "ms"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            atoms = record.args
            entry["event"] = "request"
            for atom, name in ACCESS_FIELDS.items():
                value = atoms.get(atom)
                if value not in (None, "-"):
                    entry[name] = int(value) if name in ("status", "bytes", "ms") else value
            request_id = atoms.get("{x-request-id}o")
            if request_id and request_id != "-":
                entry["request_id"] = request_id
        else:
            entry["message"] = record.getMessage()
            request_id = getattr(record, "request_id", None)
            if request_id:
                entry["request_id"] = request_id
            if record.exc_info:
                entry["exception"] = self.formatException(record.exc_info)
        entry["pid"] = record.process
        return json.dumps(entry, ensure_ascii=False)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": RequestIdFilter}},
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
            "stream": "ext://sys.stderr",
        },
        # gunicorn writes the access log to stdout by default: keep that split.
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        # pika logs each failed connection attempt at length, with the broker address;
        # the forwarder reports it in one line with what to fix.
        "pika": {"level": "CRITICAL"},
    },
}


def configure() -> None:
    """Apply ``CONFIG`` to this process (the forwarder; gunicorn applies it itself)."""
    logging.config.dictConfig(CONFIG)


def request_id(environ: dict) -> str:
    """The request's id: the client's (or proxy's) X-Request-Id when it is a sane token,
    else a fresh one."""
    given = environ.get(REQUEST_ID_ENVIRON, "")
    # 128 bits from the system: unique across forked workers and machines
    return given if SANE_REQUEST_ID.fullmatch(given) else secrets.token_hex(16)


def current_request_id() -> str | None:
    """The id of the request being served, given on first use and kept for the request."""
    if not has_request_context():
        return None
    environ = request.environ
    if REQUEST_ID_KEY not in environ:
        environ[REQUEST_ID_KEY] = request_id(environ)
    return environ[REQUEST_ID_KEY]
