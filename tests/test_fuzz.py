"""Property-based: whatever a client sends, in the fields or as the raw body, the answer
is never a 5xx, a traceback, a cookie or an unescaped echo of what it sent. (Every
page also goes through tests/pages.py: valid HTML, no script, CSP, no cookie.)"""

from __future__ import annotations

import re
import shutil
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DEMO_AGENCIES, CheckedClient
from widget import create_app, tokens

AGENCIES = ["orel-school-57", "orel-city-admin", "orel-polyclinic-1"]
FIELDS = ["topic", "text", "name", "email", "phone", "address", "consent", "website", "token"]
# What an attacker hopes to see come back unescaped.
PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' autofocus onfocus='alert(1)",
    "</textarea><b id=injected>",
    "javascript:alert(1)",
    "{{ config.SECRET_KEY }}",
    "\u202e\u0000\ufffd",
    "%00%ff%D0",
]
DANGEROUS = re.compile(r"[<>\"']")
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any text a browser (or a script) could put in a field: every code point but surrogates.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
hostile_text = st.one_of(
    any_text,
    st.sampled_from(PAYLOADS),
    st.builds(lambda a, p, b: a + p + b, any_text, st.sampled_from(PAYLOADS), any_text),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=4000, max_size=6000),
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for all examples, with limits high enough that the fuzzing is not just
    a study of the 429 page (tests/test_limits.py covers that)."""
    instance = tmp_path_factory.mktemp("fuzz") / "instance"
    shutil.copytree(DEMO_AGENCIES, instance / "agencies")
    base = instance / "agencies" / "_bases" / "orel.toml"
    base.write_text(
        base.read_text().replace(
            'per_ip = "5 per hour"', 'per_ip = "100000/hour"\nattempts_per_ip = "100000/hour"'
        )
    )
    app = create_app(
        {
            "secret_key": "fuzz",
            "demo": True,
            "token_min_seconds": 0,
            "ratelimit_per_agency": "100000/hour",
            "ratelimit_pages": "100000/minute",
        },
        instance_path=instance,
    )
    app.test_client_class = CheckedClient
    return app


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def check(response, sent: list[str]) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    assert "Set-Cookie" not in response.headers
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and 'File "/' not in body
    for value in sent:
        if DANGEROUS.search(value) and len(value) > 2:
            assert value not in body, f"echoed unescaped: {value!r}"


@FUZZ
@given(
    agency=st.sampled_from(AGENCIES),
    kind=st.sampled_from(["embed", "f"]),
    fields=st.dictionaries(
        st.one_of(st.sampled_from(FIELDS), any_text.filter(bool)), hostile_text, max_size=12
    ),
    valid_token=st.booleans(),
    multipart=st.booleans(),
)
def test_no_form_input_breaks_the_form(app, client, agency, kind, fields, valid_token, multipart):
    if valid_token:
        with app.test_request_context():
            fields["token"] = tokens.issue(agency)
    response = client.post(
        f"/{kind}/{agency}",
        data=fields,
        content_type="multipart/form-data" if multipart else None,
    )
    check(response, [*fields.values(), *fields.keys()])
    assert response.status_code in (303, 400, 413, 422)


@FUZZ
@given(
    body=st.one_of(st.binary(max_size=3000), hostile_text.map(str.encode)),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=latin-1",
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "text/plain",
            "application/json",
            "",
        ]
    ),
)
def test_no_raw_body_breaks_the_form(client, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/embed/orel-school-57", data=body, headers=headers)
    check(response, [body.decode("utf-8", "replace")])
    assert response.status_code in (400, 413, 422)


@FUZZ
@given(path=any_text, query=any_text)
def test_no_path_or_query_breaks_a_page(client, path, query):
    response = client.get("/embed/" + quote(path), query_string={"q": query, path: query})
    check(response, [path, query])
