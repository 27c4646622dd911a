"""The web tier: blueprints, response headers and error pages."""

from __future__ import annotations

from werkzeug.routing import BaseConverter

from ..agencies import AGENCY_ID
from . import answers as answers  # its views register on pages.bp
from . import (
    demo,
    errors,
    intake,
    limits,
    links,
    open311,
    ops,
    pages,
    security,
    snippet,
    stats,
    theme,
)
from . import polls as polls  # its views register on pages.bp


class AgencyConverter(BaseConverter):
    """``<agency:agency_id>``: anything else is a 404 without touching the disk."""

    regex = AGENCY_ID.pattern


def init_app(app) -> None:
    app.url_map.converters["agency"] = AgencyConverter
    app.url_map.converters["region"] = stats.RegionConverter
    limits.init_app(app)
    links.init_app(app)
    app.register_blueprint(pages.bp)  # with the views of ``answers`` on it
    app.register_blueprint(theme.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(snippet.bp)
    app.register_blueprint(open311.bp)
    app.register_blueprint(stats.bp)
    if app.config["DEMO"]:
        app.register_blueprint(demo.bp)
    if app.config["INTAKE_SECRET"]:  # the central system pushes updates only when it signs them
        app.register_blueprint(intake.bp)
    security.init_app(app)  # app-wide hooks run before pages' own: a refused cross-site
    # POST costs no one a hit
    errors.init_app(app)
