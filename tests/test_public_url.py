"""Absolute URLs (og:url, og:image, the snippet's code, links and QR code) come from the
public_url setting alone: the Host header is the client's to choose, and a link preview
or a QR code printed for a school's hall must not point where an attacker said."""

from __future__ import annotations

import io
import re

import pytest
import segno
from PIL import Image

from tests.conftest import CheckedClient, write_agency
from widget import create_app, settings

PUBLIC = "https://otklik.example.ru"
EVIL = "evil.example"


@pytest.fixture
def public_app(instance, config):
    config["public_url"] = PUBLIC
    app = create_app(config, instance_path=instance)
    app.test_client_class = CheckedClient
    return app


def meta(html: str, prop: str) -> str | None:
    found = re.search(rf'<meta property="{re.escape(prop)}" content="([^"]*)">', html)
    return found.group(1) if found else None


@pytest.mark.parametrize(
    "path",
    [
        "/f/orel-school-57",
        "/embed/orel-school-57",
        "/f/orel-school-57?lang=en",
        "/snippet/orel-school-57",
        "/snippet/orel-school-57/qr.svg",
        "/demo",
    ],
)
@pytest.mark.parametrize("host", [EVIL, f"{EVIL}:8443"])
def test_the_host_header_never_reaches_a_page(public_app, path, host):
    client = public_app.test_client()
    for headers in ({"Host": host}, {"Host": host, "X-Forwarded-Host": host}):
        response = client.get(path, headers=headers)
        assert response.status_code == 200
        assert EVIL not in response.get_data(as_text=True)


def test_the_snippet_links_and_qr_code_name_the_public_address(public_app):
    client = public_app.test_client()
    page = client.get("/snippet/orel-school-57", headers={"Host": EVIL}).get_data(as_text=True)
    assert f'value="{PUBLIC}/f/orel-school-57"' in page
    assert f"src=&#34;{PUBLIC}/embed/orel-school-57&#34;" in page or (
        f"src=&quot;{PUBLIC}/embed/orel-school-57&quot;" in page
    )
    assert f"<title>QR-код ссылки на форму: {PUBLIC}/f/orel-school-57</title>" in page


def test_og_url_is_the_public_address(public_app):
    html = (
        public_app.test_client()
        .get("/f/orel-school-57", headers={"Host": EVIL})
        .get_data(as_text=True)
    )
    assert meta(html, "og:url") == f"{PUBLIC}/f/orel-school-57"


def test_the_blank_form_cache_is_not_keyed_by_the_host(public_app):
    client = public_app.test_client()
    cache = public_app.extensions["otklik.blank_forms"]
    for n in range(40):
        client.get("/f/orel-school-57", headers={"Host": f"a{n}.{EVIL}"})
        client.get("/f/orel-school-57", headers={"Host": f"a{n}.{EVIL}"}, base_url="https://x")
    assert cache.cache_info().currsize == 1


def test_outside_demo_public_url_is_required(tmp_path):
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(tmp_path, {"secret_key": "k"}, environ={})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("public_url: required unless demo = true")
    assert "OTKLIK_PUBLIC_URL" in message
    loaded = settings.load(tmp_path, {"secret_key": "k", "public_url": PUBLIC + "/"}, environ={})
    assert loaded["PUBLIC_URL"] == PUBLIC


def test_the_demo_instance_names_its_public_address():
    from tests.conftest import ROOT

    loaded = settings.load(ROOT / "instance", environ={})
    assert loaded["DEMO"] and loaded["PUBLIC_URL"] == "http://127.0.0.1:8000"


@pytest.mark.parametrize(("lang", "locale"), [("ru", "ru_RU"), ("en", "en_GB")])
def test_og_locale_is_a_language_and_territory(public_app, lang, locale):
    html = public_app.test_client().get(f"/f/orel-school-57?lang={lang}").get_data(as_text=True)
    assert meta(html, "og:locale") == locale
    other = {"ru_RU": "en_GB", "en_GB": "ru_RU"}[locale]
    assert meta(html, "og:locale:alternate") == other


def test_og_image_is_an_absolute_png_with_a_description(public_app):
    client = public_app.test_client()
    html = client.get("/f/orel-school-57", headers={"Host": EVIL}).get_data(as_text=True)
    image = meta(html, "og:image")
    assert image and image.startswith(f"{PUBLIC}/static/")
    assert meta(html, "og:image:alt")
    with client.get(image.removeprefix(PUBLIC)) as response:
        assert response.status_code == 200
        picture = Image.open(io.BytesIO(response.get_data()))
    assert picture.format == "PNG"  # social sites show PNG or JPEG, never SVG
    assert picture.size == (1200, 630)
    assert meta(html, "og:image:width") == "1200" and meta(html, "og:image:height") == "630"


def test_og_image_is_the_agency_logo_when_it_is_a_raster_image(public_app, instance):
    logo = io.BytesIO()
    Image.new("RGB", (600, 315), "#1d6f42").save(logo, "PNG")
    (instance / "logos" / "school57.png").write_bytes(logo.getvalue())
    body = (instance / "agencies" / "orel-school-57.toml").read_text(encoding="utf-8")
    write_agency(
        instance,
        "orel-school-57",
        body.replace('accent = "#1d6f42"', 'accent = "#1d6f42"\nlogo = "school57.png"'),
    )
    client = public_app.test_client()
    html = client.get("/f/orel-school-57").get_data(as_text=True)
    image = meta(html, "og:image")
    assert image.startswith(f"{PUBLIC}/logo/orel-school-57?v=")
    assert meta(html, "og:image:width") is None  # a logo's size is the agency's own
    with client.get(image.removeprefix(PUBLIC)) as response:
        assert response.mimetype == "image/png"
    # an SVG logo (the city's) is no use to social sites: they get the default picture
    html = client.get("/f/orel-city-admin").get_data(as_text=True)
    assert meta(html, "og:image").startswith(f"{PUBLIC}/static/")


def test_a_demo_without_public_url_links_to_its_own_address_not_the_host(instance, monkeypatch):
    monkeypatch.delenv("OTKLIK_PUBLIC_URL")
    app = create_app({"demo": True, "token_min_seconds": 0}, instance_path=instance)
    app.test_client_class = CheckedClient
    client = app.test_client()
    page = client.get("/snippet/orel-school-57", headers={"Host": EVIL}).get_data(as_text=True)
    assert EVIL not in page
    assert 'value="http://127.0.0.1:8000/f/orel-school-57"' in page
    qr = client.get("/snippet/orel-school-57/qr.svg", headers={"Host": EVIL}).get_data()
    assert qr == qr_file_of("http://127.0.0.1:8000/f/orel-school-57")


def qr_file_of(url: str) -> bytes:
    """The QR code's SVG file as the snippet page makes it, of ``url``: its drawing is the
    URL's content (segno's output is deterministic)."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        out, kind="svg", scale=10, dark="#0b0c0c", light="#ffffff"
    )
    return out.getvalue()


def test_the_qr_code_file_encodes_the_public_address(public_app):
    client = public_app.test_client()
    qr = client.get("/snippet/orel-school-57/qr.svg", headers={"Host": EVIL}).get_data()
    assert qr == qr_file_of(f"{PUBLIC}/f/orel-school-57")
