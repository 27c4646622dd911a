"""The statistics pages (issue 20): bad addresses and periods first, then what the pages
show of a report (suppressed figures, charts, sorting), the exports against the pages,
and the agency's page inside its own site."""

from __future__ import annotations

import csv
import io
import json
import re

import html5lib
import pytest

from tests.pages import check_html
from tests.stats_reports import report
from widget import outbox
from widget.stats.report import COLUMNS, Row
from widget.web.stats import PeriodForm, render_page

AGENCY = "orel-school-57"
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


def count(app, scope: str, key: str, month: str, figure: str, n: int, region: str = "57"):
    """Counts as the counting keeps them (stats_counts), for pages of known figures."""
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        with db.conn:
            db["stats_counts"].upsert(
                {
                    "scope": scope,
                    "key": key,
                    "month": month,
                    "figure": figure,
                    "region": region,
                    "count": n,
                    "instance": "",
                },
                pk=("scope", "key", "month", "figure", "instance"),
            )
    finally:
        db.close()


def counted(app, agency_id: str, month: str, figures: dict[str, int], region="57", name=None):
    """The same figures for the agency, its region and the instance."""
    for scope, key in (("agency", agency_id), ("region", region), ("instance", "")):
        for figure, n in figures.items():
            count(app, scope, key, month, figure, n, region)
    db = outbox.connect(app.config["OUTBOX_PATH"])
    try:
        with db.conn:
            row = {"agency_id": agency_id, "region": region, "name": name or agency_id}
            db["stats_agencies"].upsert(row, pk="agency_id")
    finally:
        db.close()


# Bad addresses and periods first


@pytest.mark.parametrize(
    "path",
    [
        "/stats/regions/99",  # no such region, and none counted
        "/stats/regions/5",  # not a region's code
        "/stats/regions/57.xml",
        "/stats/agencies/no-such-agency",
        "/stats/agencies/no-such-agency.csv",
        "/embed/no-such-agency/stats",
        "/stats/agencies/Orel",
    ],
)
def test_an_unknown_region_or_agency_is_a_404_page(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert "Страница не найдена" in r.get_data(as_text=True)


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
    assert "Упорядочено: по названию, по возрастанию" in text_of(html)


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
    assert "Меньше пяти" in text  # what "<5" means, under the page


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
    assert "Упорядочено: Сообщений, по убыванию" in text
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


def test_rows_link_to_their_pages_keeping_the_period_and_language(app):
    html = page(app, "/stats/regions/57?from=2026-01&to=2026-03&lang=en", report())
    assert '/stats/agencies/orel-b?from=2026-01&amp;to=2026-03&amp;lang=en"' in html
    regions = [Row("57", "Орловская область", report().total)]
    html = page(app, "/stats?from=2026-01&to=2026-03", report("instance", None, rows=regions))
    assert 'href="/stats/regions/57?from=2026-01&amp;to=2026-03"' in html


# Through the routes: the counts, the page and its exports


@pytest.fixture
def figures(app):
    """A month of the school's figures, and a small one's: every count known."""
    counted(
        app,
        AGENCY,
        "2026-03",
        {
            "messages": 12,
            "answered": 10,
            "on_time": 8,
            "days:2": 6,
            "days:9": 4,
            "topic:food": 9,
            "topic:lessons": 3,
            "channel:embed": 12,
            "day:03": 7,
            "day:20": 5,
            "score:5:yes": 4,
            "score:4:no": 3,
        },
        name="Школа № 57",
    )
    counted(app, "orel-polyclinic-1", "2026-03", {"messages": 2, "channel:page": 2})
    return app


PERIOD = "from=2026-01&to=2026-06"


def test_the_pages_exports_parse_and_match_what_the_page_shows(client, figures):
    for path in ("/stats", "/stats/regions/57", f"/stats/agencies/{AGENCY}"):
        html = client.get(f"{path}?{PERIOD}").get_data(as_text=True)
        shown = text_of(html)
        r = client.get(f"{path}.csv?{PERIOD}")
        assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert r.headers["Content-Disposition"].startswith('attachment; filename="otklik-')
        rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
        total = next(row for row in rows if row["section"] == "total")
        data = json.loads(client.get(f"{path}.json?{PERIOD}").get_data(as_text=True))
        assert data["licence"]["name"] in shown  # the page names the exports' licence
        for column in ("messages", "answered", "on_time", "median_days", "p90_days"):
            cell = data["total"][column]
            in_csv = total[column]
            if cell["suppressed"]:
                assert in_csv == "" and column in total["suppressed"].split()
            else:
                assert float(in_csv) == cell["value"]
        assert f"Сообщений {data['total']['messages']['value'] or '&lt;5'}" in shown
        assert f"Отвечено {data['total']['answered']['value']}" in shown


def test_the_agency_page_shows_its_month_topics_and_a_hidden_small_topic(client, figures):
    r = client.get(f"/stats/agencies/{AGENCY}?{PERIOD}")
    text = text_of(r.get_data(as_text=True))
    assert "Средняя школа № 57" in text and "март 2026 12" in text
    data = client.get(f"/stats/agencies/{AGENCY}.json?{PERIOD}").get_json()
    topics = {t["key"]: t["total"] for t in data["topics"]}
    assert topics["food"] == {"value": 9, "suppressed": False}
    assert topics["lessons"] == {"value": None, "suppressed": True}  # 3 messages: "<5"


def test_the_small_agency_shows_only_less_than_five(client, figures):
    html = client.get(f"/stats/regions/57?{PERIOD}").get_data(as_text=True)
    row = re.search(r"orel-polyclinic-1</a></th>(.*?)</tr>", html, re.S)
    assert row and "2" not in re.sub(r"&lt;5|—", "", row.group(1)).replace("<td>", "")


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
    assert 'name="lang" value="en"' in html and 'value="2026-01"' in html


def test_the_demo_links_to_its_statistics(client):
    html = client.get("/demo").get_data(as_text=True)
    assert 'href="/stats"' in html
