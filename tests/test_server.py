"""The widget under gunicorn with several workers, over real HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime

import pytest

from tests import files
from tests.conftest import DEMO_AGENCIES, receipt_in, token_of
from tests.pages import check_html
from tests.server import ROOT, UNIQUE, Gunicorn, opener, post, submit
from tests.services import free_port
from tests.updates import body_of, status_event
from widget import outbox, updates
from widget.outbox import updates as stored_updates


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


def test_phone_files_of_the_agencys_largest_size_are_taken_over_real_http(server, instance):
    """The bodies a phone sends, through gunicorn: a photo, an iPhone's HEIC and a
    screenshot of 5 MB each (the city's largest), then a scanned PDF of 5 MB."""
    form = server.url + "/f/orel-city-admin"
    albums = [
        [
            ("IMG_2041.JPG", files.photo(5_000_000)),
            ("IMG_0001.HEIC", files.heic(size=5_000_000)),
            ("Screenshot.png", files.screenshot(size=5_000_000)),
        ],
        [("акт осмотра.pdf", files.scan(7, noise=0.2, size=5_000_000))],
    ]
    for attached in albums:
        with urllib.request.urlopen(form, timeout=20) as page:
            token = token_of(page.read().decode())
        fields = {"topic": "roads", "text": "Яма во дворе дома 12, фото прилагаю", "token": token}
        body, content_type = files.multipart(fields, attached)
        request = urllib.request.Request(form, data=body, headers={"Content-Type": content_type})
        with pytest.raises(urllib.error.HTTPError) as answer:  # the redirect, not followed
            opener.open(request, timeout=60)
        answer.value.close()
        assert answer.value.code == 303
    db = outbox.connect(str(instance / "outbox.sqlite3"))
    events = [json.loads(row[0]) for row in db.execute("SELECT event FROM messages ORDER BY rowid")]
    db.close()
    assert [[a["name"] for a in e["data"]["attachments"]] for e in events] == [
        ["IMG_2041.JPG", "IMG_0001.jpg", "Screenshot.png"],
        ["акт осмотра.pdf"],
    ]


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
    promise = re.search(r"Организация ответит до [^<]+ одним из способов[^<]+\.", here)
    assert promise.group(0) in there  # the same date and ways to answer, from the seal


# -- what gunicorn answers by itself, before the app sees the request --------------------


def raw(server, request: bytes, source: str = "127.0.0.2") -> tuple[int, dict, str]:
    """Send ``request`` as it is, from ``source`` (another loopback address, so that the
    log can be searched for it); returns the status, headers and body."""
    with socket.create_connection(
        ("127.0.0.1", server.port), timeout=10, source_address=(source, 0)
    ) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body.decode("utf-8")


REFUSED_BY_GUNICORN = {
    # a citizen's name in the query string, with a space a careless client did not encode
    "bad request line": (b"GET /f/orel-city-admin?name=Ivan Petrovich HTTP/1.1\r\n\r\n", 400),
    "over-long URI": (b"GET /embed/" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "too many headers": (
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: v\r\n" % i for i in range(60))
        + b"\r\n",
        431,
    ),
    "oversized header": (b"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + b"v" * 9000 + b"\r\n\r\n", 431),
    "lower-case method": (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "unsupported transfer coding": (
        b"POST /embed/orel-school-57 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br\r\n\r\n",
        501,
    ),
}


@pytest.fixture(scope="module")
def lone_server(tmp_path_factory):
    instance = tmp_path_factory.mktemp("lone") / "instance"
    shutil.copytree(DEMO_AGENCIES, instance / "agencies")
    shutil.copytree(DEMO_AGENCIES.parent / "logos", instance / "logos")
    shutil.copytree(DEMO_AGENCIES.parent / "polls", instance / "polls")
    server = Gunicorn(
        instance, workers=1, env={"OTKLIK_DEMO": "true", "OTKLIK_TOKEN_MIN_SECONDS": "0"}
    )
    yield server
    server.stop()


@pytest.mark.parametrize("case", REFUSED_BY_GUNICORN)
def test_what_gunicorn_refuses_by_itself_carries_our_headers_and_logs_no_address(lone_server, case):
    request, expected = REFUSED_BY_GUNICORN[case]
    status, headers, body = raw(lone_server, request)
    assert status == expected
    csp = headers["content-security-policy"]
    assert "script-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert "<script" not in body.lower() and "Petrovich" not in body
    assert str(expected) in body
    log = lone_server.log.read_text()
    assert "127.0.0.2" not in log and "ip=" not in log
    assert "Petrovich" not in log  # what the client sent stays out of the log too
    refused = [json.loads(line) for line in log.splitlines() if f" {expected} " in line]
    assert refused and refused[-1]["level"] == "warning"


BAD_CHUNKS = {
    # gunicorn reads a chunked body only as the app asks for it, so its errors there reach
    # the app, not the worker; each error's message quotes the bytes it could not read
    "chunk size": b"text=Ivan+Petrovich\r\n0\r\n\r\n",
    "chunk terminator": b"13\r\ntext=Ivan+PetrovichXX0\r\n\r\n",
}


@pytest.mark.parametrize("case", BAD_CHUNKS)
def test_a_body_gunicorn_cannot_read_gets_the_400_page_and_logs_nothing_it_sent(lone_server, case):
    status, headers, body = raw(
        lone_server,
        b"POST /embed/orel-school-57 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n"
        + BAD_CHUNKS[case],
    )
    assert status == 400
    assert "Запрос не удалось прочитать" in body and "Petrovich" not in body
    assert headers["content-security-policy"].endswith(
        "frame-ancestors 'self' https://school57.example.ru"
    )
    log = lone_server.log.read_text()
    assert "Petrovich" not in log and "Traceback" not in log


def test_a_message_whose_sender_went_away_halfway_is_not_taken(lone_server):
    """A citizen who closes the tab while the form is still on its way: gunicorn hands
    the app what came before the connection closed, shorter than its Content-Length.
    Taken, it would be a message the citizen did not send, cut in the middle."""
    with urllib.request.urlopen(lone_server.url + "/embed/orel-school-57", timeout=10) as page:
        token = token_of(page.read().decode())
    fields = {"topic": "food", "email": "a@example.ru", "consent": "y", "token": token}
    body = urllib.parse.urlencode({**fields, "text": "Суп холодный уже неделю, просим разобраться"})
    head = (
        "POST /embed/orel-school-57 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", lone_server.port), timeout=10) as s:
        s.sendall(head.encode() + body[: len(body) - 40].encode())
        s.shutdown(socket.SHUT_WR)  # and gone
        status = s.recv(100).split(b"\r\n")[0]
    assert status == b"HTTP/1.1 400 BAD REQUEST"
    db = outbox.connect(str(lone_server.log.parent / "outbox.sqlite3"))
    stored = [row[0] for row in db.execute("SELECT event FROM messages")]
    db.close()
    assert not [event for event in stored if "Суп холодный" in event]


def hidden_and_action(url: str) -> tuple[str, str]:
    """The form token and action of the page at ``url``."""
    with urllib.request.urlopen(url, timeout=10) as page:
        html = page.read().decode()
    return token_of(html), re.search(r'<form[^>]* action="([^"]+)"', html).group(1)


def answered_message(server) -> str:
    """A message sent through ``server``, answered as the listener records an update;
    its done URL (path and seal)."""
    with urllib.request.urlopen(server.url + "/embed/orel-school-57", timeout=10) as page:
        token = token_of(page.read().decode())
    fields = {"topic": "food", "text": "Суп холодный", "email": "a@example.ru", "consent": "y"}
    status, headers = post(server.url + "/embed/orel-school-57", {**fields, "token": token})
    assert status == 303
    done = urllib.parse.urlsplit(headers["Location"])
    receipt = done.path.rsplit("/", 1)[1]
    db = outbox.connect(str(server.log.parent / "outbox.sqlite3"))
    try:
        event = status_event(receipt=receipt, time=datetime.now(UTC).isoformat())
        stored_updates.record(db, [updates.parse(body_of(event))], "http")
    finally:
        db.close()
    return f"{done.path}?{done.query}"


def send_cut_short(server, path: str, body: str, cut: int) -> bytes:
    """POST ``body`` to ``path`` with its whole Content-Length, then only all but its last
    ``cut`` characters (ASCII: url-encoded), and go; the status line that comes back."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(head.encode() + body[: len(body) - cut].encode())
        s.shutdown(socket.SHUT_WR)
        return s.recv(100).split(b"\r\n")[0]


def test_a_rating_or_vote_whose_sender_went_away_halfway_is_not_taken(lone_server):
    """As a message (above): what came before the citizen closed the tab is not what they
    sent. Here the rest would have been taken: a comment cut mid-word, a vote missing one
    of its choices."""
    done = answered_message(lone_server)
    token, action = hidden_and_action(lone_server.url + done)
    comment = "Спасибо, суп теперь горячий, но компот всё ещё холодный"
    rating = urllib.parse.urlencode(
        {"token": token, "solved": "partly", "score": "4", "comment": comment}
    )
    assert send_cut_short(lone_server, action, rating, cut=40) == b"HTTP/1.1 400 BAD REQUEST"
    poll = "/embed/orel-city-admin/polls/blagoustroystvo-2027"
    token, action = hidden_and_action(lone_server.url + poll)
    vote = urllib.parse.urlencode(
        [("token", token), ("website", ""), ("q-priority", "park"), ("q-satisfaction", "4"),
         ("q-extras", "lights"), ("q-extras", "benches")]
    )  # fmt: skip
    assert send_cut_short(lone_server, action, vote, cut=len("&q-extras=benches")) == (
        b"HTTP/1.1 400 BAD REQUEST"
    )
    db = outbox.connect(str(lone_server.log.parent / "outbox.sqlite3"))
    try:
        assert not db.execute("SELECT 1 FROM ratings").fetchall()
        kinds = [kind for (kind,) in db.execute("SELECT kind FROM messages")]
        assert "vote" not in kinds and "rating" not in kinds
        assert not db.execute("SELECT 1 FROM poll_tallies").fetchall()
    finally:
        db.close()


def test_x_forwarded_proto_from_localhost_is_not_trusted_with_no_trusted_proxies(lone_server):
    """trusted_proxies = 0: a client on this machine cannot make a request look https
    (seen here by the same-origin check of a POST, which compares Origin with the scheme)."""

    def post_with(origin: str) -> int:
        return raw(
            lone_server,
            b"POST /embed/orel-school-57 HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: %s\r\n"
            b"X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: on\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n" % origin.encode(),
            source="127.0.0.1",
        )[0]

    assert post_with("https://127.0.0.1") == 403  # not our origin: the request is http
    assert post_with("http://127.0.0.1") == 400  # ours; the form itself is then refused


# -- start-up errors: one clear line -----------------------------------------------------


def start(instance, env: dict, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command or [sys.executable, "-m", "gunicorn", "wsgi:app"],
        cwd=ROOT,
        env={**os.environ, "OTKLIK_INSTANCE_PATH": str(instance), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def problems(output: str) -> list[str]:
    """The lines of ``output`` that are not gunicorn's own JSON info lines."""
    return [
        line
        for line in output.splitlines()
        if line.strip() and not (line.startswith("{") and json.loads(line)["level"] == "info")
    ]


def test_a_busy_port_is_one_clear_line_at_once(instance):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = start(instance, {"OTKLIK_DEMO": "true", "OTKLIK_BIND": f"127.0.0.1:{port}"})
    assert done.returncode == 1
    # at once: gunicorn alone tries five times, a second apart, with two lines each time
    assert problems(done.stdout + done.stderr) == [
        f"otklik: cannot listen on 127.0.0.1:{port}: Address already in use"
        " (is another server running there? OTKLIK_BIND chooses the address)"
    ]


@pytest.mark.parametrize(
    ("setting", "env", "line"),
    [
        (
            'max_attempts = "ten"\n',
            {},
            "otklik: max_attempts: expected a whole number ≥ 0, got 'ten' (in {settings})",
        ),
        (
            "",
            {"OTKLIK_TRUSTED_PROXIES": "one"},
            "otklik: trusted_proxies: expected a whole number, got 'one' (in"
            " OTKLIK_TRUSTED_PROXIES)",
        ),
        ("demo = tru\n", {}, "otklik: {settings}: Invalid value (at line 1, column 8)"),
    ],
    ids=["settings.toml", "environment", "toml syntax"],
)
@pytest.mark.parametrize(
    "command",
    [
        (sys.executable, "-m", "gunicorn", "wsgi:app"),
        (sys.executable, "-m", "flask", "--app", "wsgi", "forward"),
        (sys.executable, "-m", "flask", "--app", "widget", "forward"),
    ],
    ids=["gunicorn", "flask forward", "flask --app widget forward"],
)
def test_a_settings_error_at_start_up_is_one_clear_line(instance, setting, env, line, command):
    settings = instance / "settings.toml"
    settings.write_text(setting + 'secret_key = "s3cret"\n', encoding="utf-8")
    done = start(instance, {"OTKLIK_BIND": f"127.0.0.1:{free_port()}", **env}, *command)
    assert done.returncode == 1
    assert problems(done.stdout + done.stderr) == [line.format(settings=settings)]


@pytest.mark.parametrize(
    "command",
    [(sys.executable, "-m", "gunicorn", "wsgi:app"), (sys.executable, "-m", "flask", "forward")],
    ids=["gunicorn", "flask forward"],
)
def test_an_instance_folder_that_is_not_there_is_one_clear_line(tmp_path, command):
    """Waiting will not make the folder: unlike a full disk, this stops the start."""
    nowhere = tmp_path / "instanse"  # a typo in OTKLIK_INSTANCE_PATH
    env = {"OTKLIK_DEMO": "true", "OTKLIK_BIND": f"127.0.0.1:{free_port()}", "FLASK_APP": "wsgi"}
    done = start(nowhere, env, *command)
    assert done.returncode == 1
    assert problems(done.stdout + done.stderr) == [
        f"otklik: outbox_path: cannot open {nowhere}/outbox.sqlite3: unable to open database file"
    ]
