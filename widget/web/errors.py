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
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, ServiceUnavailable

from .. import agencies, forms, i18n, polls
from . import context, intake, open311, uploads
from .limits import LimitReached

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
# A broken agency file: waiting will not help the citizen, the portal will.
BROKEN_AGENCY = (
    _l("Форма временно не работает"),
    _l(
        "Форма этой организации сейчас не работает: в её настройках ошибка. Мы уже сообщили "
        "о ней специалистам."
    ),
)


# What a 413 on a form says, by what was sent: which limit was passed, and what to do.
# Werkzeug refuses a body over max_content_length before reading any of it, so the
# citizen's text cannot be given back, and the page says so.
TOO_LARGE_FILES_TITLE = _l("Файлы слишком большие")
TOO_LARGE_FILES = _l(
    "Мы принимаем за один раз не больше %(mb)s МБ — текст и все файлы вместе. %(rules)s "
    "Вернитесь к форме, прикрепите меньше файлов или уменьшите фотографии и отправьте "
    "сообщение ещё раз. Если текста в форме не окажется, напишите его снова: прочитать его "
    "мы не смогли."
)
TOO_MANY_FILES_TITLE = _l("Слишком много файлов")
TOO_MANY_FILES = _l(
    "В форме слишком много файлов. %(rules)s Вернитесь к форме, уберите лишние файлы и "
    "отправьте сообщение ещё раз. Если текста в форме не окажется, напишите его снова: "
    "прочитать его мы не смогли."
)
# A body over MAX_TEXT_PART_BYTES refused for its parts: werkzeug's 413 does not say
# whether a text part was too long or there were too many parts, so the page names both.
TOO_LONG_OR_MANY_TITLE = _l("Слишком длинный текст или слишком много файлов")
TOO_LONG_OR_MANY = _l(
    "Текст сообщения намного длиннее %(max)s символов, или в форме слишком много файлов. "
    "%(rules)s Вернитесь к форме, сократите текст или уберите лишние файлы и отправьте "
    "сообщение ещё раз. Если текста в форме не окажется, напишите его снова: прочитать его "
    "мы не смогли."
)
TOO_LONG_TEXT = _l(
    "Текст слишком длинный: в сообщении может быть не больше %(max)s символов. Вернитесь к "
    "форме, сократите его и отправьте ещё раз."
)


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
    "votes": _l(
        "С этого адреса уже проголосовали в этом опросе за %(window)s: %(count)s раз. Больше "
        "голосов с одного адреса за это время мы не принимаем."
    ),
    "pages": _l(
        "С этого адреса за короткое время открыли очень много страниц. Так бывает, когда "
        "одним адресом пользуется вся сеть, например в школе или офисе."
    ),
}
LIMITED_TITLE = _l("Сообщение не отправлено")  # above the words, on the form given back
WAIT_AND_SEND = _l("Ваш текст сохранён. Подождите %(wait)s и отправьте его снова.")
WAIT_AND_VOTE = _l("Ваши ответы сохранены в форме. Подождите %(wait)s и отправьте их снова.")
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


