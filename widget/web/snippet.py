"""The snippet page, for agency staff: the exact code to paste, the social link, its QR
code and a live preview. One function, ``snippet_for``, builds every link, so the page and
``flask agencies snippet`` can only ever show the same, correct, addresses."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import segno
from flask import Blueprint, Flask, Response, abort, current_app, render_template, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from markupsafe import escape

from .. import agencies, consent, polls
from ..agencies import Agency
from . import context, links, uploads
from .security import allow_own_frames

bp = Blueprint("snippet", __name__)

# The form's height is estimated for the narrowest phone frame (the demo's at a 320 px
# viewport is 288 CSS px wide), so that a citizen on any phone scrolls the host page, not a
# box inside it. Wider frames (a desktop's) get spare room below the button: the price of
# one fixed height without JavaScript. The figures follow static/otklik.css.
FRAME_WIDTH = 288
LINE = 23.2  # 16 px text, line-height 1.45
CHARS_PER_LINE = 30  # of body text in the 264 px the embed layout leaves at that width
SMALL_CHARS_PER_LINE = 33  # of the .9rem notice and the attachments' rules
CONSENT_CHARS_PER_LINE = 28  # of the .875rem consent hint, indented 2.5rem past the box
HEADING_CHARS_PER_LINE = 24  # of the 1.25rem heading
SMALL_LINE = 20.5
FIELD_GAP = 20  # .field margin-bottom
FILE_INPUT = 2 * LINE + 12  # the file button and "no file chosen" wrap onto two lines
ERROR_ROOM = 120  # the error summary a 422 answer adds at the top
# Checked against Chromium at 320 and 360 px for the demo agencies: the sum above came
# out short of the rendered form (fonts differ between systems), hence the margin.
FUDGE = 1.15
MIN_HEIGHT, MAX_HEIGHT = 400, 3000


@dataclass(frozen=True)
class Snippet:
    """What agency staff paste and post: built from the agency and the public address."""

    agency: Agency
    embed_url: str  # what the iframe shows
    page_url: str  # the link for social pages (and the QR code)
    height: int  # the recommended iframe height, in CSS pixels
    iframe: str  # the exact code to paste
    warnings: list[str] = field(default_factory=list)

    def qr_svg(self, scale: int = 4) -> str:
        """The QR code of ``page_url`` as inline SVG (no XML declaration)."""
        return _qr(self.page_url).svg_inline(
            scale=scale,
            dark="#0b0c0c",
            light="#ffffff",
            svgclass="qr",
            lineclass=None,
            title=_("QR-код ссылки на форму: %(url)s", url=self.page_url),
        )

    def qr_file(self) -> bytes:
        """The QR code of ``page_url`` as a standalone SVG file, for print."""
        out = io.BytesIO()
        _qr(self.page_url).save(out, kind="svg", scale=10, dark="#0b0c0c", light="#ffffff")
        return out.getvalue()


def _qr(url: str) -> segno.QRCode:
    return segno.make(url, error="m", micro=False)


def snippet_for(app: Flask, agency: Agency, base_url: str) -> Snippet:
    """The snippet of ``agency`` served from ``base_url`` (``public_url``, or the
    command's ``--base-url``)."""
    with force_locale(agency.language):  # the same code whoever asks, in whatever language
        title = _("Форма обратной связи: %(name)s", name=agency.display_name)
    return _built(app, agency, base_url, "widget.form", {}, title, recommended_height(agency))


@dataclass(frozen=True)
class PollSnippet:
    """One open poll's code, link and QR code, as the form's: ``snippet`` holds them."""

    poll_id: str
    title: str  # in the agency's own language
    snippet: Snippet


def poll_snippets(app: Flask, agency: Agency, base_url: str, at: datetime) -> list[PollSnippet]:
    """Each of the agency's polls open at ``at``, soonest closing first (a broken poll
    file has none: ``flask agencies check`` names it)."""
    found, _broken = polls.registry(app).of_agency(agency.id)
    shown = sorted((p for p in found if p.state(at) == "open"), key=lambda p: (p.closes, p.id))
    out = []
    for poll in shown:
        name = polls.words_in(poll.title, agency.language, agency.language)
        with force_locale(agency.language):
            title = _("Опрос: %(title)s", title=name)
        values = {"poll_id": poll.id}
        height = poll_height(poll, agency.language)
        out.append(
            PollSnippet(
                poll.id, name, _built(app, agency, base_url, "widget.poll", values, title, height)
            )
        )
    return out


def iframe_code(src: str, title: str, height: int) -> str:
    """The exact ``<iframe>`` an agency pastes: its form's, a poll's, its statistics'."""
    return (
        f'<iframe src="{escape(src)}" title="{escape(title)}" height="{height}" '
        'loading="lazy" referrerpolicy="strict-origin-when-cross-origin" '
        'style="display:block;width:100%;max-width:40rem;border:0"></iframe>'
    )


# The statistics page is long (tables, three charts): the frame shows its top and
# scrolls, rather than the agency's page growing by several screens.
STATS_HEIGHT = 1200


def stats_snippet(app: Flask, agency: Agency, base_url: str) -> str:
    """The code of the agency's statistics for its own site (/embed/<agency>/stats)."""
    src = links.external(app, base_url, "stats.embed", agency_id=agency.id)
    with force_locale(agency.language):
        title = _("Статистика обращений: %(name)s", name=agency.display_name)
    return iframe_code(src, title, STATS_HEIGHT)


def _built(
    app: Flask, agency: Agency, base_url: str, endpoint: str, values: dict, title: str, height: int
) -> Snippet:
    def link(surface: str) -> str:
        return links.external(
            app, base_url, endpoint, surface=surface, agency_id=agency.id, **values
        )

    embed_url, page_url = link("embed"), link("page")
    iframe = iframe_code(embed_url, title, height)
    warnings = []
    if not agency.embed_origins:
        warnings.append(
            _(
                "В файле настроек организации не указаны адреса сайтов, на которых можно "
                "показывать форму, поэтому браузеры не покажут её ни на одном сайте. Ссылка "
                "и QR-код работают."
            )
        )
    local = [o for o in agency.embed_origins if urlsplit(o).scheme == "http"]
    if local:
        # The number is not shown, so Russian needs only "one" and "several" here.
        warnings.append(
            ngettext(
                "Адрес %(origins)s годится только для проверки на своём компьютере.",
                "Адреса %(origins)s годятся только для проверки на своём компьютере.",
                len(local),
                origins=", ".join(local),
            )
        )
    return Snippet(agency, embed_url, page_url, height, iframe, warnings)


def poll_height(poll: polls.Poll, lang: str) -> int:
    """An iframe height (CSS px) for a poll's form at the narrowest phone's width, by the
    same figures as the form's: its title, description, questions and answers."""
    title = polls.words_in(poll.title, lang, lang)
    height = 24.0 + 24 + _lines(title, HEADING_CHARS_PER_LINE) * LINE + 4 + 16  # the heading
    height += LINE + 16  # the agency's name under it
    description = polls.words_in(poll.description, lang, lang) if poll.description else ""
    if description:
        height += _lines(description) * LINE + 16
    height += 2 * LINE + 16  # "the poll runs until"
    for q in poll.questions:
        title = polls.words_in(q.title, lang, lang)
        height += _lines(title, CHARS_PER_LINE - 4) * LINE + 8 + LINE + 8  # legend and hint
        for choice in q.options or q.choices:
            words = polls.words_in(choice.title, lang, lang) if q.options else str(choice)
            height += max(28, _lines(words, CHARS_PER_LINE - 6) * LINE) + 8
        height += FIELD_GAP
    height += 48  # the button and its shadow
    height += 8 * SMALL_LINE + 3 * 16  # what a poll without sign-in cannot prove, the links
    height = height * FUDGE + ERROR_ROOM
    return max(MIN_HEIGHT, min(MAX_HEIGHT, math.ceil(height / 10) * 10))


def recommended_height(agency: Agency) -> int:
    """An iframe height (CSS px) that fits the agency's form on a phone without a
    scrollbar inside the frame: computed from its topics, texts and contact fields."""
    lang = agency.language
    height = 24.0  # .main padding in the embed layout
    height += 24 + _lines(agency.display_name, HEADING_CHARS_PER_LINE) * LINE + 4 + 16
    intro = agency.text(lang, "intro")
    if intro:
        height += _lines(intro) * LINE + 16
    height += 3 * SMALL_LINE + 20  # the notice about formal appeals
    if len(agency.topics) > 1:
        height += 28  # legend
        for topic in agency.topics:
            height += max(28, _lines(topic.title_in(lang), CHARS_PER_LINE - 6) * LINE) + 8
        height += FIELD_GAP
    height += 28 + 2 * LINE + 8 + (7 * LINE + 17) + FIELD_GAP  # the message: label, hint, box
    if agency.attachments.max_files:  # label, rules, the input, the files kept on a 422
        height += LINE + 4 + _lines(uploads.hint(agency), SMALL_CHARS_PER_LINE) * SMALL_LINE
        height += FILE_INPUT + agency.attachments.max_files * (LINE + 8) + FIELD_GAP
    shown = agency.contact.shown()
    if shown:
        height += 28 + 2 * LINE + 8  # legend and hint
        for name in shown:
            height += LINE + 4 + 40 + FIELD_GAP  # label and input
            if name == "phone":
                height += LINE + 8  # its example hint
        height += FIELD_GAP
        consent_words, _version = consent.wording(agency, lang)
        height += (
            2 * LINE + 8 + _lines(consent_words, CONSENT_CHARS_PER_LINE) * SMALL_LINE + FIELD_GAP
        )
        if agency.privacy_url:  # the policy's link after the consent's words (often two lines)
            height += 2 * SMALL_LINE + 8
    height += 48  # the button and its shadow
    height = height * FUDGE + ERROR_ROOM
    return max(MIN_HEIGHT, min(MAX_HEIGHT, math.ceil(height / 10) * 10))


def now() -> datetime:
    return datetime.now(UTC)


def _lines(text: str, per_line: int = CHARS_PER_LINE) -> int:
    return sum(max(1, math.ceil(len(part) / per_line)) for part in str(text).split("\n"))


@bp.get("/snippet/<agency:agency_id>")
def page(agency_id: str):
    agency = context.agency()
    snippet = snippet_for(current_app, agency, current_app.config["PUBLIC_URL"])
    allow_own_frames()  # the live preview
    return render_template(
        "snippet.html",
        agency=agency,
        snippet=snippet,
        lang=agency.language,
        layout="page",
        preview=url_for("widget.form", surface="embed", agency_id=agency.id),
        polls=poll_snippets(current_app, agency, current_app.config["PUBLIC_URL"], now()),
        stats=stats_snippet(current_app, agency, current_app.config["PUBLIC_URL"]),
    )


@bp.get("/snippet/<agency:agency_id>/qr.svg")
def qr(agency_id: str):
    agency = agencies.load(agency_id)
    snippet = snippet_for(current_app, agency, current_app.config["PUBLIC_URL"])
    return Response(
        snippet.qr_file(),
        mimetype="image/svg+xml",
        headers={"Content-Disposition": f'attachment; filename="otklik-{agency.id}.svg"'},
    )


@bp.get("/snippet/<agency:agency_id>/polls/<poll_id>/qr.svg")
def poll_qr(agency_id: str, poll_id: str):
    agency = agencies.load(agency_id)
    found = poll_snippets(current_app, agency, current_app.config["PUBLIC_URL"], now())
    item = next((p for p in found if p.poll_id == poll_id), None)
    if item is None:  # no such poll, or not open: its page says why
        abort(404)
    return Response(
        item.snippet.qr_file(),
        mimetype="image/svg+xml",
        headers={"Content-Disposition": f'attachment; filename="otklik-{agency.id}-{poll_id}.svg"'},
    )
