"""POST /intake/updates: the central system pushes one signed update per request; 200
only once it is committed, RFC 9457 problems saying what is wrong otherwise."""

from __future__ import annotations

import http.client
import json
import uuid

import pytest

from tests.outbox_db import disk_full_for
from tests.server import Gunicorn
from tests.updates import ANSWER, SECRET, Counted, body_of, history, rows, signed, status_event
from widget import create_app
from widget.web.intake import LARGEST

URL = "/intake/updates"
# An answer of 20,000 characters, the longest there may be, as staff write them.
LONGEST = ("Суп теперь подают горячим, повару сделанно замечание. Меню — на сайте школы.\n" * 260)[
    :20_000
]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def config(config) -> dict:
    return {**config, "intake_secret": SECRET}


def push(client, body: bytes, headers: dict | None = None):
    return client.post(URL, data=body, headers=signed(body) if headers is None else headers)


def problem_of(response) -> dict:
    assert response.mimetype == "application/problem+json"
    found = response.get_json(force=True)
    assert found["status"] == response.status_code and found["type"] == "about:blank"
    return found


# -- bad input first ---------------------------------------------------------------------


def test_a_missing_or_wrong_signature_is_401_and_stores_nothing(client, app):
    body = body_of(status_event())
    missing = push(client, body, headers={"Content-Type": "application/cloudevents+json"})
    assert missing.status_code == 401 and "X-Otklik-Signature" in problem_of(missing)["detail"]
    assert missing.headers["WWW-Authenticate"].startswith("X-Otklik-Signature")
    wrong_key = push(client, body, headers=signed(body, "not-the-secret"))
    assert wrong_key.status_code == 401
    other_body = push(client, body, headers=signed(body.replace(b"answered", b"closed")))
    assert other_body.status_code == 401
    garbage = push(client, body, headers={"X-Otklik-Signature": "sha256=Ж"})
    assert garbage.status_code == 401
    assert rows(app) == []


def test_an_oversized_body_is_413_before_its_signature_is_read(client, app):
    body = body_of(status_event(note="Ж" * 140_000))  # over 256 KiB in UTF-8
    response = push(client, body, headers={})
    assert response.status_code == 413
    assert problem_of(response)["detail"] == (
        "the body is over 262,144 bytes: send one update per request"
    )
    assert rows(app) == []
    event = body_of(status_event())
    exactly = event + b" " * (LARGEST - len(event))  # JSON allows trailing spaces
    assert push(client, exactly + b" ").status_code == 413
    assert push(client, exactly).status_code == 200


