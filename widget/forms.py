"""The feedback form, built from an agency's configuration.

Field names are part of the public contract: topic, text, name, email, phone,
address, consent, attachments, token and the honeypot ``website``. Validation is
server-side only; the templates render every field through one macro file.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import unquote_to_bytes

from babel.lists import format_list
from babel.support import Translations
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.i18n import messages_path
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    Length,
    Regexp,
    StopValidation,
    ValidationError,
)

from . import i18n, receipts
from .agencies import WAYS, Agency

TEXT_MAX = 5000
CLASSES_CACHED = 256  # no more than agencies.registry.CACHE_SIZE: each holds its agency
CONTACT_MAX = {"name": 200, "email": 254, "phone": 40, "address": 500}
# C0 controls other than tab and newlines, DEL and the C1 controls, U+FFFD (what
# undecodable bytes become), and Unicode's noncharacters (U+FDD0-U+FDEF and the last two
# code points of every plane). HTML forbids all but U+FFFD in a page: echoed back,
# they would make the form invalid HTML.
NONCHARACTERS = "".join(chr(plane * 0x10000 + n) for plane in range(17) for n in (0xFFFE, 0xFFFF))
BAD_CHARACTERS = re.compile(
    f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffd{NONCHARACTERS}]"
)
BAD_CHARACTERS_MESSAGE = _l(
    "Мы убрали недопустимые символы из этого поля. Проверьте его и отправьте ещё раз"
)
# A single-line field (name, email, phone, address) holds one line of what can be seen:
# no line breaks, tabs or other controls (Cc, Zl, Zp), and no format characters (Cf:
# zero-width spaces and joiners, bidi marks, overrides and isolates, the byte-order
# mark). They come from a paste or a bot, never from typing, and a right-to-left
# override makes staff read "Иван<U+202E>вортеП" as "Иван Петров".
ONE_LINE_BREAKS = re.compile("[\t\n\x0b\x0c\r\x85\u2028\u2029]+")
ONE_LINE_MESSAGE = _l(
    "Мы убрали из этого поля переносы строк и невидимые символы. Проверьте его и отправьте ещё раз"
)
# The message keeps its lines, tabs and the zero-width joiners of emoji (👨‍👩‍👧) and of
# scripts that need them; it loses the bidi embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069): unbalanced, they reorder what follows them, in the
# message and in whatever staff's software shows beside it ("Trojan Source",
# CVE-2021-42574). The marks (U+200E, U+200F, U+061C) stay: they reorder nothing and
# right-to-left text needs them.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
BIDI_MESSAGE = _l(
    "Мы убрали из сообщения невидимые символы, которые меняют направление текста. "
    "Проверьте его и отправьте ещё раз"
)
# Letters that show as nothing (Hangul fillers, the blank Braille pattern): with spaces
# and format characters, what a field filled with "nothing visible" is made of.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


# Werkzeug caps each multipart text part (MAX_FORM_MEMORY_SIZE) and the number of parts
# (MAX_FORM_PARTS), but reads a url-encoded body whole, bounded only by max_content_length
# (which leaves room for attachments). MAX_URLENCODED_BYTES and MAX_FIELDS close that gap.
#
# Werkzeug reads a multipart body in chunks of 64 KiB and refuses it (413) when what it
# holds of the current part plus the next chunk is over MAX_FORM_MEMORY_SIZE, in a file
# part too: between two chunks it holds back the bytes from a CR or LF near a chunk's end,
# in case they begin the boundary. So the cap must exceed a chunk by more than a boundary
# line (at 64 KiB, the chunk size, a photo, whose bytes are random, was refused for a CR
# or LF in the last 40 bytes of any of its chunks). Beyond that it bounds the text parts
# only, which werkzeug keeps in memory. Both caps are far above what a message may be
# (TEXT_MAX: 5,000 characters, at most 20 KB of UTF-8, 60 KB percent-encoded), so that a
# citizen who pasted a long document is told so on the field, with the text kept, and
# only a body no form could produce gets the 413 page. A citizen pastes whole documents
# (640,000 letters of a complaint are 1.1 MB of UTF-8, 3.3 MB percent-encoded): those are
# read, and the whole text comes back on the form beside the field's error, for the citizen
# to shorten; cutting it to TEXT_MAX here would throw away what they typed. 8 MiB per
# request held in memory is a bound a worker can afford; the page given back holds no more.
MAX_TEXT_PART_BYTES = 8 * 1024 * 1024  # MAX_FORM_MEMORY_SIZE: 4 million Cyrillic letters
MAX_URLENCODED_BYTES = 8 * 1024 * 1024  # 1.4 million Cyrillic letters percent-encoded
MAX_FIELDS = 40  # text fields: the form has a dozen (files are counted against max_files)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def not_a_form(request) -> bool:
    """True for a body a browser's form never sends (JSON would reach flask-wtf, which
    takes any JSON value for form data and fails on anything but an object)."""
    return request.mimetype not in FORM_TYPES


def too_large(request) -> bool:
    """Cap a url-encoded body at MAX_URLENCODED_BYTES; True when it is over the cap.

    Werkzeug answers 413 itself when Content-Length says the body is too large, but it
    cuts a chunked body at the cap without a word: hence the check of what was read."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return False
    limit = min(request.max_content_length or MAX_URLENCODED_BYTES, MAX_URLENCODED_BYTES)
    request.max_content_length = limit
    return len(request.get_data(cache=True)) >= limit


