"""The statistics pages a citizen or a journalist reads (the instance, a region, an
agency, a period given wrong), in Russian and English: JavaScript off at 1280 px, 320 px
and 200 % zoom without sideways scrolling (a wide table scrolls in its own box), sorting
by a plain link, no axe violation, and the agency's page inside its cross-site iframe
(issue 20)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.answers import rate, sent, update
from tests.browser.audit import violations
from tests.browser.layout import DESKTOP, EVERY, PHONE, assert_fits
from tests.browser.sites import TEST_AGENCY
from tests.pages import check_html
from widget import outbox
from widget.outbox import counts, write_transaction

pytestmark = pytest.mark.browser

PAGES = {
    "instance": "/stats",
    "region": "/stats/regions/57",
    "region-pages": "/stats/regions/77?page=2",  # 130 agencies: a hundred a page
    "agency": f"/stats/agencies/{TEST_AGENCY}",
    "bad-period": "/stats/regions/57?from=2026-13",
}
HEADINGS = {
    "ru": {"instance": "Все организации", "region": "Орловская область"},
    "en": {"instance": "All organisations", "region": "Орловская область"},
}
HEADINGS["ru"]["region-pages"] = HEADINGS["en"]["region-pages"] = "Москва"
ERROR = {"ru": "Период указан неверно", "en": "The period is not valid"}


@pytest.fixture(scope="module")
def figures(sites):
    """Seven messages to the test school, five answered the next day and rated, and two
    on another topic (too few to show): real figures, some of them "<5"."""
    app = sites.widget.app
    client = app.test_client()
    done = [sent(client, path=f"/embed/{TEST_AGENCY}") for _ in range(5)]
    done += [sent(client, path=f"/embed/{TEST_AGENCY}", topic="lessons") for _ in range(2)]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for d, score in zip(done[:5], "54435", strict=True):
        update(app, d, time=tomorrow, agency_id=TEST_AGENCY)
        assert rate(client, d, score=score).status_code == 303
    with app.app_context(), write_transaction(outbox.get_db()) as db:
        for i in range(130):  # Moscow's schools, counted as the outbox counts a message
            counts.message(
                db, agency_id=f"moscow-school-{i:03d}", region="77", name=f"Школа № {i + 1}",
                receipt=f"MSK{i:05d}", topic_id="food", channel="embed",
                received_at=time.time(), answer_within_days=30,
            )  # fmt: skip


def address(sites, name: str, lang: str) -> str:
    path = PAGES[name]
    return f"{sites.widget.url}{path}{'&' if '?' in path else '?'}lang={lang}"


def expect_page(page, name: str, lang: str) -> None:
    heading = page.get_by_role("heading", level=1)
    if name == "bad-period":
        expect(heading).to_have_text(ERROR[lang])
        expect(page.get_by_role("alert")).to_be_visible()
    elif name in HEADINGS[lang]:
        expect(heading).to_contain_text(HEADINGS[lang][name])
    else:
        expect(heading).to_contain_text("57")
    assert page.locator("html").get_attribute("lang") == lang


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("size", EVERY)
@pytest.mark.parametrize("name", list(PAGES))
def test_every_stats_page_without_javascript_fits(browser, sites, figures, shoot, name, size, lang):
    context = browser.new_context(java_script_enabled=False, **size)
    page = context.new_page()
    page.goto(address(sites, name, lang))
    expect_page(page, name, lang)
    check_html(page.content())
    assert_fits(page)
    shoot(page, "page")
    context.close()


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize(
    "size", [pytest.param(DESKTOP, id="1280px"), pytest.param(PHONE, id="320px")]
)
@pytest.mark.parametrize("name", list(PAGES))
def test_every_stats_page_has_no_axe_violations(browser, sites, figures, name, size, lang):
    context = browser.new_context(**size)  # axe needs JavaScript; the pages have none
    page = context.new_page()
    page.goto(address(sites, name, lang))
    expect_page(page, name, lang)
    assert violations(page) == []
    context.close()


def test_a_region_sorts_by_a_figure_through_plain_links(no_js, sites, figures):
    page = no_js.new_page()
    page.goto(f"{sites.widget.url}/stats/regions/57?from=2026-01")
    page.get_by_role("link", name="Отвечено", exact=True).click()
    header = page.locator("#rows").get_by_role("columnheader", name="Отвечено")
    expect(header).to_have_attribute("aria-sort", "descending")
    assert "sort=answered" in page.url and "from=2026-01" in page.url
    expect(page.get_by_text("Упорядочено по столбцу «Отвечено», по убыванию.")).to_be_visible()


def test_the_period_form_works_without_javascript(no_js, sites, figures):
    page = no_js.new_page()
    page.goto(f"{sites.widget.url}/stats?lang=en")
    page.get_by_label("From month").fill("2026-13")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ERROR["en"])
    page.get_by_label("From month").fill("2026-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("All organisations")
    assert "from=2026-01" in page.url and "lang=en" in page.url


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_agencys_stats_in_its_cross_site_iframe(with_js, sites, figures, shoot, lang):
    page = with_js.new_page()
    page.goto(sites.host_page())
    widget = next(f for f in page.frames if f.parent_frame is not None)
    widget.goto(f"{sites.widget.url}/embed/{TEST_AGENCY}/stats?lang={lang}")
    frame = page.frame_locator("iframe[title='Форма обратной связи']")
    expect(frame.get_by_role("heading", level=1)).to_contain_text("57")
    expect(frame.locator("svg.chart")).to_have_count(3)
    shoot(page, "iframe")
    assert violations(page) == []


def test_a_long_region_table_goes_page_by_page_through_plain_links(no_js, sites, figures):
    page = no_js.new_page()
    page.goto(f"{sites.widget.url}/stats/regions/77?sort=messages&order=desc")
    expect(page.get_by_text("Показаны 1–100 из 130.")).to_be_visible()
    pages = page.get_by_role("navigation", name="Страницы таблицы организаций")
    expect(pages.get_by_role("link", name="Страница 1")).to_have_attribute("aria-current", "page")
    pages.get_by_role("link", name="Страница 2").click()
    expect(page.get_by_text("Показаны 101–130 из 130.")).to_be_visible()
    expect(page.locator("#rows tbody tr")).to_have_count(30)
    assert "page=2" in page.url and "sort=messages" in page.url
