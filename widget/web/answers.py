"""The message's own page (the done URL: receipt, status, history, the answer and the
rating form) and the status page by receipt alone. Registered on the widget's
blueprint; these routes set no cookie and run no script.

The ``at`` seal of the done URL is the key to the message: with it, any instance shows
the answer and takes a rating. A receipt alone (typed on the status page, or a done URL
without its seal) shows the status and its dates, never the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from babel.dates import format_date
from babel.lists import format_list
from flask import abort, current_app, g, redirect, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from .. import outbox, progress, ratings, receipts, submissions, tokens
from ..agencies import Agency
from ..outbox import ratings as stored_ratings
from ..outbox import updates as stored_updates
from . import context, links
from .errors import limited_words
from .pages import (
    TOKEN_MESSAGE,
    TOKEN_SLOT,
    TOKEN_SLOT_BYTES,
    UNAVAILABLE_MESSAGE,
    embedding_origin,
    layout_version,
    on_each_surface,
    page_url,
    refuse_malformed_post,
    rendered_while_unchanged,
    with_slots,
)

STATUS_WORDS = {
    "received": _l("Получено"),
    "in_progress": _l("Рассматривается"),
    "answered": _l("Дан ответ"),
    "redirected": _l("Передано в другую организацию"),
    "closed": _l("Закрыто"),
}
REFUSED_WORDS = {
    submissions.NOT_ANSWERED: _l("Оценить можно только ответ: на это сообщение ещё не ответили."),
    submissions.CLOSED: _l("Сообщение закрыто: оценку больше нельзя изменить."),
    submissions.USED: _l(
        "Эта форма уже отправлена с другими ответами. Мы сохранили то, что вы выбрали: "
        "отправьте форму ещё раз, чтобы изменить оценку."
    ),
}
# What looks like a link in an answer (shown as text: see docs/design.md).
LINK_LIKE = re.compile(r"(?i)\b(?:https?://|www\.)\S")


@dataclass(frozen=True)
class Message:
    """The message a done URL names, as this instance can know it."""

    receipt: str
    topic_id: str
    received_on: date
    ways: tuple[str, ...] | None  # the kinds of contact given; None: not known
    seal: str | None  # the URL's seal, when genuine: the key to the answer


def message(agency: Agency, receipt: str) -> Message:
    """The message of this done URL, from its seal, or from this instance's outbox when
    the URL has none; a decoy's is made up as a real one would be. 404 otherwise."""
    number = receipts.normalize(receipt)
    if number is None:
        abort(404)
    seal = request.args.get("at", "")
    sealed = tokens.open_done(seal, agency.id, number)
    if sealed is not None:  # whichever instance holds the message (docs/scaling.md)
        return Message(number, sealed.topic_id, sealed.received_on, sealed.ways, seal)
    found = outbox.find_receipt(outbox.get_db(), agency.id, number)
    if found is not None:  # a URL without its seal, on the instance that holds it
        received_on = datetime.fromtimestamp(found.created_at, UTC).date()
        return Message(number, found.topic_id, received_on, None, None)
    topic_id = receipts.decoy_topic(
        current_app.config["SECRET_KEY"], agency.id, number, [t.id for t in agency.topics]
    )
    if topic_id is None:
        abort(404)
    return Message(number, topic_id, datetime.now(UTC).date(), None, None)


def progress_of(agency: Agency, receipt: str) -> progress.Progress:
    history = stored_updates.history(outbox.get_db(), agency.id, receipt)
    return progress.Progress(tuple(history))


def dates(
    agency: Agency,
    topic_id: str | None,
    received_on: date | None,
    now: progress.Progress,
    private: bool = False,
) -> dict:
    """The deadline the topic gives and the one the agency set, when it extended it;
    the status and its history. ``received_on`` None: not known on this instance.
    Staff's notes are free text, as the answer is: shown only when ``private`` (with
    the message's seal), never by receipt alone."""
    topic = agency.topic(topic_id) if topic_id else None
    days = topic.answer_within_days if topic else 30
    answer_by = now.due(received_on, days)
    locale = get_locale()  # once for the page's dates: Flask-Babel's format_date asks each time

    def long(day: date | None) -> str | None:
        return format_date(day, "long", locale=locale) if day else None

    return {
        "topic_title": topic.title_in(g.lang) if topic else None,
        "days": days,
        "received_on": long(received_on),
        "answer_by": long(answer_by),
        "extended": now.answer_by is not None,
        "status_words": STATUS_WORDS[now.status],
        "history": [
            {
                "on": long(datetime.fromisoformat(u.time).date()),
                "status": STATUS_WORDS[u.status],
                "note": u.note if private else None,
                "redirected_to": u.redirected_to,
                "answer_by": long(date.fromisoformat(u.answer_by) if u.answer_by else None),
            }
            for u in now.history
        ],
    }


