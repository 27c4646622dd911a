"""The widget's pages: the form (in an iframe or standalone) and the done page.
These routes set no cookie and run no script."""

from __future__ import annotations

import functools
import hashlib
import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from babel import localedata
from babel.lists import format_list
from babel.support import Translations
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import (
    agencies,
    events,
    forms,
    i18n,
    metrics,
    outbox,
    receipts,
    tokens,
)
from ..agencies import Agency
from . import errors, limits, security, theme, uploads

log = logging.getLogger(__name__)
bp = Blueprint("widget", __name__)
bp.before_request(limits.count_page_view)

CHANNEL = {"embed": "embed", "f": "page"}  # the URL's first part: the message's channel


def N_(message: str) -> str:
    """Marks a string for translation (pybabel finds ``N_``); translated where used."""
    return message


# The default consent (152-FZ, art. 9): {data} becomes the personal data the form asks
# for, {operator} the agency's full name. An agency's own wording may use them too.
DEFAULT_CONSENT = N_(
    "Я даю согласие на обработку моих персональных данных, указанных в этой форме "
    "({data}), чтобы организация рассмотрела моё сообщение и ответила мне. Оператор "
    "персональных данных — {operator}. Согласие действует до достижения этой цели; я могу "
    "отозвать его, написав оператору."
)
CONSENT_DATA = {
    "name": N_("имя"),
    "email": N_("адрес электронной почты"),
    "phone": N_("номер телефона"),
    "address": N_("почтовый адрес"),
}
# One message for every token problem (forged, foreign, too old, too young): a bot learns
# nothing about which check caught it, and a citizen who was too slow or too fast only
# needs to press Submit again (their text is kept, the token is fresh).
TOKEN_MESSAGE = _l("Не получилось отправить форму. Проверьте сообщение и отправьте его ещё раз.")
# Stands in for the form token in a cached blank form (URL-safe, so never escaped).
TOKEN_SLOT = "otklik-token-slot-5e0c7d1a"
TOKEN_SLOT_BYTES = TOKEN_SLOT.encode()
BLANK_FORMS_CACHED = 1024  # (agency, language, layout, logo, prefix) pages kept per worker
UNAVAILABLE_MESSAGE = _l(
    "Сейчас мы не можем принять сообщение. Ваш текст остался в форме: попробуйте отправить "
    "его ещё раз через несколько минут."
)


def load_agency(agency_id: str) -> Agency:
    """The agency, or the 404 / 503 page (raised, and mapped in errors.py).

    On the form page's path each of Flask's context proxies (``request``, ``current_app``,
    ``g``) is resolved once with ``_get_current_object()``: every attribute read through
    a proxy costs a microsecond, and the page made twenty such reads."""
    agency = agencies.load(agency_id)
    req = request._get_current_object()
    security.shows_agency(req.environ, agency)
    g.lang = i18n.choose(agency, req)
    return agency


def page_url(endpoint: str, agency: Agency, **values) -> str:
    """A URL of one of this agency's pages that keeps the page's language."""
    if g.lang != agency.language:
        values["lang"] = g.lang
    return url_for(endpoint, agency_id=agency.id, **values)


def embedding_origin(agency: Agency, referrer: str | None) -> str | None:
    """The listed origin whose page framed the form, read from the Referer of the GET."""
    if not referrer:
        return None
    parts = urlsplit(referrer)
    origin = f"{parts.scheme}://{parts.netloc}"
    return origin if origin in agency.embed_origins else None


@functools.lru_cache(maxsize=16)
def _catalogue(lang: str) -> Translations:
    """The widget's own catalogue for ``lang`` (its source strings for Russian, or for
    a language without one), whatever language the page is in."""
    return Translations.load(str(i18n.TRANSLATIONS), [lang])


