"""The one place that sets response headers, and the cross-site POST guard.

Promise 3 of DESIGN.md: pages under ``/embed/<agency>`` may be framed by that
agency's ``embed_origins`` (and by ourselves, for the snippet and demo pages);
every other page by nobody.
"""

from __future__ import annotations

import functools
import re

from flask import abort, current_app, g, request
from flask.sessions import SessionInterface

from .. import agencies, logs

BASE_CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'"
)
NO_ANCESTORS = "'none'"
EMBED_PATH = re.compile(rf"/embed/({agencies.AGENCY_ID.pattern})(?:/|$)")
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


def refuse_cross_site_posts() -> None:
    """A POST from another site's page is refused: 403 before any form parsing."""
    if request.method != "POST":
        return
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        abort(403)
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        abort(403)


def embedded_agency() -> str | None:
    """The agency id when the request is for a page under /embed/<agency>."""
    match = EMBED_PATH.match(request.path)
    return match.group(1) if match else None


def frame_ancestors() -> tuple[str, ...]:
    agency_id = embedded_agency()
    if agency_id is None:
        return ()
    agency = g.get("agency")  # the view's, when it loaded this agency
    try:
        if agency is None or agency.id != agency_id:
            agency = agencies.extension(current_app).get(agency_id)
        origins = agency.embed_origins
    except (agencies.AgencyNotFound, agencies.AgencyError):
        origins = []
    return ("'self'", *origins)


@functools.lru_cache(maxsize=1024)
def content_security_policy(ancestors: tuple[str, ...], frame_src_self: bool) -> str:
    """Few distinct values (one per agency's list of origins): built once each."""
    csp = f"{BASE_CSP}; frame-ancestors {' '.join(ancestors) or NO_ANCESTORS}"
    return csp + "; frame-src 'self'" if frame_src_self else csp


def allow_own_frames() -> None:
    """Called by a view whose page shows our widget in an iframe (demo, snippet)."""
    g.frame_src_self = True


def set_headers(response):
    """The headers that depend on the page; Edge adds the others."""
    response.headers["Content-Security-Policy"] = content_security_policy(
        frame_ancestors(), bool(g.get("frame_src_self"))
    )
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


class Edge:
    """WSGI middleware: gives each request its id (logs.request_id), and adds to every
    response the headers that never change, and the id, as X-Request-Id.

    They are added to the list the server sends: through Flask's response object, each
    header is checked and copied twice, a tenth of a form page's time (docs/performance.md).
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        given = environ[logs.REQUEST_ID_KEY] = logs.request_id(environ)
        added = [*SAME_FOR_EVERY_RESPONSE, ("X-Request-Id", given)]

        def start_with_ours(status, headers, exc_info=None):
            headers.extend(added)
            return start_response(status, headers, exc_info)

        return self.app(environ, start_with_ours)


class NoSessions(SessionInterface):
    """The widget sets no cookie (promise 2), so it never opens a session. Flask's
    default interface would build a signing serializer on every request only to
    find no cookie: a sixth of a form page's time. Writing to ``session`` raises."""

    def open_session(self, app, request):
        return None  # Flask then uses make_null_session

    def save_session(self, app, session, response) -> None:
        return None


def init_app(app) -> None:
    app.wsgi_app = Edge(app.wsgi_app)
    app.session_interface = NoSessions()
    app.before_request(refuse_cross_site_posts)
    app.after_request(set_headers)
