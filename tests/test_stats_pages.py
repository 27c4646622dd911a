"""The statistics pages (issue 20): bad addresses and periods first, then what the pages
show of a report (suppressed figures, charts, sorting), the exports against the pages,
and the agency's page inside its own site."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta

import html5lib
import pytest
from markupsafe import escape

from tests.answers import rate, sent, update
from tests.pages import check_html
from tests.polls import GOOD, vote, write_poll
from tests.stats_reports import figures as made_figures
from tests.stats_reports import report
from widget.stats.charts import figure
from widget.stats.report import COLUMNS, Cell, Row
from widget.web.polls import now
from widget.web.stats import NAMES, PeriodForm, render_page

AGENCY = "orel-school-57"
THIS_MONTH = now().strftime("%Y-%m")
PERIOD = f"from={THIS_MONTH}&to={THIS_MONTH}"
SVG = "{http://www.w3.org/2000/svg}"


def text_of(html: str) -> str:
    """A page's words as a reader gets them: no tags, spaces squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def page(app, path: str, built) -> str:
    """``built`` (a hand-built report) as the page at ``path`` shows it, checked."""
    with app.test_request_context(path):
        app.preprocess_request()  # the language, as for a request
        html = render_page(built, PeriodForm())
    check_html(html)
    return html


# Bad addresses and periods first


UNKNOWN = (
    "/stats/regions/99",  # no such region, and none counted
    "/stats/regions/5",  # not a region's code
    "/stats/regions/57.xml",
    "/stats/agencies/no-such-agency",
    "/stats/agencies/no-such-agency.csv",
    "/embed/no-such-agency/stats",
    "/stats/agencies/Orel",
)


def test_an_unknown_region_or_agency_is_a_404_page(client):
    for path in UNKNOWN:
        r = client.get(path)
        said = "Страница не найдена" in r.get_data(as_text=True)
        assert (r.status_code, said) == (404, True), path


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("from=2026-13", "from", "Укажите месяц в виде ГГГГ-ММ"),
        ("from=2026-01&to=январь", "to", "Укажите месяц в виде ГГГГ-ММ"),
        ("from=2026-12&to=2026-01", "from", "Начало периода позже его конца"),
        ("from=2000-01&to=2026-12", "from", "Период длиннее 10 лет"),
        ("from=<script>", "from", "Укажите месяц в виде ГГГГ-ММ"),
    ],
)
def test_a_bad_period_is_a_400_page_with_the_form_to_mend_it(client, query, field, words):
    for path in ("/stats", "/stats/regions/57", f"/stats/agencies/{AGENCY}.csv"):
        r = client.get(f"{path}?{query}&sort=votes")
        html = r.get_data(as_text=True)
        assert r.status_code == 400 and r.mimetype == "text/html"
        assert "Период указан неверно" in html and words in html
        assert f'<a href="#{field}">' in html  # the summary leads to the field to mend
        assert f'id="{field}-error"' in html
        assert 'name="sort" value="votes"' in html  # the order asked for is kept
        assert "Traceback" not in html and "<script>" not in html


def test_a_bad_period_is_said_in_english_too(client):
    r = client.get("/stats?from=13-2026&lang=en")
    assert r.status_code == 400
    assert 'lang="en"' in r.get_data(as_text=True)


def test_an_unknown_sort_or_order_falls_back_to_names(app):
    html = page(app, "/stats/regions/57?sort=secret&order=sideways", report())
    assert "Упорядочено по названию, по возрастанию" in text_of(html)


# What the pages show


def test_a_suppressed_figure_reads_less_than_five_and_has_no_bar(app):
    html = page(app, "/stats/regions/57", report())
    text = text_of(html)
    # the small agency's row: every figure "<5", escaped as text
    row = re.search(r"Библиотека</a></th>(.*?)</tr>", html, re.S).group(1)
    assert row.count("&lt;5") == len(COLUMNS)
    # the third week and the score 2 are suppressed: a visible "<5", no bar in their place
    scores = re.search(r'<svg[^>]*id="chart-scores".*?</svg>', html, re.S).group(0)
    assert scores.count("<rect") == 4 and 'class="chart__suppressed"' in scores
    assert ">&lt;5</text>" in scores
    assert "Цифра скрыта" in text  # what "<5" means, under the page


