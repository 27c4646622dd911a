"""Signed, time-stamped, single-use form tokens: our cookie-free anti-forgery; and the
seal of a done page's contents, so that any instance can show it.

A token carries the agency id, the time it was issued (milliseconds), a random nonce
and the embedding origin when one is known, signed with ``secret_key`` (old keys in
``secret_key_fallbacks`` still verify). The outbox makes it single-use: the nonce is
unique there, so the same token posted twice yields the same receipt.
"""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import current_app
from itsdangerous import BadSignature, Serializer, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

from .agencies import WAYS

SALT = "otklik.form-token.v1"
DONE_SALT = "otklik.done-page.v1"
MAX_LENGTH = 1000


class TokenError(Exception):
    """The token cannot be accepted. ``reason`` is one of the class constants."""

    FORGED = "forged"  # bad signature or shape
    FOREIGN = "foreign"  # issued for another agency
    EXPIRED = "expired"  # older than token_max_age
    TOO_FAST = "too_fast"  # younger than token_min_seconds

    def __init__(self, reason: str, origin: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.origin = origin  # of a genuine token for this agency (too old or too young)


@dataclass(frozen=True)
class Token:
    agency_id: str
    issued_at: float  # seconds since the epoch
    nonce: str
    origin: str | None


class _Tokens(URLSafeSerializer):
    """URLSafeSerializer that never tries to compress: a token's 100 bytes of JSON never
    get shorter, and the try (zlib, at each dumps) took half of signing one. What it
    writes is what URLSafeSerializer writes when compression does not pay, so tokens and
    seals of either kind verify."""

    def dump_payload(self, obj) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))

    @functools.cached_property
    def _own_signer(self) -> Signer:
        return super().make_signer()

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        """The signer of the serializer's own salt, made once: it holds only the keys and
        the salt, and itsdangerous would make one for every token signed or checked."""
        if salt is None or salt == self.salt:
            return self._own_signer
        return super().make_signer(salt)


def _serializer(salt: str = SALT) -> URLSafeSerializer:
    config = current_app.config
    return _serializer_for((*config["SECRET_KEY_FALLBACKS"], config["SECRET_KEY"]), salt)


@functools.lru_cache(maxsize=8)
def _serializer_for(keys: tuple[str, ...], salt: str) -> URLSafeSerializer:
    """One serializer per set of keys (the last one signs, the others still verify) and
    salt, rather than one per form page; a changed key in the config still takes effect."""
    return _Tokens(list(keys), salt=salt)


def new_nonce() -> str:
    """What makes a token single-use (the outbox keeps it unique), and what the files
    sent with a form are kept under until it is sent."""
    return secrets.token_urlsafe(12)


def for_message(agency_id: str, receipt: str) -> str:
    """Who a rating token is issued for: one message of one agency. Issued and verified
    with it in place of the agency id, a rating token is refused (foreign) on another
    message and on the agency's form, and a form token on a message's rating form."""
    return f"{agency_id}/{receipt}"


def for_poll(agency_id: str, poll_id: str) -> str:
    """Who a vote token is issued for: one poll of one agency (as ``for_message``)."""
    return f"{agency_id}/polls/{poll_id}"


def issue(agency_id: str, origin: str | None = None, nonce: str | None = None) -> str:
    """A token for a form of ``agency_id``, framed by ``origin`` when it is known."""
    payload = [agency_id, int(time.time() * 1000), nonce or new_nonce(), origin]
    return _serializer().dumps(payload)


def verify(token: str, agency_id: str, now: float | None = None) -> Token:
    """Return the token's contents, or raise TokenError."""
    try:
        if len(token) > MAX_LENGTH:  # ours are about 100 characters: do not even parse it
            raise ValueError
        payload = _serializer().loads(token)
        issuer, issued_ms, nonce, origin = payload
        issued_at = int(issued_ms) / 1000
        if not isinstance(issuer, str) or not isinstance(nonce, str):
            raise ValueError
    except (BadSignature, ValueError, TypeError):
        raise TokenError(TokenError.FORGED) from None
    if issuer != agency_id:
        raise TokenError(TokenError.FOREIGN)
    origin = origin if isinstance(origin, str) else None
    age = (time.time() if now is None else now) - issued_at
    if age > current_app.config["TOKEN_MAX_AGE"]:
        raise TokenError(TokenError.EXPIRED, origin)
    if age < current_app.config["TOKEN_MIN_SECONDS"]:
        raise TokenError(TokenError.TOO_FAST, origin)
    return Token(issuer, issued_at, nonce, origin)


@dataclass(frozen=True)
class Sealed:
    """What a done page's seal holds."""

    topic_id: str
    received_on: date
    # The kinds of contact given that are a way to answer ("email", "phone", "address"),
    # never their values; None in seals made before they were sealed (the page then
    # cannot say how the answer will come).
    ways: tuple[str, ...] | None


def seal_done(
    agency_id: str, receipt: str, topic_id: str, received_at: float, ways: tuple[str, ...]
) -> str:
    """What a done page shows, signed, for its URL: another instance of the service
    (behind the same front, with the same ``secret_key``) holds no row of this receipt
    in its outbox, yet can show the page (docs/scaling.md). It keeps a day, not a second:
    the caller gives the form token's time, so the same token posted twice gives the same
    URL, for a honeypot's decoy as for a stored message. ``ways``: which kinds of contact
    the citizen gave, so that the page can say how the answer will come."""
    received_on = datetime.fromtimestamp(received_at, UTC).date().isoformat()
    return _serializer(DONE_SALT).dumps([agency_id, receipt, topic_id, received_on, list(ways)])


def open_done(seal: str, agency_id: str, receipt: str) -> Sealed | None:
    """What a done page's seal holds, or None unless it is genuine and made for this
    agency and receipt. Seals without ways (made by earlier versions) still open."""
    config = current_app.config
    try:
        if len(seal) > MAX_LENGTH:
            raise ValueError
        payload = _unsealed((*config["SECRET_KEY_FALLBACKS"], config["SECRET_KEY"]), seal)
        sealed_agency, sealed_receipt, topic_id, received_on, *rest = payload
        received_on = date.fromisoformat(received_on)
        ways = None
        if rest:
            (ways,) = rest
            if not isinstance(ways, list) or not set(ways) <= set(WAYS):
                raise ValueError
            ways = tuple(ways)
    except (BadSignature, ValueError, TypeError):
        return None
    if (sealed_agency, sealed_receipt) != (agency_id, receipt) or not isinstance(topic_id, str):
        return None
    return Sealed(topic_id, received_on, ways)


@functools.lru_cache(maxsize=1024)
def _unsealed(keys: tuple[str, ...], seal: str) -> tuple:
    """A genuine seal's contents, checked once per worker: a message's page is opened
    with the same seal visit after visit (BadSignature, not kept, for a false one)."""
    return tuple(_serializer_for(keys, DONE_SALT).loads(seal))
