"""Writing agency files: a new one from a template, and many from a registry export.

Files are written with tomlkit, which keeps what people wrote by hand (comments, order,
keys beyond the registry's columns) when a file is updated. Every file is validated
before it is written, and written atomically (a temporary file renamed into place), so
the server never reads half a file.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .. import routing
from .lint import problems_of
from .reading import AgencyError, over_bases
from .schema import AGENCY_ID, BASE_REF, ID_RULE

REGISTRY_COLUMNS = ("id", "name", "short_name", "region", "site_origin", "routing_key", "sector")
REQUIRED_COLUMNS = ("id", "name", "region")  # and routing_key or sector
COLUMN_ALIASES = {"origin": "site_origin", "site": "site_origin", "short": "short_name"}
DEFAULT_TOPIC_ID = "other"
DEFAULT_TOPIC_TITLE = {"ru": "Вопрос, жалоба или предложение", "en": "Question or complaint"}


class AgencyFileError(Exception):
    """The file cannot be written; ``problems`` say why (``path: field: message``)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# --- one new file ---------------------------------------------------------------


def new(
    folder: Path,
    agency_id: str,
    extends: str,
    name: str,
    short_name: str | None = None,
    region: str | None = None,
    origins: Iterable[str] = (),
    routing_key: str | None = None,
    sector: str | None = None,
) -> tuple[Path, list[str]]:
    """Write ``<agency_id>.toml`` from the template; refuse to overwrite a file. Return
    its path and notes for the person who asked (the sector guessed, a routing warning).

    ``region`` defaults to the base's; ``routing_key`` to ``<region>.<sector>.<agency_id>``
    (docs/queue.md), with the ``sector`` the name says when none is given.
    When the base has no topics, the file gets one catch-all topic to edit.
    Raises AgencyFileError, naming every problem, and then writes nothing.
    """
    path = folder / f"{agency_id}.toml"
    if not AGENCY_ID.fullmatch(agency_id):
        raise AgencyFileError([f"{path}: file: {agency_id!r} is not an agency id ({ID_RULE})"])
    if path.exists():
        raise AgencyFileError([f"{path}: file: exists already; edit it instead"])
    base = _base_data(folder, extends, path)
    region = region or base.get("region")
    if not region:
        raise AgencyFileError([f"{path}: region: the base has none, so give one (--region)"])
    notes = []
    if not routing_key:
        if sector is None:
            sector = routing.sector_from_name(name)
            if sector is None:
                raise AgencyFileError(
                    [
                        f"{path}: routing_key: the name does not tell the sector, so give "
                        f"--sector, one of {', '.join(routing.SECTORS)} (or the whole "
                        "--routing-key)"
                    ]
                )
            notes.append(f"sector {sector}, from the name (--sector to choose another)")
        if sector not in routing.SECTORS:
            raise AgencyFileError([f"{path}: sector: {_not_a_sector(sector)}"])
        routing_key = routing.key_for(region, sector, agency_id)
    unrouted = routing.key_problem(routing_key, region, agency_id, name)
    if unrouted:
        notes.append(f"warning: routing_key: {unrouted}")
    doc = template(
        agency_id,
        extends,
        name,
        short_name=short_name,
        region=region if region != base.get("region") else None,
        origins=[site_origin(o) for o in origins],
        routing_key=routing_key,
        topics=None if base.get("topics") else base.get("languages", ["ru"]),
    )
    _write_checked(folder, agency_id, doc, lint=True)
    return path, notes


def _not_a_sector(sector: str) -> str:
    return f"{sector!r} is not one of the sectors ({', '.join(routing.SECTORS)})"