def test_each_chart_is_named_and_has_its_figures_in_a_table(app):
    html = page(app, "/stats/regions/57", report())
    document = html5lib.parse(html, namespaceHTMLElements=False)
    svgs = document.findall(f".//{SVG}svg")
    assert len(svgs) == 3
    for svg in svgs:
        assert svg.get("role") == "img"
        title_id, desc_id = svg.get("aria-labelledby").split()
        assert svg.find(f"{SVG}title").get("id") == title_id
        assert svg.find(f"{SVG}desc").get("id") == desc_id
        assert not [el for el in svg.iter() if el.get("style") is not None]  # CSP: no style
    text = text_of(html)
    for label, value in (("0–1", "20"), ("2–7", "40"), ("8–14", "&lt;5"), ("5", "35")):
        assert f"{label} {value}" in text


def test_labels_are_escaped_everywhere(app):
    html = page(app, "/stats/regions/57", report())
    assert "Школа &lt;№1&gt; &amp; «Сад»" in html and "<№1>" not in html
    agency_page = page(app, f"/stats/agencies/{AGENCY}", report("agency", AGENCY, rows=()))
    assert "Другое &lt;b&gt;" in agency_page and "Другое <b>" not in agency_page


def test_figures_read_in_the_pages_language(app):
    ru = text_of(page(app, "/stats/regions/57", report()))
    en = text_of(page(app, "/stats/regions/57?lang=en", report()))
    assert "Средняя оценка 4,2" in ru or "Средняя оценка 4,3" in ru
    assert "Решён вопрос 60 %" in ru
    assert "январь 2026" in ru and "January 2026" in en


# Sorting


def test_a_region_sorts_by_each_figure_through_links_keeping_the_period(app):
    html = page(app, "/stats/regions/57?from=2026-01&to=2026-03&sort=messages&order=desc", report())
    text = text_of(html)
    assert "Упорядочено по столбцу «Сообщений», по убыванию" in text
    names = re.findall(r'<th scope="row"><a class="link" href="[^"]*">([^<]+)</a>', html)
    assert names == ["Поликлиника", "Школа &lt;№1&gt; &amp; «Сад»", "Библиотека"]  # "<5" last
    header = re.search(r'<th scope="col" aria-sort="descending"><a[^>]*>([^<]+)</a>', html)
    assert header.group(1) == "Сообщений"
    links = re.findall(r'<th scope="col"[^>]*><a class="link" href="([^"]+)"', html)
    assert len(links) == 1 + len(COLUMNS)
    for link in links:
        assert "from=2026-01" in link and "to=2026-03" in link
    # the current column the other way round; another, largest first
    assert any("sort=messages" in link and "order=asc" in link for link in links)
    assert any("sort=answered" in link and "order=desc" in link for link in links)


def test_an_ascending_sort_still_puts_hidden_figures_last(app):
    html = page(app, "/stats/regions/57?sort=messages&order=asc", report())
    names = re.findall(r'<th scope="row"><a class="link" href="[^"]*">([^<]+)</a>', html)
    assert names[-1] == "Библиотека" and names[0].startswith("Школа")


def test_a_region_of_many_agencies_shows_them_a_hundred_at_a_time_in_the_order_asked(app, client):
    many = [Row.of(f"orel-{i:04d}", f"Школа № {i:04d}", made_figures(10 + i)) for i in range(250)]
    path = "/stats/regions/57?from=2026-01&to=2026-03&sort=messages&order=desc"
    first = page(app, path, report(rows=many))
    names = re.findall(r'<th scope="row"><a class="link" href="[^"]*">([^<]+)</a>', first)
    assert names == [f"Школа № {i:04d}" for i in range(249, 149, -1)]  # the largest first
    assert "Показаны 1–100 из 250." in text_of(first)
    links = re.findall(r'<a class="link[^"]*" href="([^"]+)" aria-label="Страница (\d)"', first)
    assert [n for _, n in links] == ["1", "2", "3"]
    assert 'aria-label="Страница 1" aria-current="page"' in first
    for link, _ in links:  # each keeps the period and the order
        assert "from=2026-01" in link and "sort=messages" in link and "order=desc" in link
    last = page(app, f"{path}&page=3", report(rows=many))
    names = re.findall(r'<th scope="row"><a class="link" href="[^"]*">([^<]+)</a>', last)
    assert names == [f"Школа № {i:04d}" for i in range(49, -1, -1)]
    assert "Показаны 201–250 из 250." in text_of(last)
    sort_links = re.findall(r'<th scope="col"[^>]*><a class="link" href="([^"]+)"', last)
    assert sort_links and not any("page=" in link for link in sort_links)  # a new order: 1
    assert "page=" not in re.search(r'<form[^>]*action="([^"]*)"', last).group(1)
    few = page(app, "/stats/regions/57", report())  # three agencies: no list of pages
    assert "Страница 1" not in few and "Показаны" not in few
    for wrong in ("4", "0", "two", "-1"):
        assert client.get(f"/stats/regions/57?page={wrong}").status_code == 404