def cut_short(request) -> bool:
    """True when a url-encoded body is shorter than its Content-Length: the client went
    away while sending it (gunicorn hands the app what came before the connection
    closed), so what came is not what the citizen sent. A multipart body cut short lacks
    its closing boundary, which werkzeug reads as no form at all."""
    if request.mimetype != "application/x-www-form-urlencoded" or not request.content_length:
        return False
    return len(request.get_data(cache=True)) < request.content_length


def too_many_fields(request) -> bool:
    """True when the body holds more fields than any form of ours has. Files are not
    counted: a citizen who picked too many is told so on the field (uploads.take), and
    werkzeug's MAX_FORM_PARTS bounds them."""
    return sum(1 for _ in request.form.items(multi=True)) > MAX_FIELDS


def undecodable(request) -> bool:
    """True when a url-encoded body is not valid UTF-8 (werkzeug would keep the bad
    bytes as literal %XX text, silently changing what the citizen wrote).

    Werkzeug's parse turns every byte that is not UTF-8 into a literal ``%XX``, so a
    form without ``%`` in any name or value had none: the common case costs no second
    parse. Otherwise the whole body is unquoted at once (``&`` and ``=`` are ASCII,
    which never occurs inside a UTF-8 sequence, so it is valid exactly when every
    field is).
    """
    if request.mimetype != "application/x-www-form-urlencoded":
        return False
    try:
        body = request.get_data(cache=True).decode()
    except UnicodeDecodeError:
        return True
    if not any("%" in k or "%" in v for k, v in request.form.items(multi=True)):
        return False
    try:
        unquote_to_bytes(body).decode()
    except UnicodeDecodeError:
        return True
    return False


def _invisible(char: str) -> bool:
    return char.isspace() or char in BLANK_LETTERS or unicodedata.category(char) == "Cf"


