"""The widget's pages: the form (in an iframe or standalone); the message's page and
the status page are in ``answers``, on the same blueprint. These routes set no cookie
and run no script."""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit

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
from flask_babel import lazy_gettext as _l

from .. import consent, forms, metrics, outbox, polls, receipts, submissions, tokens
from ..agencies import Agency
from ..submissions import EMBED, PAGE
from . import context, errors, limits, theme, uploads

log = logging.getLogger(__name__)
bp = Blueprint("widget", __name__)
bp.before_request(limits.count_page_view)

SURFACES = {"embed": EMBED, "f": PAGE}  # the URL's first part: where the form is shown


# One message for every token problem (forged, foreign, too old, too young): a bot learns
# nothing about which check caught it, and a citizen who was too slow or too fast only
# needs to press Submit again (their text is kept, the token is fresh).
TOKEN_MESSAGE = _l("Не получилось отправить форму. Проверьте сообщение и отправьте его ещё раз.")
# Stands in for the form token in a cached blank form (URL-safe, so never escaped).
TOKEN_SLOT = "otklik-token-slot-5e0c7d1a"
TOKEN_SLOT_BYTES = TOKEN_SLOT.encode()
BLANK_FORMS_CACHED = 1024  # blank forms kept per worker
# Pages kept per worker whose HTML changes only when their facts do: a message's page (until
# its next update or rating), a poll's results (until its next vote). What their readers
# reload; a few hundred of about 15 KB each.
PAGES_CACHED = 256
UNAVAILABLE_MESSAGE = _l(
    "Сейчас мы не можем принять сообщение. Ваш текст остался в форме: попробуйте отправить "
    "его ещё раз через несколько минут."
)


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


def render_form(
    agency: Agency,
    surface: str,
    form,
    status: int = 200,
    problem=None,
    uploaded=(),
    problem_title=None,
):
    lang = g.lang
    consent_words, _version = consent.wording(agency, lang)
    body = render_template(
        "form.html",
        form=form,
        consent_text=consent_words,
        problem=problem,
        problem_title=problem_title,
        action=page_url("widget.form", agency, surface=surface),
        text_max=forms.TEXT_MAX,
        contact_ways=forms.ways_phrase(form.ways),
        uploaded=uploaded,
        attachments_hint=uploads.hint(agency) if form.accepts_files else None,
    )
    return body, status


def render_limited(agency: Agency, surface: str, form, limited: limits.LimitReached, uploaded=()):
    """The form again with everything typed, saying which limit was reached and how long
    to wait: status 429, with Retry-After."""
    words = errors.limited_words(limited)
    body, status = render_form(
        agency, surface, form, 429, words, uploaded, problem_title=errors.LIMITED_TITLE
    )
    return body, status, {"Retry-After": str(limited.retry_after)}


def rendered_once(render, *key):
    """``render(*key)``, rendered once per worker and kept: for a blank form, whose HTML
    changes only with ``key``, each visitor's own values (the token) being put into its
    slots afterwards. Rendering a page (macros, translations) is most of its time.
    ``key`` must hold everything the HTML depends on, the language and
    ``layout_version`` included. With template auto-reload on (debug), it is rendered
    every time so edits show at once."""
    return _kept("otklik.blank_forms", render, key)


def rendered_while_unchanged(render, *key):
    """``rendered_once`` for a page of facts that change (a message's updates, a poll's
    tally): ``key`` holds those facts, read for each request, so a new fact is a new
    page. Kept apart from the blank forms, so that these never push a form out."""
    return _kept("otklik.pages", render, key)


def _kept(cache: str, render, key: tuple):
    if current_app.jinja_env.auto_reload:
        return render(*key)
    return current_app.extensions[cache](render, *key)


def layout_version(agency: Agency) -> tuple:
    """What every page's layout depends on beyond the agency and the language: the logo
    file's version and the prefix its relative links start with (SCRIPT_NAME, the
    server's). Never the Host header, which the client chooses: absolute links (og:url,
    og:image) come from ``public_url``."""
    return theme.logo_version(agency), request.environ.get("SCRIPT_NAME")


def with_slots(body, template: str, *slots):
    """``body``, checked to show each slot exactly once: filling it cannot miss one."""
    for slot in slots:
        if body.count(slot) != 1:
            raise RuntimeError(f"{template} must show {slot} exactly once")
    return body


def _render_blank_form(agency: Agency, lang: str, surface: str, *_where) -> bytes:
    form = forms.for_agency(agency, lang)(formdata=None)
    form.token.data = TOKEN_SLOT
    body, _status = render_form(agency, surface, form)
    # UTF-8 takes half the memory of a Cyrillic str, and is sent as is
    return with_slots(body, "form.html", TOKEN_SLOT).encode()