@on_each_surface("/<agency:agency_id>/done/<receipt>", methods=["GET", "POST"])
def done(surface: str, agency_id: str, receipt: str):
    """The message's page; a POST is the rating of its answer."""
    agency = context.agency()
    shown = message(agency, receipt)
    if request.method == "POST":
        if shown.seal is None:  # only the private link takes a rating
            abort(404)
        refuse_malformed_post()
        return rate(agency, surface, shown)
    return render_message(agency, surface, shown)


def rate(agency: Agency, surface: str, shown: Message):
    post = submissions.RatingPost(
        agency, shown.receipt, shown.topic_id, request.form, surface, g.lang
    )
    outcome = current_app.extensions["otklik.intake"].rate(post)
    match outcome:
        case submissions.Rated():
            url = page_url(
                ".done", agency, surface=surface, receipt=shown.receipt, at=shown.seal, rated=1
            )
            return redirect(f"{url}#rating", 303)
        case submissions.GivenBack():
            problem = REFUSED_WORDS.get(outcome.refused)
            if problem is None and outcome.token_refused:
                problem = TOKEN_MESSAGE
            return render_message(agency, surface, shown, outcome.form, problem, outcome.status)
        case submissions.Limited():
            headers = {"Retry-After": str(outcome.reached.retry_after)}
            words = limited_words(outcome.reached)
            return (*render_message(agency, surface, shown, outcome.form, words, 429), headers)
        case submissions.Unavailable():
            return render_message(agency, surface, shown, outcome.form, UNAVAILABLE_MESSAGE, 503)


def render_message(
    agency: Agency,
    surface: str,
    shown: Message,
    form: ratings.RatingForm | None = None,
    problem=None,
    status: int = 200,
):
    """The message's page; ``form`` and ``problem``: a rating given back to correct.

    As a visit sees it (no rating given back), the page is rendered once and kept until
    the message's next update or rating: the key holds its updates' versions and its
    rating as stored, read for each visit; only the rating form's token is new each
    time."""
    db = outbox.get_db()
    private = shown.seal is not None
    rating = stored_ratings.latest(db, agency.id, shown.receipt) if private else None
    if form is not None:
        now = progress_of(agency, shown.receipt)
        if (private and now.rateable) or problem is not None:
            if not form.token.data:
                form.token.data = rating_token(agency, shown)
            action = page_url(
                ".done", agency, surface=surface, receipt=shown.receipt, at=shown.seal
            )
            shown_form = rating_form_html(form, rating is not None, problem, action)
            body = page_html(agency, surface, shown, now, rating, False, form, shown_form, problem)
            return body, status
    thanked = bool(rating and request.args.get("rated")) and request.method == "GET"
    versions = stored_updates.versions(db, agency.id, shown.receipt)
    page, rateable = rendered_while_unchanged(
        _render_page, agency, surface, g.lang, *layout_version(agency), shown, versions, rating,
        thanked,
    )  # fmt: skip
    if rateable:
        page = page.replace(TOKEN_SLOT_BYTES, rating_token(agency, shown).encode(), 1)
    return page, status


def _render_page(
    agency, surface, _lang, _logo, _prefix, shown, _versions, rating, thanked
) -> tuple[bytes, bool]:
    """The page as UTF-8 (kept, and sent, as is), and whether it asks for a rating: then
    with its rating form blank (or with the rating given, to change) and its token
    ``TOKEN_SLOT``. Called with the key of ``rendered_while_unchanged``."""
    now = progress_of(agency, shown.receipt)
    rateable = shown.seal is not None and now.rateable
    shown_form = None
    if rateable:
        form = ratings.RatingForm(formdata=None, meta={"csrf": False})
        if rating is not None:
            form.solved.data, form.score.data = rating.solved, str(rating.score)
        form.token.data = TOKEN_SLOT
        action = page_url(".done", agency, surface=surface, receipt=shown.receipt, at=shown.seal)
        shown_form = rating_form_html(form, rating is not None, None, action)
    body = page_html(agency, surface, shown, now, rating, thanked, None, shown_form, None)
    if rateable:
        body = with_slots(body, "message.html", TOKEN_SLOT)
    return body.encode(), rateable


