"""The demo: a fake agency home page with the widget in an iframe (``demo = true`` only)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, url_for

from .. import agencies
from .security import allow_own_frames
from .snippet import recommended_height

bp = Blueprint("demo", __name__)
DEMO_LISTED = 20


@bp.get("/")
def index():
    return redirect(url_for(".page"))


@bp.get("/demo", defaults={"agency_id": None})
@bp.get("/demo/<agency:agency_id>")
def page(agency_id: str | None):
    registry = agencies.extension(current_app)
    listed = []
    for other in agencies.all_ids(registry.folder)[:DEMO_LISTED]:  # a demo lists a few
        try:
            listed.append(agencies.load(other))
        except agencies.AgencyError:
            continue
    if not listed:
        abort(404)
    agency = agencies.load(agency_id) if agency_id else listed[0]
    allow_own_frames()
    return render_template(
        "demo.html",
        agency=agency,
        others=listed,
        lang="ru",
        layout="page",
        wide=True,
        frame_height=recommended_height(agency),  # what the snippet page tells agencies
    )