def template(
    agency_id: str,
    extends: str,
    name: str,
    *,
    short_name: str | None,
    region: str | None,
    origins: list[str],
    routing_key: str,
    topics: list[str] | None,
) -> tomlkit.TOMLDocument:
    """A new agency file; ``topics``: the languages of a catch-all topic to add (for a
    base without topics), in Russian, English, or Russian to translate."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Otklik: the agency {agency_id}. Keys not set here come from"))
    doc.add(tomlkit.comment(f"{extends}.toml; docs/agencies.md lists them all. After an edit, run"))
    doc.add(tomlkit.comment(f"`flask agencies check {agency_id}`."))
    doc.add("extends", extends)
    doc.add("name", name)
    if short_name:
        doc.add("short_name", short_name)
    if region:
        doc.add("region", region)
    listed = tomlkit.array()
    listed.extend(origins)
    doc.add("embed_origins", listed)
    if not origins:
        doc["embed_origins"].comment("the sites that may show the form, such as https://school.ru")
    doc.add("routing_key", routing_key)
    if topics:
        doc.add(tomlkit.nl())
        topic = tomlkit.aot()
        topic.append(tomlkit.table())
        topic[0].add("id", DEFAULT_TOPIC_ID)
        titles = {lang: DEFAULT_TOPIC_TITLE.get(lang, DEFAULT_TOPIC_TITLE["ru"]) for lang in topics}
        if len(titles) == 1:
            topic[0].add("title", next(iter(titles.values())))
        else:
            inline = tomlkit.inline_table()
            inline.update(titles)
            topic[0].add("title", inline)
        doc.add("topics", topic)
    return doc


def _base_data(folder: Path, extends: str, path: Path) -> dict:
    """The merged data of base ``extends`` (it must exist and be sound)."""
    if not BASE_REF.fullmatch(extends):
        raise AgencyFileError(
            [f'{path}: extends: must name a base such as "_bases/schools", got {extends!r}']
        )
    base_path = folder / f"{extends}.toml"
    if not base_path.is_file():
        raise AgencyFileError([f"{path}: extends: no such base {base_path}"])
    try:
        return over_bases(folder, path, {"extends": extends})
    except AgencyError as e:
        raise AgencyFileError(e.problems) from None


def site_origin(value: str) -> str:
    """A site address from a registry as an origin: ``https://School57.example.ru/about``
    becomes ``https://school57.example.ru``; a bare host gets https://; a Cyrillic
    (.рф) host becomes its punycode form, which is what browsers send."""
    value = value.strip()
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    host = parts.hostname or ""
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return value  # left as it is: the check names the problem
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return value
    return f"{parts.scheme.lower()}://{host}{port}"


def _write_checked(
    folder: Path, agency_id: str, doc: tomlkit.TOMLDocument, lint: bool = False
) -> None:
    """Write ``doc`` if it makes a servable agency (and, with ``lint``, one that passes
    the whole check)."""
    text = tomlkit.dumps(doc)
    problems = problems_of(folder, agency_id, text, lint=lint)
    if problems:
        raise AgencyFileError(problems)
    _write_atomically(folder / f"{agency_id}.toml", text)


def _write_atomically(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- a registry export ------------------------------------------------------------


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # id -> keys changed
    unchanged: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # ``where: field: message``
    warnings: list[str] = field(default_factory=list)  # ``where: warning: field: message``


def read_registry(raw: bytes, source: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of a registry export (CSV; comma, semicolon or tab; UTF-8 or the
    Windows-1251 of older exports), as (line number, {column: value})."""
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise AgencyFileError([f"{source}: file: empty, expected a header line"]) from None
    columns = [_column(name) for name in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if "routing_key" not in columns and "sector" not in columns:
        missing.append("routing_key (or sector)")
    if missing:
        raise AgencyFileError(
            [
                f"{source}: header: no column {', '.join(missing)} (expected "
                f"{', '.join(REGISTRY_COLUMNS)})"
            ]
        )
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        row = {c: v.strip() for c, v in zip(columns, values, strict=False) if c}
        rows.append((reader.line_num, row))
    return rows


def _column(name: str) -> str | None:
    name = name.strip().lower().replace(" ", "_").replace("-", "_")
    name = COLUMN_ALIASES.get(name, name)
    return name if name in REGISTRY_COLUMNS else None


def import_registry(folder: Path, csv_path: Path, extends: str) -> ImportReport:
    """Create or update one agency file per row of a registry export.

    Only the registry's columns are written: name, short_name, region and routing_key
    are set to the row's values (an empty optional cell leaves the key alone; without a
    routing_key, it is built from the sector as ``<region>.<sector>.<id>``), and the
    site's origin is added to embed_origins if it is missing (other origins, added by
    hand, stay). Every other key, comment and topic written by hand is kept. New files
    extend ``extends``. A row whose result would be invalid is reported and not written.
    Running it twice changes nothing the second time.
    """
    report = ImportReport()
    source = str(csv_path)
    rows = read_registry(csv_path.read_bytes(), source)
    base_path = folder / "(new).toml"
    base = None
    seen: dict[str, int] = {}
    for line, row in rows:
        where = f"{source}:{line}"
        agency_id = row.get("id", "")
        empty = [c for c in REQUIRED_COLUMNS if not row.get(c)]
        if empty:
            report.problems.append(f"{where}: {empty[0]}: empty")
            continue
        if not AGENCY_ID.fullmatch(agency_id):
            report.problems.append(f"{where}: id: {agency_id!r} is not an agency id ({ID_RULE})")
            continue
        if agency_id in seen:
            report.problems.append(f"{where}: id: {agency_id!r} is on line {seen[agency_id]} too")
            continue
        seen[agency_id] = line
        if not row.get("routing_key"):
            sector = row.get("sector")
            if not sector:
                report.problems.append(
                    f"{where}: routing_key: empty, and no sector to build it from"
                )
                continue
            if sector not in routing.SECTORS:
                report.problems.append(f"{where}: sector: {_not_a_sector(sector)}")
                continue
            row = {**row, "routing_key": routing.key_for(row["region"], sector, agency_id)}
        unrouted = routing.key_problem(row["routing_key"], row["region"], agency_id, row["name"])
        path = folder / f"{agency_id}.toml"
        try:
            if path.exists():
                changed = _update(folder, agency_id, row)
                if changed:
                    report.updated[agency_id] = changed
                else:
                    report.unchanged.append(agency_id)
            else:
                if base is None:
                    base = _base_data(folder, extends, base_path)
                doc = template(
                    agency_id,
                    extends,
                    row["name"],
                    short_name=row.get("short_name") or None,
                    region=row["region"],
                    origins=[site_origin(row["site_origin"])] if row.get("site_origin") else [],
                    routing_key=row["routing_key"],
                    topics=None if base.get("topics") else base.get("languages", ["ru"]),
                )
                _write_checked(folder, agency_id, doc)
                report.created.append(agency_id)
        except AgencyFileError as e:
            report.problems.extend(f"{where}: {problem}" for problem in e.problems)
            continue
        if unrouted:
            report.warnings.append(f"{where}: warning: routing_key: {unrouted}")
    return report


def _update(folder: Path, agency_id: str, row: dict[str, str]) -> list[str]:
    """Bring one existing file in line with its registry row; return the keys changed."""
    path = folder / f"{agency_id}.toml"
    try:
        old_text = path.read_text(encoding="utf-8")
        doc = tomlkit.parse(old_text)
    except (OSError, UnicodeDecodeError, TOMLKitError) as e:
        raise AgencyFileError(
            [f"{path}: toml: cannot update this file ({e}); fix it first"]
        ) from None
    try:  # what the agency has now, its bases included
        effective = over_bases(folder, path, doc.unwrap())
    except AgencyError as e:
        raise AgencyFileError(e.problems) from None
    changed = []
    for key in ("name", "short_name", "region", "routing_key"):
        value = row.get(key)
        if value and effective.get(key) != value:
            doc[key] = value
            changed.append(key)
    if row.get("site_origin"):
        origin = site_origin(row["site_origin"])
        origins = effective.get("embed_origins", [])
        if not isinstance(origins, list):
            raise AgencyFileError([f"{path}: embed_origins: not a list; fix it first"])
        if origin not in origins:
            listed = tomlkit.array()
            listed.extend([origin, *origins])
            doc["embed_origins"] = listed
            changed.append("embed_origins")
    if not changed:
        return []
    _write_checked(folder, agency_id, doc)
    return changed
