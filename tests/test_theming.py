"""Theming: the agency's accent colour and logo, served safely and cached."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, write_agency

GOOD_SVG = (ROOT / "instance" / "logos" / "orel-city.svg").read_text()


@pytest.fixture
def logos(instance):
    folder = instance / "logos"
    folder.mkdir(exist_ok=True)
    (folder / "orel-city.svg").write_text(GOOD_SVG)
    return folder


def with_logo(instance, name: str) -> None:
    path = ROOT / "instance" / "agencies" / "orel-school-57.toml"
    body = path.read_text().replace('accent = "#1d6f42"', f'accent = "#1d6f42"\nlogo = "{name}"')
    write_agency(instance, "orel-school-57", body)


def logo_src(html: str) -> str | None:
    found = re.search(r'<img class="logo[^"]*" src="([^"]+)"', html)
    return found.group(1) if found else None


def test_the_agency_logo_is_shown_and_served_as_an_image(client, logos):
    html = client.get("/f/orel-city-admin").get_data(as_text=True)
    src = logo_src(html)
    assert src and src.startswith("/logo/orel-city-admin?v=")
    with client.get(src) as response:
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert "max-age=31536000" in response.headers["Cache-Control"]
        assert "script-src 'none'" in response.headers["Content-Security-Policy"]
        etag = response.headers["ETag"]
    with client.get(src, headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


def test_the_logo_is_shown_in_the_iframe_too(client, logos):
    assert logo_src(client.get("/embed/orel-city-admin").get_data(as_text=True))


def test_a_replaced_logo_gets_a_new_url_on_the_next_page(client, logos):
    """Browsers keep a logo for a year under its URL: a new file must change the URL at
    once, although the page around it is cached."""
    before = logo_src(client.get("/embed/orel-city-admin").get_data(as_text=True))
    (logos / "orel-city.svg").write_text(GOOD_SVG.replace("</svg>", "<g></g></svg>"))
    after = logo_src(client.get("/embed/orel-city-admin").get_data(as_text=True))
    assert before and after and after != before
    with client.get(after) as response:
        assert b"<g></g>" in response.data


@pytest.mark.parametrize(
    "svg",
    [
        GOOD_SVG.replace("</svg>", "<script>alert(1)</script></svg>"),
        GOOD_SVG.replace("<svg ", '<svg onload="alert(1)" '),
        GOOD_SVG.replace("</svg>", '<a href="javascript:alert(1)"><text>x</text></a></svg>'),
        GOOD_SVG.replace("</svg>", '<image href="https://tracker.example/p.png"/></svg>'),
        GOOD_SVG.replace("</svg>", "<foreignObject><div>x</div></foreignObject></svg>"),
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
        GOOD_SVG.replace("</svg>", "<style>@import url(https://x.example/a.css);</style></svg>"),
        "<svg xmlns='http://www.w3.org/2000/svg'><unclosed></svg>",
        "<html><body>not an svg</body></html>",
    ],
)
def test_an_svg_that_could_carry_script_or_tracking_is_refused(client, instance, logos, svg):
    (logos / "bad.svg").write_text(svg)
    with_logo(instance, "bad.svg")
    html = client.get("/embed/orel-school-57").get_data(as_text=True)
    assert logo_src(html) is None  # the form still works, without the logo
    assert client.get("/logo/orel-school-57").status_code == 404


def test_a_png_logo_must_really_be_a_png(client, instance, logos):
    (logos / "fake.png").write_bytes(b"MZ\x90\x00 an executable")
    with_logo(instance, "fake.png")
    assert client.get("/logo/orel-school-57").status_code == 404
    (logos / "real.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with_logo(instance, "real.png")
    with client.get("/logo/orel-school-57") as response:
        assert response.status_code == 200 and response.mimetype == "image/png"


@pytest.mark.parametrize("name", ["../settings.toml", "/etc/passwd.svg", "logo.gif", "Logo.SVG"])
def test_a_logo_name_outside_the_logos_folder_is_a_config_error(client, instance, name):
    with_logo(instance, name)
    assert client.get("/embed/orel-school-57").status_code == 503


def test_an_agency_without_a_logo_has_no_logo_route(client):
    assert client.get("/logo/orel-school-57").status_code == 404


def test_the_check_command_names_a_refused_logo(runner, instance, logos):
    (logos / "bad.svg").write_text(GOOD_SVG.replace("<svg ", '<svg onload="alert(1)" '))
    with_logo(instance, "bad.svg")
    result = runner.invoke(args=["agencies", "check", "orel-school-57"])
    assert result.exit_code == 1
    assert re.search(
        r"orel-school-57\.toml:\d+: theme\.logo: the SVG has an event handler \(onload\)",
        result.output,
    )
    assert runner.invoke(args=["agencies", "check", "orel-city-admin"]).exit_code == 0
