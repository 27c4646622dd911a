"""What is wrong with an agency file, in plain words and at its line.

The schema (agencies.py) is checked by pydantic, whose messages are written for
programmers ("String should match pattern '^#[0-9a-fA-F]{6}$'"). Agency staff get
instead what is needed and what was written ("a colour like #0d4cd3 is needed, got
'blue'"), a guess for a misspelt key, and the line of the file to edit: the agency's
own, or the base's when the value comes from a base.

Lines are found by scanning the TOML text (``key_lines``): the parsers keep no
positions, and a file that reached validation is valid TOML, so the scan can be short.
"""

from __future__ import annotations

import contextlib
import difflib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import tomli
from pydantic import BaseModel, ValidationError

from . import routing

Loc = tuple[str | int, ...]


class Problem(NamedTuple):
    path: Path  # the file to edit
    line: int | None  # its line, from 1, when known
    field: str  # such as "theme.accent"
    message: str
    warning: bool = False  # served as it is, but likely a mistake

    def text(self, shown: Callable[[Path], str] = str) -> str:
        """``path[:line]: field: message``, or ``path[:line]: warning: field: message``
        (the way compilers write them, so that editors can jump to the line)."""
        where = shown(self.path) + (f":{self.line}" if self.line else "")
        return f"{where}: {'warning: ' if self.warning else ''}{self.field}: {self.message}"


def is_warning(line: str) -> bool:
    """Whether a line that ``Problem.text`` wrote is a warning."""
    return line.partition(": ")[2].startswith("warning: ")


def loc_of(field: str) -> Loc:
    """The location a field name such as ``topics.0.title.en`` names."""
    return tuple(int(part) if part.isdigit() else part for part in field.split("."))


# --- the words -------------------------------------------------------------------------

# What a string field must look like, by the field's name ("[key]": a language as a key).
PATTERNS = {  # (an example ends with a comma: "…, such as "57", is needed")
    "accent": "a colour like #0d4cd3",
    "logo": "a file name in the logos folder ending .svg, .png or .jpg, such as orel-city.svg,",
    "region": 'a region code of 2 or 3 digits, such as "57",',
    "id": 'an id of lower-case Latin letters, digits, - and _, such as "food",',
    "routing_key": 'Latin letters, digits, ".", "_" and "-", such as "57.education.school-1",',
    "languages": 'a language code of 2 or 3 lower-case letters, such as "ru",',
    "[key]": 'a language code of 2 or 3 lower-case letters, such as "ru",',
}
# What a required key looks like, for "missing" (routing_key: the agency's own, ``_example``).
EXAMPLES = {
    "name": 'name = "МБОУ «Средняя школа № 1»"',
    "region": 'region = "57"',
    "topics": '[[topics]] with id = "other" and title = "Другое"',
    "id": 'id = "food"',
    "title": 'title = "Питание"',
}
# What a value of the wrong type should have been.
NEEDED = {
    "string_type": "text in quotes",
    "int_type": "a whole number (without quotes)",
    "int_parsing": "a whole number (without quotes)",
    "int_from_float": "a whole number (without quotes)",
    "float_type": "a number (without quotes)",
    "float_parsing": "a number (without quotes)",
    "bool_type": "true or false (without quotes)",
    "bool_parsing": "true or false (without quotes)",
    "list_type": 'a list in square brackets, such as ["…", "…"],',
    "url_type": "a web address such as https://school.example.ru/privacy",
    "url_parsing": "a web address such as https://school.example.ru/privacy",
    "url_scheme": "a web address starting with https://",
    "url_syntax_violation": "a web address such as https://school.example.ru/privacy",
}
TABLE_TYPES = ("dict_type", "model_type", "model_attributes_type")


def problems(
    error: ValidationError, data: dict, model: type[BaseModel], where: Locator
) -> list[Problem]:
    """The problems of ``data`` (an agency file merged over its bases) that ``error``
    found, each at the file and line ``where`` finds for it."""
    return in_order([where.problem(loc, m) for loc, m in describe(error, data, model)], where)