def too_large_page(agency: agencies.Agency) -> tuple[str, str]:
    """The 413 page's title and words for a form posted to ``agency``."""
    if request.mimetype != "multipart/form-data" or not agency.attachments.max_files:
        return str(PAGES[413][0]), str(TOO_LONG_TEXT % {"max": forms.TEXT_MAX})
    rules = uploads.hint(agency)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if limit and (request.content_length is None or request.content_length > limit):
        # rounded down: "up to 20 MB" stays true of 20 MiB (20,971,520 bytes)
        title = TOO_LARGE_FILES_TITLE
        message = TOO_LARGE_FILES % {"mb": limit // 1_000_000, "rules": rules}
    elif request.content_length <= forms.MAX_TEXT_PART_BYTES:
        # no text part can be over the cap in a body under it: too many parts
        title, message = TOO_MANY_FILES_TITLE, TOO_MANY_FILES % {"rules": rules}
    else:  # over werkzeug's MAX_FORM_PARTS, or a text part over MAX_TEXT_PART_BYTES
        title = TOO_LONG_OR_MANY_TITLE
        message = TOO_LONG_OR_MANY % {"max": forms.TEXT_MAX, "rules": rules}
    return str(title), str(message)


def render_error(
    status: int,
    headers=None,
    page: tuple | None = None,
    portal: bool = False,
    limited: LimitReached | None = None,
):
    """The error page of ``status``; ``page`` gives its own (title, message) instead,
    ``portal`` adds the link to the national portal, ``limited`` says which rate limit
    was reached and how long to wait."""
    title, message = page or PAGES.get(status, PAGES[500 if status >= 500 else 400])
    shown = context.page()  # the agency's name, colours and language dress the page
    surface, agency = shown.surface, shown.agency
    if status == 413 and agency is not None and request.method == "POST":
        title, message = too_large_page(agency)
    back = None
    if surface and agency is not None and status != 404:
        values = {"lang": g.lang} if g.lang != agency.language else {}
        back = url_for("widget.form", surface=surface, agency_id=agency.id, **values)
    if limited is not None:
        message = limited_words(limited, WAIT_AND_OPEN)
    body = render_template(
        "error.html",
        status=status,
        title=title,
        message=message,
        back=back,
        portal=portal,
    )
    return body, status, headers or {}


def handle_http(e: HTTPException):
    if e.code is None or e.code < 400:
        return e
    if intake.takes(request.path):  # a machine client: a problem, never a page
        return intake.http_problem(e)
    if open311.takes(request.path):  # the spec's errors, never a page
        return open311.http_error(e)
    kept = {k: v for k, v in e.get_headers() if k in ("Allow", "Retry-After")}
    return render_error(e.code, kept, limited=e if isinstance(e, LimitReached) else None)


def handle_broken_agency(e: agencies.AgencyError):
    """No good version to serve (the Registry logged the problem once, not per request).
    The page names no file and no problem: those are for ``flask agencies check``; it is
    in a language the broken file states, or the one asked for."""
    g.lang = i18n.choose_unread(e.languages, request)
    return render_error(ServiceUnavailable.code, page=BROKEN_AGENCY, portal=True)


BROKEN_POLL = (
    _l("Опрос временно недоступен"),
    _l(
        "В описании этого опроса ошибка, и организация уже может её видеть. Другие опросы и "
        "форма обратной связи работают. Загляните сюда позже."
    ),
)


def handle_broken_poll(_e: Exception):
    """The poll's file is broken (``flask agencies check`` says where): that poll alone."""
    return render_error(ServiceUnavailable.code, page=BROKEN_POLL)


def handle_missing_poll(_e: Exception):
    return render_error(404)


def handle_missing_agency(_e: agencies.AgencyNotFound):
    return render_error(404)


def handle_unreadable_body(e: ParseException):
    """gunicorn reads a chunked body as the app asks for it, and raises its parse error
    (a malformed chunk) in the app: the client's fault, not ours. Its message quotes the
    bytes it could not read, which may be what a citizen typed (promise 6): logged by
    kind only."""
    log.warning("could not read the request body: %s", type(e).__name__)
    return render_error(BadRequest.code)


def handle_unexpected(e: Exception):
    if open311.takes(request.path):
        return open311.unexpected_error(e)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render_error(InternalServerError.code)


def init_app(app) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(agencies.AgencyError, handle_broken_agency)
    app.register_error_handler(agencies.AgencyNotFound, handle_missing_agency)
    app.register_error_handler(polls.PollError, handle_broken_poll)
    app.register_error_handler(polls.PollNotFound, handle_missing_poll)
    app.register_error_handler(ParseException, handle_unreadable_body)
    app.register_error_handler(Exception, handle_unexpected)
