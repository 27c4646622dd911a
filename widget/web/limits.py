"""Rate limits on the widget's pages (flask-limiter), counted where every worker sees them.

Three limits, each in flask-limiter notation (``"5 per hour; 20 per day"``):

- page views (GET/HEAD) per client address, across all agencies: ``ratelimit_pages``;
- submissions (POST) per client address to one agency: that agency's ``[limits] per_ip``;
- submissions (POST) to one agency from everybody together: ``ratelimit_per_agency``,
  checked only once the per-address limit has let the submission through.

The client address is ``request.remote_addr`` after ProxyFix (``trusted_proxies``), an
IPv6 client counted by its /64 network (one subscriber gets a whole /64). The counters
are keyed by an HMAC of the address with ``secret_key``, so neither the counter store
nor flask-limiter's log lines hold an address (promise 6). Counters live in
``ratelimit_storage_uri``: SQLite in the instance folder by default (see
``widget.counters``), Redis when several instances must share them. Should the store
fail, each process counts in memory until it is back, and says so in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import sqlite3
import time

import limits
from flask import current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from limits.errors import ConfigurationError
from werkzeug.exceptions import TooManyRequests

from .. import agencies, counters, metrics  # noqa: F401 - counters registers the sqlite: scheme
from ..settings import SettingsError
from . import pages

EXTENSION = "otklik.limits"
LIMIT_SETTINGS = ("ratelimit_pages", "ratelimit_per_agency")
REDIS_OPTIONS = {"socket_timeout": 1, "socket_connect_timeout": 1}


class LimitReached(RateLimitExceeded):
    """A limit is used up: the 429 page, with ``Retry-After`` (kept by errors.py)."""

    def __init__(self, retry_after: int):
        TooManyRequests.__init__(self, retry_after=retry_after)
        self.limit = None


def client_address() -> str:
    """The client's address as the limits see it; an IPv6 client by its /64 network."""
    raw = request.remote_addr or ""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw or "unknown"
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def client_key() -> str:
    """A keyed hash of the client address: the counters never hold the address itself."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, client_address().encode(), hashlib.sha256).hexdigest()[:32]


def _agency() -> agencies.Agency | None:
    """The agency of this request, or None when it does not exist or its file is broken
    (the view then answers 404 or 503, and no counter is made for a made-up id)."""
    if "limits_agency" not in g:
        try:
            g.limits_agency = agencies.extension(current_app).get(request.view_args["agency_id"])
        except (KeyError, TypeError, agencies.AgencyNotFound, agencies.AgencyError):
            g.limits_agency = None
    return g.limits_agency


def _no_agency() -> bool:
    return _agency() is None


def per_ip_limit() -> str:
    agency = _agency()
    return agency.limits.per_ip if agency else agencies.Limits().per_ip


def per_ip_key() -> str:
    return f"{client_key()}/{request.view_args['agency_id']}"


def per_agency_key() -> str:
    return request.view_args["agency_id"]


def retry_after(breached: RequestLimit) -> None:
    """flask-limiter's breach callback: raise the 429 with the seconds until the window ends."""
    if request.method == "POST":
        metrics.submission("limit")
    raise LimitReached(max(1, int(breached.reset_at - time.time())))


def _checked(name: str, app) -> str:
    value = app.config[name.upper()]
    try:
        if not limits.parse_many(value):
            raise ValueError
    except ValueError:
        raise SettingsError(
            f"{name}: not a rate limit such as '5 per hour', got {value!r}"
        ) from None
    return value


def extension(app) -> tuple[Limiter, Limiter]:
    """The two limiters: per client address, then per agency."""
    return app.extensions[EXTENSION]


def _limiter(app, uri: str) -> Limiter:
    return Limiter(
        client_key,
        storage_uri=uri,
        storage_options=REDIS_OPTIONS if uri.startswith(("redis", "rediss")) else {},
        strategy="fixed-window",
        key_prefix=app.config["RATELIMIT_KEY_PREFIX"],
        on_breach=retry_after,
        in_memory_fallback_enabled=True,
        headers_enabled=False,
    )


def init_app(app) -> None:
    """Attach the limits to the widget blueprint (call after it is registered).

    Two limiters, checked in this order: the per-address limits, then the agency
    ceiling. A submission refused for its address is thus never counted against the
    agency, so one address cannot use up an agency's ceiling (within one limiter,
    flask-limiter checks the shorter windows first, whichever key they count by).
    """
    pages_limit, per_agency_limit = (_checked(name, app) for name in LIMIT_SETTINGS)
    uri = app.config["RATELIMIT_STORAGE_URI"]
    try:
        per_address, per_agency = _limiter(app, uri), _limiter(app, uri)
        per_address.shared_limit(pages_limit, scope="pages", methods=["GET", "HEAD"])(pages.bp)
        per_address.limit(
            per_ip_limit, key_func=per_ip_key, methods=["POST"], exempt_when=_no_agency
        )(pages.bp)
        per_agency.limit(
            per_agency_limit, key_func=per_agency_key, methods=["POST"], exempt_when=_no_agency
        )(pages.bp)
        per_address.init_app(app)
        per_agency.init_app(app)
    except (ConfigurationError, ValueError, sqlite3.Error) as e:
        raise SettingsError(f"ratelimit_storage_uri: {e} (got {uri!r})") from None
    app.extensions[EXTENSION] = (per_address, per_agency)
