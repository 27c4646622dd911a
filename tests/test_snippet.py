"""The snippet page and `flask agencies snippet`: agency staff get code and links that
cannot be wrong, because both are built by one function and both point at pages that
answer."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import html5lib
import pytest

from tests.conftest import write_agency
from tests.polls import AGENCY as POLL_AGENCY
from tests.polls import POLL, write_poll
from widget import agencies, create_app, settings
from widget.web.snippet import recommended_height, snippet_for

SCHOOL = "orel-school-57"
NO_ORIGINS = """extends = "_bases/orel"
name = "Сельская библиотека"
routing_key = "57.culture.library-1"
languages = ["ru"]

[[topics]]
id = "books"
title = "Книги"
"""


def page_of(client, agency_id=SCHOOL):
    response = client.get(f"/snippet/{agency_id}")
    assert response.status_code == 200
    return response, response.get_data(as_text=True)


def textarea(page: str) -> str:
    raw = re.search(r'<textarea[^>]*id="iframe-code"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    return html.unescape(raw)


def parse_iframe(code: str):
    fragment = html5lib.parseFragment(code, namespaceHTMLElements=False)
    (element,) = list(fragment)
    assert element.tag == "iframe"
    return element


@pytest.mark.parametrize("path", ["/snippet/no-such-agency", "/snippet/Bad_Id", "/snippet/x"])
def test_an_unknown_agency_has_no_snippet(client, path):
    assert client.get(path).status_code == 404


def test_a_broken_agency_file_gives_the_503_page(client, instance):
    write_agency(instance, "broken-one", "name = ")
    assert client.get("/snippet/broken-one").status_code == 503


def test_the_page_shows_exactly_the_code_the_function_builds(client, app):
    _response, page = page_of(client)
    agency = agencies.extension(app).get(SCHOOL)
    expected = snippet_for(app, agency, "http://localhost/")
    assert textarea(page) == expected.iframe
    assert f'value="{expected.page_url}"' in page
    assert expected.page_url == "http://localhost/f/orel-school-57"


def test_the_code_is_one_lazy_titled_iframe_of_the_embed_page(client):
    _response, page = page_of(client)
    iframe = parse_iframe(textarea(page))
    assert iframe.get("src") == "http://localhost/embed/orel-school-57"
    assert iframe.get("title") == "Форма обратной связи: Школа № 57"
    assert iframe.get("loading") == "lazy"
    assert int(iframe.get("height")) >= 400
    assert not [name for name in iframe.attrib if name.startswith("on")]


def test_every_link_it_shows_answers(client):
    _response, page = page_of(client)
    iframe = parse_iframe(textarea(page))
    page_url = re.search(r'id="page-link" type="text" value="([^"]+)"', page).group(1)
    for url in (iframe.get("src"), page_url):
        assert client.get(urlsplit(url).path).status_code == 200
    embed = client.get(urlsplit(iframe.get("src")).path)
    assert "'self'" in embed.headers["Content-Security-Policy"]  # the preview may frame it


def test_the_snippet_page_itself_cannot_be_framed_but_shows_a_preview(client):
    response, page = page_of(client)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "frame-src 'self'" in csp
    assert re.search(r'<iframe class="snippet__preview" src="/embed/orel-school-57"', page)


def test_the_qr_code_is_inline_svg_of_the_link(client):
    _response, page = page_of(client)
    svg = re.search(r'<div class="snippet__qr">(<svg.*?</svg>)</div>', page, re.S).group(1)
    assert "<title>QR-код ссылки на форму: http://localhost/f/orel-school-57</title>" in svg
    assert "<path" in svg


def test_the_qr_code_downloads_as_an_svg_file(client):
    response = client.get(f"/snippet/{SCHOOL}/qr.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="otklik-orel-school-57.svg"'
    )
    assert response.get_data().startswith(b"<?xml")


def visible_text(page: str, skip_class: str = "") -> str:
    """The words a reader sees (not the code to copy), leaving out ``skip_class``."""
    document = html5lib.parse(page, namespaceHTMLElements=False)
    words = []

    def walk(element):
        if element.tag in ("textarea", "script", "style", "title") or (
            skip_class and skip_class in element.get("class", "").split()
        ):
            return
        words.append(element.text or "")
        for child in element:
            walk(child)
            words.append(child.tail or "")

    walk(document.find("body"))
    return " ".join(" ".join(words).split())


def test_an_agency_without_embed_origins_is_warned_in_plain_words(client, instance):
    write_agency(instance, "library-1", NO_ORIGINS)
    _response, page = page_of(client, "library-1")
    (warning,) = re.findall(r'<div class="warning"[^>]*>(.*?)</div>', page, re.S)
    assert "адреса сайтов, на которых можно показывать форму" in warning
    assert "embed_origins" not in warning
    _response, page = page_of(client)
    assert 'class="warning"' not in page


@pytest.mark.parametrize("agency_id", [SCHOOL, "library-1"])
def test_staff_are_told_how_to_add_a_site_in_words_not_key_names(client, instance, agency_id):
    """The key's name is for the administrator, in docs/agency-tools.md."""
    write_agency(instance, "library-1", NO_ORIGINS)
    _response, page = page_of(client, agency_id)
    assert "embed_origins" not in page
    assert "в список сайтов, на которых можно показывать форму" in visible_text(page)