def test_a_get_or_any_other_method_is_405_as_a_problem_allowing_post(client, app):
    for method in ("GET", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"):
        response = client.open(URL, method=method)
        assert response.status_code == 405, method
        assert response.headers["Allow"] == "POST"
        assert problem_of(response)["detail"].startswith("only POST is taken here")
    head = client.head(URL)
    assert head.status_code == 405 and head.headers["Allow"] == "POST"
    assert rows(app) == []


def test_an_invalid_event_is_400_saying_why_without_its_values(client, app):
    counted = Counted(app)
    answer = "Ваш вопрос решён, Иван Петрович " * 700
    body = body_of(status_event(answer=answer))
    response = push(client, body)
    assert response.status_code == 400
    found = problem_of(response)
    assert found["title"] == "Bad Request"
    assert found["detail"].startswith("data.answer: longer than 20,000 characters")
    assert "Иван" not in response.get_data(as_text=True)
    not_json = push(client, b"status=answered")
    assert problem_of(not_json)["detail"].startswith("not JSON")
    assert rows(app) == []
    assert counted("http", "rejected") == 2


def test_a_cross_site_post_is_refused_as_a_problem_not_a_page(client):
    body = body_of(status_event())
    headers = {**signed(body), "Sec-Fetch-Site": "cross-site"}
    response = push(client, body, headers)
    assert response.status_code == 403
    assert problem_of(response)["detail"].startswith("a request with a browser's cross-site")


def test_a_full_disk_is_503_with_retry_after_and_the_update_goes_in_later(client, app):
    body = body_of(status_event())
    with disk_full_for(app, "updates"):
        response = push(client, body)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "again later" in problem_of(response)["detail"]
    assert push(client, body).status_code == 200
    assert len(rows(app)) == 1


# -- what works ---------------------------------------------------------------------------


def largest(event: dict) -> dict:
    """``event`` with every bounded text field at its longest, in emoji: the largest
    valid event there is (4 bytes a character in UTF-8, 12 as a ``\\u`` surrogate pair)."""
    data = event["data"]
    data.update(answer="🙏" * 20_000, answered_by="🏫" * 300, note="📌" * 1_000)
    data.update(redirected_to="🏛" * 300, message_id=str(uuid.UUID(int=0)), answer_by="2027-01-20")
    return {**event, "id": "x" * 200, "source": "/" * 200, "traceparent": TRACEPARENT}


@pytest.mark.parametrize(
    "encoded",
    [
        # 20,000 Cyrillic letters as Python's json.dumps writes them by default: 120 kB
        pytest.param(lambda: json.dumps(status_event(answer=LONGEST)).encode(), id="escaped"),
        # 20,000 emoji as UTF-8: 80 kB
        pytest.param(lambda: body_of(status_event(answer="🙏" * 20_000)), id="emoji-utf8"),
        # every field at its longest, in emoji, escaped and indented: the worst there is
        pytest.param(lambda: json.dumps(largest(status_event()), indent=2).encode(), id="largest"),
    ],
)
def test_a_valid_update_is_taken_whatever_its_encoding(client, app, encoded):
    body = encoded()
    assert len(body) > 64 * 1024  # each was refused by the first limit
    response = push(client, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    (update,) = history(app)
    assert len(update.answer) == 20_000


def test_a_signed_update_is_200_after_the_commit_and_a_repeat_is_200_too(client, app):
    counted = Counted(app)
    event = status_event()
    body = body_of(event)
    first = push(client, body)
    assert first.status_code == 200
    assert first.get_json() == {"id": event["id"], "outcome": "recorded"}
    (update,) = history(app)
    assert update.answer == ANSWER and update.status == "answered"
    again = push(client, body)
    assert again.status_code == 200 and again.get_json()["outcome"] == "repeat"
    assert len(rows(app)) == 1 and rows(app)[0]["intake"] == "http"
    assert counted("http", "recorded") == 1 and counted("http", "repeat") == 1


def test_the_answer_has_the_same_headers_as_every_page_and_no_cookie(client):
    body = body_of(status_event("received"))
    response = push(client, body)  # the checked client asserts CSP, nosniff and no cookie
    assert response.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert response.headers["X-Request-Id"]


def test_an_upper_case_signature_and_an_old_secret_in_a_rotation_are_accepted(app, client):
    app.config["INTAKE_SECRET_FALLBACKS"] = ["the-old-secret"]
    body = body_of(status_event("in_progress"))
    upper = signed(body)
    upper["X-Otklik-Signature"] = "sha256=" + upper["X-Otklik-Signature"][7:].upper()
    assert push(client, body, upper).status_code == 200
    old = body_of(status_event("received"))
    assert push(client, old, signed(old, "the-old-secret")).status_code == 200
    assert len(rows(app)) == 2


def test_the_route_exists_only_with_an_intake_secret(instance, config):
    app = create_app({**config, "intake_secret": None}, instance_path=instance)
    body = body_of(status_event())
    assert app.test_client().post(URL, data=body, headers=signed(body)).status_code == 404


def test_a_push_is_not_a_page_view(app, client):
    app.config["RATELIMIT_PAGES"] = "2 per minute"
    for status in ("received", "in_progress", "answered"):
        body = body_of(status_event(status))
        assert push(client, body).status_code == 200
    for _ in range(2):  # the page views this address has left: none went on the pushes
        assert client.get("/embed/orel-school-57").status_code == 200


def test_over_real_http_a_push_is_taken_and_a_chunked_oversized_one_refused(instance):
    """gunicorn in front: a push as curl sends it, and one of unknown length (chunked)
    that grows past 256 KiB, which is refused once that much is read."""
    env = {"OTKLIK_INTAKE_SECRET": SECRET, "OTKLIK_DEMO": "true"}
    server = Gunicorn(instance, workers=1, env=env)
    try:
        body = body_of(status_event())
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("POST", URL, body=body, headers=signed(body))
        answer = connection.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["outcome"] == "recorded"

        chunks = [b"{"] + [b" " * 30_000] * 9 + [b"}"]
        whole = b"".join(chunks)
        connection.request("POST", URL, body=iter(chunks), headers=signed(whole))
        answer = connection.getresponse()  # http.client sends an iterable chunked
        assert answer.status == 413
        assert answer.getheader("Content-Type") == "application/problem+json"
        connection.close()
    finally:
        log = server.stop()
    app = create_app({"demo": True}, instance_path=instance)
    assert len(rows(app)) == 1
    assert ANSWER not in log and "Traceback" not in log