def consent_text(agency: Agency, lang: str) -> tuple[str, str]:
    """The consent's words and their version on a form of ``agency`` in ``lang``: the
    one place that decides both, for the page and for the record, so the version
    recorded is always that of the words shown.

    The agency's wording in ``lang``, else in its first language, with the version
    given beside that wording (else a hash of the words); else the default wording in
    ``lang``, whose version changes whenever the default words do.
    """
    for words_lang in dict.fromkeys((lang, agency.language)):
        texts = agency.texts.get(words_lang)
        if texts is not None and texts.consent:
            text = _fill_consent(texts.consent, agency, _catalogue(words_lang), words_lang)
            return text, texts.consent_version or hashlib.sha256(text.encode()).hexdigest()[:12]
    words_lang = lang if lang in i18n.catalogued() else i18n.SOURCE_LANGUAGE
    catalogue = _catalogue(words_lang)
    template = catalogue.gettext(DEFAULT_CONSENT)
    text = _fill_consent(template, agency, catalogue, words_lang)
    wording = "\n".join([template, *(catalogue.gettext(w) for w in CONSENT_DATA.values())])
    return text, "otklik-default-" + hashlib.sha256(wording.encode()).hexdigest()[:10]


def _fill_consent(template: str, agency: Agency, catalogue: Translations, lang: str) -> str:
    """``template`` with {data} (the contact fields the form shows) and {operator}."""
    words = [catalogue.gettext(CONSENT_DATA[f]) for f in agency.contact.shown()]
    locale = i18n.formatting_locale(lang)
    data = format_list(words, locale=locale if localedata.exists(locale) else i18n.SOURCE_LANGUAGE)
    return template.replace("{data}", data).replace("{operator}", agency.name)


def render_form(
    agency: Agency,
    kind: str,
    form,
    status: int = 200,
    problem=None,
    uploaded=(),
    problem_title=None,
):
    lang = g.lang
    consent, _version = consent_text(agency, lang)
    body = render_template(
        "form.html",
        agency=agency,
        kind=kind,
        layout="embed" if kind == "embed" else "page",
        form=form,
        lang=lang,
        consent_text=consent,
        problem=problem,
        problem_title=problem_title,
        action=page_url("widget.form", agency, kind=kind),
        switch_to=[lang for lang in agency.languages if lang != g.lang],
        text_max=forms.TEXT_MAX,
        contact_ways=forms.ways_phrase(form.ways),
        uploaded=uploaded,
        attachments_hint=uploads.hint(agency) if form.accepts_files else None,
    )
    return body, status


def render_limited(agency: Agency, kind: str, form, limited: limits.LimitReached, uploaded=()):
    """The form again with everything typed, saying which limit was reached and how long
    to wait: status 429, with Retry-After."""
    words = errors.limited_words(limited)
    body, status = render_form(
        agency, kind, form, 429, words, uploaded, problem_title=errors.LIMITED_TITLE
    )
    return body, status, {"Retry-After": str(limited.retry_after)}


def _render_blank_form(agency: Agency, lang: str, kind: str, *_where) -> bytes:
    form = forms.for_agency(agency, lang)(formdata=None)
    form.token.data = TOKEN_SLOT
    body, _status = render_form(agency, kind, form)
    if body.count(TOKEN_SLOT) != 1:
        raise RuntimeError("form.html must show the form token exactly once")
    return body.encode()  # UTF-8 takes half the memory of a Cyrillic str, and is sent as is


def blank_form(agency: Agency, kind: str) -> bytes:
    """The empty form as UTF-8 HTML with ``TOKEN_SLOT`` for its token.

    Rendering it (macros, translations) was most of a form page's time, yet it only
    changes with the agency (a changed file is a new Agency object, so a new key),
    the language, the layout, the logo file's version and the prefix its relative links
    start with (SCRIPT_NAME, the server's). Never the Host header, which the client
    chooses: absolute links (og:url, og:image) come from ``public_url``. With template
    auto-reload on (debug), it is rendered every time so edits show at once.
    """
    app = current_app._get_current_object()
    environ = request._get_current_object().environ
    key = (agency, g.lang, kind, theme.logo_version(agency), environ.get("SCRIPT_NAME"))
    if app.jinja_env.auto_reload:
        return _render_blank_form(*key)
    return app.extensions["otklik.blank_forms"](*key)


@bp.record_once
def _init_cache(state) -> None:
    cached = functools.lru_cache(maxsize=BLANK_FORMS_CACHED)(_render_blank_form)
    state.app.extensions["otklik.blank_forms"] = cached


