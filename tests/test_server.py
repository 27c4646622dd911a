"""The widget under gunicorn with several workers, over real HTTP."""

from __future__ import annotations

import json
import re
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import receipt_in
from tests.pages import check_html
from tests.server import Gunicorn
from widget import outbox

UNIQUE = {
    "name": "Евлампия Тестовая-Уникальная",
    "email": "evlampia.q7z@example.ru",
    "phone": "+7 999 765-43-21",
    "text": "Уникальный текст сообщения 9f3c1e: в подъезде не горит свет.",
}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def post(url: str, data: dict) -> tuple[int, dict]:
    body = urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(url, data=body)
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as e:
        e.close()
        return e.code, dict(e.headers)


@pytest.fixture
def server(instance):
    # The many citizens of these tests all come from 127.0.0.1: lift the school's own
    # per-address limit (tests/test_limits.py shows the limits themselves hold).
    school = instance / "agencies" / "orel-school-57.toml"
    school.write_text(
        school.read_text()
        + '\n[limits]\nper_ip = "1000 per hour"\nattempts_per_ip = "1000 per hour"\n'
    )
    server = Gunicorn(
        instance, workers=3, env={"OTKLIK_TOKEN_MIN_SECONDS": "0", "OTKLIK_DEMO": "true"}
    )
    yield server
    server.stop()


def submit(server, i: int, results: list) -> None:
    form_url = f"{server.url}/embed/orel-school-57"
    with urllib.request.urlopen(form_url, timeout=20) as response:
        html = response.read().decode()
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    status, headers = post(form_url, {**UNIQUE, "topic": "food", "consent": "y", "token": token})
    results.append((status, headers.get("Location", "")))
    if i % 2 == 0:  # a double press of Submit
        results.append(
            post(form_url, {**UNIQUE, "topic": "food", "consent": "y", "token": token})[1].get(
                "Location", ""
            )
        )


def test_many_citizens_at_once_each_get_a_receipt_and_one_stored_message(server, instance):
    results: list = []
    threads = [threading.Thread(target=submit, args=(server, i, results)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    firsts = [r for r in results if isinstance(r, tuple)]
    assert [status for status, _ in firsts] == [303] * 24
    receipts = {receipt_in(location) for _, location in firsts}
    assert len(receipts) == 24
    doubles = [r for r in results if isinstance(r, str)]
    assert len(doubles) == 12 and all(receipt_in(d) in receipts for d in doubles)
    db = outbox.connect(str(instance / "outbox.sqlite3"))
    stored = {row[0] for row in db.execute("SELECT receipt FROM messages")}
    db.close()
    assert stored == receipts


def test_pages_over_http_carry_the_headers_and_no_personal_data_reaches_the_log(server):
    results: list = []
    submit(server, 1, results)
    with urllib.request.urlopen(server.url + results[0][1], timeout=10) as done:
        assert done.status == 200
        check_html(done.read().decode())
        csp = done.headers["Content-Security-Policy"]
        assert "frame-ancestors 'self' https://school57.example.ru" in csp
        assert "Set-Cookie" not in done.headers
    log = server.stop()
    entries = [json.loads(line) for line in log.splitlines()]  # every line is one JSON object
    posts = [
        e
        for e in entries
        if e.get("event") == "request"
        and (e.get("method"), e.get("path")) == ("POST", "/embed/orel-school-57")
    ]
    assert posts and posts[0]["status"] == 303 and posts[0]["request_id"]  # the access log is on
    for value in UNIQUE.values():
        for piece in (value, urllib.parse.quote_plus(value), value.split()[-1]):
            assert piece not in log


def test_a_done_page_opens_on_the_instance_that_did_not_take_the_message(instance, tmp_path):
    """Two instances behind one front share only secret_key and the agency files: the
    redirect after Send may reach the other one, which shows the same done page."""
    env = {"OTKLIK_TOKEN_MIN_SECONDS": "0", "OTKLIK_SECRET_KEY": "shared-by-both"}
    other = tmp_path / "other"
    shutil.copytree(instance / "agencies", other / "agencies")
    first = Gunicorn(instance, workers=1, env=env)
    try:
        second = Gunicorn(other, workers=1, env=env)
        try:
            results: list = []
            submit(first, 1, results)
            (status, location), *_ = results
            assert status == 303
            here = urllib.request.urlopen(first.url + location, timeout=20).read().decode()
            there = urllib.request.urlopen(second.url + location, timeout=20).read().decode()
        finally:
            second.stop()
    finally:
        first.stop()
    assert receipt_in(location) in there and "Питание" in there
    deadline = re.search(r"Организация ответит до ([^—]+) —", here).group(1)
    assert f"Организация ответит до {deadline}" in there
