"""Open311 for the tests: checks of the JSON documents, written from the georeport-v2
schemas of the open311/schema-validation repository (service.json, services.json,
service-definition.json, request.json, requests.json); the XML read as FixMyStreet reads
it (elements under ``services/service`` and ``service_requests/request``); a key."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime

from widget.open311 import keys

AGENCY = "orel-city-admin"  # the demo's city hall: topics, contact fields, address optional
OTHER = "orel-school-57"
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
# A request as the spec's example posts one: a point, an address, an email and the consent.
POTHOLE = {
    "jurisdiction_id": AGENCY,
    "service_code": "roads",
    "lat": "52.9651",
    "long": "36.0785",
    "address_string": "Орёл, ул. Ленина, 1",
    "description": "Глубокая яма на проезжей части у дома 1.",
    "attribute[email]": "citizen@example.ru",
    "attribute[consent]": "yes",
}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def add_key(instance, name="fixmystreet", agencies=(AGENCY,), regions=(), limit=None) -> str:
    extra = {"limit": limit} if limit else {}
    return keys.add(keys.path_in(instance), name, list(agencies), list(regions), **extra)


def _string_or_null(value) -> bool:
    return value is None or isinstance(value, str)


def _date_time(value) -> bool:
    return isinstance(value, str) and bool(RFC3339.match(value))


def check_services(document) -> None:
    """services.json: an array of service.json."""
    assert isinstance(document, list)
    for service in document:
        assert {"service_code", "service_name", "metadata", "type"} <= service.keys()
        assert isinstance(service["service_code"], str)
        assert isinstance(service["service_name"], str)
        assert isinstance(service["metadata"], bool)
        assert service["type"] in ("realtime", "batch", "blackbox")
        for optional in ("description", "keywords", "group"):
            assert _string_or_null(service.get(optional))


def check_definition(document) -> None:
    """service-definition.json: a service code and its attributes."""
    assert isinstance(document, dict)
    assert {"service_code", "attributes"} <= document.keys()
    assert isinstance(document["service_code"], str)
    assert isinstance(document["attributes"], list)
    for attribute in document["attributes"]:
        assert {"variable", "code", "datatype", "required"} <= attribute.keys()
        assert isinstance(attribute["variable"], bool)
        assert isinstance(attribute["code"], str)
        assert attribute["datatype"] in DATATYPES
        assert isinstance(attribute["required"], bool)
        assert _string_or_null(attribute.get("datatype_description"))
        assert _string_or_null(attribute.get("description"))
        order = attribute.get("order")
        assert order is None or (isinstance(order, int) and not isinstance(order, bool))
        for value in attribute.get("values", []):
            assert isinstance(value["key"], str) and isinstance(value["name"], str)


def check_requests(document) -> None:
    """requests.json: an array of request.json."""
    assert isinstance(document, list)
    for request in document:
        assert {"service_request_id", "status", "service_code", "requested_datetime"} <= (
            request.keys()
        )
        assert isinstance(request["service_request_id"], str)
        assert request["status"] in ("open", "closed")
        assert isinstance(request["service_code"], str)
        assert _date_time(request["requested_datetime"])
        for moment in ("updated_datetime", "expected_datetime"):
            assert request.get(moment) is None or _date_time(request[moment])
        for text in ("status_notes", "service_name", "agency_responsible", "service_notice"):
            assert _string_or_null(request.get(text))
        description = request.get("description")
        assert description is None or (isinstance(description, str) and len(description) <= 4000)
        for number in ("lat", "long"):
            assert request.get(number) is None or isinstance(request[number], int | float)


def check_errors(document, status: int) -> list[str]:
    """The spec's errors: ``[{code, description}]``; their descriptions."""
    assert isinstance(document, list) and document
    for error in document:
        assert error.keys() == {"code", "description"}
        assert error["code"] == status
        assert isinstance(error["description"], str) and error["description"]
    return [error["description"] for error in document]


def xml_items(body: bytes, root: str, item: str) -> list[dict]:
    """What FixMyStreet reads: each ``root/item`` element's children as text."""
    tree = ET.fromstring(body)
    assert tree.tag == root
    return [{child.tag: child.text for child in element} for element in tree.findall(item)]


def xml_errors(body: bytes, status: int) -> list[str]:
    errors = xml_items(body, "errors", "error")
    assert errors and all(e["code"] == str(status) for e in errors)
    return [e["description"] for e in errors]


def parsed(moment: str) -> datetime:
    return datetime.fromisoformat(moment)
