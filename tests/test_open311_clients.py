"""Open311 over real HTTP, with gunicorn's workers: the ``georeport`` client from PyPI
lists services, reads a definition and reads requests; posts go through ``requests``
as the spec's examples show; the XML is read as FixMyStreet reads it."""

from __future__ import annotations

import shutil

import pytest
import requests
from georeport import GeoReport

from tests.conftest import DEMO_AGENCIES
from tests.open311 import (
    AGENCY,
    POTHOLE,
    add_key,
    check_definition,
    check_errors,
    check_requests,
    check_services,
    xml_errors,
    xml_items,
)
from tests.pages import EXPECTED_CSP
from tests.server import Gunicorn
from widget.open311 import keys


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    instance = tmp_path_factory.mktemp("open311") / "instance"
    shutil.copytree(DEMO_AGENCIES, instance / "agencies")
    shutil.copytree(DEMO_AGENCIES.parent / "logos", instance / "logos")
    api_key = add_key(instance)
    server = Gunicorn(instance, workers=2, env={"OTKLIK_DEMO": "true"})
    yield server, instance, api_key
    server.stop()


def endpoint(server) -> str:
    return f"{server.url}/open311/v2"


def test_errors_over_http_are_the_specs_with_the_header_promises(served):
    server, _, _ = served
    for url, fmt in [
        (f"{endpoint(server)}/nothing.json", "json"),
        (f"{endpoint(server)}/x", "xml"),
    ]:
        response = requests.get(url, timeout=10)
        assert response.status_code == 404
        assert response.headers["Content-Type"].startswith(
            {"json": "application/json", "xml": "text/xml"}[fmt]
        )
        for part in EXPECTED_CSP:
            assert part in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Set-Cookie" not in response.headers
    refused = requests.post(f"{endpoint(server)}/requests.json", data=POTHOLE, timeout=10)
    assert check_errors(refused.json(), 403)


def test_the_georeport_client_lists_services_and_reads_a_definition(served):
    server, _, _ = served
    for fmt in ("json", "xml"):
        client = GeoReport(endpoint(server), jurisdiction=AGENCY, output_format=fmt)
        services = client.get_service_list()
        if fmt == "json":
            check_services(services)
        assert [s["service_code"] for s in services][:2] == ["roads", "housing"]
        definition = client.get_service_definition("roads")
        if fmt == "json":
            check_definition(definition)
            codes = [a["code"] for a in definition["attributes"]]
        else:
            codes = [a["code"] for a in definition["attributes"]["attribute"]]
        assert codes == ["name", "email", "phone", "address", "consent"]


def test_a_request_posted_as_the_spec_shows_is_read_back_by_the_client(served):
    server, _, api_key = served
    posted = requests.post(
        f"{endpoint(server)}/requests.xml", data={"api_key": api_key, **POTHOLE}, timeout=10
    )
    assert posted.status_code == 200, posted.text
    (answer,) = xml_items(posted.content, "service_requests", "request")
    receipt = answer["service_request_id"]
    as_json = requests.post(
        f"{endpoint(server)}/requests.json", data={"api_key": api_key, **POTHOLE}, timeout=10
    )
    other = as_json.json()[0]["service_request_id"]
    assert other != receipt

    client = GeoReport(endpoint(server), jurisdiction=AGENCY, output_format="json")
    one = client.get_service_request(receipt)
    check_requests([one])
    assert one["status"] == "open" and one["service_code"] == "roads"
    assert "description" not in one and "lat" not in one
    listed = client.get_service_requests(status="open", service_code="roads")
    check_requests(listed)
    assert {receipt, other} <= {r["service_request_id"] for r in listed}
    xml_client = GeoReport(endpoint(server), jurisdiction=AGENCY, output_format="xml")
    assert xml_client.get_service_request(receipt)["service_request_id"] == receipt
    both = requests.get(
        f"{endpoint(server)}/requests.xml",
        params={"jurisdiction_id": AGENCY, "service_request_id": f"{receipt},{other}"},
        timeout=10,
    )
    read = xml_items(both.content, "service_requests", "request")
    assert {r["service_request_id"] for r in read} == {receipt, other}


def test_a_key_revoked_while_the_server_runs_is_refused_by_every_worker(served):
    server, instance, _ = served
    api_key = add_key(instance, "short-lived")
    url = f"{endpoint(server)}/requests.xml"
    assert requests.post(url, data={"api_key": api_key, **POTHOLE}, timeout=10).ok
    keys.revoke(keys.path_in(instance), "short-lived")
    for _ in range(4):  # whichever worker answers
        refused = requests.post(url, data={"api_key": api_key, **POTHOLE}, timeout=10)
        assert refused.status_code == 403
        assert "revoked" in xml_errors(refused.content, 403)[0]
