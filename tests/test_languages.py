"""Languages: Russian by default, English complete, chosen per agency and per visit."""

from __future__ import annotations

import io
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import ROOT, token_of, write_agency
from tests.forms import send
from tests.outbox_db import rows
from widget import i18n

SCHOOL = "/embed/orel-school-57"
CATALOGUE = ROOT / "widget" / "translations" / "en" / "LC_MESSAGES"
CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def visible_text(html: str) -> str:
    html = re.sub(r"<(style|title)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def untranslated(html: str, agency_strings: list[str]) -> list[str]:
    text = visible_text(html)
    for known in agency_strings:
        text = text.replace(known, " ")
    return [line.strip() for line in text.splitlines() if CYRILLIC.search(line)]


# The agency's own name and the language switch's "Русский" are not ours to translate.
AGENCY_NAMES = ["МБОУ «Средняя школа № 57», г. Орёл", "Школа № 57", i18n.name("ru")]


def test_russian_is_the_default(client):
    html = client.get(SCHOOL).get_data(as_text=True)
    assert '<html lang="ru">' in html and "Отправить" in html


def test_english_is_complete_on_the_form(client):
    html = client.get(SCHOOL + "?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "School meals" in html and "Send us a question" in html
    assert untranslated(html, AGENCY_NAMES) == []


def test_english_is_complete_on_the_error_state_and_done_page(client):
    token = token_of(client.get(SCHOOL + "?lang=en").get_data(as_text=True))
    html = client.post(SCHOOL + "?lang=en", data={"token": token, "name": "x" * 300}).get_data(
        as_text=True
    )
    assert "<title>Error: " in html and "There is a problem" in html
    assert "Select a topic" in html and "Enter your message" in html
    assert untranslated(html, AGENCY_NAMES) == []
    done = send(client, SCHOOL + "?lang=en", email="a@example.ru", consent="y")
    assert "lang=en" in done.headers["Location"]
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Message sent" in page
    # British, like the catalogue and og:locale en_GB: "8 December 2026"
    assert re.search(
        r"by \d{1,2} (January|February|March|April|May|June|July|August|September|"
        r"October|November|December) 20\d\d",
        page,
    )
    assert untranslated(page, AGENCY_NAMES) == []


def test_the_message_records_its_language(client, app):
    send(client, SCHOOL + "?lang=en", email="a@example.ru", consent="y")
    (row,) = rows(app)
    assert row["lang"] == "en" and '"language": "en"' in row["event"]
    assert '"title": "School meals"' in row["event"]


@pytest.mark.parametrize("asked", ["de", "EN", "", "en-US", "<script>"])
def test_a_language_the_agency_does_not_list_falls_back_to_its_first(client, asked):
    html = client.get(f"{SCHOOL}?lang={asked}").get_data(as_text=True)
    assert '<html lang="ru">' in html


def test_a_russian_only_agency_stays_russian(client):
    html = client.get("/f/orel-city-admin?lang=en").get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert "switch_language" not in html


def test_the_browser_language_counts_only_when_the_agency_allows_it(client, instance):
    english = {"Accept-Language": "en-GB,en;q=0.9"}
    assert '<html lang="ru">' in client.get(SCHOOL, headers=english).get_data(as_text=True)
    path = instance / "agencies" / "orel-school-57.toml"
    write_agency(instance, "orel-school-57", "browser_language = true\n" + path.read_text())
    assert '<html lang="en">' in client.get(SCHOOL, headers=english).get_data(as_text=True)
    assert '<html lang="ru">' in client.get(SCHOOL).get_data(as_text=True)


def test_switching_language_keeps_what_was_typed_and_stores_nothing(client, app):
    html = client.get(SCHOOL).get_data(as_text=True)
    assert 'formaction="/embed/orel-school-57?lang=en"' in html
    response = client.post(
        SCHOOL + "?lang=en",
        data={
            "token": token_of(html),
            "text": "Мой текст",
            "email": "kept@example.ru",
            "topic": "food",
            "switch_language": "en",
        },
    )
    assert response.status_code == 200
    switched = response.get_data(as_text=True)
    assert '<html lang="en">' in switched and "Мой текст" in switched
    assert 'value="kept@example.ru"' in switched and "There is a problem" not in switched
    assert rows(app) == []


def test_every_string_in_the_code_has_an_english_translation():
    with (CATALOGUE / "messages.po").open("rb") as f:
        catalogue = read_po(f)
    method_map = [("widget/**.py", "python"), ("embed_templates/**.html", "jinja2")]
    keywords = {"_": None, "_l": None, "lazy_gettext": None, "gettext": None, "N_": None}
    extracted = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT, method_map, keywords=keywords
        )
    }
    assert extracted, "extraction found no strings"
    missing = [m for m in extracted if not (catalogue.get(m) and catalogue.get(m).string)]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert missing == [], "run `make messages` and translate these"
    assert fuzzy == []


def test_the_compiled_catalogue_matches_its_source():
    with (CATALOGUE / "messages.po").open("rb") as f:
        source = {m.id: m.string for m in read_po(f) if m.id}
    compiled = {  # read_mo gives a plural message's forms as lists, read_po as tuples
        (tuple(m.id) if m.pluralizable else m.id): (tuple(m.string) if m.pluralizable else m.string)
        for m in read_mo(io.BytesIO((CATALOGUE / "messages.mo").read_bytes()))
        if m.id
    }
    assert compiled == source, "run `make messages` to compile the catalogue"


def test_the_catalogued_languages_are_known():
    assert i18n.catalogued() == {"ru", "en"}
