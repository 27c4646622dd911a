"""Rate limits on the widget's pages, counted where every worker sees them.

Four limits, each in the notation of the ``limits`` library (``"5 per hour; 20 per day"``,
the notation flask-limiter documents):

- page views (GET/HEAD) per client address, across all agencies: ``ratelimit_pages``;
- attempts (every POST of the form: a message, a form sent back with errors, a language
  switch) per client address to one agency: that agency's ``[limits] attempts_per_ip``;
- accepted messages per client address to one agency: that agency's ``[limits] per_ip``;
- accepted messages to one agency from everybody together: ``ratelimit_per_agency``,
  counted only once the per-address limit has taken the message, so one address cannot
  use up an agency's ceiling;
- accepted messages posted with one Open311 API key, across the agencies it may post to:
  the key's own ``limit`` (docs/open311.md), in place of the per-address limits (an
  integrator's server posts for many citizens from one address), beside the ceiling.

The pages call ``page_view(app, req)`` (a blueprint hook, ``count_page_view``) and
``attempt(agency)``, each of which counts one hit against every window of its limit,
shortest first, and raises ``LimitReached`` (with ``Retry-After``) at the first one used
up; and ``message(agency)`` for a message about to be committed, which first checks
every window of both message limits without counting, and counts only when all have
room. The outbox calls it inside its write transaction, once it knows the form's token
is new (a double click is one message): the transaction is one writer at a time across
the instance's workers, so no two messages are checked against the same count, and a
refused message is rolled back, never stored.

The client address is ``request.remote_addr`` after ProxyFix (``trusted_proxies``), an
IPv6 client counted by its /64 network (one subscriber gets a whole /64). The counters
are keyed by an HMAC of the address with ``secret_key``, so neither the counter store
nor a log line holds an address (promise 6). Counters live in ``ratelimit_storage_uri``:
a memory-mapped file in the instance folder by default (see ``widget.ratelimit_store``), Redis
when several instances must share them. Should the store fail, each process counts in memory until
it is back (tried again after a growing pause), and says both in the log.

We call ``limits`` (the library flask-limiter is built on) directly: flask-limiter's
hooks resolve every limit of the app on every request, which cost as much as the whole
rest of a form page (docs/design.md, "Rate limits without flask-limiter").
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import math
import time

from flask import current_app, request
from limits import RateLimitItem
from limits.errors import ConfigurationError, StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from .. import agencies, metrics, ratelimit_store  # noqa: F401 - registers the mmap: scheme
from ..settings import SettingsError

log = logging.getLogger(__name__)
EXTENSION = "otklik.limits"
REDIS_OPTIONS = {"socket_timeout": 1, "socket_connect_timeout": 1}
RETRY_STORE_AFTER = (1, 2, 5, 10, 30, 60)  # seconds, while the store stays down


class LimitReached(TooManyRequests):
    """A limit is used up: the 429 page, with ``Retry-After`` (kept by errors.py).

    ``counter`` says which limit (``pages``, ``attempts``, ``per-ip``: the address's
    messages, ``agency``: the agency's ceiling) and ``window`` which of its windows, so
    that the page can say what happened in words."""

    def __init__(self, retry_after: int, counter: str, window: RateLimitItem):
        super().__init__(retry_after=retry_after)
        self.counter, self.window = counter, window


class Counters:
    """Hits counted in one store, or in this process's memory while the store is down,
    by the ``limits`` library's fixed-window strategy (a count per key that starts again
    when its window ends), with its keys.

    After a failure the store is tried again, with a real hit, once a pause has passed
    (``RETRY_STORE_AFTER``, growing while it keeps failing): a store that answers a ping
    but refuses writes (a full disk, a read-only Redis) stays in the pause it earned.
    """

    def __init__(self, uri: str, prefix: str, clock=time.monotonic):
        options = REDIS_OPTIONS if uri.startswith(("redis", "rediss")) else {}
        self.store: Storage = storage_from_string(uri, wrap_exceptions=True, **options)
        self.in_store = FixedWindowRateLimiter(self.store)
        self.prefix = prefix
        self.kind = uri.split(":", 1)[0]  # for the metrics: never the URI, it may hold a password
        self.clock = clock
        self.failures = 0  # consecutive failed tries of the store; 0 while it answers
        self.retry_at = 0.0

    @functools.cached_property
    def in_memory(self) -> FixedWindowRateLimiter:
        """The stand-in while the store fails, made on the first failure (limits' memory
        storage starts a thread, which a gunicorn arbiter about to fork should not have)."""
        return FixedWindowRateLimiter(MemoryStorage())

    def hit(self, limit: str, *key: str) -> None:
        """Count one hit against each window of ``limit``; raise LimitReached at the first
        window used up (the longer windows are then not counted). ``key[0]`` names the
        limit (LimitReached.counter)."""
        for window in agencies.parse_limit(limit):
            if not self._ask("hit", window, key):
                raise LimitReached(self._retry_after(window, key), key[0], window)

    def check(self, limit: str, *key: str) -> None:
        """Raise LimitReached if a window of ``limit`` has no room for one more hit;
        count nothing."""
        for window in agencies.parse_limit(limit):
            if not self._ask("test", window, key):
                raise LimitReached(self._retry_after(window, key), key[0], window)

    def _ask(self, method: str, window: RateLimitItem, key: tuple[str, ...]):
        """The strategy's ``method`` for ``window`` and ``key``, in the store, or in this
        process's memory while the store is failing."""
        metrics.ratelimit_store_used(self.kind)  # its series from this worker's first count
        if self.failures and self.pausing():
            return getattr(self.in_memory, method)(window, self.prefix, *key)
        try:
            answer = getattr(self.in_store, method)(window, self.prefix, *key)
        except StorageError as e:
            self._store_failed(e)
            return getattr(self.in_memory, method)(window, self.prefix, *key)
        if self.failures:
            log.info("rate limit store is back: counting there again")
            self.failures = 0
        return answer

    def pausing(self) -> bool:
        """True while the store failed last and its pause has not passed."""
        return bool(self.failures) and self.clock() < self.retry_at

    def _retry_after(self, window: RateLimitItem, key: tuple[str, ...]) -> int:
        """Whole seconds until the window ends (rounded up: a client that waits that
        long is let in)."""
        counted = self.in_memory if self.failures else self.in_store
        try:
            reset = counted.get_window_stats(window, self.prefix, *key).reset_time
        except StorageError:  # gone between the hit and now: the longest it can be
            return window.get_expiry()
        return max(1, math.ceil(reset - time.time()))

    def _store_failed(self, error: Exception) -> None:
        metrics.ratelimit_store_failed(self.kind)
        if not self.failures:
            log.warning(
                "rate limit store unreachable (%s): counting in memory until it is back", error
            )
        pause = RETRY_STORE_AFTER[min(self.failures, len(RETRY_STORE_AFTER) - 1)]
        self.failures += 1
        self.retry_at = self.clock() + pause