def page_html(agency, surface, shown, now, rating, thanked, form, rating_form, problem) -> str:
    private = shown.seal is not None
    answer = now.answer if private else None
    values = dates(agency, shown.topic_id, shown.received_on, now, private)
    address = None
    if private:
        address = links.public(
            "widget.done", surface=surface, agency_id=agency.id, receipt=shown.receipt,
            at=shown.seal, **({"lang": g.lang} if g.lang != agency.language else {}),
        )  # fmt: skip
    return render_template(
        "message.html",
        receipt=shown.receipt,
        seal=shown.seal,
        private=private,
        address=address,
        reply=reply_sentence(shown.ways, values["answer_by"]),
        success_text=agency.text(g.lang, "success"),
        again=page_url(".form", agency, surface=surface),
        answer=answer,
        paragraphs=paragraphs(answer.answer) if answer else [],
        links_in_answer=bool(answer and LINK_LIKE.search(answer.answer)),
        status=now.status,
        closed=now.closed,
        rating=rating,
        thanked=thanked,
        form=form,
        rating_form=rating_form,
        problem=problem,
        follow_up=page_url(".form", agency, surface=surface, follows=shown.receipt),
        solved_words=ratings.SOLVED_WORDS,
        score_words=ratings.SCORE_WORDS,
        **values,
    )


def rating_token(agency: Agency, shown: Message) -> str:
    issuer = tokens.for_message(agency.id, shown.receipt)
    return tokens.issue(issuer, embedding_origin(agency, request.referrer))


def rating_form_html(form: ratings.RatingForm, rated: bool, problem, action: str) -> Markup:
    """The rating form (``rated``: a rating was given, which the form changes)."""
    html = render_template(
        "_rating_form.html",
        form=form,
        rated=rated,
        problem=problem,
        action=action,
        comment_max=ratings.COMMENT_MAX,
    )
    return Markup(html)


def paragraphs(text: str) -> list[str]:
    """An answer's paragraphs (split at blank lines); each keeps its own line breaks."""
    return [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]


@on_each_surface("/<agency:agency_id>/status", methods=["GET"])
def status(surface: str, agency_id: str):
    """A message's status and dates by its receipt alone: never the answer."""
    agency = context.agency()
    typed = request.args.get("receipt")
    if typed is None or not typed.strip():
        return render_template("status.html", typed=typed or "", error=None, found=None)
    number = receipts.normalize(typed)
    if number is None:
        error = _("Номер сообщения — это 8 букв и цифр, например K7M2-9QXD. Проверьте его.")
        return render_template("status.html", typed=typed, error=error, found=None), 404
    found = outbox.find_receipt(outbox.get_db(), agency.id, number)
    now = progress_of(agency, number)
    received_on, topic_id = None, None  # not known here: the message went through another
    if found is not None:
        received_on = datetime.fromtimestamp(found.created_at, UTC).date()
        topic_id = found.topic_id
    elif not now.history:
        topic_id = receipts.decoy_topic(
            current_app.config["SECRET_KEY"], agency.id, number, [t.id for t in agency.topics]
        )  # a decoy's page looks like a real one's, as its done page does
        if topic_id is None:
            error = _(
                "Сообщение с номером %(receipt)s не найдено. Проверьте номер и организацию: "
                "номер есть на странице, которая открылась после отправки сообщения.",
                receipt=number,
            )
            return render_template("status.html", typed=typed, error=error, found=None), 404
        received_on = datetime.now(UTC).date()
    values = dates(agency, topic_id, received_on, now)
    return render_template("status.html", typed=typed, error=None, found=number, **values)


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
            "Организация ответит до %(date)s на этой странице: вы не указали почту, телефон "
            "или адрес, поэтому ответ придёт только сюда.",
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