@pytest.mark.parametrize(
    "origins, expected",
    [
        (
            '["http://localhost:8000"]',
            "Адрес http://localhost:8000 годится только для проверки на своём компьютере",
        ),
        (
            '["http://localhost:8000", "http://127.0.0.1"]',
            "Адреса http://localhost:8000, http://127.0.0.1 годятся только для проверки",
        ),
    ],
)
def test_the_local_origins_warning_agrees_with_their_number(
    client, runner, instance, origins, expected
):
    body = NO_ORIGINS.replace("languages", f"embed_origins = {origins}\nlanguages")
    write_agency(instance, "library-1", body)
    _response, page = page_of(client, "library-1")
    assert expected in visible_text(page)
    result = runner.invoke(
        args=["agencies", "snippet", "library-1", "--base-url", "https://otklik.example.ru"]
    )
    assert expected in result.output


@pytest.mark.parametrize(
    "origins, ru, en",
    [
        ('["https://lib1.example.ru"]', "только на этом сайте:", "only on this site:"),
        (
            '["https://lib1.example.ru", "https://orel-lib.example.ru"]',
            "только на этих сайтах:",
            "only on these sites:",
        ),
    ],
)
def test_the_sites_the_form_opens_on_agree_with_their_number(client, instance, origins, ru, en):
    """Every demo agency lists one site, under words that spoke of several."""
    body = NO_ORIGINS.replace(
        'languages = ["ru"]', f'embed_origins = {origins}\nlanguages = ["ru", "en"]'
    )
    write_agency(instance, "library-1", body)
    assert f"Форма откроется {ru}" in visible_text(page_of(client, "library-1")[1])
    english = client.get("/snippet/library-1?lang=en").get_data(as_text=True)
    assert f"The form opens {en}" in visible_text(english)


def test_an_official_name_with_its_own_quotes_is_not_quoted_again(client, instance):
    """A legal name carries «»; wrapped in «» again it read «МБОУ «Школа № 1», г. Орёл»."""
    name = "МБОУ «Средняя школа № 57», г. Орёл"  # the demo school's official name
    _response, page = page_of(client)
    text = visible_text(page)
    assert name in text
    depth = 0
    for char in text:
        depth += {"«": 1, "»": -1}.get(char, 0)
        assert depth in (0, 1), text


def test_public_url_decides_every_link(instance, config):
    config["public_url"] = "https://otklik.example.ru/widget/"
    app = create_app(config, instance_path=instance)
    from tests.conftest import CheckedClient

    app.test_client_class = CheckedClient
    _response, page = page_of(app.test_client())
    iframe = parse_iframe(textarea(page))
    assert iframe.get("src") == "https://otklik.example.ru/widget/embed/orel-school-57"
    assert 'value="https://otklik.example.ru/widget/f/orel-school-57"' in page
    result = app.test_cli_runner().invoke(args=["agencies", "snippet", SCHOOL])
    assert result.exit_code == 0, result.output
    assert textarea(page) in result.output.splitlines()
    assert "https://otklik.example.ru/widget/f/orel-school-57" in result.output.splitlines()


@pytest.mark.parametrize(
    "bad", ["otklik.example.ru", "ftp://otklik.example.ru", "https://x.ru/?a=1"]
)
def test_a_malformed_public_url_is_refused_at_start(instance, config, bad):
    config["public_url"] = bad
    with pytest.raises(settings.SettingsError, match="public_url"):
        create_app(config, instance_path=instance)


def test_the_command_links_to_public_url_unless_told_otherwise(runner):
    result = runner.invoke(args=["agencies", "snippet", SCHOOL])
    assert result.exit_code == 0, result.output
    assert "http://localhost/f/orel-school-57" in result.output.splitlines()
    result = runner.invoke(args=["agencies", "snippet", SCHOOL, "--base-url", "https://o.ru/w"])
    assert "https://o.ru/w/f/orel-school-57" in result.output.splitlines()
    (stats_code,) = [line for line in result.output.splitlines() if "/stats" in line]
    assert parse_iframe(stats_code).get("src") == "https://o.ru/w/embed/orel-school-57/stats"


