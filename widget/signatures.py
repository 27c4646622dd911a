"""``X-Otklik-Signature: sha256=<hex HMAC-SHA256 of the body>``: what the HTTP transport
signs each message with (``queue_secret``), and what ``POST /intake/updates`` checks each
update's signature against (``intake_secret``)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

HEADER = "X-Otklik-Signature"


def sign(body: bytes, secret: str) -> str:
    """The header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def valid(body: bytes, given: str | None, secrets: Iterable[str]) -> bool:
    """Whether ``given`` signs ``body`` with one of ``secrets`` (the current one and those
    of a rotation). Compared in constant time; the hex may be in either case."""
    if not given:
        return False
    offered = given.strip().lower().encode()  # as bytes, whatever characters it holds
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(sign(body, secret).encode(), offered)
    return found