def client_address(raw: str) -> str:
    """The client's address as the limits see it; an IPv6 client by its /64 network."""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw or "unknown"
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@functools.lru_cache(maxsize=4096)
def _key_of(secret: str, remote_addr: str) -> str:
    """A keyed hash of the client address: the counters never hold the address itself.
    Remembered for the addresses seen last: a citizen's visit asks several times."""
    address = client_address(remote_addr)
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


class Limits:
    """The app's limits, as its settings give them, counted in ``counters``."""

    def __init__(
        self, counters: Counters, *, secret: str, pages: str, per_agency: str, votes: str = ""
    ):
        self.counters = counters
        self.secret = secret
        self.pages, self.per_agency = pages, per_agency
        self.votes = votes or "5 per hour; 20 per day"

    def client(self, remote_addr: str | None) -> str:
        return _key_of(self.secret, remote_addr or "")

    def page_view(self, remote_addr: str | None) -> None:
        """Count a page view (GET or HEAD) of this client's, across all agencies."""
        self.counters.hit(self.pages, "pages", self.client(remote_addr))

    def attempt(self, agency: agencies.Agency, remote_addr: str | None) -> None:
        """Count a POST of ``agency``'s form, whatever it turns out to be (a message, a
        form with errors, a language switch)."""
        client = self.client(remote_addr)
        self.counters.hit(agency.limits.attempts_per_ip, "attempts", client, agency.id)

    def message(self, agency: agencies.Agency, remote_addr: str | None) -> None:
        """Count a message to ``agency`` that is about to be accepted: this client's
        limit there, then the agency's ceiling; checked before counting, so that a
        refused message costs nothing."""
        per_ip = (agency.limits.per_ip, "per-ip", self.client(remote_addr), agency.id)
        self._admit(per_ip, (self.per_agency, "agency", agency.id))

    def keyed(self, agency: agencies.Agency, key) -> None:
        """Count a message posted to ``agency`` with an API key (an ``open311.keys.Key``)
        that is about to be accepted: the key's own limit, across the agencies it posts
        to, in place of the address's; then the agency's ceiling, as for any message."""
        self._admit((key.limit, "key", key.name), (self.per_agency, "agency", agency.id))

    def _admit(self, *counted: tuple[str, ...]) -> None:
        """Check every window of each limit, then count one hit in each: a message
        refused by any of them costs nothing in the others."""
        for limit in counted:
            self.counters.check(*limit)
        for limit in counted:
            self.counters.hit(*limit)

    def vote(self, agency: agencies.Agency, poll_id: str, remote_addr: str | None) -> None:
        """Count a vote in one poll about to be accepted (checked first, as a message)."""
        per_poll = (self.votes, "votes", self.client(remote_addr), agency.id, poll_id)
        self.counters.check(*per_poll)
        self.counters.hit(*per_poll)


