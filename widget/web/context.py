"""The page a request is for: which agency, on which surface (in its iframe or a page of
its own). Worked out once per request, from the route, and read by the views, the error
pages, the templates and the response headers alike."""

from __future__ import annotations

import functools

from flask import current_app, g, has_request_context, request
from werkzeug.exceptions import MethodNotAllowed

from .. import agencies, i18n
from ..agencies import Agency
from ..submissions import EMBED, PAGE


class Page:
    """The route's agency and surface; the agency is loaded on first use (a stylesheet's
    or a health check's headers never need it)."""

    def __init__(self, values: dict):
        self.agency_id: str | None = values.get("agency_id")
        self.surface: str | None = values.get("surface")  # EMBED or PAGE, on the widget's pages
        self.frames_own = False  # shows our widget in an iframe (security.allow_own_frames)

    @functools.cached_property
    def _loaded(self) -> tuple[Agency | None, Exception | None]:
        if self.agency_id is None:
            return None, None
        try:
            agency = agencies.load(self.agency_id)
        except Exception as e:  # AgencyNotFound, AgencyError, or an unreadable file
            return None, e
        g.lang = i18n.choose(agency, request)
        return agency, None

    @property
    def agency(self) -> Agency | None:
        """None when the route names none, or it could not be loaded."""
        return self._loaded[0]

    @property
    def problem(self) -> Exception | None:
        """Why the agency could not be loaded: AgencyNotFound, AgencyError, ..."""
        return self._loaded[1]

    @property
    def frame_ancestors(self) -> tuple[str, ...]:
        """Who may frame the page: on the embed surface ourselves and the agency's
        sites (those its broken file lists, when it never had a good version)."""
        if self.surface != EMBED:
            return ()
        if self.agency is not None:
            return ("'self'", *self.agency.embed_origins)
        if isinstance(self.problem, agencies.AgencyError):
            return ("'self'", *self.problem.origins)
        return ("'self'",)


def page() -> Page:
    """This request's page, loaded on first use and kept on ``g``."""
    shown = g.get("page")
    if shown is None:
        shown = g.page = Page(_route_values())
    return shown


def agency() -> Agency:
    """The agency of this request's page, or its 404 / 503 (raised, mapped in errors.py)."""
    shown = page()
    if shown.problem is not None:
        raise shown.problem
    return shown.agency


def template_values() -> dict:
    """What every template of a page may show of it (a context processor: a view's own
    values win): the agency, the surface and its layout, the language and the others
    the agency offers."""
    if not has_request_context():
        return {}
    shown = page()
    agency = shown.agency  # loaded first: it chooses the language
    values = {"layout": shown.surface or PAGE, "lang": i18n.current()}
    if shown.surface is not None:
        values["surface"] = shown.surface
    if agency is not None:
        values["agency"] = agency
        values["switch_to"] = [code for code in agency.languages if code != values["lang"]]
    return values


def _route_values() -> dict:
    """The route's values; for a method the route does not take (405), the values its
    GET would have had, so that the error page is dressed and framed as the page is."""
    if request.view_args is not None:
        return request.view_args
    if isinstance(request.routing_exception, MethodNotAllowed):
        adapter = current_app.create_url_adapter(request)
        try:
            return adapter.match(method="GET")[1]
        except Exception:
            return {}
    return {}
