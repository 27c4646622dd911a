"""The one place that sets response headers, and the cross-site POST guard.

Promise 3 of DESIGN.md: pages under ``/embed/<agency>`` may be framed by that
agency's ``embed_origins`` (and by ourselves, for the snippet and demo pages);
every other page by nobody.
"""

from __future__ import annotations

import functools

from flask import abort, request
from flask.sessions import SessionInterface

from .. import logs
from . import context

BASE_CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'"
)
NO_ANCESTORS = "'none'"
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), "
    "fullscreen=(), geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), "
    "midi=(), payment=(), picture-in-picture=(), publickey-credentials-get=(), "
    "screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()"
)

SAME_FOR_EVERY_RESPONSE = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "cross-origin"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
)

NO_STORE = ("Cache-Control", "no-store")  # on HTML pages
# Statistics are open data: no token, no cookie, nothing personal in them. Anyone may
# keep a page or an export for a few minutes (the figures move as messages arrive); an
# agency's page may be in the browser's language, hence Vary.
OPEN_DATA = ("Cache-Control", "public, max-age=300")
OPEN_DATA_BLUEPRINT = "stats"
# A message's page and the status page are private: kept out of every index (robots.txt
# asks crawlers not to fetch them; this tells one that did not ask).
NOINDEX = ("X-Robots-Tag", "noindex, nofollow")
PRIVATE_ENDPOINTS = frozenset({"widget.done", "widget.status"})


def refuse_cross_site_posts() -> None:
    """A POST from another site's page is refused: 403 before any form parsing."""
    req = request
    if req.method != "POST":
        return
    site = req.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        abort(403)
    origin = req.headers.get("Origin")
    if origin is not None and origin != f"{req.scheme}://{req.host}":
        abort(403)


def allow_own_frames() -> None:
    """Called by a view whose page shows our widget in an iframe (demo, snippet)."""
    context.page().frames_own = True


@functools.lru_cache(maxsize=1024)
def content_security_policy(ancestors: tuple[str, ...], frame_src_self: bool) -> str:
    """Few distinct values (one per agency's list of origins): built once each."""
    csp = f"{BASE_CSP}; frame-ancestors {' '.join(ancestors) or NO_ANCESTORS}"
    return csp + "; frame-src 'self'" if frame_src_self else csp


def standalone_headers() -> list[tuple[str, str]]:
    """Our headers for an answer the server writes without the app (widget/worker.py),
    which no page frames."""
    csp = content_security_policy((), False)
    return [*SAME_FOR_EVERY_RESPONSE, ("Content-Security-Policy", csp), NO_STORE]


def add_headers(response):
    """Every response's headers of ours, which win over a view's own of the same name.
    Flask passes every answer of the app through here, error pages included.

    Added in one go, after taking out a view's own of those names (rare): setting each
    (``Headers.set``) would look through every header for its name, ten times a page."""
    endpoint = request.endpoint
    shown = context.page()
    csp = content_security_policy(shown.frame_ancestors, shown.frames_own)
    ours = [
        *SAME_FOR_EVERY_RESPONSE,
        ("Content-Security-Policy", csp),
        ("X-Request-Id", logs.current_request_id()),
    ]
    if request.blueprint == OPEN_DATA_BLUEPRINT and response.status_code == 200:
        ours.append(OPEN_DATA)
        response.vary.add("Accept-Language")
    elif response.mimetype == "text/html":  # error pages of statistics too: not kept
        ours.append(NO_STORE)
    if endpoint in PRIVATE_ENDPOINTS:
        ours.append(NOINDEX)
    headers = response.headers
    named = {name.lower() for name, _ in ours}
    for name in {name for name, _ in headers if name.lower() in named}:
        headers.remove(name)
    headers.extend(ours)
    return response


class NoSessions(SessionInterface):
    """The widget sets no cookie (promise 2), so it never opens a session. Flask's
    default interface would build a signing serializer on every request only to
    find no cookie: a sixth of a form page's time. Writing to ``session`` raises."""

    def open_session(self, app, request):
        return None  # Flask then uses make_null_session

    def save_session(self, app, session, response) -> None:
        return None


def init_app(app) -> None:
    app.session_interface = NoSessions()
    app.before_request(refuse_cross_site_posts)
    app.after_request(add_headers)