def in_order(found: list[Problem], where: Locator) -> list[Problem]:
    """Problems before warnings; each in the order of the files' lines, the agency's first."""
    return sorted(
        found, key=lambda p: (p.warning, p.path != where.agency_path, str(p.path), p.line or 0)
    )


def describe(error: ValidationError, data: dict, model: type[BaseModel]) -> list[tuple[Loc, str]]:
    """(location, plain words) for each of pydantic's errors; the errors of one value
    that may take several forms (a title: text or a table) become one."""
    groups: dict[Loc, list[tuple[int, dict]]] = {}  # by the value the errors are about
    for err in error.errors():
        loc, union_at = _clean(err["loc"], data, err["type"])
        key = loc[:union_at] if union_at is not None else (*loc, "#", len(groups))
        groups.setdefault(key, []).append((len(loc), {**err, "loc": loc}))
    result = []
    for group in groups.values():
        deepest = max(depth for depth, _ in group)
        # text first: "text in quotes, or a table …" reads better than the other way round
        errs = sorted(
            (err for depth, err in group if depth == deepest),
            key=lambda err: err["type"] != "string_type",
        )
        if len(errs) > 1 and all(_needed(err) for err in errs):
            words = ", or ".join(_needed(err).rstrip(",") for err in errs)
            result.append((errs[0]["loc"], f"{words}, is needed, got {_shown(errs[0]['input'])}"))
        else:
            result.extend((err["loc"], _words(err, data, model)) for err in errs)
    return result


def _clean(loc: tuple, data: object, kind: str) -> tuple[Loc, int | None]:
    """``loc`` without the names pydantic gives the forms of a union ("constrained-str",
    "dict[…]"), which are not keys; and where the first of them was, if any."""
    cleaned: list[str | int] = []
    union_at = None
    value = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if part == "[key]":
            cleaned.append(part)
        elif (isinstance(value, dict) and part in value) or (
            isinstance(value, list) and isinstance(part, int) and part < len(value)
        ):
            cleaned.append(part)
            value = value[part]
        elif last and kind == "missing":
            cleaned.append(part)
        elif union_at is None:
            union_at = len(cleaned)
    return tuple(cleaned), union_at


def _needed(err: dict) -> str | None:
    if err["type"] in NEEDED:
        return NEEDED[err["type"]]
    if err["type"] in TABLE_TYPES:
        name = _name(err["loc"])
        if name == "title":
            return 'a table of texts by language such as { ru = "…", en = "…" }'
        return f"a table ([{name}] on a line of its own)"
    return None


def _words(err: dict, data: dict, model: type[BaseModel]) -> str:
    kind, loc, got, ctx = err["type"], err["loc"], err["input"], err.get("ctx") or {}
    name = _name(loc)
    if kind == "missing":
        example = _example(name, data)
        return f"missing; add it, such as {example}" if example else "missing; it is required"
    if kind == "extra_forbidden":
        return _unknown(str(loc[-1]), _keys_at(model, loc[:-1]))
    if kind == "string_pattern_mismatch":
        looks = PATTERNS.get("[key]" if "[key]" in loc else name)
        if looks:
            return f"{looks} is needed, got {_shown(got)}"
        return f"{_shown(got)} does not have the form needed here ({ctx.get('pattern')})"
    if kind == "literal_error":
        return f"one of {ctx['expected']} is needed, got {_shown(got)}"
    if kind == "string_too_short":
        return "empty; write the text or remove the key"
    if kind == "string_too_long":
        return f"too long: {len(got)} characters, at most {ctx['max_length']}"
    if kind == "too_short":
        if not got:
            return "an empty list; at least one is needed"
        return f"{len(got)} given, at least {ctx['min_length']} needed"
    if kind == "too_long":
        return f"{len(got)} given, at most {ctx['max_length']}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{_shown(got)} is too small: at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{_shown(got)} is too large: at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "value_error":  # our own validators' messages are plain already
        return str(ctx.get("error", err["msg"]))
    needed = _needed(err)
    if needed:
        return f"{needed} is needed, got {_shown(got)}"
    return err["msg"]  # a kind the schema cannot raise today: pydantic's words beat none