def each_kind(rule: str, **options):
    """Registers a view under /embed and under /f, passing ``kind``. Two rules with a
    static first part, not one ``/<any(embed, f):kind>``: werkzeug finds a static part
    with a dict lookup, a dynamic one with regular expressions (3 us of a form page)."""

    def register(view):
        for kind in CHANNEL:
            bp.add_url_rule(f"/{kind}{rule}", view_func=view, defaults={"kind": kind}, **options)
        return view

    return register


@each_kind("/<agency:agency_id>", methods=["GET", "POST"])
def form(kind: str, agency_id: str):
    agency = load_agency(agency_id)
    req = request._get_current_object()
    if req.method in ("GET", "HEAD"):  # werkzeug answers a HEAD with the GET's headers
        token = tokens.issue(agency.id, embedding_origin(agency, req.referrer))
        return blank_form(agency, kind).replace(TOKEN_SLOT_BYTES, token.encode(), 1)

    try:  # every POST is an attempt; only an accepted message counts as one (below)
        limits.attempt(agency)
        flooded = None
    except limits.LimitReached as e:
        flooded = e

    form_class = forms.for_agency(agency, g.lang)

    for malformed, status in (
        (forms.not_a_form, 400),
        (forms.too_large, 413),
        (forms.undecodable, 400),
        (forms.too_many_fields, 413),
    ):
        if malformed(request):
            metrics.submission("malformed")
            abort(status)
    form = form_class()
    if flooded:  # not a word about messages: the citizen may have sent none
        return render_limited(agency, kind, form, flooded)
    token, problem = None, None
    try:
        token = tokens.verify(form.token.data or "", agency.id)
        nonce = token.nonce
    except tokens.TokenError as e:
        problem = TOKEN_MESSAGE
        nonce = tokens.new_nonce()  # files sent now are kept under the fresh token
        form.token.data = tokens.issue(agency.id, e.origin, nonce=nonce)
    try:
        uploaded, upload_errors = uploads.take(agency, nonce) if form.accepts_files else ([], [])
    except sqlite3.Error as e:
        log.error("outbox write failed (upload): %s", e)
        metrics.submission("unavailable")
        return render_form(agency, kind, form, 503, UNAVAILABLE_MESSAGE)
    switching = "switch_language" in request.form  # the same form, in the language of ?lang=
    valid = switching or form.validate()
    if upload_errors:
        form.attachments.errors = upload_errors
    if switching:
        return render_form(agency, kind, form, uploaded=uploaded)
    if not valid or token is None or upload_errors:
        metrics.submission("token" if token is None else "invalid")
        return render_form(agency, kind, form, 422, problem, uploaded)
    if form.honeypot_filled:
        # Answered like a success, stored nowhere. Checked last, so that a bot meets every
        # other check exactly as a citizen would and cannot tell which one caught it.
        decoy = receipts.decoy(
            current_app.config["SECRET_KEY"], agency.id, form.topic.data, token.nonce
        )
        try:  # counted as the message it pretends to be, so the limit gives nothing away
            limits.message(agency)
        except limits.LimitReached as e:
            return render_limited(agency, kind, form, e, uploaded)
        metrics.submission("honeypot")
        return redirect(
            done_url(agency, kind, decoy, form.topic.data, token, form.ways_given()), 303
        )

    consent = None
    if form.contact():
        text, version = consent_text(agency, g.lang)
        consent = events.Consent(text, version, time.time())
    submission = events.Submission(
        agency=agency,
        topic_id=form.topic.data,
        text=form.text.data,
        contact=form.contact(),
        lang=g.lang,
        channel=CHANNEL[kind],
        origin=token.origin,
        consent=consent,
    )
    try:
        accepted = outbox.enqueue(
            outbox.get_db(),
            nonce=token.nonce,
            agency_id=agency.id,
            topic_id=submission.topic_id,
            lang=g.lang,
            routing_key=agency.routing_key,
            make_event=lambda *args: events.build(submission, *args),
            admit=lambda: limits.message(agency),  # a new token: is there room for it?
        )
    except limits.LimitReached as e:  # rolled back: nothing stored, the files kept
        return render_limited(agency, kind, form, e, uploaded)
    except sqlite3.Error as e:  # disk full, read-only, locked too long, I/O error
        log.error("outbox write failed: %s", e)
        metrics.submission("unavailable")
        return render_form(agency, kind, form, 503, UNAVAILABLE_MESSAGE)
    metrics.submission("accepted" if accepted.new else "duplicate")
    # A repeat shows what was stored; once delivered, the stored copy keeps no contact
    # data, and what was posted again is the best word left.
    stored = None if accepted.new else events.ways_in(accepted.event)
    ways = form.ways_given() if stored is None else stored
    return redirect(done_url(agency, kind, accepted.receipt, accepted.topic_id, token, ways), 303)


