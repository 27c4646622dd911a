"""Sizes: bodies, fields, parts. Too much gets the 413 page (in the iframe too) or a
clear error on the field, never a crash and never a stored message."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from tests import files
from tests.conftest import token_of
from tests.forms import CITY, SCHOOL, send
from tests.outbox_db import rows
from tests.server import Gunicorn
from widget.agencies import Attachments
from widget.forms import MAX_FIELDS, MAX_TEXT_PART_BYTES, MAX_URLENCODED_BYTES

SCHOOL_ANCESTORS = "frame-ancestors 'self' https://school57.example.ru"


def is_413_page(response) -> bool:
    return (
        response.status_code == 413
        and "Слишком много данных" in response.get_data(as_text=True)
        and response.headers["Content-Security-Policy"].endswith(SCHOOL_ANCESTORS)
    )


def test_a_url_encoded_body_is_capped_far_below_the_attachment_limit(client, app):
    assert app.config["MAX_CONTENT_LENGTH"] > 10 * MAX_URLENCODED_BYTES
    response = send(client, text="я" * (MAX_URLENCODED_BYTES // 6 + 1))  # 6 bytes a letter
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


def test_a_long_pasted_text_is_answered_on_the_field_and_kept(client, app):
    """A citizen who pasted a whole complaint of 30,000 letters (180 KB percent-encoded) is
    told the limit on the field, and gets the text back to shorten it."""
    pasted = ("Прошу разобратся с отоплением в доме 12, батареи холодные уже неделю 🥶 " * 430)[
        :30_000
    ]
    response = send(client, text=pasted, email="a@example.ru", consent="y")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "не длиннее 5000 символов" in html and pasted.strip() in html
    assert rows(app) == []


def test_a_long_text_beside_files_is_answered_on_the_field_and_kept(client, app):
    token = token_of(client.get(CITY).get_data(as_text=True))
    pasted = "я" * 40_000  # 80 KB in one multipart part, more than werkzeug's chunk
    body, content_type = files.multipart(
        {"topic": "roads", "token": token, "text": pasted},
        [("IMG_2041.jpg", files.photo(1_000_000))],
    )
    response = client.post(CITY, data=body, content_type=content_type)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "не длиннее 5000 символов" in html and pasted in html
    assert "Прикреплено: IMG_2041.jpg" in html


def test_a_multipart_text_part_over_the_memory_limit_gets_the_413_page(client, app):
    token = token_of(client.get(SCHOOL).get_data(as_text=True))
    data = {"topic": "food", "token": token, "text": "я" * (MAX_TEXT_PART_BYTES // 2 + 1)}
    response = client.post(SCHOOL, data=data, content_type="multipart/form-data")
    assert is_413_page(response)


def test_too_many_multipart_parts_get_the_413_page(client, app):
    # (text parts: werkzeug leaves the temp files of file parts open when it gives up)
    data = {f"f{i}": "x" for i in range(120)}
    response = client.post(SCHOOL, data=data, content_type="multipart/form-data")
    assert is_413_page(response)


CITY_FRAME = "/embed/orel-city-admin"
CITY_ANCESTORS = "frame-ancestors 'self' https://orel-adm.example.ru"
TYPED = {"topic": "roads", "text": "Яма у подъезда, фото прилагаю", "email": "a@example.ru"}


def photos_making_a_body_of(length: int, token: str) -> tuple[bytes, str]:
    """The form with two photos (one of 1 MB, one to fill) whose body is ``length`` bytes."""
    fields = {**TYPED, "consent": "y", "token": token}
    empty, _type = files.multipart(fields, [("IMG_2041.jpg", b""), ("IMG_2042.jpg", b"")])
    second = length - len(empty) - 1_000_000
    attached = [("IMG_2041.jpg", files.photo(1_000_000)), ("IMG_2042.jpg", files.photo(second))]
    body, content_type = files.multipart(fields, attached)
    assert len(body) == length
    return body, content_type


def test_a_body_of_exactly_the_service_limit_is_taken(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 3_000_000
    body, content_type = photos_making_a_body_of(3_000_000, token_of(client.get(CITY_FRAME).text))
    response = client.post(CITY_FRAME, data=body, content_type=content_type)
    assert response.status_code == 303
    assert len(rows(app)) == 1


def test_a_body_over_the_service_limit_says_the_limit_in_the_agencys_frame(client, app):
    """One byte over max_content_length: werkzeug reads none of it. The 413 page, framed
    where the agency frames its form, says the limit in MB, the agency's own rules, what
    to do, and that the text did not reach us."""
    app.config["MAX_CONTENT_LENGTH"] = 3_000_000
    body, content_type = photos_making_a_body_of(3_000_001, token_of(client.get(CITY_FRAME).text))
    response = client.post(CITY_FRAME, data=body, content_type=content_type)
    assert response.status_code == 413
    assert response.headers["Content-Security-Policy"].endswith(CITY_ANCESTORS)
    html = response.get_data(as_text=True)
    assert '<h1 class="heading">Файлы слишком большие</h1>' in html
    assert "не больше 3 МБ — текст и все файлы вместе" in html
    assert "До 3 файлов (JPEG, PNG, HEIC, PDF), каждый не больше 5 МБ" in html
    assert "прикрепите меньше файлов или уменьшите фотографии" in html
    assert "напишите его снова" in html
    assert rows(app) == []


def most_allowed(field: str) -> int:
    """The largest value an agency file may give ``[attachments] field``."""
    (most,) = [rule.le for rule in Attachments.model_fields[field].metadata if hasattr(rule, "le")]
    return most


def test_the_default_service_limit_reads_the_most_files_an_agency_may_allow(app):
    """Whatever an agency allows, a citizen who sends as many files as it takes, each of
    the largest size, with the longest text, is read (and answered on the field), never
    refused unread."""
    files_at_most = most_allowed("max_files") * most_allowed("max_mb") * 1_000_000
    part_headers = most_allowed("max_files") * 1024
    assert app.config["MAX_CONTENT_LENGTH"] >= files_at_most + part_headers + MAX_TEXT_PART_BYTES


def test_too_many_parts_for_a_form_with_files_get_the_agencys_rules(client, app):
    # (text parts: werkzeug leaves the temp files of file parts open when it gives up)
    data = {f"f{i}": "x" for i in range(120)}
    response = client.post(CITY_FRAME, data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "Слишком много файлов" in html and "До 3 файлов (JPEG, PNG, HEIC, PDF)" in html


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
    env = {"OTKLIK_SECRET_KEY": "k", "OTKLIK_MAX_CONTENT_LENGTH": str(20 << 20)}
    server = Gunicorn(instance, workers=1, env=env)
    try:
        urlencoded = chunked_post(
            server.port, "application/x-www-form-urlencoded", MAX_URLENCODED_BYTES
        )
        multipart = chunked_post(server.port, "multipart/form-data; boundary=x", 30 << 20)
        assert urlencoded.startswith(b"HTTP/1.1 413")
        assert multipart.startswith(b"HTTP/1.1 413")
        with urllib.request.urlopen(server.url + SCHOOL, timeout=10) as response:
            assert response.status == 200
    finally:
        server.stop()


COMPLAINT = "Жалоба на управляющую компанию. " * 20000  # 640,000 letters pasted from a file


def test_a_huge_paste_beside_a_photo_is_answered_on_the_field_and_kept(client, app):
    """1.1 MB of text in one part: nothing the citizen did wrong with files, and a body
    the server reads: the form comes back with the field's error, the text and the photo."""
    token = token_of(client.get(CITY_FRAME).text)
    body, content_type = files.multipart(
        {**TYPED, "consent": "y", "token": token, "text": COMPLAINT},
        [("IMG_2041.jpg", files.photo(3_000_000))],
    )
    response = client.post(CITY_FRAME, data=body, content_type=content_type)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Слишком много файлов" not in html
    assert "не длиннее 5000 символов" in html and COMPLAINT.strip() in html
    assert "Прикреплено: IMG_2041.jpg" in html
    assert rows(app) == []


def test_a_huge_paste_url_encoded_is_answered_on_the_field_and_kept(client, app):
    """3.3 MB percent-encoded, far under max_content_length: read, and given back."""
    response = send(client, text=COMPLAINT, email="a@example.ru", consent="y")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "не длиннее 5000 символов" in html and COMPLAINT.strip() in html
    assert rows(app) == []


def test_too_many_parts_in_a_small_body_blame_the_files_only(client, app):
    data = {f"f{i}": "x" for i in range(120)}
    response = client.post(CITY_FRAME, data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert '<h1 class="heading">Слишком много файлов</h1>' in html
    assert "длинный текст" not in html