def _name(loc: Loc) -> str:
    """The name of the key at ``loc``: its last name, not an index or a language key."""
    names = [part for part in loc if isinstance(part, str) and part != "[key]"]
    return names[-1] if names else ""


def _example(name: str, data: dict) -> str | None:
    if name == "routing_key":  # this agency's own key, as far as the file tells it
        region = data.get("region") if isinstance(data.get("region"), str) else "<region>"
        sector = routing.sector_from_name(str(data.get("name", ""))) or "<sector>"
        return f'routing_key = "{routing.key_for(region, sector, data["id"])}"'
    return EXAMPLES.get(name)


def _unknown(key: str, known: list[str]) -> str:
    guess = difflib.get_close_matches(key.lower().replace("-", "_"), known, n=1, cutoff=0.6)
    if guess:
        return f"unknown key; did you mean {guess[0]}?"
    if known:
        return f"unknown key; the keys here are {', '.join(known)}"
    return "unknown key"


def _keys_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the schema allows at ``loc`` (a table of the file)."""
    annotation: object = model
    for part in loc:
        annotation = _inner(annotation, part)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _inner(annotation: object, part: str | int) -> object:
    """The type of ``annotation``'s member ``part``: a model's field, a list's item, a
    dict's value (through Annotated, and through unions, taking the first that has one)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _inner(typing.get_args(annotation)[0], part)
    if origin in (typing.Union, types.UnionType):
        for member in typing.get_args(annotation):
            found = _inner(member, part)
            if found is not None:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field else None
    if origin is list and isinstance(part, int):
        return typing.get_args(annotation)[0]
    if origin is dict:
        return typing.get_args(annotation)[1]
    return None