def test_the_command_names_an_unknown_agency(runner):
    result = runner.invoke(args=["agencies", "snippet", "nowhere", "--base-url", "https://o.ru"])
    assert result.exit_code == 1
    assert "no agency 'nowhere'" in result.output


def test_the_command_prints_what_the_page_shows(client, runner, instance, tmp_path):
    write_agency(instance, "library-1", NO_ORIGINS)
    qr = tmp_path / "qr.svg"
    result = runner.invoke(
        args=["agencies", "snippet", "library-1", "--base-url", "http://localhost", "--qr", str(qr)]
    )
    assert result.exit_code == 0, result.output
    _response, page = page_of(client, "library-1")
    lines = result.output.splitlines()
    assert textarea(page) in lines
    assert "http://localhost/f/library-1" in lines
    assert any(line.startswith("warning: ") and "адреса сайтов" in line for line in lines)
    assert qr.read_bytes().startswith(b"<?xml")


def test_the_recommended_height_follows_the_form(app, instance):
    registry = agencies.extension(app)
    write_agency(instance, "library-1", NO_ORIGINS)
    one_topic = recommended_height(registry.get("library-1"))
    title = "Тема довольно длинная, в две строки на экране телефона"
    many = NO_ORIGINS + "".join(f'\n[[topics]]\nid = "t{i}"\ntitle = "{title}"\n' for i in range(8))
    write_agency(instance, "library-1", many)
    assert recommended_height(registry.get("library-1")) >= one_topic + 8 * 2 * 23
    hidden = (
        NO_ORIGINS
        + '\n[contact]\nname = "hidden"\nemail = "hidden"\nphone = "hidden"\nanonymous = true\n'
    )
    write_agency(instance, "library-1", hidden)
    assert recommended_height(registry.get("library-1")) < one_topic - 300


def test_a_closed_a_not_yet_open_or_a_broken_poll_has_no_snippet(client, instance):
    write_poll(instance, "old", POLL.replace("2035-12-31", "2026-01-02"))
    write_poll(instance, "soon", POLL.replace("2026-01-01", "2035-01-01"))
    write_poll(instance, "broken", POLL.replace('kind = "single"', 'kind = "singel"'))
    _response, page = page_of(client, POLL_AGENCY)
    assert "Опросы, которые идут сейчас" not in page and "/polls/" not in page
    for poll_id in ("old", "soon", "broken", "nowhere"):
        assert client.get(f"/snippet/{POLL_AGENCY}/polls/{poll_id}/qr.svg").status_code == 404


def test_each_open_poll_gets_its_code_link_and_qr_code(client, instance):
    write_poll(instance, "dvor")
    write_poll(instance, "park", POLL.replace("Благоустройство 2027", "Парк «Ботанический» 🌳"))
    _response, page = page_of(client, POLL_AGENCY)
    for poll_id in ("dvor", "park"):
        code = html.unescape(
            re.search(rf'id="poll-{poll_id}-code"[^>]*>(.*?)</textarea>', page, re.S).group(1)
        )
        iframe = parse_iframe(code)
        src = urlsplit(iframe.get("src")).path
        assert src == f"/embed/{POLL_AGENCY}/polls/{poll_id}"
        assert int(iframe.get("height")) >= 1000  # three questions, eight answers, the notice
        assert client.get(src).status_code == 200
        assert f"/f/{POLL_AGENCY}/polls/{poll_id}" in page
        qr = client.get(f"/snippet/{POLL_AGENCY}/polls/{poll_id}/qr.svg")
        assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert "Опрос: Парк «Ботанический» 🌳" in html.unescape(page)
    assert page.count('class="snippet__qr"') == 3  # the form's and the two polls'


def test_the_command_prints_each_open_polls_code_and_link(runner, instance, tmp_path):
    write_poll(instance, "dvor")
    qr = tmp_path / "qr.svg"
    result = runner.invoke(
        args=["agencies", "snippet", POLL_AGENCY, "--base-url", "https://o.ru", "--qr", str(qr)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"https://o.ru/f/{POLL_AGENCY}/polls/dvor" in lines
    assert any(line.startswith(f'<iframe src="https://o.ru/embed/{POLL_AGENCY}/polls/dvor"')
               for line in lines)  # fmt: skip
    assert (tmp_path / "qr-dvor.svg").read_bytes().startswith(b"<?xml")