def blank_form(agency: Agency, surface: str) -> bytes:
    """The empty form as UTF-8 HTML with ``TOKEN_SLOT`` for its token.

    It only changes with the agency (a changed file is a new Agency object, so a new
    key), the language, the surface and the layout's version.
    """
    return rendered_once(_render_blank_form, agency, g.lang, surface, *layout_version(agency))


def _render(render, *key):
    return render(*key)


@bp.record_once
def _init_app(state) -> None:
    app = state.app
    app.extensions["otklik.blank_forms"] = functools.lru_cache(BLANK_FORMS_CACHED)(_render)
    app.extensions["otklik.pages"] = functools.lru_cache(PAGES_CACHED)(_render)
    app.extensions["otklik.intake"] = submissions.Intake(
        secret_key=app.config["SECRET_KEY"],
        outbox_db=outbox.get_db,
        attempt=limits.attempt,
        message=limits.message,
        limit_reached=limits.LimitReached,
        take_files=uploads.take,
        vote=limits.vote,
        keyed=limits.keyed,
        tallies=polls.tallies(app),
    )


def on_each_surface(rule: str, **options):
    """Registers a view under /embed and under /f, passing ``surface``. Two rules with a
    static first part, not one ``/<any(embed, f):surface>``: werkzeug finds a static part
    with a dict lookup, a dynamic one with regular expressions."""

    def register(view):
        for prefix, surface in SURFACES.items():
            defaults = {"surface": surface}
            bp.add_url_rule(f"/{prefix}{rule}", view_func=view, defaults=defaults, **options)
        return view

    return register


MALFORMED = (
    (forms.not_a_form, 400),
    (forms.too_large, 413),
    (forms.cut_short, 400),
    (forms.undecodable, 400),
    (forms.too_many_fields, 413),
)


def refuse_malformed_post() -> None:
    """Abort with the 400 or 413 page when a POST's body is not a whole, readable form of
    a size ours can be. Each of the widget's forms (a message, a rating, a vote) calls it
    once it knows what is posted to (a missing agency, poll or seal is a 404 first) and
    before it reads a field: a rating cut short would keep half its comment, a vote
    half its choices."""
    for malformed, status in MALFORMED:
        if malformed(request):
            metrics.submission("malformed")
            abort(status)


@on_each_surface("/<agency:agency_id>", methods=["GET", "POST"])
def form(surface: str, agency_id: str):
    agency = context.agency()
    if request.method in ("GET", "HEAD"):  # werkzeug answers a HEAD with the GET's headers
        token = tokens.issue(agency.id, embedding_origin(agency, request.referrer))
        follows = receipts.normalize(request.args.get("follows") or "")
        if follows:  # a new message after an answer that did not help: rare, not cached
            form = forms.for_agency(agency, g.lang)(formdata=None, data={"follows": follows})
            form.token.data = token
            return render_form(agency, surface, form)
        return blank_form(agency, surface).replace(TOKEN_SLOT_BYTES, token.encode(), 1)

    refuse_malformed_post()
    post = submissions.Post(agency, request.form, request.files, surface, g.lang)
    outcome = current_app.extensions["otklik.intake"].take(post)

    match outcome:
        case submissions.Accepted() | submissions.Repeat():
            return redirect(done_url(agency, surface, outcome), 303)
        case submissions.GivenBack():
            problem = TOKEN_MESSAGE if outcome.token_refused else None
            return render_form(
                agency, surface, outcome.form, outcome.status, problem, outcome.uploaded
            )
        case submissions.Limited():
            return render_limited(agency, surface, outcome.form, outcome.reached, outcome.uploaded)
        case submissions.Unavailable():
            return render_form(agency, surface, outcome.form, 503, UNAVAILABLE_MESSAGE)


def done_url(
    agency: Agency, surface: str, accepted: submissions.Accepted | submissions.Repeat
) -> str:
    """The done page of a receipt, with its contents sealed in the URL: any instance can
    show it, whichever outbox holds the message. Its day is the form token's, the same
    for a stored message and for a decoy however late the token is posted again; its
    ``ways`` the kinds of contact given (never their values)."""
    receipt, token = accepted.receipt, accepted.token
    seal = tokens.seal_done(agency.id, receipt, accepted.topic_id, token.issued_at, accepted.ways)
    return page_url(".done", agency, surface=surface, receipt=receipt, at=seal)


bp.app_context_processor(context.template_values)


@bp.app_context_processor
def template_helpers():
    return {"file_size": uploads.file_size}
