"""The check of agency files (``flask agencies check``): what serving needs, and what
serving forgives but citizens would notice, in plain words with file and line."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from pathlib import Path

import tomli as toml
from pydantic import ValidationError

from .. import i18n, logos, routing
from .lines import Locator, in_order, loc_of
from .reading import (
    AgencyError,
    AgencyNotFound,
    BaseCache,
    Reading,
    all_ids,
    loaded,
    schema_problems,
    shown,
)
from .schema import AGENCY_ID, ID_RULE, Agency

MIN_CONTRAST = 4.5  # WCAG 2.2 AA, 1.4.3, for normal text
TEXT_KEYS = ("intro", "consent", "success", "description")
PARALLEL_FROM = 400  # fewer files than this are checked in this process


def check(folder: Path, ids: list[str] | None = None, workers: int | None = None) -> list[str]:
    """Validate agency files (all, or ``ids``); return their problems as
    ``path[:line]: field: message`` lines, in the order of the ids, with the line when
    it is known (of the base, when the key comes from one), and in plain words.

    Beyond what serving needs (the schema, ``extends``, origins, unique topics), it finds
    what serving forgives: an ``id`` key that differs from the file name, files whose
    names are not agency ids (never served), an accent colour too pale for white text,
    and texts or topic titles missing in a listed language. A routing key that the
    documented bindings would miss is a warning (``path:line: warning: field: message``,
    see ``lines.is_warning``), not a problem. Large sets are checked on all
    cores (``workers`` processes, default: one per core).
    """
    problems = misnamed(folder) if ids is None else []
    ids = all_ids(folder) if ids is None else ids
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(ids) < PARALLEL_FROM:
        return problems + _check_many(folder, ids)
    size = max(100, len(ids) // (workers * 8))
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    # spawn, not fork: forking a process that has threads (a server, a test runner) can
    # deadlock, and Python 3.12+ warns about it.
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=spawn) as pool:
        for found in pool.map(_check_many, [folder] * len(chunks), chunks):
            problems.extend(found)
    return problems


def _check_many(folder: Path, ids: list[str]) -> list[str]:
    bases = BaseCache()
    problems = []
    for agency_id in ids:
        problems.extend(check_one(folder, agency_id, bases))
    return problems


def problems_of(folder: Path, agency_id: str, text: str, lint: bool = True) -> list[str]:
    """What would be wrong with ``text`` as the file ``<agency_id>.toml``, before it is
    written (for tools that write agency files): the schema's problems, or else (with
    ``lint``) the check's. Lines are ``path: field: message`` (a base's with its line)."""
    path = folder / f"{agency_id}.toml"
    reading = Reading(folder, BaseCache())
    try:
        merged = reading.over_bases(path, toml.loads(text))
        data = {**{k: v for k, v in merged.items() if k != "extends"}, "id": agency_id}
        agency = Agency.model_validate(data)
    except AgencyError as e:
        return e.problems
    except ValidationError as e:
        where = Locator([path, *reading.sources()], path, unwritten=text)
        return schema_problems(e, data, where)
    return [f"{shown(path)}: {problem}" for problem in lint_agency(agency)] if lint else []


def check_one(folder: Path, agency_id: str, bases: BaseCache | None = None) -> list[str]:
    """The problems of one agency file (see ``check``)."""
    path = folder / f"{agency_id}.toml"
    if not AGENCY_ID.fullmatch(agency_id):
        return [f"{shown(path)}: file: {agency_id!r} is not an agency id ({ID_RULE})"]
    try:
        found = loaded(folder, agency_id, bases or BaseCache())
    except AgencyNotFound:
        return [f"{shown(path)}: file: no such agency file"]
    except AgencyError as e:
        return e.problems
    agency, stated_id = found.agency, found.stated_id
    problems = []
    if stated_id is not None and stated_id != agency_id:
        problems.append(
            f"id: is {stated_id!r}, but the file is named {path.name}; the file name is the id "
            "(remove the key or rename the file)"
        )
    problems.extend(lint_agency(agency))
    if agency.theme.logo:
        try:
            logos.load(folder.parent, agency.theme.logo)
        except logos.LogoError as e:
            problems.append(f"theme.logo: {e}; the form is shown without it")
    where = Locator(found.sources, path)
    found = []
    for problem in problems:
        field, _, message = problem.partition(": ")
        found.append(where.problem(loc_of(field), message))
    unrouted = routing.key_problem(agency.routing_key, agency.region, agency_id, agency.name)
    if unrouted:
        found.append(where.problem(("routing_key",), unrouted, warning=True))
    return [problem.text(shown) for problem in in_order(found, where)]


def misnamed(folder: Path) -> list[str]:
    """Files in the agencies folder that look like agency files but are never served."""
    problems = []
    for entry in os.scandir(folder):
        stem, dot, suffix = entry.name.rpartition(".")
        if not dot or suffix.lower() != "toml" or not entry.is_file():
            continue
        if suffix != "toml" or not AGENCY_ID.fullmatch(stem):
            problems.append(
                f"{shown(Path(entry.path))}: file: never served, the name is not "
                f"<agency-id>.toml ({ID_RULE})"
            )
    return sorted(problems)


def lint_agency(agency: Agency) -> list[str]:
    """``field: message`` lines for what serving forgives but citizens would notice."""
    problems = []
    ratio = contrast(agency.theme.accent, "#ffffff")
    if ratio < MIN_CONTRAST:
        problems.append(
            f"theme.accent: {agency.theme.accent} on white has contrast {ratio:.2f}:1, "
            f"below {MIN_CONTRAST}:1 (WCAG 2.2 AA): buttons and links would be hard to "
            "read; choose a darker colour"
        )
    languages = agency.languages
    for key in TEXT_KEYS:
        have = [
            lang for lang in languages if lang in agency.texts and getattr(agency.texts[lang], key)
        ]
        if have:
            for lang in languages:
                if lang not in have:
                    problems.append(
                        f"texts.{lang}.{key}: missing, but given for {', '.join(have)}; "
                        f"every listed language ({', '.join(languages)}) needs it"
                    )
    for index, topic in enumerate(agency.topics):
        if isinstance(topic.title, str):
            if len(languages) > 1:
                problems.append(
                    f"topics.{index}.title: topic {topic.id!r} has one title for "
                    f"{len(languages)} languages; give one per language, such as "
                    f"title = {{ {', '.join(f'{lang} = ...' for lang in languages)} }}"
                )
            continue
        for lang in languages:
            if lang not in topic.title:
                problems.append(
                    f"topics.{index}.title.{lang}: topic {topic.id!r} has no title in {lang}"
                )
    problems.extend(consent_problems(agency))
    if len(set(languages)) != len(languages):
        problems.append("languages: a language is listed twice")
    for lang in dict.fromkeys(languages):
        if lang not in i18n.catalogued():
            problems.append(
                f"languages: the widget has no translation into {lang!r}: its own words "
                f"(labels, buttons, error messages) would be Russian on the {lang} page; "
                "remove it, or add the translation (docs/languages.md)"
            )
    return problems


CONSENT_SLOTS = ("{data}", "{operator}")


def consent_problems(agency: Agency) -> list[str]:
    """An agency's own consent wording must say {data} and {operator}, which the form
    fills in with the personal data it asks for and the agency's name: written out by
    hand, the list goes stale when [contact] changes (152-FZ, art. 9)."""
    problems = []
    for lang, texts in agency.texts.items():
        missing = [slot for slot in CONSENT_SLOTS if texts.consent and slot not in texts.consent]
        if missing and agency.contact.shown():
            problems.append(
                f"texts.{lang}.consent: write {' and '.join(missing)} into the wording: the "
                "form puts there the personal data it asks for and the operator (the agency's "
                "name), so the consent always says what is collected and by whom"
            )
    return problems


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(colour: str) -> float:
    channels = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
