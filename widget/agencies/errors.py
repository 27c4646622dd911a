"""What is wrong with an agency file, in plain words.

The schema (schema.py) is checked by pydantic, whose messages are written for
programmers ("String should match pattern '^#[0-9a-fA-F]{6}$'"). Agency staff get
instead what is needed and what was written ("a colour like #0d4cd3 is needed, got
'blue'"), a guess for a misspelt key, and the line of the file to edit (``lines``): the
agency's own, or the base's when the value comes from a base.
"""

from __future__ import annotations

import difflib
import types
import typing

from pydantic import BaseModel, ValidationError

from .. import routing
from .lines import Loc, Locator, Problem, in_order

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
