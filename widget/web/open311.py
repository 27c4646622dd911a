"""Open311 GeoReport v2 under ``/open311/v2/`` (docs/open311.md): an agency's topics as
services, its contact fields and consent as a service definition, requests posted by
integrators' apps, and the public status of the agency's messages.

Each document as XML (``.xml``, or no extension: the spec's default) or JSON
(``.json``). ``jurisdiction_id`` is the agency's id and ``service_code`` a topic's. A
posted request goes through ``Intake.take`` like a form's message, vouched for by its
API key instead of a form token. Every error, routing's included, is the spec's list of
``{code, description}``, never a page; the headers are everybody's (security.py).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, g, make_response, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from .. import agencies, i18n, outbox, receipts, submissions
from ..open311 import documents, params
from ..open311.errors import Open311Error, bad, forbidden, not_found
from ..open311.keys import KeyFile, KeyFileError, path_in
from ..outbox import public
from . import answers, limits, links, pages

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
bp = Blueprint("open311", __name__, url_prefix=PREFIX)
bp.before_request(limits.count_page_view)  # its GETs are page views, as the widget's
EXTENSION = "otklik.open311.keys"
CHANGESET = "2026-12-02T00:00:00Z"  # when what discovery lists last changed
BAD_BODY = {
    400: "the body: form-encoded UTF-8 (application/x-www-form-urlencoded), as the spec says",
    413: "the body: too large, or too many fields",
}
# The form's field names, as the spec calls them in a request's parameters.
SPEC_NAMES = {
    "topic": "service_code",
    "text": "description",
    "consent": f"attribute[{documents.CONSENT}]",
    **{name: f"attribute[{name}]" for name in agencies.CONTACT_FIELDS},
}


class FormatConverter(BaseConverter):
    """``.xml``, ``.json`` or nothing (XML, the spec's default)."""

    regex = r"(?:\.(?:xml|json))?"

    def to_python(self, value: str) -> str:
        return value[1:] or "xml"

    def to_url(self, value: str) -> str:
        return f".{value}"


class PartConverter(BaseConverter):
    """A service code, receipt or token: up to the format's dot."""

    regex = r"[^/.]+"


@bp.record_once
def _init_app(state) -> None:
    app = state.app
    app.url_map.converters["format"] = FormatConverter
    app.url_map.converters["part"] = PartConverter
    app.extensions[EXTENSION] = KeyFile(path_in(app.instance_path))


def answer(fmt: str, root: str, value, status: int = 200, headers: dict | None = None):
    body, mimetype = documents.render(fmt, root, value)
    response = make_response(body, status, headers or {})
    response.content_type = f"{mimetype}; charset=utf-8"
    return response


def _agency() -> agencies.Agency:
    """The agency ``jurisdiction_id`` names (of the query, or of a POST's form), with
    the language of its words chosen as the widget's pages choose it (``?lang=``)."""
    asked = request.form if request.method == "POST" else request.args
    agency_id = asked.get("jurisdiction_id", "").strip()
    if not agency_id:
        raise bad("jurisdiction_id: required (the agency's id)")
    if not agencies.AGENCY_ID.fullmatch(agency_id):
        raise not_found(f"jurisdiction_id: no agency {agency_id[:64]!r} here")
    try:
        agency = agencies.load(agency_id)
    except agencies.AgencyNotFound:
        raise not_found(f"jurisdiction_id: no agency {agency_id!r} here") from None
    except agencies.AgencyError:  # the Registry logged it; ``flask agencies check`` says where
        raise Open311Error(503, f"the agency {agency_id!r} cannot take requests now") from None
    g.lang = i18n.choose(agency, request)
    return agency


@bp.get("/discovery<format:fmt>")
def discovery(fmt: str):
    endpoint = links.public("open311.discovery", fmt="xml").rsplit("/", 1)[0] + "/"
    return answer(fmt, "discovery", documents.discovery(endpoint, CHANGESET))


@bp.get("/services<format:fmt>")
def services(fmt: str):
    agency = _agency()
    body, mimetype = documents.services(agency, g.lang, fmt)
    response = make_response(body)
    response.content_type = f"{mimetype}; charset=utf-8"
    return response


@bp.get("/services/<part:code><format:fmt>")
def service_definition(code: str, fmt: str):
    agency = _agency()
    topic = agency.topic(code)
    if topic is None:
        raise not_found(f"service_code: no service {code[:64]!r} in {agency.id}")
    return answer(fmt, "service_definition", documents.definition(agency, topic, g.lang))


@bp.post("/requests<format:fmt>")
def post_request(fmt: str):
    for malformed, status in pages.MALFORMED:
        if malformed(request):
            raise Open311Error(status, BAD_BODY[status])
    key = _key(request.form.get("api_key", ""))
    agency = _agency()
    if not key.may_post(agency):
        raise forbidden(f"api_key: this key may not post to {agency.id}")
    posted = params.posted(request.form)
    post = submissions.Post(
        agency,
        posted.fields,
        MultiDict(),  # media is a link (media_url), never a file
        submissions.OPEN311,
        g.lang,
        key=key,
        location=posted.location,
        media_url=posted.media_url,
    )
    outcome = current_app.extensions["otklik.intake"].take(post)
    match outcome:
        case submissions.Accepted() | submissions.Repeat():
            notice = str(answers.STATUS_WORDS["received"])
            return answer(fmt, "service_requests", documents.accepted(outcome.receipt, notice))
        case submissions.GivenBack():
            raise bad(*_form_problems(outcome.form))
        case submissions.Limited():
            retry = str(outcome.reached.retry_after)
            raise Open311Error(
                429,
                f"rate limit ({outcome.reached.counter}): try again in {retry} s",
                headers={"Retry-After": retry},
            )
        case submissions.Unavailable():
            raise Open311Error(503, "the request could not be stored now: send it again later")


def _key(api_key: str):
    if not api_key:
        raise forbidden("api_key: required (docs/open311.md says how to get one)")
    try:
        key = current_app.extensions[EXTENSION].find(api_key)
    except KeyFileError as e:
        log.error("the Open311 keys file cannot be used, every key is refused: %s", e)
        key = None
    if key is None:
        raise forbidden("api_key: not a key of this server, or revoked")
    return key


def _form_problems(form) -> list[str]:
    """The form's errors, each named by its parameter, in the request's language."""
    found = [
        f"{SPEC_NAMES.get(field.name, field.name)}: {error}"
        for field in form
        for error in field.errors
    ]
    found += [f"attributes: {error}" for error in form.contact_errors]
    return found


@bp.get("/requests<format:fmt>")
def list_requests(fmt: str):
    agency = _agency()
    asked = params.filters(request.args, time.time())
    found = public.messages(
        outbox.get_db(),
        agency.id,
        receipts=asked.receipts,
        topics=asked.topics,
        since=asked.since,
        until=asked.until,
    )
    listed = []
    for message in found:
        if asked.admits(_status(message)):
            listed.append(_request(agency, message))
            if len(listed) == params.MAX_LISTED:
                break
    return answer(fmt, "service_requests", listed)


@bp.get("/requests/<part:receipt><format:fmt>")
def one_request(receipt: str, fmt: str):
    agency = _agency()
    message = _message(agency, receipt)
    return answer(fmt, "service_requests", [_request(agency, message)])


@bp.get("/tokens/<part:token><format:fmt>")
def token(token: str, fmt: str):
    """Requests are realtime (the receipt comes at once): a token is the receipt."""
    agency = _agency()
    message = _message(agency, token)
    return answer(fmt, "service_requests", documents.token(token, message.receipt))


def _message(agency: agencies.Agency, typed: str) -> public.Listed:
    receipt = receipts.normalize(typed)
    found = receipt and next(public.messages(outbox.get_db(), agency.id, receipts=[receipt]), None)
    if not found:
        raise not_found(f"service_request_id: no request {typed[:64]!r} in {agency.id}")
    return found


def _status(message: public.Listed) -> str:
    return "closed" if message.progress.closed else "open"


def _request(agency: agencies.Agency, message: public.Listed) -> dict:
    notice = str(answers.STATUS_WORDS[message.progress.status])
    return documents.request(agency, message, g.lang, notice)


def requested_format() -> str:
    """The format an error is answered in: the route's, else the path's extension."""
    fmt = (request.view_args or {}).get("fmt")
    return fmt or ("json" if request.path.endswith(".json") else "xml")


def takes(path: str) -> bool:
    """Whether ``path`` is Open311's: the app's error handler then answers a routing
    error (an unknown path's 404, a method's 405) in the spec's shape, not as a page."""
    return path == PREFIX or path.startswith(f"{PREFIX}/")


@bp.errorhandler(Open311Error)
def spec_error(e: Open311Error):
    return answer(requested_format(), "errors", e.document(), e.status, e.headers)


@bp.errorhandler(HTTPException)
def http_error(e: HTTPException):
    """Werkzeug's refusals (a body too large, a cross-site POST, an unknown path, a
    method not taken, a rate limit) in the spec's shape."""
    status = e.code or 500
    kept = {k: v for k, v in e.get_headers() if k in ("Allow", "Retry-After")}
    return spec_error(Open311Error(status, e.description or e.name, headers=kept))


@bp.errorhandler(Exception)
def unexpected_error(_e: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return spec_error(Open311Error(500, "the server failed; nothing was stored"))
