"""Public polls' pages: an agency's polls, a poll's form (a POST is a vote, through the
one intake path), the thank-you page and the results. On the widget's blueprint, in the
iframe and standalone; no cookie, no script. Results are read from the tallies kept as
votes arrive, never counted per request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from babel.dates import format_datetime
from babel.numbers import format_decimal
from flask import abort, current_app, g, redirect, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .. import polls, submissions, tokens
from ..agencies import Agency
from ..polls.votes import Ballot, field_name
from . import context
from .errors import WAIT_AND_VOTE, limited_words
from .pages import (
    TOKEN_MESSAGE,
    embedding_origin,
    layout_version,
    on_each_surface,
    page_url,
    refuse_malformed_post,
    rendered_while_unchanged,
)

PAGE_SIZE = 20
STATE_ORDER = {"open": 0, "upcoming": 1, "closed": 2}
NOT_OPEN_MESSAGE = _l("Голосование в этом опросе сейчас не идёт: ваш голос не учтён.")
UNAVAILABLE_VOTE = _l(
    "Сейчас мы не можем принять голос. Ваши ответы остались в форме: попробуйте отправить "
    "их ещё раз через несколько минут."
)


def now() -> datetime:
    return datetime.now(UTC)


def poll_of(agency: Agency, poll_id: str) -> polls.Poll:
    """The poll, or its 404 (no such poll) / 503 (its file is broken): errors.py."""
    return polls.load(agency.id, poll_id)


def words(value: dict | None) -> str:
    return polls.words_in(value, g.lang, context.agency().language)


def when(moment: datetime) -> str:
    """A moment in the poll's own time zone, as its file gives it, with the zone said."""
    return format_datetime(
        moment, "d MMMM y, HH:mm (ZZZZ)", tzinfo=moment.tzinfo, locale=get_locale()
    )


