"""An agency's look: its stylesheet (the accent colour) and its logo, both cached by
browsers for a year under a versioned URL."""

from __future__ import annotations

import hashlib
import logging

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from .. import agencies, logos
from ..agencies import Agency
from . import limits, links

log = logging.getLogger(__name__)
bp = Blueprint("theme", __name__)
bp.before_request(limits.count_page_view)


def theme_version(agency: Agency) -> str:
    return hashlib.sha256(agency.theme.accent.encode()).hexdigest()[:10]


def cached(response: Response, version: str) -> Response:
    """Cached by browsers: for a year under a URL that names the version (``?v=``),
    else for five minutes; a 304 when the browser has this version."""
    response.set_etag(version)
    response.cache_control.public = True
    response.cache_control.max_age = 31536000 if request.args.get("v") else 300
    return response.make_conditional(request)


@bp.get("/theme/<agency:agency_id>.css")
def stylesheet(agency_id: str):
    agency = agencies.load(agency_id)
    css = render_template("theme.css", accent=agency.theme.accent)
    return cached(Response(css, mimetype="text/css"), theme_version(agency))


def load_logo(agency: Agency) -> logos.Logo | None:
    """The agency's logo, None when it has none; LogoError when its file is refused."""
    if not agency.theme.logo:
        return None
    return logos.load(current_app.instance_path, agency.theme.logo)


def logo_version(agency: Agency) -> str | None:
    """The version of the agency's logo file (None without one, or when it is refused):
    what a cached page that shows the logo depends on, without building its URL."""
    try:
        found = load_logo(agency)
    except logos.LogoError:
        return None
    return found.version if found else None


def logo_url(agency: Agency) -> str | None:
    """The agency's logo URL, or None when it has none or its file is refused."""
    try:
        found = load_logo(agency)
    except logos.LogoError as e:
        log.warning("logo of %s refused: %s", agency.id, e)
        return None
    return url_for("theme.logo", agency_id=agency.id, v=found.version) if found else None


def share_logo_url(agency: Agency) -> str | None:
    """The absolute URL of the agency's logo for link previews (og:image), when it is a
    PNG or JPEG: social sites show no SVG. None otherwise."""
    try:
        found = load_logo(agency)
    except logos.LogoError:
        return None
    if found is None or found.mimetype not in ("image/png", "image/jpeg"):
        return None
    return links.public("theme.logo", agency_id=agency.id, v=found.version)


@bp.get("/logo/<agency:agency_id>")
def logo(agency_id: str):
    try:
        found = load_logo(agencies.load(agency_id))
    except logos.LogoError:
        found = None
    if found is None:
        abort(404)
    return cached(Response(found.data, mimetype=found.mimetype), found.version)


@bp.app_context_processor
def template_helpers():
    return {
        "theme_version": theme_version,
        "logo_url": logo_url,
        "share_logo_url": share_logo_url,
    }
