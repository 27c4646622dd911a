"""The personal-data consent says what the form collects, who the operator is, and links
the operator's policy; the record of it names the very words the citizen was shown, in
whatever language (152-FZ; issue 16, item 5)."""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import re

import pytest

from tests.agency_files import GOOD, problem_for
from tests.conftest import write_agency
from tests.forms import CITY, SCHOOL, send
from tests.outbox_db import rows
from widget import consent

LABEL = "Даю согласие на обработку персональных данных"


def consent_shown(html: str) -> str:
    """The consent's words as the page shows them beside the checkbox."""
    hint = re.search(r'<div id="consent-hint" class="hint hint--consent">(.*?)</div>', html, re.S)
    words = re.sub(r"\s*<a .*", "", hint.group(1), flags=re.S)
    return html_lib.unescape(words).strip()


def policy_link(html: str) -> str | None:
    hint = re.search(r'<div id="consent-hint"[^>]*>(.*?)</div>', html, re.S).group(1)
    found = re.search(r'<a class="link" href="([^"]+)"', hint)
    return found.group(1) if found else None


def test_the_consent_lists_what_the_form_collects_and_names_the_operator(client):
    city = client.get(CITY).get_data(as_text=True)  # shows name, email, phone and address
    words = consent_shown(city)
    assert "(имя, адрес электронной почты, номер телефона и почтовый адрес)" in words
    assert "Оператор персональных данных — Администрация города Орла." in words
    school = consent_shown(client.get(SCHOOL).get_data(as_text=True))  # no address
    assert "(имя, адрес электронной почты и номер телефона)" in school
    assert "МБОУ «Средняя школа № 57», г. Орёл" in school  # the full name, not "Школа № 57"


def test_the_consent_links_the_agencys_policy(client):
    html = client.get(CITY).get_data(as_text=True)
    assert policy_link(html) == "https://orel-adm.example.ru/privacy"
    assert "Политика обработки персональных данных" in html


def test_without_a_policy_there_is_no_link(client, instance):
    path = instance / "agencies" / "orel-school-57.toml"
    text = path.read_text(encoding="utf-8")
    write_agency(instance, "orel-school-57", re.sub(r"privacy_url = .*\n", "", text))
    assert policy_link(client.get(SCHOOL).get_data(as_text=True)) is None


def test_the_checkbox_says_consent_and_the_words_describe_it(client):
    html = client.get(SCHOOL).get_data(as_text=True)
    assert f'<label class="checkbox__label" for="consent">{LABEL}</label>' in html
    checkbox = re.search(r'<input class="checkbox__input" id="consent"[^>]*>', html).group(0)
    assert 'aria-describedby="consent-hint"' in checkbox
    english = client.get(SCHOOL + "?lang=en").get_data(as_text=True)
    assert "I consent to the processing of my personal data</label>" in english
    # British lists, like the catalogue: no Oxford comma
    assert "(name, e-mail address and phone number)" in consent_shown(english)


DEFAULT_TEXTS = ""  # no consent of its own: the widget's default, in the page's language
RUSSIAN_ONLY = """
[texts.ru]
consent = "Согласен на обработку ({data}) оператором {operator}."
consent_version = "lib-ru-1"
[texts.en]
intro = "Write to the library."
"""  # the case where the English page showed Russian words under another version
BOTH = """
[texts.ru]
consent = "Согласен на обработку ({data}) оператором {operator}."
consent_version = "lib-ru-1"
[texts.en]
consent = "I agree that {operator} processes ({data})."
consent_version = "lib-en-1"
"""
VERSION_WITHOUT_WORDS = """
[texts.ru]
consent = "Согласен на обработку ({data}) оператором {operator}."
[texts.en]
consent_version = "lib-en-orphan"
"""
LIBRARY = """name = "МБУ «Библиотека № 3»"
region = "57"
routing_key = "57.culture.library-3"
languages = ["ru", "en"]
privacy_url = "https://library3.example.ru/privacy"

[contact]
address = "optional"

[[topics]]
id = "books"
title = { ru = "Книги", en = "Books" }
"""