@on_each_surface("/<agency:agency_id>/polls", methods=["GET"])
def poll_list(surface: str, agency_id: str):
    agency = context.agency()
    found, _broken = polls.registry().of_agency(agency.id)
    at = now()
    found.sort(key=lambda p: (STATE_ORDER[p.state(at)], p.closes, p.id))
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        abort(404)
    pages = max(1, -(-len(found) // PAGE_SIZE))
    if page > pages:
        abort(404)
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render_template(
        "polls.html",
        polls=[
            {
                "title": words(p.title),
                "url": page_url(".poll", agency, surface=surface, poll_id=p.id),
                "state": p.state(at),
                "opens": when(p.opens),
                "closes": when(p.closes),
            }
            for p in shown
        ],
        page=page,
        pages=pages,
        total=len(found),
        previous=page_url(".poll_list", agency, surface=surface, page=page - 1)
        if page > 1
        else None,
        next=page_url(".poll_list", agency, surface=surface, page=page + 1)
        if page < pages
        else None,
    )


@on_each_surface("/<agency:agency_id>/polls/<poll_id>", methods=["GET", "POST"])
def poll(surface: str, agency_id: str, poll_id: str):
    agency = context.agency()
    shown = poll_of(agency, poll_id)
    if request.method in ("GET", "HEAD"):
        ballot = Ballot(shown)
        return render_poll(agency, surface, shown, ballot)
    refuse_malformed_post()
    post = submissions.VotePost(agency, shown, request.form, surface, g.lang, now())
    outcome = current_app.extensions["otklik.intake"].vote(post)
    match outcome:
        case submissions.Voted():
            return redirect(
                page_url(".poll_thanks", agency, surface=surface, poll_id=shown.id), 303
            )
        case submissions.GivenBack():
            problem = None
            if outcome.refused == submissions.NOT_OPEN:
                problem = NOT_OPEN_MESSAGE
            elif outcome.token_refused:
                problem = TOKEN_MESSAGE
            return render_poll(agency, surface, shown, outcome.form, problem, outcome.status)
        case submissions.Limited():
            headers = {"Retry-After": str(outcome.reached.retry_after)}
            problem = limited_words(outcome.reached, WAIT_AND_VOTE)
            return (*render_poll(agency, surface, shown, outcome.form, problem, 429), headers)
        case submissions.Unavailable():
            return render_poll(agency, surface, shown, outcome.form, UNAVAILABLE_VOTE, 503)


def render_poll(agency, surface, shown: polls.Poll, ballot: Ballot, problem=None, status=200):
    if not ballot.token.data:
        issuer = tokens.for_poll(agency.id, shown.id)
        ballot.token.data = tokens.issue(issuer, embedding_origin(agency, request.referrer))
    at = now()
    body = render_template(
        "poll.html",
        poll=shown,
        ballot=ballot,
        problem=problem,
        state=shown.state(at),
        texts=texts(shown),
        field_name=field_name,
        words=words,
        opens=when(shown.opens),
        closes=when(shown.closes),
        action=page_url(".poll", agency, surface=surface, poll_id=shown.id),
        results_url=page_url(".poll_results", agency, surface=surface, poll_id=shown.id)
        if shown.results_shown(at) and shown.state(at) == "closed"
        else None,
        all_polls=page_url(".poll_list", agency, surface=surface),
    )
    return body, status


def texts(shown: polls.Poll) -> dict:
    return {"title": words(shown.title), "description": words(shown.description)}


@on_each_surface("/<agency:agency_id>/polls/<poll_id>/thanks", methods=["GET"])
def poll_thanks(surface: str, agency_id: str, poll_id: str):
    agency = context.agency()
    shown = poll_of(agency, poll_id)
    return render_template(
        "poll_thanks.html",
        poll=shown,
        texts=texts(shown),
        results_url=page_url(".poll_results", agency, surface=surface, poll_id=shown.id)
        if shown.results != "hidden"
        else None,
        shown_now=shown.results_shown(now()),
        closes=when(shown.closes),
        all_polls=page_url(".poll_list", agency, surface=surface),
    )


@dataclass(frozen=True)
class Row:
    title: str
    count: int
    percent: int  # of the votes that answered the question, rounded


def tally_rows(shown: polls.Poll, counts: dict) -> list[dict]:
    """Each question's answers with their counts and percentages."""
    found = []
    for q in shown.questions:
        answered = counts.get((q.id, ""), 0)
        titles = {o.id: words(o.title) for o in q.options} if q.options else {}
        rows = []
        for choice in q.choices:
            n = counts.get((q.id, choice), 0)
            rows.append(
                Row(titles.get(choice, choice), n, round(100 * n / answered) if answered else 0)
            )
        mean = None
        if q.kind == "scale" and answered:
            mean = sum(int(c) * counts.get((q.id, c), 0) for c in q.choices) / answered
            mean = format_decimal(mean, "0.0", locale=get_locale())  # 3,5 in Russian
        found.append(
            {
                "question": q,
                "title": words(q.title),
                "rows": rows,
                "answered": answered,
                "mean": mean,
            }
        )
    return found


@on_each_surface("/<agency:agency_id>/polls/<poll_id>/results", methods=["GET"])
def poll_results(surface: str, agency_id: str, poll_id: str):
    """The results as the tally stands: rendered once and kept until the next vote (the
    key holds the poll's number of votes, read for each visit, which every vote changes)
    or until the poll opens or closes."""
    agency = context.agency()
    shown = poll_of(agency, poll_id)
    at = now()
    visible = shown.results_shown(at)
    votes = polls.tallies().votes(agency.id, shown.id) if visible else None
    return rendered_while_unchanged(
        _render_results, agency, shown, surface, g.lang, *layout_version(agency),
        visible, shown.state(at), votes,
    )  # fmt: skip


def _render_results(agency, shown, surface, _lang, _logo, _prefix, visible, state, _votes):
    counts = polls.tallies().counts(agency.id, shown.id) if visible else {}
    return render_template(
        "poll_results.html",
        poll=shown,
        texts=texts(shown),
        visible=visible,
        state=state,
        votes=counts.get(("", ""), 0),
        questions=tally_rows(shown, counts),
        closes=when(shown.closes),
        poll_url=page_url(".poll", agency, surface=surface, poll_id=shown.id),
        all_polls=page_url(".poll_list", agency, surface=surface),
    ).encode()  # UTF-8: kept, and sent, as is
