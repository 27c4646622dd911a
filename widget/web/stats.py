"""The statistics pages (issue 20): the instance, a region and an agency, each as HTML,
CSV and JSON, and the agency's page for its own site (``/embed/<agency>/stats``, framed
by its ``embed_origins`` as its form is). The figures come from ``widget.stats.report``;
these views only choose the period and the order and show them, never count.

Open data: no cookie, no token, nothing personal, so the responses may be cached by
anyone for a few minutes (widget/web/security.py sets the header)."""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime, timedelta

from babel.dates import format_date
from flask import Blueprint, Response, abort, g, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BaseConverter
from wtforms import Form, StringField

from .. import i18n, stats
from ..stats import charts, exports, regions
from ..stats.report import COLUMNS, Bar, Figures, Period, Report
from ..submissions import EMBED
from . import context, limits

bp = Blueprint("stats", __name__)
bp.before_request(limits.count_page_view)

EXPORTS = "<any(csv, json):kind>"
# What each figure is called in a table's header and the exports' documentation.
NAMES = {
    "messages": _l("Сообщений"),
    "answered": _l("Отвечено"),
    "on_time": _l("В срок"),
    "median_days": _l("Медиана, дней"),
    "p90_days": _l("90 % ответов, дней"),
    "ratings": _l("Оценок"),
    "mean_score": _l("Средняя оценка"),
    "solved_share": _l("Решён вопрос"),
    "polls": _l("Голосований"),
    "votes": _l("Голосов"),
}
SORTS = ("name", *COLUMNS)
# A region has up to 2,000 agencies: its table shows them a hundred at a time
# (``?page=2``), in the order asked for; the exports hold them all.
ROWS_PER_PAGE = 100
ORDERS = {"asc": "ascending", "desc": "descending"}  # ?order= and its aria-sort
PERIOD_PROBLEMS = {
    "format": _l("Укажите месяц в виде ГГГГ-ММ, например 2026-01."),
    "order": _l("Начало периода позже его конца. Поменяйте месяцы местами."),
    "length": _l("Период длиннее 10 лет. Выберите период короче."),
}


class RegionConverter(BaseConverter):
    """``<region:code>``: a region's code of 2 or 3 digits, as agencies' files give it."""

    regex = r"[0-9]{2,3}"


class PeriodForm(Form):
    """The period's form on every page (GET, so a period is a link to share)."""

    first = StringField(_l("С месяца"), name="from")
    last = StringField(_l("По месяц"), name="to")


def today() -> date:
    return datetime.now(UTC).date()


@bp.before_request
def choose_language() -> None:
    """A page is in ``?lang=`` when the widget speaks it, else Russian; an agency's in
    one of the agency's languages, chosen as its file loads (context.Page), here, before
    any figure is labelled. An agency since removed from the files, whose figures were
    counted, keeps its page, undressed."""
    g.lang = i18n.choose_unread((), request)
    context.page().agency  # noqa: B018 (loading it chooses the language)


@bp.get("/stats", defaults={"kind": "html"})
@bp.get(f"/stats.{EXPORTS}")
def instance(kind: str):
    return answer("instance", None, kind)


@bp.get("/stats/regions/<region:region>", defaults={"kind": "html"})
@bp.get(f"/stats/regions/<region:region>.{EXPORTS}")
def region(region: str, kind: str):
    return answer("region", region, kind)


@bp.get("/stats/agencies/<agency:agency_id>", defaults={"kind": "html"})
@bp.get(f"/stats/agencies/<agency:agency_id>.{EXPORTS}")
def agency(agency_id: str, kind: str):
    return answer("agency", agency_id, kind)


@bp.get("/embed/<agency:agency_id>/stats", defaults={"surface": EMBED})
def embed(agency_id: str, surface: str):
    """The agency's page inside its own site: framed as its form is (context.Page)."""
    return answer("agency", agency_id, "html")


def answer(scope: str, key: str | None, kind: str):
    form = PeriodForm(request.args)
    try:
        period = Period.parse(form.first.data or None, form.last.data or None, today())
    except ValueError as e:
        return period_refused(form, e)
    form.first.data, form.last.data = period.first, period.last  # the period shown, said
    try:
        report = stats.report(scope, key, period, g.lang)
    except LookupError:  # no such region, no such agency, now or ever counted
        abort(404)
    if kind == "csv":
        return export(report, exports.to_csv(report), "text/csv", "attachment")
    if kind == "json":
        body = json.dumps(exports.to_json(report), ensure_ascii=False, indent=1)
        return export(report, body, "application/json", "inline")
    return render_page(report, form)


def export(report: Report, body, mimetype: str, disposition: str) -> Response:
    """An export, named by what it holds: otklik-region-57-2026-01-2026-12.csv."""
    parts = ("otklik", report.scope, report.key, report.period.first, report.period.last)
    name = "-".join(p for p in parts if p)
    extension = "csv" if mimetype == "text/csv" else "json"
    response = Response(body, mimetype=mimetype)  # text/csv gets "; charset=utf-8"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}.{extension}"'
    return response