def extension(app) -> Limits:
    return app.extensions[EXTENSION]


def count_page_view() -> None:
    """A blueprint's before_request hook: count its GETs (and HEADs) as page views."""
    if request.method in ("GET", "HEAD"):
        extension(current_app).page_view(request.remote_addr)


def attempt(agency: agencies.Agency) -> None:
    """Count this request, a POST of ``agency``'s form. Raises LimitReached (and counts
    the outcome) when this client's attempts there are used up."""
    try:
        extension(current_app).attempt(agency, request.remote_addr)
    except LimitReached:
        metrics.submission("limit")
        raise


def message(agency: agencies.Agency) -> None:
    """Count this request's message to ``agency``, about to be accepted. When a limit has
    no room, raises LimitReached (and counts the outcome) having counted nothing.

    Called by the outbox inside its write transaction, so the workers of one instance
    take their turns (docs/abuse.md); across instances sharing Redis, the per-address
    count is still one atomic increment, and a message that loses a race for the last
    place is refused."""
    try:
        extension(current_app).message(agency, request.remote_addr)
    except LimitReached:
        metrics.submission("limit")
        raise


def keyed(agency: agencies.Agency, key) -> None:
    """Count this request's message to ``agency``, posted with API ``key``, about to be
    accepted (called by the outbox inside its write transaction, as ``message``)."""
    try:
        extension(current_app).keyed(agency, key)
    except LimitReached:
        metrics.submission("limit")
        raise


def vote(agency: agencies.Agency, poll_id: str) -> None:
    """Count this request's vote in ``poll_id``, about to be accepted (called by the
    outbox inside its write transaction, as ``message``)."""
    try:
        extension(current_app).vote(agency, poll_id, request.remote_addr)
    except LimitReached:
        metrics.submission("limit")
        raise


def _checked(name: str, app) -> str:
    value = app.config[name.upper()]
    try:
        agencies.parse_limit(value)
    except ValueError as e:
        raise SettingsError(f"{name}: {e}") from None
    return value


def init_app(app) -> None:
    pages, per_agency, votes = (
        _checked(n, app)
        for n in ("ratelimit_pages", "ratelimit_per_agency", "ratelimit_votes_per_ip")
    )
    uri = app.config["RATELIMIT_STORAGE_URI"]
    try:
        counters = Counters(uri, app.config["RATELIMIT_KEY_PREFIX"])
    except (ConfigurationError, ValueError, OSError) as e:
        raise SettingsError(f"ratelimit_storage_uri: {e} (got {uri!r})") from None
    app.extensions[EXTENSION] = Limits(
        counters,
        secret=app.config["SECRET_KEY"],
        pages=pages,
        per_agency=per_agency,
        votes=votes,
    )
