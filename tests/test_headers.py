"""Promise 3: who may frame which page, and the security headers on every response."""

from __future__ import annotations

import pytest
from flask import Response

from tests.forms import send
from widget import create_app

SCHOOL_ANCESTORS = "frame-ancestors 'self' https://school57.example.ru"


def csp(response) -> str:
    return response.headers["Content-Security-Policy"]


def test_the_embedded_form_may_be_framed_by_the_agency_and_ourselves_only(client):
    policy = csp(client.get("/embed/orel-school-57"))
    assert policy.endswith(SCHOOL_ANCESTORS)
    assert "script-src 'none'" in policy and "default-src 'none'" in policy


def test_an_agency_with_two_origins_lists_both(client):
    policy = csp(client.get("/embed/orel-polyclinic-1"))
    assert "frame-ancestors 'self' https://polyclinic1.example.ru https://vk.example.ru" in policy


@pytest.mark.parametrize(
    "path",
    [
        "/f/orel-school-57",
        "/healthz",
        "/readyz",
        "/theme/orel-school-57.css",
        "/static/otklik.css",
        "/no-such-page",
    ],
)
def test_every_other_response_may_not_be_framed(client, path):
    with client.get(path) as response:
        assert csp(response).endswith("frame-ancestors 'none'")


def test_the_embed_error_and_done_pages_keep_the_agencys_frame_ancestors(client, app):
    assert csp(send(client, text="")).endswith(SCHOOL_ANCESTORS)  # the 422 form
    app.config["MAX_CONTENT_LENGTH"] = 1000
    assert csp(send(client, text="я" * 2000)).endswith(SCHOOL_ANCESTORS)  # 413
    app.config["MAX_CONTENT_LENGTH"] = None
    location = send(client, email="a@example.ru", consent="y").headers["Location"]
    assert csp(client.get(location)).endswith(SCHOOL_ANCESTORS)
    assert csp(client.get("/embed/orel-school-57/done/0000-0000")).endswith(SCHOOL_ANCESTORS)
    assert csp(client.delete("/embed/orel-school-57")).endswith(SCHOOL_ANCESTORS)  # 405


def test_an_unknown_agency_in_an_iframe_lists_only_ourselves(client):
    assert csp(client.get("/embed/no-such-agency")).endswith("frame-ancestors 'self'")


def test_the_demo_page_may_show_our_widget_in_a_frame(client):
    policy = csp(client.get("/demo"))
    assert "frame-src 'self'" in policy and policy.count("frame-ancestors 'none'") == 1


def test_the_other_security_headers(client):
    response = client.get("/embed/orel-school-57")
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in response.headers


def test_the_demo_is_served_only_in_demo_mode(instance):
    from widget import create_app

    app = create_app({"secret_key": "s", "demo": False}, instance_path=instance)
    assert app.test_client().get("/demo").status_code == 404
    assert app.test_client().get("/").status_code == 404


def test_a_page_that_sets_our_headers_itself_still_sends_each_once(instance):
    """security.add_headers sets the headers: a view's own CSP or Cache-Control on an HTML page
    must not go out beside ours (a browser would enforce both, or cache the page)."""
    app = create_app({"secret_key": "k", "demo": True}, instance_path=instance)
    page = "<!doctype html><p>x</p>"
    headers = {"Cache-Control": "public, max-age=60", "Content-Security-Policy": "frame-src *"}
    app.add_url_rule("/loose", "loose", lambda: Response(page, headers=headers))
    response = app.test_client().get("/loose")
    assert response.headers.getlist("Cache-Control") == ["no-store"]
    assert len(response.headers.getlist("Content-Security-Policy")) == 1
    assert csp(response).endswith("frame-ancestors 'none'")


def test_a_stylesheet_keeps_its_own_caching(client):
    with client.get("/theme/orel-school-57.css") as response:
        assert response.headers.getlist("Cache-Control") == ["public, max-age=300"]
