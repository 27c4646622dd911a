"""The spec's parameters, read and checked: what a ``POST requests`` becomes for the
form (``Posted``), and the filters of ``GET requests`` (``Filters``). What the form's
own rules judge (the topic, the text, the contact fields, the consent) is left to them:
here only what the spec adds, each refused with its 400."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from werkzeug.datastructures import MultiDict

from .. import events, forms, receipts
from ..agencies import CONTACT_FIELDS
from .documents import CONSENT, CONSENT_GIVEN
from .errors import bad

DESCRIPTION_MAX = 4000  # the spec's limit of a request's description
MEDIA_URL_MAX = 2000
ADDRESS_MAX = forms.CONTACT_MAX["address"]
MAX_DAYS = 90  # the widest date range of GET requests, and its default
MAX_LISTED = 1000  # requests in one answer
STATUSES = ("open", "closed")
MEDIA_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")


@dataclass(frozen=True)
class Posted:
    fields: MultiDict  # the form's fields: topic, text, the contact fields, consent
    location: events.Location
    media_url: str | None


def posted(values: MultiDict) -> Posted:
    """What a request's parameters say, in the form's field names. The spec's own
    contact parameters (``email``, ``phone``, ``first_name`` and ``last_name``) stand in
    for the attributes of the same fields when those are not given."""
    problems = []
    description = values.get("description", "")
    if len(forms.unify_newlines(description)) > DESCRIPTION_MAX:
        problems.append(f"description: at most {DESCRIPTION_MAX:,} characters")
    location = _location(values, problems)
    media_url = values.get("media_url", "").strip() or None
    if media_url and (len(media_url) > MEDIA_URL_MAX or not MEDIA_URL.match(media_url)):
        problems.append(f"media_url: an http(s) URL of at most {MEDIA_URL_MAX:,} characters")
    if problems:
        raise bad(*problems)
    spec_name = " ".join(v for v in (values.get("first_name"), values.get("last_name")) if v)
    standard = {"name": spec_name, "email": values.get("email"), "phone": values.get("phone")}
    fields = MultiDict(
        {"topic": values.get("service_code", ""), "text": description}
        | {
            name: values.get(f"attribute[{name}]") or standard.get(name) or ""
            for name in CONTACT_FIELDS
        }
    )
    if values.get(f"attribute[{CONSENT}]") == CONSENT_GIVEN:
        fields["consent"] = "y"
    return Posted(fields, location, media_url)


def _location(values: MultiDict, problems: list[str]) -> events.Location | None:
    """lat and long together, or address_string, or both: the spec asks for one."""
    lat, long = values.get("lat", "").strip(), values.get("long", "").strip()
    address = forms.strip_blank(values.get("address_string", ""))
    point = None
    if lat or long:
        point = _number(lat, -90, 90), _number(long, -180, 180)
        if None in point:
            problems.append("lat and long: both, in WGS84 degrees (-90..90, -180..180)")
            point = None
    if address and (
        len(address) > ADDRESS_MAX
        or forms.one_line(address) != address
        or forms.BAD_CHARACTERS.search(address)
    ):
        problems.append(f"address_string: one line of at most {ADDRESS_MAX} characters")
        address = None
    if point is None and not address:
        if not problems:
            problems.append("a location is required: lat and long, or address_string")
        return None
    lat_value, long_value = point or (None, None)
    return events.Location(lat_value, long_value, address or None)


def _number(text: str, low: float, high: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


@dataclass(frozen=True)
class Filters:
    receipts: tuple[str, ...]  # when given, the others are ignored (as the spec says)
    topics: tuple[str, ...]
    statuses: tuple[str, ...]  # empty: any
    since: float
    until: float

    def admits(self, status: str) -> bool:
        return not self.statuses or status in self.statuses


def filters(values: MultiDict, now: float) -> Filters:
    """The filters of ``GET requests``: ``service_request_id`` (receipts, comma
    separated; they override the rest), ``service_code`` and ``status`` (comma
    separated), ``start_date`` and ``end_date`` (W3C date and time) at most 90 days apart,
    the last 90 days by default."""
    problems = []
    asked = _listed(values.get("service_request_id"))
    found = tuple(receipts.normalize(r) for r in asked)
    if None in found:
        problems.append("service_request_id: receipts such as K7M2-9QXD, comma separated")
    if len(found) > MAX_LISTED:
        problems.append(f"service_request_id: at most {MAX_LISTED:,} at once")
    statuses = _listed(values.get("status"))
    if any(s not in STATUSES for s in statuses):
        problems.append("status: open, closed or both, comma separated")
    until = _moment(values.get("end_date"), "end_date", problems)
    since = _moment(values.get("start_date"), "start_date", problems)
    if until is None:
        until = now if since is None else min(now, since + MAX_DAYS * 86400)
    if since is None:
        since = until - MAX_DAYS * 86400
    if not problems and since > until:
        problems.append("start_date: before end_date")
    if not problems and until - since > MAX_DAYS * 86400:
        problems.append(f"start_date and end_date: at most {MAX_DAYS} days apart")
    if problems:
        raise bad(*problems)
    topics = tuple(_listed(values.get("service_code")))
    return Filters(tuple(found), topics, tuple(statuses), since, until)


def _listed(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _moment(text: str | None, name: str, problems: list[str]) -> float | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        problems.append(f"{name}: a W3C date and time, such as 2026-12-01T00:00:00Z")
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
