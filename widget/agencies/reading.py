"""Reading agency files: TOML, ``extends`` and the bases, then the schema.

One file per agency, ``<instance>/agencies/<id>.toml``; bases live in ``_bases/`` and
are never served. ``read`` is for tools; request code asks the Registry, which caches.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tomli as toml  # compiled: parses agency files 3-5x faster than tomllib
from pydantic import ValidationError

from . import errors
from .lines import Locator
from .schema import AGENCY_ID, BASE_REF, Agency

Stamp = tuple[int, int, int] | None  # (mtime_ns, size, inode) of a file; None: no such file


class AgencyError(Exception):
    """An agency file cannot be used. ``problems`` are ``path: field: message`` lines.

    ``sources`` are the files consulted before the problem was found and ``stamps`` theirs
    then, so that a cache can tell when a fix (of the file or of a base) makes it worth
    reading again; ``file`` is the file at fault when it is not the agency's own (a base,
    or for a missing base the one naming it). ``origins``, who may frame the agency's
    error page, and ``languages``, which it may be in, only the Registry knows (from what
    the broken file states leniently): it sets them.
    """

    def __init__(
        self,
        problems: list[str],
        *,
        sources: Sequence[Path] = (),
        stamps: Sequence[Stamp] = (),
        file: Path | None = None,
    ):
        super().__init__("\n".join(problems))
        self.problems = problems
        self.sources = list(sources)
        self.stamps = list(stamps)
        self.file = file
        self.origins: tuple[str, ...] = ()
        self.languages: tuple[str, ...] = ()


class AgencyNotFound(LookupError):
    """No file for this agency id."""


@dataclass(frozen=True)
class Loaded:
    """An agency read from its files."""

    agency: Agency
    sources: list[Path]  # the files it was built from: its own, then its bases
    stamps: list[Stamp]  # each source's, as it was when it was read
    stated_id: object  # the ``id`` key the files state (ignored: the file name is the id)


def agencies_dir(instance: Path) -> Path:
    return instance / "agencies"


def read(folder: Path, agency_id: str, bases: BaseCache | None = None) -> tuple[Agency, list[Path]]:
    """Parse and validate one agency file; return it and the files it was built from.

    Raises AgencyNotFound when there is no such file, AgencyError when it is broken.
    """
    found = loaded(folder, agency_id, bases or BaseCache())
    return found.agency, found.sources


def loaded(folder: Path, agency_id: str, bases: BaseCache) -> Loaded:
    """As ``read``, with each source's stamp and the id the files state."""
    if not AGENCY_ID.fullmatch(agency_id):
        raise AgencyNotFound(agency_id)
    path = folder / f"{agency_id}.toml"
    reading = Reading(folder, bases)
    try:
        data = reading.merged(path)
    except FileNotFoundError:
        raise AgencyNotFound(agency_id) from None
    stated_id = data.get("id")
    data = {k: v for k, v in data.items() if k != "extends"}
    data["id"] = agency_id
    sources, stamps = reading.sources(), reading.stamps()
    try:
        agency = Agency.validated(data, version=hash(tuple(stamps)))
    except ValidationError as e:
        where = Locator(sources, path)
        raise AgencyError(schema_problems(e, data, where), sources=sources, stamps=stamps) from None
    return Loaded(agency, sources, stamps, stated_id)


def over_bases(folder: Path, path: Path, data: dict, bases: BaseCache | None = None) -> dict:
    """``data`` (the contents of ``path``, perhaps not yet written) deep-merged over the
    bases it extends. Raises AgencyError when a base is missing or broken."""
    return Reading(folder, bases or BaseCache()).over_bases(path, data)


