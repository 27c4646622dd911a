"""Languages: which one a page is in, and the gettext catalogues behind it.

The source strings are Russian (the service's own language); other languages are
catalogues in widget/translations/<lang>/LC_MESSAGES/messages.po, compiled to .mo.
A page's language is ``?lang=`` when the agency lists it, else the browser's
preference among the agency's languages when the agency allows that, else the
agency's first language.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Request, g
from flask_babel import Babel
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

if TYPE_CHECKING:
    from .agencies.schema import Agency

SOURCE_LANGUAGE = "ru"
# Each language's name in that language, for the language switch.
NAMES = {"ru": "Русский", "en": "English", "tt": "Татарча", "ba": "Башҡортса"}
# Each language's Open Graph locale (language_TERRITORY, as link previews expect). English
# is British: the catalogue is written in British spelling ("organisation").
OG_LOCALES = {"ru": "ru_RU", "en": "en_GB", "tt": "tt_RU", "ba": "ba_RU"}
# The Babel locale that formats each language's dates and lists, where the bare language
# would format them otherwise: Babel's "en" is American ("December 8, 2026", the Oxford
# comma), the catalogue British. Its catalogue is still found: gettext falls back from
# en_GB to en.
FORMATS = {"en": "en_GB"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


@functools.cache
def catalogued() -> frozenset[str]:
    """The languages with a catalogue, plus the source language."""
    found = {p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")}
    return frozenset(found | {SOURCE_LANGUAGE})


def choose(agency: Agency, req: Request) -> str:
    """The language of the page: ``?lang=``, else the browser's (when the agency lets it
    choose), else the agency's."""
    if req.query_string:  # most pages have none: do not parse one
        asked = req.args.get("lang")
        if asked in agency.languages:
            return asked
    if agency.browser_language:
        best = _browser_choice(req.environ.get("HTTP_ACCEPT_LANGUAGE", ""), tuple(agency.languages))
        if best:
            return best
    return agency.language


def choose_unread(stated: tuple[str, ...], req: Request) -> str:
    """The language of a page about an agency whose file cannot be read: ``?lang=`` when
    the widget speaks it, else the first language the file states that it speaks."""
    asked = req.args.get("lang")
    if asked in catalogued():
        return asked
    return next((lang for lang in stated if lang in catalogued()), SOURCE_LANGUAGE)


@functools.lru_cache(maxsize=1024)
def _browser_choice(accept_language: str, languages: tuple[str, ...]) -> str | None:
    """The browser's preference among ``languages``: remembered, since browsers send a
    handful of distinct headers and the answer for one never changes."""
    return parse_accept_header(accept_language, LanguageAccept).best_match(languages)


def current() -> str:
    return g.get("lang", SOURCE_LANGUAGE)


def name(code: str) -> str:
    return NAMES.get(code, code)


def formatting_locale(code: str | None = None) -> str:
    """The Babel locale for dates and lists in ``code`` (the page's language by default)."""
    code = code or current()
    return FORMATS.get(code, code)


def og_locale(code: str) -> str:
    return OG_LOCALES.get(code, code)


def init_app(app) -> None:
    app.jinja_env.globals["language_name"] = name
    app.jinja_env.globals["og_locale"] = og_locale
    Babel(
        app,
        locale_selector=formatting_locale,
        default_locale=SOURCE_LANGUAGE,
        default_translation_directories=str(TRANSLATIONS),
    )