def _shown(value: object) -> str:
    """A value as the reader wrote it, shortened: 'blue', 57, true, a list, a table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "…")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


# --- the lines --------------------------------------------------------------------------


class Locator:
    """Finds, for a key, the file that sets it and its line. ``files``: the agency's file
    and then its bases, nearest first, as they are merged. ``unwritten``: the text of the
    agency's file when it is not on disk yet (a tool checks it before writing it); its
    keys are then told apart from the bases', but have no line."""

    def __init__(self, files: list[Path], agency_path: Path, unwritten: str | None = None):
        self.agency_path = agency_path
        self.files = files
        self.unwritten = unwritten
        self._lines: dict[Path, dict[Loc, int]] = {}
        if unwritten is not None:
            self._lines[agency_path] = key_lines(unwritten)

    def problem(self, loc: Loc, message: str, warning: bool = False) -> Problem:
        loc = tuple(part for part in loc if part != "[key]")
        path, line = self.where(loc)
        if path != self.agency_path:
            message += f" ({self.agency_path.name} gets it from this base)"
        if path == self.agency_path and self.unwritten is not None:
            line = None
        field = ".".join(str(part) for part in loc) or "(file)"
        return Problem(path, line, field, message, warning)

    def where(self, loc: Loc) -> tuple[Path, int | None]:
        """The file and line of ``loc``. A key is in the first file that sets it; a list
        (such as topics) comes whole from one file, so a problem inside it does too;
        anything else missing is to be added to the agency's own file, in the table
        it has already, if any."""
        for size in range(len(loc), 0, -1):
            prefix = loc[:size]
            whole = size == len(loc) or isinstance(loc[size], int) or isinstance(prefix[-1], int)
            if not whole:
                continue
            for path in self.files:
                line = self.lines(path).get(prefix)
                if line is not None:
                    return path, line
        own = self.lines(self.agency_path) if self.agency_path in self.files else {}
        for size in range(len(loc) - 1, 0, -1):
            if loc[:size] in own:
                return self.agency_path, own[loc[:size]]
        return self.agency_path, None

    def lines(self, path: Path) -> dict[Loc, int]:
        if path not in self._lines:
            try:
                self._lines[path] = key_lines(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                self._lines[path] = {}
        return self._lines[path]


def key_lines(text: str) -> dict[Loc, int]:
    """The line (from 1) of every table, key and array item of a TOML text, by path:
    ``("theme",)`` for ``[theme]``, ``("topics", 1, "title")`` for the title of the
    second ``[[topics]]``, ``("attachments", "types", 0)`` for a list's first item.
    Assumes valid TOML (the parser has read it already); stops quietly where it is not."""
    scan = _Scanner(text)
    with contextlib.suppress(IndexError, ValueError):
        scan.document()
    return scan.lines


class _Scanner:
    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.line = 1
        self.lines: dict[Loc, int] = {}
        self.tables: dict[Loc, int] = {}  # arrays of tables: how many so far

    def document(self) -> None:
        table: Loc = ()
        while True:
            self.space(newlines=True)
            if self.i >= len(self.text):
                return
            if self.text[self.i] == "[":
                table = self.header()
            else:
                keys = self.key()
                for size in range(1, len(keys) + 1):
                    self.lines.setdefault(table + keys[:size], self.line)
                self.space()
                self.i += 1  # "="
                self.space()
                self.value(table + keys)

    def header(self) -> Loc:
        many = self.text.startswith("[[", self.i)
        self.i += 2 if many else 1
        keys = self.key()
        self.i += 2 if many else 1
        path: Loc = ()
        for index, key in enumerate(keys):
            path += (key,)
            if many and index == len(keys) - 1:
                self.lines.setdefault(path, self.line)
                count = self.tables.get(path, 0)
                self.tables[path] = count + 1
                path += (count,)
            elif path in self.tables:
                path += (self.tables[path] - 1,)
            self.lines.setdefault(path, self.line)
        return path

    def key(self) -> Loc:
        parts: list[str] = []
        while True:
            self.space()
            char = self.text[self.i]
            if char in "\"'":
                start = self.i
                self.string()
                parts.append(_unquote(self.text[start : self.i]))
            else:
                start = self.i
                while self.text[self.i].isalnum() or self.text[self.i] in "_-":
                    self.i += 1
                parts.append(self.text[start : self.i])
            self.space()
            if self.text[self.i] != ".":
                return tuple(parts)
            self.i += 1

    def value(self, path: Loc) -> None:
        char = self.text[self.i]
        if char in "\"'":
            self.string()
        elif char == "[":
            self.i += 1
            index = 0
            while True:
                self.space(newlines=True)
                if self.text[self.i] == "]":
                    self.i += 1
                    return
                if self.text[self.i] == ",":
                    self.i += 1
                    index += 1
                    continue
                self.lines.setdefault((*path, index), self.line)
                self.value((*path, index))
        elif char == "{":
            self.i += 1
            while True:
                self.space()
                if self.text[self.i] == "}":
                    self.i += 1
                    return
                if self.text[self.i] == ",":
                    self.i += 1
                    continue
                keys = self.key()
                for size in range(1, len(keys) + 1):
                    self.lines.setdefault(path + keys[:size], self.line)
                self.i += 1  # "="
                self.space()
                self.value(path + keys)
        else:  # a number, a date, true or false
            while self.i < len(self.text) and self.text[self.i] not in ",]}\n#":
                self.i += 1

    def string(self) -> None:
        quote = self.text[self.i]
        triple = self.text.startswith(quote * 3, self.i)
        self.i += 3 if triple else 1
        while True:
            char = self.text[self.i]
            if char == "\\" and quote == '"':
                self.i += 2
                continue
            if char == "\n":
                self.line += 1
            if char == quote and (not triple or self.text.startswith(quote * 3, self.i)):
                self.i += 3 if triple else 1
                while triple and self.i < len(self.text) and self.text[self.i] == quote:
                    self.i += 1  # up to two quotes may end the text itself
                return
            self.i += 1

    def space(self, newlines: bool = False) -> None:
        """Skip spaces and comments, and line ends with ``newlines``."""
        while self.i < len(self.text):
            char = self.text[self.i]
            if char == "#":
                while self.i < len(self.text) and self.text[self.i] != "\n":
                    self.i += 1
            elif char == "\n" and newlines:
                self.line += 1
                self.i += 1
            elif char in " \t\r" or (char == "\n" and newlines):
                self.i += 1
            else:
                return


def _unquote(quoted: str) -> str:
    return tomli.loads(f"k = {quoted}")["k"]
