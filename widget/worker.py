"""The gunicorn worker: gunicorn's sync worker, but the requests gunicorn refuses by
itself are answered and logged as the app's are.

gunicorn answers a request it cannot read (a bad request line, an over-long URI, too
many or too large headers, an unknown transfer coding) before the app sees it. Its own
answer is an HTML page without our headers (no CSP: promise 1), and its log line names
the client's address and quotes what it sent, where a query string can hold a citizen's
name (promise 6). Here the answer is a short plain-text one with our headers
(security.standalone_headers), and the log line says only what was refused.
gunicorn.conf.py names this class as ``worker_class``.
"""

from __future__ import annotations

import traceback
from ssl import SSLError

from gunicorn.http import errors
from gunicorn.workers.sync import SyncWorker

from .web import security

# The status gunicorn gives each error it raises while reading a request, first match
# wins; any other ParseException is the client's (400), anything else ours (500).
STATUSES = (
    ((errors.InvalidResponseHeader, errors.InvalidResponseHeaderName), 500),  # the app's
    (errors.ConfigurationProblem, 500),
    (errors.LimitRequestLine, 414),
    (errors.LimitRequestHeaders, 431),
    (errors.UnsupportedTransferCoding, 501),
    (errors.ExpectationFailed, 417),
    ((errors.ForbiddenProxyRequest, SSLError), 403),
    (errors.ParseException, 400),
)
REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}


def status_for(exc: BaseException) -> int:
    for kinds, status in STATUSES:
        if isinstance(exc, kinds):
            return status
    return 500


def answer(status: int) -> bytes:
    """The whole HTTP response for a refused request."""
    reason = REASONS[status]
    body = (
        f"{status} {reason}\n"
        "Сервер не смог обработать этот запрос. / The server could not handle this request.\n"
    ).encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *security.standalone_headers(),
    ]
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    return (head + "\r\n").encode("latin-1") + body


class Worker(SyncWorker):
    def handle_error(self, req, client, addr, exc) -> None:
        status = status_for(exc)
        if status == 500:
            # Where it failed, without the exception's message: it may quote the request.
            where = "".join(traceback.format_tb(exc.__traceback__))
            self.log.error("error handling a request: %s\n%s", type(exc).__name__, where)
        else:  # never the address nor what the client sent
            self.log.warning(
                "refused a request: %d %s (%s)", status, REASONS[status], type(exc).__name__
            )
        try:
            client.sendall(answer(status))
        except OSError:
            self.log.debug("could not send the refusal")
