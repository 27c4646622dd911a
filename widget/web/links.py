"""Absolute URLs, built from the ``public_url`` setting alone.

A request's Host header (and X-Forwarded-Host behind a proxy) is whatever the client
sent: a page that built its og:url, its snippet code or its QR code from it would let
anyone make the widget's pages point elsewhere. Relative links need no host and stay
``url_for``'s.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app


def external(app: Flask, base_url: str, endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint`` served from ``base_url`` (such as ``public_url``,
    or ``flask agencies snippet --base-url``)."""
    parts = urlsplit(base_url)
    adapter = app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def public(endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint`` at the widget's ``public_url``."""
    return external(current_app, current_app.config["PUBLIC_URL"], endpoint, **values)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["public_url_for"] = public
