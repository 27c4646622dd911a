"""The one path every submission takes, from what was posted to its outcome: the form
token, the rate limits, the form's rules, the files, the honeypot, the consent record
and the outbox. Nothing here knows HTTP: the form's view (and any other intake) builds
a ``Post``, calls ``Intake.take`` once and turns the outcome into its answer.

A rating of an answer is the other kind of post (``RatingPost``, ``Intake.rate``): the
same token check, rate limit, outbox write and outcomes, with its own form and rules;
a vote in a public poll the third (``VotePost``, ``Intake.vote``).
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database
from werkzeug.datastructures import CombinedMultiDict, MultiDict

from . import consent, events, forms, metrics, outbox, progress, ratings, receipts, tokens
from .agencies import Agency
from .outbox import ratings as stored_ratings
from .outbox import updates as stored_updates
from .outbox import votes as stored_votes

log = logging.getLogger(__name__)

# Where a form is shown: in an agency's iframe, or as a page of its own. The message's
# channel (a public value of the event) and the template's layout are this word.
EMBED, PAGE = "embed", "page"


@dataclass(frozen=True)
class Post:
    """What was posted to an agency's form. ``fields`` hold the form's fields, the form
    token (``token``) and the buttons pressed among them; ``files`` the files sent."""

    agency: Agency
    fields: MultiDict
    files: MultiDict
    surface: str  # EMBED or PAGE
    lang: str  # the page's language


@dataclass(frozen=True)
class RatingPost:
    """What was posted to a message's page: the rating form's fields and its token.
    ``topic_id``: the message's topic, as its page knows it."""

    agency: Agency
    receipt: str
    topic_id: str
    fields: MultiDict
    surface: str
    lang: str


@dataclass(frozen=True)
class VotePost:
    """What was posted to a poll's form: ``q-<question>`` fields, the token, the honeypot.
    ``now``: the moment the poll's opening and closing are compared with."""

    agency: Agency
    poll: object  # polls.Poll (not imported: polls need Flask-Babel's words)
    fields: MultiDict
    surface: str
    lang: str
    now: datetime


@dataclass(frozen=True)
class Voted:
    """The vote is stored and counted (``new``), or its token had voted already (a second
    press of the button: nothing stored again), or (``decoy``) a bot filled the honeypot."""

    new: bool
    decoy: bool = False


@dataclass(frozen=True)
class Rated:
    """The rating is stored (``new``), or its token had been used for this same rating
    (a second press of the button): nothing stored again."""

    receipt: str
    rating: ratings.Rating
    new: bool


@dataclass(frozen=True)
class Accepted:
    """Stored in the outbox with a new receipt; or, for a bot that filled the honeypot,
    a ``decoy`` receipt for a message stored nowhere, which looks the same."""

    receipt: str
    topic_id: str
    token: tokens.Token
    ways: tuple[str, ...]  # the kinds of contact given, never their values
    decoy: bool = False


@dataclass(frozen=True)
class Repeat:
    """The token had been used by an accepted message: its receipt, nothing stored."""

    receipt: str
    topic_id: str
    token: tokens.Token
    ways: tuple[str, ...] | None  # None once the message is delivered and forgotten


@dataclass(frozen=True)
class GivenBack:
    """The form again, with what was typed: its errors to show (422), or nothing wrong
    when the citizen only switched the language (200). ``token_refused``: the form
    token was not good (forged, too old, too young), and the form holds a fresh one.
    A rating form also comes back ``refused`` for the message's state (NOT_ANSWERED,
    CLOSED) or for a token used already for another rating (USED)."""

    form: forms.FeedbackForm | ratings.RatingForm | object  # or a polls.votes.Ballot
    uploaded: list[outbox.Upload]
    status: int
    token_refused: bool = False
    refused: str | None = None


@dataclass(frozen=True)
class Limited:
    """A rate limit was reached (``reached``: the limits' exception, which says which
    and for how long). Nothing stored; the files stay under the token."""

    form: forms.FeedbackForm | ratings.RatingForm
    reached: Exception
    uploaded: list[outbox.Upload] = field(default_factory=list)


@dataclass(frozen=True)
class Unavailable:
    """The outbox could not be written (disk full, read-only, locked too long)."""

    form: forms.FeedbackForm | ratings.RatingForm


Outcome = Accepted | Repeat | GivenBack | Limited | Unavailable
RatingOutcome = Rated | GivenBack | Limited | Unavailable
VoteOutcome = Voted | GivenBack | Limited | Unavailable
NOT_ANSWERED, CLOSED, USED = "not_answered", "closed", "used"
NOT_OPEN = "not_open"  # a vote for a poll not open (yet, or any more)
# A vote's AMQP routing key: its agency's, with this after it (docs/queue.md).
VOTED_SUFFIX = ".voted"
# A rating's AMQP routing key: its agency's, with this after it (docs/queue.md).
RATED_SUFFIX = ".rated"
TakeFiles = Callable[[Agency, str, MultiDict, list[str]], tuple[list[outbox.Upload], list[str]]]