class Reading:
    """One agency's files as they are read, each base's over the one it extends, and the
    files consulted so far (named by the AgencyError raised when one is broken)."""

    def __init__(self, folder: Path, bases: BaseCache):
        self.folder = folder
        self.bases = bases
        self.consulted: list[tuple[Path, Stamp]] = []

    def sources(self) -> list[Path]:
        return [path for path, _ in self.consulted]

    def stamps(self) -> list[Stamp]:
        return [stamp for _, stamp in self.consulted]

    def error(self, problem: str) -> AgencyError:
        """The problem met in the file being read (for a missing base: the one naming it)."""
        at_fault = next((p for p, s in reversed(self.consulted) if s is not None), None)
        return AgencyError([problem], sources=self.sources(), stamps=self.stamps(), file=at_fault)

    def merged(self, path: Path, chain: tuple[Path, ...] = ()) -> dict:
        """The file's data deep-merged over its bases' (``chain``: the files extending
        it). A FileNotFoundError for the agency file itself propagates."""
        if path in chain:
            cycle = " → ".join(shown(p) for p in [*chain, path])
            raise self.error(f"{shown(chain[0])}: extends: a cycle: {cycle}")
        try:
            if chain:
                data, stamp = self.bases.load(path)
            else:
                with path.open("rb") as f:
                    stamp = _stamp_of_fd(f.fileno())
                    data = toml.load(f)
        except FileNotFoundError:
            if not chain:
                raise
            self.consulted.append((path, None))
            raise self.error(f"{shown(chain[-1])}: extends: no such base {shown(path)}") from None
        except toml.TOMLDecodeError as e:
            self.consulted.append((path, stamp_of(path)))
            raise self.error(f"{shown(path)}:{e.lineno}: toml: {e.msg}") from None
        except UnicodeDecodeError as e:
            self.consulted.append((path, stamp_of(path)))
            raise self.error(f"{shown(path)}: toml: {e}") from None
        except IsADirectoryError:
            raise self.error(f"{shown(path)}: file: is a folder, not a file") from None
        except OSError as e:
            raise self.error(f"{shown(path)}: file: cannot read ({e.strerror})") from None
        self.consulted.append((path, stamp))
        return self.over_bases(path, data, chain)

    def over_bases(self, path: Path, data: dict, chain: tuple[Path, ...] = ()) -> dict:
        """``data`` (the contents of ``path``) deep-merged over the bases it extends."""
        base = data.get("extends")
        if base is None:
            return data
        if not isinstance(base, str) or not BASE_REF.fullmatch(base):
            raise self.error(
                f'{shown(path)}: extends: must name a base such as "_bases/schools", got {base!r}'
            )
        base_data = self.merged(self.bases.path(self.folder, base), (*chain, path))
        return _deep_merge({k: v for k, v in base_data.items() if k != "extends"}, data)


class BaseCache:
    """Parsed base files, shared by the thousands of agencies that extend each of them.

    A base is parsed once and re-parsed only when its stamp changes (one ``stat`` per
    use). Parsing a base took 40 % of the time to load an agency (bench/agencies_160k.py).
    The parsed data is shared: callers must not change it.
    """

    MAX_BASES = 1024

    def __init__(self) -> None:
        self._parsed: dict[Path, tuple[dict, Stamp]] = {}
        self._paths: dict[tuple[Path, str], Path] = {}

    def path(self, folder: Path, base: str) -> Path:
        """The file of ``base`` ("_bases/x"): one Path object per base, whose hash is
        then computed once (hashing new Path objects was 5 % of the check)."""
        found = self._paths.get((folder, base))
        if found is None:
            found = self._paths[(folder, base)] = folder / f"{base}.toml"
        return found

    def load(self, path: Path) -> tuple[dict, Stamp]:
        hit = self._parsed.get(path)
        if hit is not None and hit[1] == stamp_of(path):
            return hit
        with path.open("rb") as f:
            stamp = _stamp_of_fd(f.fileno())
            data = toml.load(f)
        if len(self._parsed) >= self.MAX_BASES:
            self._parsed.clear()
            self._paths.clear()
        self._parsed[path] = (data, stamp)
        return data, stamp


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def schema_problems(error: ValidationError, data: dict, where: Locator) -> list[str]:
    """``path[:line]: field: message`` lines, in plain words, for the schema's errors."""
    return [p.text(shown) for p in errors.problems(error, data, Agency, where)]


def shown(path: Path) -> str:
    """A path as an operator would type it: relative to the working folder if inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _stamp_of_fd(fd: int) -> Stamp:
    s = os.fstat(fd)
    return (s.st_mtime_ns, s.st_size, s.st_ino)


def stamp_of(path: str | Path) -> Stamp:
    try:
        s = os.stat(path)
    except OSError:
        return None
    return (s.st_mtime_ns, s.st_size, s.st_ino)


def all_ids(folder: Path) -> list[str]:
    """Every servable agency id (reads the folder: for tools, not for requests)."""
    return sorted(
        entry.name[: -len(".toml")]
        for entry in os.scandir(folder)
        if entry.name.endswith(".toml") and AGENCY_ID.fullmatch(entry.name[: -len(".toml")])
    )
