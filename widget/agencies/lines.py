"""Where a problem of an agency file is: the file that sets the key, and its line.

Lines are found by scanning the TOML text (``key_lines``): the parsers keep no
positions, and a file that reached validation is valid TOML, so the scan can be short.
A problem is written as a line the way compilers write them (``Problem.text``), so that
editors can jump to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import tomli

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


def in_order(found: list[Problem], where: Locator) -> list[Problem]:
    """Problems before warnings; each in the order of the files' lines, the agency's first."""
    return sorted(
        found, key=lambda p: (p.warning, p.path != where.agency_path, str(p.path), p.line or 0)
    )


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