def period_refused(form: PeriodForm, e: ValueError):
    """A 400 in plain words, with the form to mend the period, never a traceback.
    ``Period.parse`` names the field first ("from: …", "to: …") when one is wrong."""
    said = str(e)
    if "starts after" in said:
        form.first.errors = [PERIOD_PROBLEMS["order"]]
    elif "longer" in said:
        form.first.errors = [PERIOD_PROBLEMS["length"]]
    else:
        field = form.last if said.startswith("to:") else form.first
        field.errors = [PERIOD_PROBLEMS["format"]]
    title = _("Период указан неверно")
    return render_template("stats_period.html", form=form, title=title, **period_form()), 400


def period_form() -> dict:
    """What the period's form needs: its action, this page with no query (a GET form's
    own fields replace it; the order and the language go as hidden fields)."""
    return {"period_action": here(**dict.fromkeys(("from", "to", "sort", "order", "page", "lang")))}


def here(endpoint: str | None = None, **values) -> str:
    """A link to this page, or to ``endpoint``, keeping the period, the order and the
    language asked for, with ``values`` changed (None drops one)."""
    args = {k: v for k, v in (request.view_args or {}).items() if k != "kind"}
    kept = {k: request.args.get(k) for k in ("from", "to", "sort", "order", "page")}
    if endpoint is not None:  # another page (or export): the order is this page's own
        args = {}
        del kept["sort"], kept["order"], kept["page"]
    if g.lang != default_language():
        kept["lang"] = g.lang
    kept.update(values)
    query = {k: v for k, v in kept.items() if v}
    return url_for(endpoint or request.endpoint, **args, **query)


def default_language() -> str:
    agency = context.page().agency
    return agency.language if agency is not None else i18n.SOURCE_LANGUAGE


def month_name(month: str, short: bool = False) -> str:
    """A month, "2026-03", as the page's language says it: "март 2026", "March 2026";
    short, as a column's heading: "мар. 2026", "Mar 2026"."""
    y, m = map(int, month.split("-"))
    pattern = "LLL y" if short else "LLLL y"
    return format_date(date(y, m, 1), pattern, locale=i18n.formatting_locale())


def sorted_rows(report: Report) -> tuple[list, str, str]:
    """The table's rows in the order asked for (``?sort=answered&order=desc``; by name
    otherwise). A figure not shown ("<5", "—") goes last either way: sorting by its
    hidden value would tell what the page hides."""
    sort = request.args.get("sort", "name")
    sort = sort if sort in SORTS else "name"
    order = request.args.get("order", "asc")
    order = order if order in ORDERS else "asc"
    rows = report.rows_by_name  # ties in a figure: by name, A to Z
    if sort == "name":
        return (rows if order == "asc" else rows[::-1]), sort, order

    def shown(row) -> bool:
        cell = getattr(row.figures, sort)
        return not cell.suppressed and cell.value is not None

    ranked = sorted(
        (r for r in rows if shown(r)),
        key=lambda r: getattr(r.figures, sort).value,
        reverse=order == "desc",
    )
    return [*ranked, *(r for r in rows if not shown(r))], sort, order


def sort_link(column: str, sort: str, order: str) -> str:
    """A column's link: the other way round when it is the order now; otherwise names
    A to Z and figures largest first."""
    if column == sort:
        return here(sort=column, order="desc" if order == "asc" else "asc", page=None)
    return here(sort=column, order="asc" if column == "name" else "desc", page=None)


