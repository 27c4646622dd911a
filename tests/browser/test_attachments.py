"""Photos attached in a real browser, inside the agency's iframe: Chromium encodes the
form itself (its own boundary, its own chunking), as a citizen's phone or laptop does."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from tests import files
from tests.browser.widget_form import FRAME

pytestmark = pytest.mark.browser

AGENCY = "browser-city"
# Sending megabytes and re-encoding 12-megapixel photos takes seconds on a loaded machine,
# more than expect's 5 s by default.
SENT = 30_000


@pytest.fixture(scope="module")
def city(sites) -> str:
    """An agency that takes 3 files of 5 MB and frames its form on the test host."""
    (sites.widget.instance / "agencies" / f"{AGENCY}.toml").write_text(
        f'name = "Администрация города (проверка)"\nregion = "57"\n'
        f'routing_key = "57.municipal.{AGENCY}"\nembed_origins = ["{sites.host}"]\n'
        '[contact]\nanonymous = true\n[limits]\nper_ip = "10000 per hour"\n'
        '[[topics]]\nid = "roads"\ntitle = "Дороги и тротуары"\n'
        '[[topics]]\nid = "yards"\ntitle = "Дворы и парки"\n'
        "[attachments]\nmax_files = 3\nmax_mb = 5\n",
        encoding="utf-8",
    )
    return sites.host_page(AGENCY)


def attach(form, *attached: tuple[str, bytes]) -> None:
    types = {".jpg": "image/jpeg", ".png": "image/png"}
    form.get_by_label("Фотографии или документы").set_input_files(
        [{"name": n, "mimeType": types[n[-4:]], "buffer": content} for n, content in attached]
    )


def write(form) -> str:
    text = f"Яма во дворе дома 12, глубиной 20 см, фото прилагаю {uuid.uuid4().hex[:8]}"
    form.get_by_label("Дороги и тротуары").check()
    form.get_by_label("Ваше сообщение").fill(text)
    return text


def test_a_citizen_sends_phone_photos_from_inside_the_agencys_page(no_js, sites, city, shoot):
    page = no_js.new_page()
    page.goto(city)
    form = page.frame_locator(FRAME)
    text = write(form)
    attach(form, ("IMG_2041.jpg", files.photo(3_800_000)), ("Screenshot.png", files.screenshot()))
    form.get_by_role("button", name="Отправить").click()

    expect(form.locator(".receipt")).to_be_visible(timeout=SENT)
    shoot(page, "done")
    (row,) = sites.widget.messages(text)
    sent = json.loads(row["event"])["data"]["attachments"]
    assert [(a["name"], a["type"]) for a in sent] == [
        ("IMG_2041.jpg", "image/jpeg"),
        ("Screenshot.png", "image/png"),
    ]


def test_a_photo_over_the_agencys_size_is_named_and_the_text_kept(no_js, sites, city, shoot):
    page = no_js.new_page()
    page.goto(city)
    form = page.frame_locator(FRAME)
    text = write(form)
    attach(form, ("IMG_2041.jpg", files.photo(5_000_001)), ("IMG_2042.jpg", files.photo()))
    form.get_by_role("button", name="Отправить").click()

    summary = form.get_by_role("alert")
    expect(summary).to_contain_text("Файл «IMG_2041.jpg» больше 5 МБ", timeout=SENT)
    shoot(page, "error")
    expect(form.get_by_label("Ваше сообщение")).to_have_value(text)
    expect(form.get_by_text("Прикреплено: IMG_2042.jpg")).to_be_visible()
    assert sites.widget.messages(text) == []
    form.get_by_role("button", name="Отправить").click()
    expect(form.locator(".receipt")).to_be_visible(timeout=SENT)
    (row,) = sites.widget.messages(text)
    assert [a["name"] for a in json.loads(row["event"])["data"]["attachments"]] == ["IMG_2042.jpg"]


def test_a_body_over_the_service_limit_shows_the_413_page_in_the_frame(no_js, sites, city, shoot):
    page = no_js.new_page()
    page.goto(city)
    form = page.frame_locator(FRAME)
    write(form)
    attach(form, ("IMG_2041.jpg", files.photo(3_800_000)), ("IMG_2042.jpg", files.photo()))
    sites.widget.app.config["MAX_CONTENT_LENGTH"] = 5_000_000
    try:
        form.get_by_role("button", name="Отправить").click()
        expect(form.get_by_role("heading", name="Файлы слишком большие")).to_be_visible(
            timeout=SENT
        )
    finally:
        sites.widget.app.config["MAX_CONTENT_LENGTH"] = 200 * 1024 * 1024
    shoot(page, "413")
    expect(form.locator("main")).to_contain_text("не больше 5 МБ — текст и все файлы вместе")
    expect(form.get_by_role("link", name="Вернуться к форме")).to_be_visible()
