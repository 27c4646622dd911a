"""The one place that sets response headers, and the cross-site POST guard.

Promise 3 of DESIGN.md: pages under ``/embed/<agency>`` may be framed by that
agency's ``embed_origins`` (and by ourselves, for the snippet and demo pages);
every other page by nobody.
"""

from __future__ import annotations

import functools
import re

from flask import abort, request
from flask.sessions import SessionInterface

from .. import agencies, logs

BASE_CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'"
)
NO_ANCESTORS = "'none'"
AGENCY_KEY = "otklik.agency"  # WSGI environ keys: see Edge
FRAME_SRC_SELF_KEY = "otklik.frame_src_self"
EMBED_PATH = re.compile(rf"/embed/({agencies.AGENCY_ID.pattern})(?:/|\Z)")
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
# The names of our headers, lower-cased, for Edge to drop a view's own of the same name
OURS = frozenset(name.lower() for name, _value in SAME_FOR_EVERY_RESPONSE) | {
    "content-security-policy",
    "x-request-id",
}
OURS_HTML = OURS | {NO_STORE[0].lower()}


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


def embedded_agency(path: str | None = None) -> str | None:
    """The agency id when the request (or ``path``) is for a page under /embed/<agency>."""
    match = EMBED_PATH.match(request.path if path is None else path)
    return match.group(1) if match else None


def shows_agency(environ: dict, agency: agencies.Agency) -> None:
    """Called by a view that loaded the agency its page is for (its headers need it)."""
    environ[AGENCY_KEY] = agency


def allow_own_frames() -> None:
    """Called by a view whose page shows our widget in an iframe (demo, snippet)."""
    request.environ[FRAME_SRC_SELF_KEY] = True


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


class Edge:
    """WSGI middleware around the app: gives each request its id (logs.request_id), and
    adds every response header of ours to the list the server sends.

    Headers that are the same for every response need no checking on werkzeug's
    response object, which checks and copies each one it holds. The page's own part
    (which agency's sites may frame it, whether it frames ours) comes from what the
    view recorded in the WSGI environ: ``shows_agency``, ``allow_own_frames``.
    """

    def __init__(self, app):
        self.app = app
        self.wsgi_app = app.wsgi_app

    def __call__(self, environ, start_response):
        given = environ[logs.REQUEST_ID_KEY] = logs.request_id(environ)

        def start_with_ours(status, headers, exc_info=None):
            html = _is_html(headers)
            # ours win over a view's own header of the same name
            kept = [h for h in headers if h[0].lower() not in (OURS_HTML if html else OURS)]
            kept += SAME_FOR_EVERY_RESPONSE
            csp = content_security_policy(
                self.frame_ancestors(environ), FRAME_SRC_SELF_KEY in environ
            )
            kept.append(("Content-Security-Policy", csp))
            kept.append(("X-Request-Id", given))
            if html:
                kept.append(NO_STORE)
            return start_response(status, kept, exc_info)

        return self.wsgi_app(environ, start_with_ours)

    def frame_ancestors(self, environ) -> tuple[str, ...]:
        agency_id = embedded_agency(environ.get("PATH_INFO", ""))
        if agency_id is None:
            return ()
        agency = environ.get(AGENCY_KEY)
        try:
            if agency is None or agency.id != agency_id:  # an error page, before any view
                agency = agencies.extension(self.app).get(agency_id)
            origins = agency.embed_origins
        except agencies.AgencyError as e:  # never good here: the sites its broken file lists
            origins = e.origins
        except Exception:  # unknown, unreadable: framed by nobody else
            origins = []
        return ("'self'", *origins)


def _is_html(headers: list[tuple[str, str]]) -> bool:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.startswith("text/html")
    return False


class NoSessions(SessionInterface):
    """The widget sets no cookie (promise 2), so it never opens a session: writing to
    ``session`` raises instead of setting a cookie, and no request builds Flask's
    session-signing serializer only to find no cookie."""

    def open_session(self, app, request):
        return None  # Flask then uses make_null_session

    def save_session(self, app, session, response) -> None:
        return None


def init_app(app) -> None:
    app.wsgi_app = Edge(app)
    app.session_interface = NoSessions()
    app.before_request(refuse_cross_site_posts)