def page_of(rows: list) -> tuple[list, dict | None]:
    """The rows this page of the table shows (``?page=``, from 1) and what its list of
    pages says; None when they all fit on one. 404 for a page the table does not have."""
    pages = max(1, -(-len(rows) // ROWS_PER_PAGE))
    asked = request.args.get("page", "1")
    if not asked.isdigit() or not 1 <= int(asked) <= pages:
        abort(404)
    current = int(asked)
    first = (current - 1) * ROWS_PER_PAGE
    shown = rows[first : first + ROWS_PER_PAGE]
    if pages == 1:
        return shown, None
    return shown, {
        "first": first + 1,
        "last": first + len(shown),
        "total": len(rows),
        "current": current,
        "links": [(n, here(page=None if n == 1 else str(n))) for n in range(1, pages + 1)],
    }


# Each scope's page, and the argument that names what it shows
PAGES = {
    "instance": ("stats.instance", None),
    "region": ("stats.region", "region"),
    "agency": ("stats.agency", "agency_id"),
}


def page_link(scope: str, key: str | None, **values) -> str:
    """The page (or an export, ``kind``) of a scope, for the same period and language."""
    endpoint, name = PAGES[scope]
    return here(endpoint, **({name: key} if name else {}), **values)


def other_languages() -> list[tuple[str, str]]:
    """This page in each other language: all the widget speaks, or the agency's."""
    agency = context.page().agency
    codes = agency.languages if agency is not None else sorted(i18n.catalogued())
    return [(code, here(lang=code)) for code in codes if code != g.lang]


def crumbs(report: Report) -> list[tuple[str, str]]:
    """Links to the pages above this one: the instance's, and an agency's region's."""
    if report.scope == "instance":
        return []
    found = [(page_link("instance", None), _("Все регионы"))]
    agency = context.page().agency
    if report.scope == "agency" and agency is not None:
        found.append((page_link("region", agency.region), regions.label(agency.region)))
    return found


def texts(figures: Figures) -> list[str]:
    """A line's figures as the page shows them, in the order of ``COLUMNS``."""
    locale = i18n.formatting_locale()
    return [charts.figure(getattr(figures, c), c, locale) for c in COLUMNS]


KEY_SLOT = "otklik-key-slot"  # stands in for a row's key: keys are URL-safe as they are


def table_rows(rows, scope: str | None, label=None) -> list[tuple[str, str | None, list]]:
    """A table's lines: the label, the link to the row's page (``scope``'s, keeping the
    period and language; built once, the key put in per row: a region has 2,000
    agencies) and the figures' texts."""
    link = page_link(scope, KEY_SLOT) if scope else None
    return [
        (
            label(row.key) if label else row.label,
            link.replace(KEY_SLOT, row.key) if link else None,
            texts(row.figures),
        )
        for row in rows
    ]


def render_page(report: Report, form: PeriodForm) -> str:
    locale = i18n.formatting_locale()
    rows, sort, order = sorted_rows(report)
    rows, pages = page_of(rows)
    charts_shown = [
        chart(
            "weeks",
            _("Сообщения по неделям"),
            _("Сколько сообщений пришло за каждую неделю периода."),
            _("Неделя"),
            NAMES["messages"],
            report.weeks,
            short=week_short,
            long=week_long,
        ),
        chart(
            "days",
            _("Сколько дней ждали ответа"),
            _("Сколько ответов дано за столько-то дней после сообщения, от быстрых к долгим."),
            _("Дней до ответа"),
            _("Ответов"),
            report.answer_days,
        ),
        chart(
            "scores",
            _("Оценки ответов"),
            _("Сколько раз ответ оценили на 1, 2, 3, 4 и 5."),
            _("Оценка"),
            NAMES["ratings"],
            report.scores,
        ),
    ]
    return render_template(
        "stats.html",
        report=report,
        form=form,
        columns=COLUMNS,
        names=NAMES,
        figure=lambda cell, column="messages": charts.figure(cell, column, locale),
        month_name=month_name,
        period=f"{month_name(report.period.first)} — {month_name(report.period.last)}",
        rows=table_rows(rows, {"instance": "region", "region": "agency"}.get(report.scope)),
        pages=pages,
        months=table_rows(report.months, None, month_name),
        total=texts(report.total),
        sort=sort,
        order=order,
        aria_sort=ORDERS[order],
        sort_links={c: sort_link(c, sort, order) for c in SORTS},
        page_link=page_link,
        charts=charts_shown,
        suppressed=charts.SUPPRESSED,
        nothing=charts.NOTHING,
        wide=context.page().surface != EMBED,
        embedded=context.page().surface == EMBED,
        languages=other_languages(),
        crumbs=crumbs(report),
        licence=(exports.LICENCE, exports.LICENCE_URL),
        **period_form(),
    )


def chart(chart_id, title, summary, label_name, value_name, bars, short=None, long=None) -> dict:
    """A chart and its table. ``short`` and ``long`` say a bar's label under its bar and
    in the table (a week: "30 мар." and "30 мар. – 5 апр. 2026"); as given otherwise."""
    locale = i18n.formatting_locale()
    said = summary + " " + _("Те же цифры — в таблице рядом.")
    drawn = [Bar(short(b.label), b.value) for b in bars] if short else bars
    return {
        "id": f"chart-{chart_id}",
        "title": title,
        "svg": charts.bar_chart(f"chart-{chart_id}", title, said, drawn, locale),
        "label_name": label_name,
        "value_name": value_name,
        "rows": [(long(b.label) if long else b.label, b.value) for b in bars],
        "long": len(bars) > 12,  # 52 weeks: the table folds away under the chart
    }


def week_start(week: str) -> date:
    """The Monday of an ISO week, "2026-W14"."""
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def week_short(week: str) -> str:
    return week_labels(week, i18n.formatting_locale())[0]


def week_long(week: str) -> str:
    return week_labels(week, i18n.formatting_locale())[1]


@functools.lru_cache(maxsize=2048)
def week_labels(week: str, locale: str) -> tuple[str, str]:
    """A week's labels under its bar and in the table: remembered, since every page
    shows the same weeks and Babel takes some 40 µs to format a date."""
    start = week_start(week)
    short = format_date(start, "d MMM", locale=locale)
    return short, f"{short} – {format_date(start + timedelta(days=6), 'd MMM y', locale=locale)}"
