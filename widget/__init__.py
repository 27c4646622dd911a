"""Otklik: a JavaScript-free, cookie-free feedback widget server."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from jinja2 import StrictUndefined
from werkzeug.middleware.proxy_fix import ProxyFix

ROOT = Path(__file__).resolve().parent.parent


def create_app(
    config: Mapping[str, Any] | None = None, instance_path: str | os.PathLike | None = None
) -> Flask:
    """Build the app. ``config`` overrides settings by their settings.toml names."""
    # Imported here, not above: importing one module of the package (the forwarder's
    # outbox, gunicorn.conf.py's logs and metrics) brings only what that module needs.
    from . import agencies, cli, forms, i18n, metrics, outbox, polls, settings, stats, web

    instance = settings.instance_path(instance_path)
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(ROOT / "embed_templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(settings.load(instance, config))
    app.config["MAX_FORM_MEMORY_SIZE"] = forms.MAX_TEXT_PART_BYTES  # see forms.py for why
    app.config["MAX_FORM_PARTS"] = 100
    init_proxies(app)
    init_jinja(app)
    metrics.init_app(app)
    i18n.init_app(app)
    agencies.init_app(app)
    try:
        outbox.init_app(app)
    except sqlite3.Error as e:  # a missing folder, no permission: waiting will not mend it
        path = app.config["OUTBOX_PATH"]
        raise settings.SettingsError(f"outbox_path: cannot open {path}: {e}") from None
    polls.init_app(app)
    stats.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    return app


def init_proxies(app: Flask) -> None:
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def init_jinja(app: Flask) -> None:
    app.jinja_env.undefined = StrictUndefined
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
