"""An agency's look: its stylesheet (the accent colour) and its logo, both cached by
browsers for a year under a versioned URL."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from .. import agencies, logos
from ..agencies import Agency
from . import limits

log = logging.getLogger(__name__)
bp = Blueprint("theme", __name__)
bp.before_request(limits.count_page_view)


def theme_version(agency: Agency) -> str:
    return hashlib.sha256(agency.theme.accent.encode()).hexdigest()[:10]


@bp.get("/theme/<agency:agency_id>.css")
def stylesheet(agency_id: str):
    agency = agencies.extension(current_app).get(agency_id)
    css = render_template("theme.css", accent=agency.theme.accent)
    response = Response(css, mimetype="text/css")
    response.set_etag(theme_version(agency))
    response.cache_control.public = True
    response.cache_control.max_age = 31536000 if request.args.get("v") else 300
    return response.make_conditional(request)


def logo_url(agency: Agency) -> str | None:
    """The agency's logo URL, or None when it has none or its file is refused."""
    if not agency.theme.logo:
        return None
    try:
        logo = logos.load(logos.folder(Path(current_app.instance_path)), agency.theme.logo)
    except logos.LogoError as e:
        log.warning("logo of %s refused: %s", agency.id, e)
        return None
    return url_for("theme.logo", agency_id=agency.id, v=logo.version)


@bp.get("/logo/<agency:agency_id>")
def logo(agency_id: str):
    agency = agencies.extension(current_app).get(agency_id)
    if not agency.theme.logo:
        abort(404)
    try:
        found = logos.load(logos.folder(Path(current_app.instance_path)), agency.theme.logo)
    except logos.LogoError:
        abort(404)
    response = Response(found.data, mimetype=found.mimetype)
    response.set_etag(found.version)
    response.cache_control.public = True
    response.cache_control.max_age = 31536000 if request.args.get("v") else 300
    return response.make_conditional(request)


@bp.app_context_processor
def template_helpers():
    return {"theme_version": theme_version, "logo_url": logo_url}