def strip_blank(value):
    """Trim spaces; a value of nothing visible (spaces, no-break spaces, zero-width and
    other invisible characters) is empty, so a required field so filled is missing."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    return "" if all(map(_invisible, value)) else value


def one_line(value: str) -> str:
    """``value`` without line breaks (each run becomes a space), controls or format
    characters (see ONE_LINE_BREAKS)."""
    value = ONE_LINE_BREAKS.sub(" ", value)
    return "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cf")).strip()


def _optional(form, field):
    """WTForms' Optional, judged on the filtered value (Optional looks at what was sent,
    so it would check a field of zero-width spaces as an email address)."""
    if not field.data:
        field.errors[:] = []
        raise StopValidation()


def unify_newlines(value):
    """Every line break as ``\n``: browsers send ``\r\n``, and a limit counts what
    the citizen sees, one character a break."""
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def _phone_digits(form, field):
    digits = sum(c.isdigit() for c in field.data or "")
    if field.data and not 6 <= digits <= 15:
        raise ValidationError(_l("Укажите номер телефона, например +7 900 123-45-67"))


@functools.lru_cache(maxsize=16)
def _wtforms_catalogue(locale: str) -> Translations:
    return Translations.load(messages_path(), [locale], domain="wtforms")


class WTFormsMessages:
    """WTForms' own messages in the request's language, each catalogue read once per
    process: flask-wtf would read and parse the .mo file again on every request that
    builds a form, and the file changes only with a release."""

    def gettext(self, string: str) -> str:
        return _wtforms_catalogue(i18n.current()).gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalogue(i18n.current()).ngettext(singular, plural, n)


WTFORMS_MESSAGES = WTFormsMessages()


CONSENT_LABEL = _l("Даю согласие на обработку персональных данных")


class FeedbackForm(FlaskForm):
    """What every agency's form has. ``for_agency`` adds the agency's own fields."""

    class Meta:
        csrf = False  # our signed, single-use form token replaces the session-based CSRF

        def get_translations(self, form):
            return WTFORMS_MESSAGES

    agency: Agency
    contact_fields: tuple[str, ...] = ()

    text = TextAreaField(
        _l("Ваше сообщение"),
        filters=[strip_blank, unify_newlines],
        validators=[
            DataRequired(_l("Напишите сообщение")),
            Length(max=TEXT_MAX, message=_l("Сообщение должно быть не длиннее 5000 символов")),
        ],
    )
    consent = BooleanField(CONSENT_LABEL)
    website = StringField(_l("Оставьте это поле пустым"))  # the honeypot
    token = HiddenField()
    # The receipt of an earlier message whose answer did not solve the question; a
    # value that is no receipt is dropped (it is ours, never typed).
    follows = HiddenField(filters=[lambda v: receipts.normalize(v) if v else None])

    # The fieldset of the contact fields: the "how to reach you" rule's error is its own,
    # not that of the field that happens to come first (GOV.UK: errors on a group).
    contact_errors: tuple[str, ...] = ()

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and BAD_CHARACTERS.search(field.data):
                field.data = BAD_CHARACTERS.sub("", field.data)  # never echo them back
                field.errors = [BAD_CHARACTERS_MESSAGE]
                valid = False
        for name in self.contact_fields:
            field = self[name]
            if field.data and one_line(field.data) != field.data:
                field.data = one_line(field.data)
                field.errors = [ONE_LINE_MESSAGE]
                valid = False
        if BIDI_CONTROLS.search(self.text.data or ""):
            self.text.data = BIDI_CONTROLS.sub("", self.text.data)
            self.text.errors = [BIDI_MESSAGE]
            valid = False
        self.contact_errors = ()
        if (
            not self.agency.contact.anonymous
            and self.ways
            and not self.ways_given()
            and not any(self[f].errors for f in self.ways)
        ):
            self.contact_errors = (
                _("Укажите %(ways)s, чтобы получить ответ", ways=ways_phrase(self.ways)),
            )
            valid = False
        if self.contact() and not self.consent.data:
            self.consent.errors = [
                _l("Отметьте согласие на обработку персональных данных, чтобы мы могли ответить")
            ]
            valid = False
        return valid

    @property
    def ways(self) -> tuple[str, ...]:
        """The contact fields shown that are a way to answer (WAYS)."""
        return tuple(f for f in WAYS if f in self.contact_fields)

    def ways_given(self) -> tuple[str, ...]:
        """Which ways to answer the citizen filled in (their kinds, never the values)."""
        return tuple(f for f in self.ways if self[f].data)

    @property
    def accepts_files(self) -> bool:
        return "attachments" in self

    @property
    def honeypot_filled(self) -> bool:
        return bool(self.website.data)

    def contact(self) -> dict[str, str]:
        return {f: self[f].data for f in self.contact_fields if self[f].data}


CONTACT_LABELS = {
    "name": _l("Имя"),
    "email": _l("Электронная почта"),
    "phone": _l("Телефон"),
    "address": _l("Адрес"),
}
CONTACT_MESSAGES = {
    "name": _l("Укажите имя"),
    "email": _l("Укажите электронную почту"),
    "phone": _l("Укажите телефон"),
    "address": _l("Укажите адрес"),
}


# The ways to answer, as the object of "укажите …": in the sentences that say which
# contact fields are a way to answer.
WAY_WORDS = {
    "email": _l("электронную почту"),
    "phone": _l("телефон"),
    "address": _l("адрес"),
}


def ways_phrase(ways) -> str:
    """ "электронную почту, телефон или адрес": the ways named, in the page's language."""
    return format_list([str(WAY_WORDS[w]) for w in ways], style="or", locale=get_locale())


def _contact_field(name: str, mode: str):
    validators = [
        DataRequired(CONTACT_MESSAGES[name]) if mode == "required" else _optional,
        Length(max=CONTACT_MAX[name], message=_l("Слишком длинное значение")),
    ]
    if name == "email":
        validators.append(
            Email(_l("Укажите электронную почту в формате name@example.ru"), granular_message=False)
        )
    if name == "phone":
        validators += [
            Regexp(
                r"^[0-9+()\s.-]*$", message=_l("Укажите номер телефона, например +7 900 123-45-67")
            ),
            _phone_digits,
        ]
    return StringField(CONTACT_LABELS[name], filters=[strip_blank], validators=validators)


# A class costs about 10 kB and is needed to render a blank form (cached on its own, see
# web/pages.py) and for each submission: the agencies written to most recently suffice.
@functools.lru_cache(maxsize=CLASSES_CACHED)
def for_agency(agency: Agency, lang: str) -> type[FeedbackForm]:
    """The form class for one agency in one language (cached: classes are costly)."""
    shown = tuple(agency.contact.shown())
    attrs = {
        "agency": agency,
        "contact_fields": shown,
        "topic": RadioField(
            _l("Тема сообщения"),
            choices=[SelectChoice(t.id, t.title_in(lang)) for t in agency.topics],
            filters=[strip_blank],
            validators=[
                DataRequired(_l("Выберите тему сообщения")),
                AnyOf([t.id for t in agency.topics], message=_l("Выберите тему из списка")),
            ],
            validate_choice=False,
        ),
    }
    for name in shown:
        attrs[name] = _contact_field(name, getattr(agency.contact, name))
    if agency.attachments.max_files:
        attrs["attachments"] = MultipleFileField(_l("Фотографии или документы"))
    return type(f"FeedbackForm_{agency.id}", (FeedbackForm,), attrs)
