"""Receipt numbers: short, readable aloud, unguessable (``K7M2-9QXD``).

Crockford's base32 alphabet has no I, L, O or U, so a receipt read over the phone
is not misheard; 40 random bits make it unguessable. A *decoy* receipt, shown to a
bot caught by the honeypot, carries a 20-bit MAC (of the agency and the topic) so
that its done page can be shown without storing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# What a person may type for a character of a receipt: O for 0, I and L for 1, and the
# Cyrillic letters that look like Latin ones (a receipt copied on a Russian keyboard).
TYPED_AS = str.maketrans("OILАВЕКМНОРСТХ", "011ABEKMH0PCTX")


def _format(chars: str) -> str:
    return f"{chars[:4]}-{chars[4:]}"


def new() -> str:
    return _format(_chars(secrets.randbits(40), 8))  # one read of the system's randomness


def normalize(text: str) -> str | None:
    """A receipt as a person may type it (any case, with or without the dash or spaces,
    O for 0, I or L for 1, Cyrillic look-alikes for Latin letters), or None."""
    chars = "".join(text.split()).upper().replace("-", "").translate(TYPED_AS)
    if len(chars) != 8 or any(c not in ALPHABET for c in chars):
        return None
    return _format(chars)


def _chars(number: int, count: int) -> str:
    """The lowest ``count`` × 5 bits of ``number`` as characters of the alphabet."""
    return "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(count)))


def _mac(secret: str, agency_id: str, topic_id: str, head: str) -> str:
    digest = hmac.new(
        secret.encode(), f"decoy|{agency_id}|{topic_id}|{head}".encode(), hashlib.sha256
    )
    return _chars(int.from_bytes(digest.digest()[:4], "big"), 4)  # 20 bits


def decoy(secret: str, agency_id: str, topic_id: str, nonce: str) -> str:
    """The decoy receipt for the form token ``nonce``: the same token posted twice gets
    the same decoy, as a real one gets the same receipt. The MAC binds the topic, so
    that the done page can name the topic the bot chose, as it would for a citizen."""
    seed = hmac.new(secret.encode(), f"decoy-head|{nonce}".encode(), hashlib.sha256)
    head = _chars(int.from_bytes(seed.digest()[:4], "big"), 4)
    return _format(head + _mac(secret, agency_id, topic_id, head))


def decoy_topic(secret: str, agency_id: str, receipt: str, topic_ids: list[str]) -> str | None:
    """The topic a decoy receipt was made for, or None when it is no decoy."""
    head, tail = receipt[:4], receipt[5:]
    for topic_id in topic_ids:
        if hmac.compare_digest(tail, _mac(secret, agency_id, topic_id, head)):
            return topic_id
    return None
