"""Receipt numbers: short, readable aloud, unguessable (``K7M2-9QXD``).

Crockford's base32 alphabet has no I, L, O or U, so a receipt read over the phone
is not misheard; 40 random bits make it unguessable. A *decoy* receipt, shown to a
bot caught by the honeypot, carries a 20-bit MAC so that its done page can be
shown without storing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _format(chars: str) -> str:
    return f"{chars[:4]}-{chars[4:]}"


def new() -> str:
    return _format("".join(secrets.choice(ALPHABET) for _ in range(8)))


def normalize(text: str) -> str | None:
    """A receipt as a person may type it (any case, O for 0, I or L for 1), or None."""
    chars = text.strip().upper().replace("-", "")
    chars = chars.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(chars) != 8 or any(c not in ALPHABET for c in chars):
        return None
    return _format(chars)


def _mac(secret: str, agency_id: str, head: str) -> str:
    digest = hmac.new(secret.encode(), f"decoy|{agency_id}|{head}".encode(), hashlib.sha256)
    number = int.from_bytes(digest.digest()[:3], "big") >> 4  # 20 bits
    return "".join(ALPHABET[(number >> shift) & 31] for shift in (15, 10, 5, 0))


def decoy(secret: str, agency_id: str) -> str:
    head = "".join(secrets.choice(ALPHABET) for _ in range(4))
    return _format(head + _mac(secret, agency_id, head))


def is_decoy(secret: str, agency_id: str, receipt: str) -> bool:
    head, tail = receipt[:4], receipt[5:]
    return hmac.compare_digest(tail, _mac(secret, agency_id, head))
