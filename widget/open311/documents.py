"""The spec's documents (discovery, services, a service definition, service requests,
errors) built from an agency's file and the outbox, and written as XML or JSON.

One shape for both formats: a JSON value, and the XML it maps to by the spec's rules
(a list's elements are named by ``ITEMS``; ``true``/``false``; an empty element for
null). FixMyStreet and other clients read the XML (``services/service``,
``service_requests/request``), JSON clients the same fields.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime, time
from xml.sax.saxutils import escape

from .. import consent, forms
from ..agencies import Agency
from ..agencies.schema import Topic

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"xml": "text/xml", "json": "application/json"}
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}
CONSENT = "consent"  # the attribute's code, as the form's field
CONSENT_GIVEN = "yes"  # its one value's key
# What helps a client's citizen type each contact field (their datatype is string).
EXAMPLES = {"email": "name@example.ru", "phone": "+7 900 123-45-67"}


def render(fmt: str, root: str, value) -> tuple[bytes, str]:
    """The document as bytes, with its media type: ``root`` names XML's root element
    (JSON has none)."""
    if fmt == "json":
        return json.dumps(value, ensure_ascii=False).encode(), FORMATS["json"]
    body = f'<?xml version="1.0" encoding="utf-8"?>{_element(root, value)}'
    return body.encode(), FORMATS["xml"]


def _element(tag: str, value) -> str:
    if value is None:
        return f"<{tag}/>"
    if isinstance(value, dict):
        inner = "".join(_element(k, v) for k, v in value.items())
    elif isinstance(value, list):
        inner = "".join(_element(ITEMS[tag], v) for v in value)
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{tag}>{inner}</{tag}>"


def when(moment: float | date | None) -> str | None:
    """A W3C date and time in UTC (``2026-12-01T09:30:00Z``); a date as its midnight."""
    if moment is None:
        return None
    if isinstance(moment, date):
        moment = datetime.combine(moment, time(), UTC).timestamp()
    return datetime.fromtimestamp(int(moment), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def discovery(endpoint: str, changeset: str) -> dict:
    return {
        "changeset": changeset,
        "contact": "Otklik: docs/open311.md",
        "key_service": f"{endpoint}: flask open311 keys add (docs/open311.md)",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint,
                "changeset": changeset,
                "type": "production",
                "formats": list(FORMATS.values()),
            }
        ],
    }


@functools.lru_cache(maxsize=256)
def services(agency: Agency, lang: str, fmt: str) -> tuple[bytes, str]:
    """The agency's topics as services, rendered (cached: an Agency changes only as a
    new object, and the list is the same for every client)."""
    shown = bool(attributes(agency, lang))
    listed = [
        {
            "service_code": topic.id,
            "service_name": topic.title_in(lang),
            "description": None,
            "metadata": shown,
            "type": "realtime",  # the receipt is the service_request_id, at once
            "keywords": None,
            "group": agency.display_name,
        }
        for topic in agency.topics
    ]
    return render(fmt, "services", listed)


def definition(agency: Agency, topic: Topic, lang: str) -> dict:
    return {"service_code": topic.id, "attributes": attributes(agency, lang)}


def attributes(agency: Agency, lang: str) -> list[dict]:
    """The agency's contact fields (string, required as its file says) and, when there
    are any, the consent (a list of one value: the text a citizen agrees to), which is
    required whenever a contact field is filled."""
    shown = agency.contact.shown()
    found = [
        {
            "variable": True,
            "code": name,
            "datatype": "string",
            "required": getattr(agency.contact, name) == "required",
            "datatype_description": EXAMPLES.get(name),
            "order": order,
            "description": str(forms.CONTACT_LABELS[name]),
        }
        for order, name in enumerate(shown, 1)
    ]
    if shown:
        words, _version = consent.wording(agency, lang)
        found.append(
            {
                "variable": True,
                "code": CONSENT,
                "datatype": "singlevaluelist",
                "required": any(getattr(agency.contact, n) == "required" for n in shown),
                "datatype_description": None,
                "order": len(shown) + 1,
                "description": words,
                "values": [{"key": CONSENT_GIVEN, "name": str(forms.CONSENT_LABEL)}],
            }
        )
    return found


def request(agency: Agency, listed, lang: str, notice: str) -> dict:
    """One service request's public fields (``listed``: an ``outbox.public.Listed``):
    never its text, contact data, location or the answer."""
    topic = agency.topic(listed.topic_id)
    now = listed.progress
    received_on = datetime.fromtimestamp(listed.created_at, UTC).date()
    due = now.due(received_on, topic.answer_within_days if topic else 30)
    updated = now.history[-1].happened_at if now.history else listed.created_at
    return {
        "service_request_id": listed.receipt,
        "status": "closed" if now.closed else "open",
        "service_code": listed.topic_id,
        "service_name": topic.title_in(lang) if topic else None,
        "agency_responsible": agency.display_name,
        "service_notice": notice,
        "requested_datetime": when(listed.created_at),
        "updated_datetime": when(updated),
        "expected_datetime": when(due),
    }


def accepted(receipt: str, notice: str) -> list[dict]:
    """The answer to a posted request: its receipt, at once."""
    return [{"service_request_id": receipt, "service_notice": notice, "account_id": None}]


def token(token: str, receipt: str) -> list[dict]:
    return [{"service_request_id": receipt, "token": token}]
