"""Open311 GeoReport v2 in the app: bad input first (keys, jurisdictions, services,
attributes, a long description, dates), in XML and JSON, storing nothing; then what a
client reads and posts, and what the agency's queue receives."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.central import fill, valid_event
from tests.conftest import write_agency
from tests.open311 import (
    AGENCY,
    OTHER,
    add_key,
    check_definition,
    check_errors,
    check_requests,
    check_services,
    xml_errors,
    xml_items,
)
from tests.open311 import (
    POTHOLE as SPEC_EXAMPLE,
)
from tests.outbox_db import rows
from tests.updates import body_of, status_event
from widget import outbox, updates
from widget.open311 import keys
from widget.outbox import updates as stored_updates

V2 = "/open311/v2"
FORMATS = ["xml", "json"]
POTHOLE = {**SPEC_EXAMPLE, "media_url": "https://photos.example.org/pothole.jpg"}


@pytest.fixture
def key(instance) -> str:
    return add_key(instance)


def errors_of(response, status: int, fmt: str) -> list[str]:
    assert response.status_code == status
    assert response.mimetype == {"xml": "text/xml", "json": "application/json"}[fmt]
    if fmt == "json":
        return check_errors(response.get_json(), status)
    return xml_errors(response.data, status)


def post(client, fmt: str, api_key: str | None, query: str = "", **changes):
    data = {**POTHOLE, **({"api_key": api_key} if api_key else {}), **changes}
    url = f"{V2}/requests.{fmt}{query}"
    return client.post(url, data={k: v for k, v in data.items() if v})


# -- refused, and nothing stored -------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_post_without_a_key_or_with_a_wrong_one_is_403(app, client, key, fmt):
    assert "api_key" in errors_of(post(client, fmt, None), 403, fmt)[0]
    assert "not a key" in errors_of(post(client, fmt, key + "x"), 403, fmt)[0]
    assert rows(app) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_key_revoked_is_refused_at_once_with_no_restart(app, client, instance, key, fmt):
    assert post(client, fmt, key).status_code == 200
    result = app.test_cli_runner().invoke(args=["open311", "keys", "revoke", "fixmystreet"])
    assert result.exit_code == 0, result.output
    assert "revoked" in errors_of(post(client, fmt, key), 403, fmt)[0]
    assert len(rows(app)) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_key_may_post_only_to_its_agencies_and_regions(app, client, instance, key, fmt):
    assert OTHER in errors_of(post(client, fmt, key, jurisdiction_id=OTHER), 403, fmt)[0]
    regional = add_key(instance, "region-app", agencies=(), regions=("57",))
    elsewhere = add_key(instance, "far-app", agencies=(), regions=("77",))
    school = {"jurisdiction_id": OTHER, "service_code": "food"}
    assert errors_of(post(client, fmt, elsewhere, **school), 403, fmt)
    assert rows(app) == []
    assert post(client, fmt, regional, **school).status_code == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_or_missing_jurisdiction(client, key, fmt):
    assert (
        "nowhere-agency"
        in errors_of(client.get(f"{V2}/services.{fmt}?jurisdiction_id=nowhere-agency"), 404, fmt)[0]
    )
    assert errors_of(client.get(f"{V2}/services.{fmt}?jurisdiction_id=../etc"), 404, fmt)
    assert "jurisdiction_id" in errors_of(client.get(f"{V2}/services.{fmt}"), 400, fmt)[0]
    assert errors_of(post(client, fmt, key, jurisdiction_id="nowhere-agency"), 404, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_service(app, client, key, fmt):
    url = f"{V2}/services/potholes.{fmt}?jurisdiction_id={AGENCY}"
    assert "potholes" in errors_of(client.get(url), 404, fmt)[0]
    problems = errors_of(post(client, fmt, key, service_code="potholes"), 400, fmt)
    assert problems == ["service_code: Выберите тему из списка"]
    assert rows(app) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_required_attribute(app, client, instance, fmt):
    key = add_key(instance, agencies=("orel-polyclinic-1",))
    clinic = {"jurisdiction_id": "orel-polyclinic-1", "service_code": "appointment"}
    problems = errors_of(post(client, fmt, key, **clinic), 400, fmt)
    assert problems == ["attribute[phone]: Укажите телефон"]
    english = errors_of(post(client, fmt, key, "?lang=en", **clinic), 400, fmt)
    assert english == ["attribute[phone]: Enter your phone number"]
    assert rows(app) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_contact_data_without_the_consent_is_refused(app, client, key, fmt):
    problems = errors_of(post(client, fmt, key, **{"attribute[consent]": ""}), 400, fmt)
    assert [p.split(":")[0] for p in problems] == ["attribute[consent]"]
    assert rows(app) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_description_over_4000_characters(app, client, key, fmt):
    problems = errors_of(post(client, fmt, key, description="я" * 4001), 400, fmt)
    assert problems == ["description: at most 4,000 characters"]
    assert post(client, fmt, key, description="я" * 4000).status_code == 200
    assert len(rows(app)) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_request_needs_a_location_and_a_good_one(app, client, key, fmt):
    nowhere = {"lat": "", "long": "", "address_string": ""}
    assert "location" in errors_of(post(client, fmt, key, **nowhere), 400, fmt)[0]
    assert "lat and long" in errors_of(post(client, fmt, key, lat="91"), 400, fmt)[0]
    assert "lat and long" in errors_of(post(client, fmt, key, long=""), 400, fmt)[0]
    two_lines = {"address_string": "ул. Ленина\nдом 1"}
    assert "address_string" in errors_of(post(client, fmt, key, **two_lines), 400, fmt)[0]
    assert "media_url" in errors_of(post(client, fmt, key, media_url="file:///x"), 400, fmt)[0]
    assert rows(app) == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "90 days"),
        ("start_date=2026-06-01T00:00:00Z&end_date=2026-05-01T00:00:00Z", "before end_date"),
        ("start_date=yesterday", "W3C"),
        ("status=pending", "status"),
        ("service_request_id=K7M2-9QXD,K7M2", "service_request_id"),
    ],
)
def test_a_bad_date_range_or_filter(client, fmt, query, says):
    response = client.get(f"{V2}/requests.{fmt}?jurisdiction_id={AGENCY}&{query}")
    assert says in errors_of(response, 400, fmt)[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_errors_of_routing_are_the_specs_never_a_page(client, fmt):
    assert errors_of(client.get(f"{V2}/nothing.{fmt}"), 404, fmt)
    response = client.put(f"{V2}/requests.{fmt}")
    assert errors_of(response, 405, fmt) and "POST" in response.headers["Allow"]
    huge = client.post(
        f"{V2}/requests.{fmt}",
        data=b"description=" + b"a" * (9 * 1024 * 1024),
        content_type="application/x-www-form-urlencoded",
    )
    assert errors_of(huge, 413, fmt)
    json_body = client.post(f"{V2}/requests.{fmt}", json=POTHOLE)
    assert "form-encoded" in errors_of(json_body, 400, fmt)[0]
    cross_site = client.post(f"{V2}/requests.{fmt}", headers={"Sec-Fetch-Site": "cross-site"})
    assert errors_of(cross_site, 403, fmt)


def test_a_path_without_an_extension_is_xml(client):
    response = client.get(f"{V2}/services?jurisdiction_id={AGENCY}")
    assert response.mimetype == "text/xml"
    assert xml_items(response.data, "services", "service")
    assert xml_errors(client.get(f"{V2}/nothing").data, 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_keys_own_limit_counts_its_messages_beside_the_agencys(app, client, instance, fmt):
    # the city hall takes 5 messages an hour from one address: a key is not held to that
    key = add_key(instance, limit="7 per hour")
    assert [post(client, fmt, key).status_code for _ in range(7)] == [200] * 7
    response = post(client, fmt, key)
    assert "rate limit" in errors_of(response, 429, fmt)[0]
    assert int(response.headers["Retry-After"]) > 0
    assert len(rows(app)) == 7


# -- what a client reads and posts -----------------------------------------------------


def test_discovery_lists_the_endpoint_in_both_formats(client):
    document = client.get(f"{V2}/discovery.json").get_json()
    (endpoint,) = document["endpoints"]
    assert endpoint["url"] == "http://localhost/open311/v2/"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    xml = client.get(f"{V2}/discovery.xml")
    assert b"<format>text/xml</format><format>application/json</format>" in xml.data


def test_services_are_the_agencys_topics(client):
    listed = client.get(f"{V2}/services.json?jurisdiction_id={AGENCY}").get_json()
    check_services(listed)
    assert [s["service_code"] for s in listed] == [
        "roads",
        "housing",
        "yards",
        "transport",
        "other",
    ]
    assert listed[0]["service_name"] == "Дороги и тротуары"
    assert {s["group"] for s in listed} == {"Администрация Орла"}
    xml = client.get(f"{V2}/services.xml?jurisdiction_id={AGENCY}")
    services = xml_items(xml.data, "services", "service")
    assert [s["service_code"] for s in services] == [s["service_code"] for s in listed]
    assert services[0]["metadata"] == "true" and services[0]["type"] == "realtime"
    english = client.get(f"{V2}/services.json?jurisdiction_id=orel-school-57&lang=en").get_json()
    assert (
        english[0]["service_name"]
        != client.get(f"{V2}/services.json?jurisdiction_id=orel-school-57").get_json()[0][
            "service_name"
        ]
    )


def test_a_service_definition_holds_the_contact_fields_and_the_consent(client):
    url = f"{V2}/services/appointment.json?jurisdiction_id=orel-polyclinic-1"
    document = client.get(url).get_json()
    check_definition(document)
    found = {a["code"]: a for a in document["attributes"]}
    assert list(found) == ["name", "email", "phone", "consent"]
    assert found["phone"]["required"] and not found["email"]["required"]
    assert found["consent"]["datatype"] == "singlevaluelist" and found["consent"]["required"]
    assert found["consent"]["values"][0]["key"] == "yes"
    assert "Поликлиника № 1" in found["consent"]["description"]
    xml = client.get(url.replace(".json", ".xml")).data
    assert b"<attributes><attribute><variable>true</variable><code>name</code>" in xml


def test_a_posted_request_is_a_message_in_the_outbox_with_its_location(app, client, key):
    response = post(client, "json", key)
    assert response.status_code == 200
    ((answer),) = response.get_json()
    (row,) = rows(app)
    assert answer["service_request_id"] == row["receipt"]
    event = valid_event(row["event"])
    data = event["data"]
    assert data["channel"] == "open311" and data["integrator"] == "fixmystreet"
    assert data["location"] == {"lat": 52.9651, "long": 36.0785, "address": "Орёл, ул. Ленина, 1"}
    assert data["media_url"] == POTHOLE["media_url"]
    assert data["contact"] == {"email": "citizen@example.ru"}
    assert data["consent"]["version"].startswith("orel-2026-01")
    assert data["text"] == POTHOLE["description"]


def test_the_specs_own_contact_parameters_stand_in_for_the_attributes(app, client, key):
    spec = {"attribute[email]": "", "email": "spec@example.ru", "first_name": "Анна"}
    xml = post(client, "xml", key, last_name="Иванова", **spec)
    (answer,) = xml_items(xml.data, "service_requests", "request")
    (row,) = rows(app)
    assert answer["service_request_id"] == row["receipt"]
    contact = json.loads(row["event"])["data"]["contact"]
    assert contact == {"name": "Анна Иванова", "email": "spec@example.ru"}


def test_requests_show_only_public_fields_and_the_status_from_the_updates(app, client, key):
    first = post(client, "json", key).get_json()[0]["service_request_id"]
    second = post(client, "json", key, service_code="housing").get_json()[0]["service_request_id"]
    with app.app_context():
        closed = updates.parse(
            body_of(status_event("closed", receipt=second, agency_id=AGENCY, time=_now()))
        )
        stored_updates.record(outbox.get_db(), [closed], "http")
    listed = client.get(f"{V2}/requests.json?jurisdiction_id={AGENCY}")
    document = listed.get_json()
    check_requests(document)
    by_id = {r["service_request_id"]: r for r in document}
    assert by_id[first]["status"] == "open" and by_id[second]["status"] == "closed"
    text = listed.get_data(as_text=True)
    for private in ("citizen@example.ru", "Глубокая яма", "52.9651", "Ленина", "photos.example"):
        assert private not in text
    assert by_id[first]["agency_responsible"] == "Администрация Орла"
    assert by_id[first]["expected_datetime"] > by_id[first]["requested_datetime"]
    only_open = client.get(f"{V2}/requests.json?jurisdiction_id={AGENCY}&status=open").get_json()
    assert [r["service_request_id"] for r in only_open] == [first]
    housing = client.get(f"{V2}/requests.xml?jurisdiction_id={AGENCY}&service_code=housing")
    assert [
        r["service_request_id"] for r in xml_items(housing.data, "service_requests", "request")
    ] == [second]
    asked = client.get(f"{V2}/requests.json?jurisdiction_id={AGENCY}&service_request_id={first}")
    assert [r["service_request_id"] for r in asked.get_json()] == [first]
    one = client.get(f"{V2}/requests/{first}.json?jurisdiction_id={AGENCY}").get_json()
    assert one == [by_id[first]]
    token = client.get(f"{V2}/tokens/{first}.xml?jurisdiction_id={AGENCY}")
    assert xml_items(token.data, "service_requests", "request") == [
        {"service_request_id": first, "token": first}
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_request_of_another_agency_or_none_is_404(client, key, fmt):
    receipt = post(client, "json", key).get_json()[0]["service_request_id"]
    assert errors_of(client.get(f"{V2}/requests/{receipt}.{fmt}?jurisdiction_id={OTHER}"), 404, fmt)
    assert errors_of(client.get(f"{V2}/requests/nonsense.{fmt}?jurisdiction_id={AGENCY}"), 404, fmt)
    assert errors_of(client.get(f"{V2}/tokens/ZZZZ-ZZZZ.{fmt}?jurisdiction_id={AGENCY}"), 404, fmt)


def test_the_list_holds_requests_posted_over_open311_at_most_1000(app, client):
    # a message written in the widget is never listed (who wrote to a small agency about
    # what, and when, would show): it is found by its receipt, as on the status page
    fill(app, 3, agency_id=AGENCY)
    with app.app_context():
        db = outbox.get_db()
        (form_receipt,) = db.execute("SELECT receipt FROM messages LIMIT 1").fetchone()
    assert client.get(f"{V2}/requests.json?jurisdiction_id={AGENCY}").get_json() == []
    by_id = client.get(f"{V2}/requests/{form_receipt}.json?jurisdiction_id={AGENCY}")
    assert by_id.status_code == 200 and by_id.get_json()[0]["service_request_id"] == form_receipt
    fill(app, 1001, agency_id=AGENCY, start=3, channel="open311")
    listed = client.get(f"{V2}/requests.json?jurisdiction_id={AGENCY}").get_json()
    assert len(listed) == 1000 and form_receipt not in {r["service_request_id"] for r in listed}
    check_requests(listed)


def test_keys_add_list_revoke_keep_only_hashes(app, instance):
    runner = app.test_cli_runner()
    added = runner.invoke(args=["open311", "keys", "add", "city-app", "--agency", AGENCY])
    assert added.exit_code == 0, added.output
    api_key = added.stdout.strip()
    assert len(api_key) >= 40
    text = keys.path_in(instance).read_text()
    assert api_key not in text and keys.digest(api_key) in text
    again = runner.invoke(args=["open311", "keys", "add", "city-app", "--agency", AGENCY])
    assert again.exit_code != 0 and "listed already" in again.output
    nowhere = runner.invoke(args=["open311", "keys", "add", "lost-app"])
    assert nowhere.exit_code != 0 and "agencies or regions" in nowhere.output
    listed = runner.invoke(args=["open311", "keys", "list"])
    assert listed.output.startswith(f"city-app\t{AGENCY}\t{keys.DEFAULT_LIMIT}\t")
    assert runner.invoke(args=["open311", "keys", "revoke", "city-app"]).exit_code == 0
    assert runner.invoke(args=["open311", "keys", "list"]).output == ""
    assert runner.invoke(args=["open311", "keys", "revoke", "city-app"]).exit_code != 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_broken_keys_file_refuses_every_key(app, client, instance, key, fmt):
    path = keys.path_in(instance)
    path.write_text(path.read_text() + "\n[[keys]]\nname = 'Bad Name'\n")
    assert errors_of(post(client, fmt, key), 403, fmt)
    assert rows(app) == []


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def test_a_changed_agency_file_changes_the_services_at_once(client, instance):
    school = instance / "agencies" / "orel-school-57.toml"
    write_agency(
        instance, "orel-school-57", school.read_text().replace('id = "food"', 'id = "meals"')
    )
    listed = client.get(f"{V2}/services.json?jurisdiction_id=orel-school-57").get_json()
    assert "meals" in [s["service_code"] for s in listed]
