"""The integrators' API keys: who may post requests over Open311, to which agencies, and
how many. Listed in the instance's ``open311/keys.toml``, which holds each key's SHA-256
(never the key: it is shown once, when added), a name, the agencies and regions it may
post to, and its rate limit.

Each worker reads the file again when its stamp (mtime, size, inode) changes, as the
agency files are read, so ``flask open311 keys add`` and ``revoke`` need no restart. A
key is 256 random bits: a plain SHA-256 is enough to store it (a slow, salted hash is for
what people choose, which can be guessed).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import tomli
import tomlkit

from ..agencies import AGENCY_ID, Agency, parse_limit
from ..agencies.reading import Stamp, stamp_of

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
REGION = re.compile(r"^[0-9]{2,3}$")
DEFAULT_LIMIT = "300 per hour; 3000 per day"
HEADER = """\
# Open311 API keys (docs/open311.md): written by `flask open311 keys add|revoke`.
# Only each key's SHA-256 is kept here; the key itself was shown once, when added.
"""


class KeyFileError(Exception):
    """The keys file cannot be used: which entry and why."""


@dataclass(frozen=True)
class Key:
    name: str  # the integrator's, in every event it posts
    sha256: str
    agencies: tuple[str, ...]  # agency ids it may post to
    regions: tuple[str, ...]  # and every agency of these regions
    limit: str  # messages, in the limits notation, across all its agencies
    added_at: str

    def may_post(self, agency: Agency) -> bool:
        return agency.id in self.agencies or agency.region in self.regions


def digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def path_in(instance: Path) -> Path:
    return Path(instance) / "open311" / "keys.toml"


def parse(text: str) -> dict[str, Key]:
    """The keys a file lists, by their hashes; KeyFileError names the first bad entry."""
    try:
        entries = tomli.loads(text).get("keys", [])
    except tomli.TOMLDecodeError as e:
        raise KeyFileError(f"not TOML: {e}") from None
    found: dict[str, Key] = {}
    names: set[str] = set()
    for n, entry in enumerate(entries, 1):
        try:
            key = _key(entry)
        except (KeyError, TypeError, ValueError) as e:
            raise KeyFileError(f"keys #{n}: {e}") from None
        if key.name in names:
            raise KeyFileError(f"keys #{n}: the name {key.name!r} is listed twice")
        names.add(key.name)
        found[key.sha256] = key
    return found


def _key(entry: dict) -> Key:
    name, sha256 = entry["name"], entry["sha256"]
    if not NAME.match(name):
        raise ValueError(f"name {name!r}: lower-case letters, digits, '.', '_', '-'")
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("sha256: 64 hexadecimal digits")
    agencies = tuple(entry.get("agencies", ()))
    regions = tuple(entry.get("regions", ()))
    for agency_id in agencies:
        if not AGENCY_ID.fullmatch(agency_id):
            raise ValueError(f"agencies: {agency_id!r} is no agency id")
    for region in regions:
        if not REGION.match(region):
            raise ValueError(f"regions: {region!r} is no region code")
    if not agencies and not regions:
        raise ValueError("give the agencies or regions it may post to")
    limit = entry.get("limit", DEFAULT_LIMIT)
    parse_limit(limit)  # ValueError when it is not the limits notation
    return Key(name, sha256, agencies, regions, limit, str(entry.get("added_at", "")))


class KeyFile:
    """One worker's view of the keys file, read again when its stamp changes."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: Stamp = None
        self._keys: dict[str, Key] = {}
        self._error: KeyFileError | None = None

    def find(self, api_key: str) -> Key | None:
        """The key listed for ``api_key``; None for a missing, wrong or revoked one. A
        broken file refuses every key (KeyFileError, logged by the caller) rather than
        trust a half-read list."""
        keys = self._current()
        return keys.get(digest(api_key)) if api_key else None

    def _current(self) -> dict[str, Key]:
        stamp = stamp_of(self.path)
        if stamp != self._stamp:
            with self._lock:
                try:
                    text = self.path.read_text(encoding="utf-8") if stamp else ""
                    self._keys, self._error = parse(text), None
                except (OSError, UnicodeDecodeError) as e:
                    self._keys, self._error = {}, KeyFileError(str(e))
                except KeyFileError as e:
                    self._keys, self._error = {}, e
                self._stamp = stamp
        if self._error is not None:
            raise self._error
        return self._keys


# -- what `flask open311 keys …` does --------------------------------------------------


def listed(path: Path) -> list[Key]:
    """The keys in the file, in its order."""
    return list(parse(_read(path)).values()) if path.exists() else []


def add(
    path: Path,
    name: str,
    agencies: list[str],
    regions: list[str],
    limit: str = DEFAULT_LIMIT,
    now: datetime | None = None,
) -> str:
    """List a new key under ``name`` and return it: the one time it is seen."""
    document = tomlkit.parse(_read(path)) if path.exists() else tomlkit.parse(HEADER)
    if any(key.name == name for key in listed(path)):
        raise KeyFileError(f"a key named {name!r} is listed already: revoke it first")
    api_key = secrets.token_urlsafe(32)
    entry = {
        "name": name,
        "sha256": digest(api_key),
        "agencies": list(agencies),
        "regions": list(regions),
        "limit": limit,
        "added_at": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    _key(entry)  # refuse a bad entry before it reaches the file
    document.setdefault("keys", tomlkit.aot()).append(tomlkit.item(entry))
    _write(path, tomlkit.dumps(document))
    return api_key


def revoke(path: Path, name: str) -> None:
    """Take the key named ``name`` off the list: refused from the next request on."""
    document = tomlkit.parse(_read(path)) if path.exists() else tomlkit.document()
    entries = document.get("keys", [])
    kept = [entry for entry in entries if entry.get("name") != name]
    if len(kept) == len(entries):
        raise KeyFileError(f"no key is named {name!r}")
    document["keys"] = tomlkit.aot()
    for entry in kept:
        document["keys"].append(entry)
    _write(path, tomlkit.dumps(document))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _write(path: Path, text: str) -> None:
    """Write the whole file at once (a new inode: every worker sees a new stamp), never
    a half-written list."""
    parse(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".keys-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(partial, 0o640)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
