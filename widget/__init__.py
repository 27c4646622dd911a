"""Otklik: a JavaScript-free, cookie-free feedback widget server."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FunctionType
from typing import Any

from flask import Flask
from jinja2 import StrictUndefined
from werkzeug.middleware.proxy_fix import ProxyFix

from . import agencies, cli, forms, i18n, metrics, outbox, settings, web

ROOT = Path(__file__).resolve().parent.parent


class Otklik(Flask):
    """Flask, asking once per view or hook whether it is a coroutine function.

    Flask passes every view and hook through ``ensure_sync`` on every request, and each
    call asks ``inspect`` anew: about 4.5 thousand instructions a call, five or more calls
    a page. The answer never changes for a function. Any other callable (a bound method,
    made afresh each time) is asked every time, as in Flask.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        sync = self._sync.get(func)
        if sync is None:
            sync = super().ensure_sync(func)
            if type(func) is FunctionType:
                self._sync[func] = sync
        return sync


def create_app(
    config: Mapping[str, Any] | None = None, instance_path: str | os.PathLike | None = None
) -> Flask:
    """Build the app. ``config`` overrides settings by their settings.toml names."""
    instance = settings.instance_path(instance_path)
    app = Otklik(
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
    except sqlite3.Error as e:  # a missing instance folder, no permission, a locked file
        path = app.config["OUTBOX_PATH"]
        raise settings.SettingsError(f"outbox_path: cannot open {path}: {e}") from None
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