def test_rows_link_to_their_pages_keeping_the_period_and_language(app):
    html = page(app, "/stats/regions/57?from=2026-01&to=2026-03&lang=en", report())
    assert '/stats/agencies/orel-b?from=2026-01&amp;to=2026-03&amp;lang=en"' in html
    regions = [Row.of("57", "Орловская область", report().total)]
    html = page(app, "/stats?from=2026-01&to=2026-03", report("instance", None, rows=regions))
    assert 'href="/stats/regions/57?from=2026-01&amp;to=2026-03"' in html


# Through the routes: the counts, the page and its exports


@pytest.fixture
def figures(client, app, instance):
    """What a citizen and the central system do: seven messages to the school (six
    answered the next day, five of them rated), two to the polyclinic (too few to
    show), five votes in a poll of the city's."""

    def from_someone(i: int, **fields) -> str:  # each from an address of their own
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{i}"
        return sent(client, **fields)

    done = [from_someone(i, topic="food") for i in range(6)]
    done.append(from_someone(6, topic="lessons"))
    for d in done[:6]:
        update(app, d, time=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    for d, score in zip(done[:5], "54435", strict=True):
        solved = "yes" if score == "5" else "no"
        assert rate(client, d, score=score, solved=solved).status_code == 303
    for i in (7, 8):
        phone = "+7 900 000-00-00"  # the polyclinic answers by phone
        from_someone(i, path="/embed/orel-polyclinic-1", topic="appointment", phone=phone)
    write_poll(instance, "dvor")
    for i in range(5):
        assert vote(client, ip=f"203.0.113.{i + 1}", **GOOD).status_code == 303
    return app


def shown_as(cell: dict, column: str) -> str:
    """How a page shows an exported figure."""
    return str(escape(figure(Cell(cell["value"], cell["suppressed"]), column, "ru")))


def test_the_pages_exports_parse_and_match_what_the_page_shows(client, figures):
    for path in ("/stats", "/stats/regions/57", f"/stats/agencies/{AGENCY}"):
        html = client.get(f"{path}?{PERIOD}").get_data(as_text=True)
        r = client.get(f"{path}.csv?{PERIOD}")
        assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert r.headers["Content-Disposition"].startswith('attachment; filename="otklik-')
        rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
        r = client.get(f"{path}.json?{PERIOD}")
        assert r.mimetype == "application/json"
        data = json.loads(r.get_data(as_text=True))
        assert data["licence"]["name"] in html  # the page names the exports' licence
        total = next(row for row in rows if row["section"] == "total")
        for column in COLUMNS:
            cell = data["total"][column]
            assert f"<dt>{NAMES[column]}</dt><dd>{shown_as(cell, column)}</dd>" in html
            if cell["suppressed"] or cell["value"] is None:
                assert total[column] == ""
            else:
                assert float(total[column]) == cell["value"]
        for row in data["rows"]:  # the table of regions or agencies, cell by cell
            label = re.escape(str(escape(row["label"])))
            cells = re.search(rf"{label}</a></th>(.*?)</tr>", html, re.S)
            shown = re.findall(r"<td>([^<]*)</td>", cells.group(1))
            assert shown == [shown_as(row[c], c) for c in COLUMNS]


def test_the_school_page_shows_what_citizens_and_staff_did(client, figures):
    text = text_of(client.get(f"/stats/agencies/{AGENCY}?{PERIOD}").get_data(as_text=True))
    assert "Средняя школа № 57" in text
    for said in ("Сообщений 7", "Отвечено 6", "В срок 6", "Медиана, дней 1", "Оценок 5"):
        assert said in text
    assert "Средняя оценка 4,2" in text and "Решён вопрос 40 %" in text
    data = client.get(f"/stats/agencies/{AGENCY}.json?{PERIOD}").get_json()
    topics = {t["key"]: t["total"] for t in data["topics"]}
    # one message on lessons: "<5"; and food's 6 with it, or 7 - 6 would tell it
    assert topics["lessons"] == {"value": None, "suppressed": True}
    assert topics["food"] == {"value": None, "suppressed": True}
    region = text_of(client.get(f"/stats/regions/57?{PERIOD}").get_data(as_text=True))
    assert "Сообщений 9" in region and "Голосований 1" in region and "Голосов 5" in region


def test_the_small_agency_shows_only_less_than_five(client, figures):
    html = client.get(f"/stats/regions/57?{PERIOD}").get_data(as_text=True)
    row = re.search(r"Поликлиника[^<]*</a></th>(.*?)</tr>", html, re.S).group(1)
    shown = re.findall(r"<td>([^<]*)</td>", row)
    assert shown[0] == "&lt;5" and "2" not in shown


def test_stats_are_open_data_that_a_cache_may_keep_a_while(client, figures):
    for path in ("/stats", f"/stats/agencies/{AGENCY}.csv", "/stats/regions/57.json"):
        r = client.get(path)
        assert r.headers["Cache-Control"] == "public, max-age=300"
        assert "Accept-Language" in r.headers["Vary"]
    assert client.get("/stats/regions/99").headers["Cache-Control"] == "no-store"


def test_the_embed_page_may_be_framed_by_the_agencys_sites_only(client, figures):
    r = client.get(f"/embed/{AGENCY}/stats?{PERIOD}")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://school57.example.ru" in csp
    html = r.get_data(as_text=True)
    assert 'class="layout-embed' in html and 'aria-label="Статистика"' in html
    assert 'target="_blank"' in html  # exports and the full page open outside the frame
    full = client.get(f"/stats/agencies/{AGENCY}?{PERIOD}")
    assert "frame-ancestors 'none'" in full.headers["Content-Security-Policy"]


def test_the_embed_page_keeps_the_period_in_its_own_form(client, figures):
    html = client.get(f"/embed/{AGENCY}/stats?{PERIOD}&lang=en").get_data(as_text=True)
    assert f'action="/embed/{AGENCY}/stats"' in html
    assert 'name="lang" value="en"' in html and f'value="{THIS_MONTH}"' in html


def test_the_demo_links_to_its_statistics(client):
    html = client.get("/demo").get_data(as_text=True)
    assert 'href="/stats"' in html


def test_an_agency_removed_from_the_files_keeps_its_counted_page(client, figures, instance):
    (instance / "agencies" / f"{AGENCY}.toml").unlink()
    r = client.get(f"/stats/agencies/{AGENCY}?{PERIOD}")
    text = text_of(r.get_data(as_text=True))
    assert r.status_code == 200 and "Средняя школа № 57" in text and "Сообщений 7" in text
    assert client.get(f"/stats/agencies/{AGENCY}.csv?{PERIOD}").status_code == 200


def test_the_snippet_page_gives_the_code_of_the_agencys_statistics(client):
    page = client.get(f"/snippet/{AGENCY}").get_data(as_text=True)
    raw = re.search(r'<textarea[^>]*id="stats-code"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    (iframe,) = list(html5lib.parseFragment(html.unescape(raw), namespaceHTMLElements=False))
    assert iframe.tag == "iframe" and iframe.get("title") == "Статистика обращений: Школа № 57"
    assert iframe.get("src") == f"http://localhost/embed/{AGENCY}/stats"
    framed = client.get(f"/embed/{AGENCY}/stats")
    assert (
        framed.status_code == 200
        and "school57.example.ru" in framed.headers["Content-Security-Policy"]
    )


def test_names_are_in_the_order_people_number_them(app):
    schools = [Row.of(f"s{n}", f"Школа № {n}", made_figures(10)) for n in (80, 9, 8, 100)]
    library = Row.of("l", "библиотека", made_figures(9))
    html = page(app, "/stats/regions/57", report(rows=[*schools, library]))
    names = re.findall(r'<th scope="row"><a class="link" href="[^"]*">([^<]+)</a>', html)
    assert names == ["библиотека", "Школа № 8", "Школа № 9", "Школа № 80", "Школа № 100"]