def done_url(
    agency: Agency,
    kind: str,
    receipt: str,
    topic_id: str,
    token: tokens.Token,
    ways: tuple[str, ...] | None,
) -> str:
    """The done page of a receipt, with its contents sealed in the URL: any instance can
    show it, whichever outbox holds the message. Its day is the form token's, the same
    for a stored message and for a decoy however late the token is posted again; its
    ``ways`` the kinds of contact given (never their values)."""
    seal = tokens.seal_done(agency.id, receipt, topic_id, token.issued_at, ways)
    return page_url(".done", agency, kind=kind, receipt=receipt, at=seal)


@each_kind("/<agency:agency_id>/done/<receipt>", methods=["GET"])
def done(kind: str, agency_id: str, receipt: str):
    agency = load_agency(agency_id)
    number = receipts.normalize(receipt)
    if number is None:
        abort(404)
    sealed = tokens.open_done(request.args.get("at", ""), agency.id, number)
    found = outbox.find_receipt(outbox.get_db(), agency.id, number) if sealed is None else None
    ways = None  # unknown: the page cannot say how the answer will come
    if sealed is not None:  # whichever instance holds the message (docs/scaling.md)
        topic_id, received_on, ways = sealed.topic_id, sealed.received_on, sealed.ways
    elif found is not None:  # a URL without its seal, on the instance that holds it
        topic_id = found.topic_id
        received_on = datetime.fromtimestamp(found.created_at, UTC).date()
    else:
        topic_id = receipts.decoy_topic(
            current_app.config["SECRET_KEY"], agency.id, number, [t.id for t in agency.topics]
        )
        if topic_id is None:
            abort(404)
        received_on = datetime.now(UTC).date()
    topic = agency.topic(topic_id)
    days = topic.answer_within_days if topic else 30
    answer_by = received_on + timedelta(days=days)
    return render_template(
        "done.html",
        agency=agency,
        kind=kind,
        layout="embed" if kind == "embed" else "page",
        lang=g.lang,
        switch_to=[lang for lang in agency.languages if lang != g.lang],
        receipt=number,
        topic_title=topic.title_in(g.lang) if topic else None,
        days=days,
        answer_by=format_date(answer_by, "long"),
        reply=reply_sentence(ways, format_date(answer_by, "long")),
        success_text=agency.text(g.lang, "success"),
        again=page_url(".form", agency, kind=kind),
        seal=request.args.get("at") if sealed else None,
    )


REPLY_WAYS = {
    "email": _l("на почту"),
    "phone": _l("по телефону"),
    "address": _l("письмом на адрес"),
}


def reply_sentence(ways: tuple[str, ...] | None, date: str) -> str:
    """What the done page promises: how the answer will come, by ``date``, given the
    kinds of contact the citizen left (None: not known, as in an old seal)."""
    if ways is None:
        return _(
            "Организация ответит до %(date)s, если вы указали почту, телефон или адрес.", date=date
        )
    if not ways:
        return _(
            "Организация рассмотрит сообщение до %(date)s, но не сможет ответить вам лично: "
            "вы не указали почту, телефон или адрес.",
            date=date,
        )
    if ways == ("email",):
        return _("Организация ответит до %(date)s на почту, которую вы указали.", date=date)
    if ways == ("phone",):
        return _("Организация ответит до %(date)s по телефону, который вы указали.", date=date)
    if ways == ("address",):
        return _("Организация ответит до %(date)s письмом на адрес, который вы указали.", date=date)
    return _(
        "Организация ответит до %(date)s одним из способов, которые вы указали: %(ways)s.",
        date=date,
        ways=format_list([str(REPLY_WAYS[w]) for w in ways], style="or", locale=get_locale()),
    )


@bp.app_context_processor
def template_helpers():
    return {"file_size": uploads.file_size}
