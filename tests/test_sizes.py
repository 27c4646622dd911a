"""Sizes: bodies, fields, parts. Too much gets the 413 page (in the iframe too) or a
clear error on the field, never a crash and never a stored message."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from tests.conftest import token_of
from tests.server import Gunicorn
from tests.test_form import SCHOOL, rows, send
from widget.forms import MAX_FIELDS, MAX_URLENCODED_BYTES

SCHOOL_ANCESTORS = "frame-ancestors 'self' https://school57.example.ru"


def is_413_page(response) -> bool:
    return (
        response.status_code == 413
        and "Слишком много данных" in response.get_data(as_text=True)
        and response.headers["Content-Security-Policy"].endswith(SCHOOL_ANCESTORS)
    )


def test_a_url_encoded_body_is_capped_far_below_the_attachment_limit(client, app):
    assert app.config["MAX_CONTENT_LENGTH"] > 10 * MAX_URLENCODED_BYTES
    response = send(client, text="я" * MAX_URLENCODED_BYTES)  # 6 bytes a letter, encoded
    assert is_413_page(response)
    assert rows(app) == []


def test_a_long_but_possible_message_is_answered_on_the_field(client, app):
    response = send(client, text="я" * 6000, email="a@example.ru", consent="y")
    assert response.status_code == 422
    assert "не длиннее 5000 символов" in response.get_data(as_text=True)


def test_too_many_fields_get_the_413_page(client, app):
    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    data = {"topic": "food", "text": "Суп.", "email": "a@example.ru", "consent": "y"}
    data.update({f"x{i}": "" for i in range(MAX_FIELDS)}, token=token)
    assert is_413_page(client.post(SCHOOL, data=data))
    repeated = "&".join(["text=a"] * (MAX_FIELDS + 1))
    response = client.post(SCHOOL, data=repeated, content_type="application/x-www-form-urlencoded")
    assert is_413_page(response)
    assert rows(app) == []


def test_a_multipart_text_part_over_the_memory_limit_gets_the_413_page(client, app):
    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    data = {"topic": "food", "token": token, "text": "я" * 40_000}  # 80 KB in one part
    response = client.post(SCHOOL, data=data, content_type="multipart/form-data")
    assert is_413_page(response)


def test_too_many_multipart_parts_get_the_413_page(client, app):
    # (text parts: werkzeug leaves the temp files of file parts open when it gives up)
    data = {f"f{i}": "x" for i in range(120)}
    response = client.post(SCHOOL, data=data, content_type="multipart/form-data")
    assert is_413_page(response)


@pytest.mark.parametrize(
    "field, length", [("name", 201), ("email", 255), ("phone", 41), ("text", 5001)]
)
def test_each_field_has_a_cap(client, app, field, length):
    value = {"email": "a" * (length - 11) + "@example.ru", "phone": "1" * length}.get(
        field, "я" * length
    )
    response = send(client, **{"email": "a@example.ru", "consent": "y", field: value})
    assert response.status_code == 422
    assert f'href="#{field}"' in response.get_data(as_text=True)
    assert rows(app) == []


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"Infinity", "application/json"),
        (b'{"text": ["a"], "topic": {"x": 1}}', "application/json"),
        (b"text=hello", "text/plain"),
        (b"text=hello", None),
    ],
)
def test_a_body_no_form_sends_gets_the_400_page(client, app, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(SCHOOL, data=body, headers=headers)
    assert response.status_code == 400
    assert "Запрос не удалось прочитать" in response.get_data(as_text=True)
    assert rows(app) == []


def chunked_post(port: int, content_type: str, size: int) -> bytes:
    """POST ``size`` bytes with Transfer-Encoding: chunked (no Content-Length to check)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        head = (
            f"POST {SCHOOL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        s.sendall(head.encode())
        chunk = b"text=" + b"a" * (64 * 1024 - 5)
        try:
            for _ in range(size // len(chunk)):
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before the end: what we hope for
        return s.recv(100).split(b"\r\n")[0]


def test_a_chunked_body_without_a_length_is_capped_too(instance):
    server = Gunicorn(instance, workers=1, env={"OTKLIK_SECRET_KEY": "k"})
    try:
        urlencoded = chunked_post(server.port, "application/x-www-form-urlencoded", 1 << 20)
        multipart = chunked_post(server.port, "multipart/form-data; boundary=x", 30 << 20)
        assert urlencoded.startswith(b"HTTP/1.1 413")
        assert multipart.startswith(b"HTTP/1.1 413")
        with urllib.request.urlopen(server.url + SCHOOL, timeout=10) as response:
            assert response.status == 200
    finally:
        server.stop()
