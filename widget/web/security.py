"""The one place that sets response headers, and the cross-site POST guard.

Promise 3 of DESIGN.md: pages under ``/embed/<agency>`` may be framed by that
agency's ``embed_origins`` (and by ourselves, for the snippet and demo pages);
every other page by nobody.
"""

from __future__ import annotations

import re

from flask import abort, current_app, g, request
from flask.sessions import SessionInterface

from .. import agencies

BASE_CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'"
)
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


def frame_ancestors() -> str:
    agency_id = embedded_agency()
    if agency_id is None:
        return "'none'"
    agency = g.get("agency")  # the view's, when it loaded this agency
    try:
        if agency is None or agency.id != agency_id:
            agency = agencies.extension(current_app).get(agency_id)
        origins = agency.embed_origins
    except (agencies.AgencyNotFound, agencies.AgencyError):
        origins = []
    return " ".join(["'self'", *origins])


def allow_own_frames() -> None:
    """Called by a view whose page shows our widget in an iframe (demo, snippet)."""
    g.frame_src_self = True


def set_headers(response):
    csp = f"{BASE_CSP}; frame-ancestors {frame_ancestors()}"
    if g.get("frame_src_self"):
        csp += "; frame-src 'self'"
    headers = response.headers
    headers["Content-Security-Policy"] = csp
    headers.extend(SAME_FOR_EVERY_RESPONSE)  # no view sets these
    if g.get("request_id"):
        headers["X-Request-Id"] = g.request_id
    if response.mimetype == "text/html":
        headers["Cache-Control"] = "no-store"
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
    app.after_request(set_headers)