@pytest.mark.parametrize("texts", [DEFAULT_TEXTS, RUSSIAN_ONLY, BOTH, VERSION_WITHOUT_WORDS])
def test_the_recorded_version_is_that_of_the_words_shown(client, app, instance, texts):
    write_agency(instance, "library-3", LIBRARY + texts)
    seen: dict[str, str] = {}  # words shown -> version recorded
    for lang in ("ru", "en", "ru"):  # a citizen who switches language and back
        page = f"/f/library-3?lang={lang}"
        words = consent_shown(client.get(page).get_data(as_text=True))
        assert "{" not in words and "Библиотека № 3" in words
        before = len(rows(app))
        response = send(client, page, topic="books", email="a@example.ru", consent="y")
        assert response.status_code == 303
        event = json.loads(rows(app)[before]["event"])
        record = event["data"]["consent"]
        assert record["text_sha256"] == hashlib.sha256(words.encode()).hexdigest()
        assert seen.setdefault(words, record["version"]) == record["version"]
    # and different words never share a version
    assert len(set(seen.values())) == len(seen)


def test_the_english_page_records_the_russian_version_of_the_russian_words(client, app, instance):
    write_agency(instance, "library-3", LIBRARY + RUSSIAN_ONLY)
    send(client, "/f/library-3?lang=en", topic="books", email="a@example.ru", consent="y")
    version = json.loads(rows(app)[0]["event"])["data"]["consent"]["version"]
    assert version.startswith("lib-ru-1-")  # the Russian wording, as filled in for this agency


def test_one_wording_filled_in_for_two_agencies_records_two_versions(client, app, instance):
    """A base's wording with {data} and {operator} reads differently in each agency that
    extends it: the same consent_version must not name both readings."""
    write_agency(instance, "library-3", LIBRARY + RUSSIAN_ONLY)
    other = LIBRARY.replace("library-3", "library-4").replace("№ 3", "№ 4")
    write_agency(
        instance,
        "library-4",
        other.replace('address = "optional"', 'phone = "optional"') + RUSSIAN_ONLY,
    )
    versions = {}
    for agency_id in ("library-3", "library-4"):
        words = consent_shown(client.get(f"/f/{agency_id}").get_data(as_text=True))
        before = len(rows(app))
        send(client, f"/f/{agency_id}", topic="books", email="a@example.ru", consent="y")
        record = json.loads(rows(app)[before]["event"])["data"]["consent"]
        assert record["text_sha256"] == hashlib.sha256(words.encode()).hexdigest()
        versions[words] = record["version"]
    assert len(versions) == 2 and len(set(versions.values())) == 2


def test_a_wording_without_blanks_keeps_the_version_written_beside_it(client, app, instance):
    plain = RUSSIAN_ONLY.replace("({data}) оператором {operator}", "моих данных библиотекой")
    write_agency(instance, "library-3", LIBRARY + plain)
    send(client, "/f/library-3", topic="books", email="a@example.ru", consent="y")
    assert json.loads(rows(app)[0]["event"])["data"]["consent"]["version"] == "lib-ru-1"


def test_the_default_version_changes_with_the_default_wording(app, instance, monkeypatch):
    write_agency(instance, "library-3", LIBRARY)
    with app.test_request_context():
        from widget import agencies

        library = agencies.extension(app).get("library-3")
        text, version = consent.wording(library, "ru")
        assert version.startswith("otklik-default-")
        assert consent.wording(library, "en")[1] != version  # other words, other version
        monkeypatch.setattr(
            consent, "DEFAULT_CONSENT", consent.DEFAULT_CONSENT.replace("мне", "мне.")
        )
        changed_text, changed_version = consent.wording(library, "ru")
        assert changed_text != text and changed_version != version


@pytest.mark.parametrize(
    "url",
    [
        "http://school1.example.ru/privacy",
        "school1.example.ru/privacy",
        "javascript:alert(1)",
        "https://user:pw@school1.example.ru/privacy",
        "https://school1.example.ru/pri vacy",
        "https:///privacy",
    ],
)
def test_a_policy_address_that_is_not_https_is_refused(instance, url):
    (problem,) = problem_for(instance, f'privacy_url = "{url}"\n' + GOOD)
    assert problem.startswith("privacy_url: ")
    assert "https://" in problem


def test_a_policy_address_passes_the_check(instance):
    assert (
        problem_for(instance, 'privacy_url = "https://school1.example.ru/privacy"\n' + GOOD) == []
    )


def test_a_consent_of_the_agencys_own_must_leave_room_for_the_data_and_operator(instance):
    body = GOOD + '\n[texts.ru]\nconsent = "Согласен на обработку имени и почты."\n'
    (problem,) = problem_for(instance, body)
    assert problem.startswith("texts.ru.consent: write {data} and {operator} into the wording")