class Intake:
    """Built once per app with what the rules need. ``attempt(agency)`` and
    ``message(agency)`` count one hit against a rate limit and raise ``limit_reached``
    when there is no room; ``take_files(agency, nonce, files, removed)`` keeps the files
    sent under the token and returns what is attached and the problems with the new ones.
    """

    def __init__(
        self,
        *,
        secret_key: str,
        outbox_db: Callable[[], Database],
        attempt: Callable[[Agency], None],
        message: Callable[[Agency], None],
        limit_reached: type[Exception],
        take_files: TakeFiles,
        vote: Callable[[Agency, str], None] = lambda agency, poll_id: None,
        tallies=None,
    ):
        self.secret_key = secret_key
        self.outbox_db = outbox_db
        self.attempt = attempt
        self.message = message
        self.limit_reached = limit_reached
        self.take_files = take_files
        self.vote_limit = vote  # a vote about to be counted, per address and poll
        self.tallies = tallies

    def _flooded(self, agency: Agency) -> Exception | None:
        """Count the post as an attempt; the limit reached, when there is no room."""
        try:
            self.attempt(agency)
        except self.limit_reached as e:
            return e
        return None

    @staticmethod
    def _token(form, issuer: str, origin_of_fresh=None) -> tokens.Token | None:
        """The posted token, or None when it is not good: the form then holds a fresh
        one (of the same origin, for a genuine token too old or too young)."""
        try:
            return tokens.verify(form.token.data or "", issuer)
        except tokens.TokenError as e:
            form.token.data = tokens.issue(issuer, e.origin, nonce=origin_of_fresh)
            return None

    def take(self, post: Post) -> Outcome:
        agency = post.agency
        # every post is an attempt; only an accepted message counts as one (below)
        flooded = self._flooded(agency)
        form_class = forms.for_agency(agency, post.lang)
        form = form_class(
            formdata=CombinedMultiDict([post.files, post.fields]), meta={"csrf": False}
        )
        if flooded:  # not a word about messages: the citizen may have sent none
            return Limited(form, flooded, self._kept(form, agency))

        fresh = tokens.new_nonce()  # files sent with a refused token are kept under it
        token = self._token(form, agency.id, fresh)
        nonce = fresh if token is None else token.nonce
        uploaded, upload_errors = [], []
        if form.accepts_files:
            try:
                removed = post.fields.getlist("remove_attachment")
                uploaded, upload_errors = self.take_files(agency, nonce, post.files, removed)
            except sqlite3.Error as e:
                return self._unavailable(form, "upload", e)

        if "switch_language" in post.fields:  # the same form, in another language
            if upload_errors:
                form.attachments.errors = upload_errors
            return GivenBack(form, uploaded, 200)
        valid = form.validate()
        if upload_errors:
            form.attachments.errors = upload_errors
        if not valid or token is None or upload_errors:
            metrics.submission("token" if token is None else "invalid")
            return GivenBack(form, uploaded, 422, token_refused=token is None)

        if form.honeypot_filled:
            # Answered like a success, stored nowhere. Checked last, so that a bot meets
            # every other check exactly as a citizen would and cannot tell which caught it.
            decoy = receipts.decoy(self.secret_key, agency.id, form.topic.data, token.nonce)
            try:  # counted as the message it pretends to be, so the limit gives nothing away
                self.message(agency)
            except self.limit_reached as e:
                return Limited(form, e, uploaded)
            metrics.submission("honeypot")
            return Accepted(decoy, form.topic.data, token, form.ways_given(), decoy=True)

        submission = events.Submission(
            agency=agency,
            topic_id=form.topic.data,
            text=form.text.data,
            contact=form.contact(),
            lang=post.lang,
            channel=post.surface,
            origin=token.origin,
            consent=self._consent(form, agency, post.lang),
            follows=form.follows.data or None,
        )
        try:
            stored = outbox.enqueue(
                self.outbox_db(),
                submission,
                nonce=token.nonce,
                admit=lambda: self.message(agency),  # a new token: is there room for it?
            )
        except self.limit_reached as e:  # rolled back: nothing stored, the files kept
            return Limited(form, e, uploaded)
        except sqlite3.Error as e:
            return self._unavailable(form, "message", e)
        if not stored.new:
            metrics.submission("duplicate")
            # Once delivered, the stored copy keeps no contact data: what was posted
            # again is then the best word on how the answer will come.
            ways = form.ways_given() if stored.ways is None else stored.ways
            return Repeat(stored.receipt, stored.topic_id, token, ways)
        metrics.submission("accepted")
        return Accepted(stored.receipt, stored.topic_id, token, stored.ways)

    def rate(self, post: RatingPost) -> RatingOutcome:
        """Take a rating of the answer to ``post.receipt``: while the message is answered
        and not closed, with a token issued for this message."""
        agency = post.agency
        form = ratings.RatingForm(formdata=post.fields, meta={"csrf": False})
        flooded = self._flooded(agency)
        if flooded:
            return Limited(form, flooded)
        issuer = tokens.for_message(agency.id, post.receipt)
        token = self._token(form, issuer)
        valid = form.validate()
        try:
            db = self.outbox_db()
            now = progress.Progress(tuple(stored_updates.history(db, agency.id, post.receipt)))
            found = outbox.find_receipt(db, agency.id, post.receipt)
        except sqlite3.Error as e:
            return self._unavailable(form, "rating", e)
        refused = NOT_ANSWERED if now.answer is None else CLOSED if now.closed else None
        if refused or not valid or token is None:
            metrics.submission("token" if token is None and not refused else "invalid")
            return GivenBack(form, [], 422, token_refused=token is None, refused=refused)

        rating = form.rating(time.time())
        event = events.build_rated(
            agency,
            post.receipt,
            found.id if found else now.message_id,
            rating,
            event_id=str(uuid.uuid4()),
            lang=post.lang,
            channel=post.surface,
        )
        try:
            new, kept = stored_ratings.record(
                db,
                event,
                rated_at=rating.rated_at,
                nonce=token.nonce,
                topic_id=post.topic_id,
                region=agency.region,
                routing_key=f"{agency.routing_key}{RATED_SUFFIX}",
            )
        except sqlite3.Error as e:
            return self._unavailable(form, "rating", e)
        if not new and (kept.solved, kept.score, kept.comment) != (
            rating.solved,
            rating.score,
            rating.comment,
        ):  # a used token, for other answers than these: the form again, a fresh token
            form.token.data = tokens.issue(issuer, token.origin)
            metrics.submission("invalid")
            return GivenBack(form, [], 422, refused=USED)
        metrics.submission("rated" if new else "duplicate")
        return Rated(post.receipt, kept, new)

    def vote(self, post: VotePost) -> VoteOutcome:
        """Take a vote in ``post.poll`` while it is open, with a token issued for it."""
        from .polls.votes import Ballot  # the polls' words need Flask-Babel

        agency, poll = post.agency, post.poll
        ballot = Ballot.posted(poll, post.fields)
        flooded = self._flooded(agency)
        if flooded:
            return Limited(ballot, flooded)
        token = self._token(ballot, tokens.for_poll(agency.id, poll.id))
        if poll.state(post.now) != "open":
            metrics.submission("invalid")
            return GivenBack(ballot, [], 422, refused=NOT_OPEN)
        if not ballot.validate() or token is None:
            metrics.submission("token" if token is None else "invalid")
            return GivenBack(ballot, [], 422, token_refused=token is None)
        if ballot.honeypot:  # as for a message: looks like a success, counts like one
            try:
                self.vote_limit(agency, poll.id)
            except self.limit_reached as e:
                return Limited(ballot, e)
            metrics.submission("honeypot")
            return Voted(new=True, decoy=True)
        answers = ballot.answers()
        now = time.time()
        event = events.build_voted(
            agency, poll.id, ballot.event_answers(), event_id=str(uuid.uuid4()),
            voted_at=now, lang=post.lang, channel=post.surface, origin=token.origin,
        )  # fmt: skip
        try:
            new = stored_votes.record(
                self.outbox_db(),
                event,
                nonce=token.nonce,
                routing_key=f"{agency.routing_key}{VOTED_SUFFIX}",
                tally=self.tallies.in_transaction(poll, answers),
                admit=lambda: self.vote_limit(agency, poll.id),
            )
        except self.limit_reached as e:
            return Limited(ballot, e)
        except sqlite3.Error as e:
            return self._unavailable(ballot, "vote", e)
        if new:
            try:
                self.tallies.after_commit(poll, answers)
            except Exception as e:  # the vote is kept and forwarded; only a shared tally misses it
                log.error("vote stored, but the shared tally missed it: %s", e)
        metrics.submission("voted" if new else "duplicate")
        return Voted(new=new)

    def _kept(self, form: forms.FeedbackForm, agency: Agency) -> list[outbox.Upload]:
        """The files kept under the posted token, to list on a page that reads nothing
        new (files sent with this post are not read; the page asks to send them again)."""
        if not form.accepts_files:
            return []
        try:
            nonce = tokens.verify(form.token.data or "", agency.id).nonce
            return outbox.uploads_for(self.outbox_db(), nonce)
        except (tokens.TokenError, sqlite3.Error):
            return []

    @staticmethod
    def _consent(form: forms.FeedbackForm, agency: Agency, lang: str) -> events.Consent | None:
        """The record of the consent given, with the words shown: only a message that
        leaves personal data needs one."""
        if not form.contact():
            return None
        words, version = consent.wording(agency, lang)
        return events.Consent(words, version, time.time())

    @staticmethod
    def _unavailable(form: forms.FeedbackForm, what: str, error: sqlite3.Error) -> Unavailable:
        log.error("outbox write failed (%s): %s", what, error)
        metrics.submission("unavailable")
        return Unavailable(form)
