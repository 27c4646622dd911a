"""The central HTTP intake (``http(s)://host/path``).

One POST per event, body = the CloudEvent, with ``Idempotency-Key: <event id>`` and
``X-Otklik-Signature: sha256=<hex HMAC-SHA256 of the body with queue_secret>``.
2xx and 409 (already have it) are delivered; 408, 429 and 5xx, a read timeout or a
broken connection are retried (``Retry-After`` honoured); redirects are not followed
and are retried; any other 4xx is dead. When the intake cannot be reached, or says it
is overloaded, the rest of the batch waits unsent instead of hammering it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import requests
import urllib3.exceptions

from .. import signatures
from . import RETRY, UNSENT, Outcome, Outgoing, Transport, TransportError, redact

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
MAX_RETRY_AFTER = 24 * 3600.0


class HttpTransport(Transport):
    batch_size = 50

    def __init__(self, url: str, secret: str | None, timeout: float = 10.0) -> None:
        if not secret:
            raise TransportError(
                "queue_secret: required when queue_url is http(s)://… (it signs each request)"
            )
        self.url, self.where, self.secret, self.timeout = url, redact(url), secret, timeout
        self._session = requests.Session()

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for message in batch:
            outcome = self._post(message)
            outcomes.append(outcome)
            if _intake_in_trouble(outcome):  # the rest wait, not counted as attempts
                rest = len(batch) - len(outcomes)
                wait = Outcome.unsent(f"not sent: {outcome.reason}", outcome.after)
                return outcomes + [wait] * rest
        return outcomes

    def close(self) -> None:
        self._session.close()

    def _post(self, message: Outgoing) -> Outcome:
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Idempotency-Key": message.id,
            signatures.HEADER: signatures.sign(message.body, self.secret),
            "User-Agent": "otklik-forwarder",
        }
        try:
            response = self._session.post(
                self.url,
                data=message.body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.ConnectTimeout:
            return Outcome.unsent(f"cannot reach {self.where}: connect timed out")
        except requests.ReadTimeout:
            return Outcome.retry(f"no answer from {self.where} within {self.timeout:g} s")
        except requests.ConnectionError as e:
            if _never_connected(e):
                return Outcome.unsent(f"cannot reach {self.where}: connection refused or no host")
            return Outcome.retry(f"connection to {self.where} broken: {type(e).__name__}")
        except requests.RequestException as e:
            return Outcome.retry(f"request to {self.where} failed: {type(e).__name__}")
        status = response.status_code
        response.close()  # the body is not read: it may echo personal data
        reason = f"HTTP {status} {_phrase(status)}".rstrip()
        if 200 <= status < 300 or status == 409:
            return Outcome.delivered()
        if status in (408, 429) or status >= 500:
            return Outcome.retry(reason, _retry_after(response.headers.get("Retry-After")))
        if 300 <= status < 400:
            return Outcome.retry(f"{reason}: redirects are not followed, check queue_url")
        return Outcome.dead(reason)


def _intake_in_trouble(outcome: Outcome) -> bool:
    """Unreachable, slow, overloaded or down: everything but a plain 500 (which may be
    this one message's fault) stops the batch."""
    if outcome.status == UNSENT:
        return True
    return outcome.status == RETRY and not (
        outcome.reason.startswith("HTTP 500") and outcome.after is None
    )


def _never_connected(error: requests.ConnectionError) -> bool:
    inner = error.args[0] if error.args else None
    inner = getattr(inner, "reason", inner)  # urllib3 wraps it in MaxRetryError
    return isinstance(inner, urllib3.exceptions.NewConnectionError)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
