"""The one place that maps errors to pages: every status a citizen may meet has a
plain page in the widget's own layout (inside the iframe too), never a traceback."""

from __future__ import annotations

import logging
import math

from babel.units import format_unit
from flask import current_app, g, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from .. import agencies, i18n
from .limits import LimitReached
from .security import embedded_agency

log = logging.getLogger(__name__)

PAGES = {
    400: (
        _l("Запрос не удалось прочитать"),
        _l(
            "Браузер прислал данные, которые мы не смогли прочитать. Вернитесь к форме и "
            "отправьте её ещё раз."
        ),
    ),
    403: (
        _l("Форма отправлена с чужой страницы"),
        _l(
            "Мы принимаем сообщения только из формы на нашей странице. Откройте форму заново "
            "и отправьте сообщение из неё."
        ),
    ),
    404: (
        _l("Страница не найдена"),
        _l(
            "Проверьте адрес. Если вы перешли по ссылке с сайта организации, сообщите ей, "
            "что ссылка не работает."
        ),
    ),
    405: (
        _l("Так страницу открыть нельзя"),
        _l("Откройте форму по обычной ссылке."),
    ),
    413: (
        _l("Слишком много данных"),
        _l(
            "Сообщение или приложенные файлы слишком большие. Сократите текст или уберите "
            "часть файлов и отправьте ещё раз."
        ),
    ),
    429: (
        _l("Слишком много запросов"),
        _l("С этого адреса пришло очень много запросов подряд. Подождите и попробуйте снова."),
    ),
    500: (
        _l("Что-то пошло не так"),
        _l("На нашей стороне произошла ошибка. Попробуйте ещё раз через несколько минут."),
    ),
    503: (
        _l("Форма временно не работает"),
        _l("Мы не можем принять сообщение прямо сейчас. Попробуйте ещё раз через несколько минут."),
    ),
}


# What each rate limit (widget/web/limits.py, LimitReached.counter) means, in words that
# blame nobody for what they did not do: a form sent back with errors is not a message.
LIMITED = {
    "per-ip": _l(
        "С этого адреса уже отправлено сообщений за %(window)s: %(count)s. Больше эта "
        "организация с одного адреса за это время не принимает."
    ),
    "agency": _l(
        "Этой организации сейчас пишут очень многие, и она ненадолго перестала принимать "
        "новые сообщения."
    ),
    "attempts": _l(
        "Форму с этого адреса отправляли очень много раз подряд, и мы ненадолго перестали её "
        "принимать. Так бывает, когда одним адресом пользуется вся сеть, например в школе."
    ),
    "pages": _l(
        "С этого адреса за короткое время открыли очень много страниц. Так бывает, когда "
        "одним адресом пользуется вся сеть, например в школе или офисе."
    ),
}
LIMITED_TITLE = _l("Сообщение не отправлено")  # above the words, on the form given back
WAIT_AND_SEND = _l("Ваш текст сохранён. Подождите %(wait)s и отправьте его снова.")
WAIT_AND_OPEN = _l("Подождите %(wait)s и откройте страницу снова.")
# A window of one unit, as "за %(window)s" needs it; others are counted ("за 10 минут").
ONE_UNIT = {1: _l("секунду"), 60: _l("минуту"), 3600: _l("час"), 86400: _l("сутки")}
UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def wait_in_words(seconds: int) -> str:
    """How long a limited citizen waits, rounded as a person would say it ("около часа",
    "примерно 10 минут"). Minutes are rounded up to fives, so that Russian never needs
    the accusative "минуту" after "Подождите"."""
    if seconds < 60:
        return _("меньше минуты")
    if seconds < 5 * 60:
        return _("несколько минут")
    if seconds < 50 * 60:
        return _(
            "примерно %(duration)s", duration=_duration(5 * math.ceil(seconds / 300), "minute")
        )
    if seconds < 90 * 60:
        return _("около часа")
    if seconds < 22 * 3600:
        return _("примерно %(duration)s", duration=_duration(round(seconds / 3600), "hour"))
    if seconds < 36 * 3600:
        return _("около суток")
    return _("примерно %(duration)s", duration=_duration(round(seconds / 86400), "day"))


def window_in_words(seconds: int) -> str:
    """A limit's window after "за": "час", "10 минут", "сутки"."""
    if seconds in ONE_UNIT:
        return str(ONE_UNIT[seconds])
    unit, size = next((unit, size) for unit, size in UNITS if seconds % size == 0)
    return _duration(seconds // size, unit)


def _duration(amount: int, unit: str) -> str:
    return format_unit(amount, f"duration-{unit}", length="long", locale=get_locale())


def limited_words(e: LimitReached, then: str = WAIT_AND_SEND) -> str:
    """What a rate limit means and how long to wait, in the page's language."""
    what = LIMITED[e.counter] % {
        "window": window_in_words(e.window.get_expiry()),
        "count": e.window.amount,
    }
    return f"{what} {then % {'wait': wait_in_words(e.retry_after)}}"


def page_agency() -> agencies.Agency | None:
    """The agency whose page failed, when it can be loaded: its name, colours and
    language dress the error page as they dress the form."""
    agency_id = (request.view_args or {}).get("agency_id") or embedded_agency()
    if not agency_id:
        return None
    try:
        agency = agencies.extension(current_app).get(agency_id)
    except (agencies.AgencyNotFound, agencies.AgencyError):
        return None
    if "lang" not in g:
        g.lang = i18n.choose(agency, request)
    return agency


def render_error(status: int, headers=None, limited: LimitReached | None = None):
    title, message = PAGES.get(status, PAGES[500 if status >= 500 else 400])
    args = request.view_args or {}
    kind = args.get("kind")
    layout = "embed" if embedded_agency() else "page"
    agency = page_agency()
    back = None
    if kind and agency is not None and status != 404:
        values = {"lang": g.lang} if g.lang != agency.language else {}
        back = url_for("widget.form", kind=kind, agency_id=agency.id, **values)
    context = {"agency": agency} if agency is not None else {}
    if limited is not None:
        message = limited_words(limited, WAIT_AND_OPEN)
    body = render_template(
        "error.html",
        status=status,
        title=title,
        message=message,
        layout=layout,
        back=back,
        lang=i18n.current(),
        **context,
    )
    return body, status, headers or {}


def handle_http(e: HTTPException):
    if e.code is None or e.code < 400:
        return e
    kept = {k: v for k, v in e.get_headers() if k in ("Allow", "Retry-After")}
    return render_error(e.code, kept, e if isinstance(e, LimitReached) else None)


def handle_broken_agency(e: agencies.AgencyError):
    log.error("agency file broken: %s", "; ".join(e.problems))
    return render_error(ServiceUnavailable.code)


def handle_missing_agency(_e: agencies.AgencyNotFound):
    return render_error(404)


def handle_unexpected(e: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render_error(InternalServerError.code)


def init_app(app) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(agencies.AgencyError, handle_broken_agency)
    app.register_error_handler(agencies.AgencyNotFound, handle_missing_agency)
    app.register_error_handler(Exception, handle_unexpected)
