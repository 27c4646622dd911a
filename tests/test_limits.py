"""Rate limits: floods from one address or from many get the 429 page; citizens who
share an address with nobody hostile never notice. Spoofed headers change nothing."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from flask import g
from flask_babel import refresh
from limits.storage import storage_from_string

from tests.agency_files import limit_school
from tests.conftest import CheckedClient, receipt_in, token_of
from tests.outbox_db import rows
from tests.prometheus import metric
from tests.server import GUNICORN_ENV, Gunicorn, http_status, http_submit, in_parallel
from tests.services import free_port, require
from widget import create_app
from widget.settings import SettingsError
from widget.web import errors, limits

SCHOOL = "/embed/orel-school-57"
FAILURES = "otklik_ratelimit_store_failures_total"
SCHOOL_ANCESTORS = "frame-ancestors 'self' https://school57.example.ru"


def post(client, path=SCHOOL, address="198.51.100.1", headers=None, **fields):
    """A complete, valid submission from ``address`` (its form fetched from there too)."""
    environ = {"REMOTE_ADDR": address}
    page = client.get(path, environ_base=environ, headers=headers)
    assert page.status_code == 200
    data = {
        "topic": "food",
        "text": "Суп холодный.",
        "email": "a@example.ru",
        "consent": "y",
        "website": "",
        "token": token_of(page.get_data(as_text=True)),
        **fields,
    }
    if path.startswith("/f/orel-city-admin"):
        data["topic"] = "roads"
    return client.post(path, data=data, environ_base=environ, headers=headers)


def client_of(app) -> CheckedClient:
    app.test_client_class = CheckedClient
    return app.test_client()


def counters(app) -> int:
    """How many counters hold a running window in the app's store."""
    return storage_from_string(app.config["RATELIMIT_STORAGE_URI"]).running()


# --- hostile input first -------------------------------------------------------


def test_a_spoofed_forwarded_for_from_a_direct_client_changes_nothing(client, instance):
    limit_school(instance, "2 per hour")
    statuses = [
        post(client, headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(3)
    ]
    assert statuses == [303, 303, 429]


@pytest.mark.parametrize(
    "config", [{"trusted_proxies": 1, "secret_key": "k", "demo": True, "token_min_seconds": 0}]
)
def test_behind_one_proxy_only_the_address_it_saw_counts(client, instance, config):
    limit_school(instance, "2 per hour")
    proxy = "192.0.2.10"  # the TCP peer is our proxy; it appends the address it saw

    def via_proxy(forged: str, real: str):
        return post(client, address=proxy, headers={"X-Forwarded-For": f"{forged}, {real}"})

    statuses = [via_proxy(f"10.0.0.{i}", "203.0.113.5").status_code for i in range(3)]
    assert statuses == [303, 303, 429]
    assert via_proxy("203.0.113.5", "203.0.113.6").status_code == 303  # another citizen


@pytest.mark.parametrize("config", [{"trusted_proxies": 1, "secret_key": "k", "demo": True}])
@pytest.mark.parametrize(
    "forwarded", ["", ",", "not-an-address", "::ffff:203.0.113.1", "1.2.3.4, " * 500, "ä\x00"]
)
def test_garbage_in_forwarded_for_is_survived(client, config, forwarded):
    headers = {"X-Forwarded-For": forwarded}
    assert client.get(SCHOOL, headers=headers).status_code == 200
    response = client.post(SCHOOL, data={"text": "x"}, headers=headers)
    assert response.status_code == 422


def test_a_whole_ipv6_64_counts_as_one_client(client, instance):
    limit_school(instance, "2 per hour")
    assert post(client, address="2001:db8:1:2::1").status_code == 303
    assert post(client, address="2001:db8:1:2:ffff::9").status_code == 303
    assert post(client, address="2001:db8:1:2:abcd::1").status_code == 429
    assert post(client, address="2001:db8:1:3::1").status_code == 303  # the next /64


def test_a_flood_from_many_addresses_meets_the_agency_ceiling(instance):
    app = create_app(
        {"secret_key": "k", "demo": True, "token_min_seconds": 0, "ratelimit_per_agency": "3/hour"},
        instance_path=instance,
    )
    client = client_of(app)
    statuses = [post(client, address=f"203.0.113.{i}").status_code for i in range(1, 5)]
    assert statuses == [303, 303, 303, 429]
    # other agencies are not affected
    assert post(client, "/f/orel-city-admin", address="203.0.113.9").status_code == 303


def test_one_address_cannot_use_up_the_agency_ceiling(instance):
    limit_school(instance, "2 per hour")
    settings = {"secret_key": "k", "demo": True, "token_min_seconds": 0}
    app = create_app({**settings, "ratelimit_per_agency": "4/minute"}, instance_path=instance)
    client = client_of(app)
    flood = [post(client, address="203.0.113.66").status_code for _ in range(8)]
    assert flood == [303, 303] + [429] * 6
    others = [post(client, address=f"198.51.100.{i}").status_code for i in range(1, 4)]
    assert others == [303, 303, 429]  # the ceiling counted the flood twice, not eight times


@pytest.mark.parametrize(
    "uri", ["nosuch://x", "mmap:", "mmap://host/x", "sqlite:ratelimits.sqlite3"]
)
def test_a_malformed_counter_store_stops_the_start_naming_it(instance, uri):
    with pytest.raises(SettingsError, match="ratelimit_storage_uri"):
        create_app({"secret_key": "k", "ratelimit_storage_uri": uri}, instance_path=instance)


def test_made_up_agencies_are_not_counted(client, app):
    for i in range(20):
        response = client.post(f"/embed/no-such-agency-{i}", data={"text": "x"})
        assert response.status_code == 404
    assert counters(app) == 0


def test_a_refused_cross_site_post_costs_the_citizen_nothing(client, instance, app):
    limit_school(instance, "1 per hour")
    for _ in range(3):  # another site's page makes the citizen's browser post to us
        forged = client.post(SCHOOL, data={"text": "x"}, headers={"Sec-Fetch-Site": "cross-site"})
        assert forged.status_code == 403
    assert post(client, address="127.0.0.1").status_code == 303


def test_the_counters_never_hold_an_address(client, app):
    address = "203.0.113.77"
    assert post(client, address=address).status_code == 303
    assert counters(app) > 0  # the submission was counted
    file = Path(app.config["RATELIMIT_STORAGE_URI"].removeprefix("mmap:")).read_bytes()
    assert address.encode() not in file and b"203_0_113_77" not in file


@pytest.mark.parametrize(
    "name, value",
    [
        ("ratelimit_pages", "lots"),
        ("ratelimit_per_agency", ""),
        ("ratelimit_pages", "5 per"),
        ("ratelimit_per_agency", "100 per 2 years"),  # longer than the counters keep
    ],
)
def test_a_malformed_limit_setting_stops_the_start_naming_it(instance, name, value):
    with pytest.raises(SettingsError, match=name):
        create_app({"secret_key": "k", name: value}, instance_path=instance)


# --- the citizen of issue 16: tries, mistakes and language switches are not messages --

CITIZEN = "198.51.100.23"
TYPED = (
    "Здравствуйте! В столовой опять холодный суп 🍲, дети жалуются уже неделю. "
    "Разберитесь пожалуста."
)


def try_once(client, page_html: str | None = None, path=SCHOOL, **fields):
    """One press of a button on the citizen's form: Send with what ``fields`` say, or a
    language switch (``switch_language``). Returns the response; its page is the next form."""
    environ = {"REMOTE_ADDR": CITIZEN}
    if page_html is None:
        page_html = client.get(path, environ_base=environ).get_data(as_text=True)
    data = {"topic": "food", "website": "", "token": token_of(page_html), **fields}
    if "switch_language" in fields:
        path = f"{path}?lang={fields['switch_language']}"
    return client.post(path, data=data, environ_base=environ)


def error_summary(html: str) -> str:
    return re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)


def good_message(client, page_html: str | None = None, **fields):
    data = {"text": TYPED, "email": "mama.dimy@example.ru", "consent": "y", **fields}
    return try_once(client, page_html, **data)


def test_five_empty_tries_then_a_good_message_is_accepted(client, app):
    """The default per_ip is 5 an hour: five forms sent back with errors are not five
    messages."""
    for _ in range(5):
        assert try_once(client, text="").status_code == 422
    accepted = good_message(client)
    assert accepted.status_code == 303 and "/done/" in accepted.headers["Location"]
    assert len(rows(app)) == 1


def test_three_mistakes_and_two_language_switches_then_the_message_is_accepted(client, app):
    page = client.get(SCHOOL, environ_base={"REMOTE_ADDR": CITIZEN}).get_data(as_text=True)
    for text, email in [("", ""), (TYPED, "mama.dimy@example"), (TYPED, "")]:
        response = try_once(client, page, text=text, email=email, consent="y" if email else "")
        assert response.status_code == 422
        page = response.get_data(as_text=True)
    for lang in ("en", "ru"):
        response = try_once(client, page, text=TYPED, switch_language=lang)
        assert response.status_code == 200 and TYPED in response.get_data(as_text=True)
        page = response.get_data(as_text=True)
    assert good_message(client, page).status_code == 303
    assert len(rows(app)) == 1


def test_a_language_switch_or_a_mistake_never_counts_as_a_message(client, instance, app):
    limit_school(instance, "1 per hour")
    for _ in range(4):
        assert try_once(client, text=TYPED, switch_language="en").status_code == 200
        assert try_once(client, text="").status_code == 422
        assert try_once(client, text=TYPED, token="forged").status_code == 422
    assert good_message(client).status_code == 303
    assert good_message(client).status_code == 429  # the one message of the hour was this
    assert len(rows(app)) == 1


def test_a_double_click_is_one_message(client, instance, app):
    limit_school(instance, "2 per hour")
    page = client.get(SCHOOL, environ_base={"REMOTE_ADDR": CITIZEN}).get_data(as_text=True)
    first, again = good_message(client, page), good_message(client, page)
    assert first.status_code == again.status_code == 303
    assert receipt_in(first.headers["Location"]) == receipt_in(again.headers["Location"])
    assert good_message(client).status_code == 303  # the second message
    page = client.get(SCHOOL, environ_base={"REMOTE_ADDR": CITIZEN}).get_data(as_text=True)
    assert good_message(client, page).status_code == 429
    assert len(rows(app)) == 2


def test_the_sixth_message_of_the_hour_is_refused_with_everything_typed_kept(client, app):
    for n in range(5):
        assert good_message(client, text=f"{TYPED} ({n + 1})").status_code == 303
    refused = good_message(client, name="Анна Петровна", phone="+7 900 123-45-67")
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert TYPED in html  # the form again, with what was typed
    for kept in ('value="mama.dimy@example.ru"', 'value="Анна Петровна"', "+7 900 123-45-67"):
        assert kept in html
    assert 'name="token"' in html and "Сообщение не отправлено" in html
    assert "С этого адреса уже отправлено сообщений за час: 5" in html
    assert "Подождите около часа и отправьте его снова" in html
    assert "Исправьте ошибки" not in html
    assert 3590 <= int(refused.headers["Retry-After"]) <= 3600
    assert refused.headers["Content-Security-Policy"].endswith(SCHOOL_ANCESTORS)
    assert len(rows(app)) == 5  # the sixth was not stored
    # Another citizen, and this one at another agency, are not affected.
    assert post(client, address="198.51.100.99").status_code == 303
    assert post(client, "/f/orel-city-admin", address=CITIZEN).status_code == 303


def test_a_refused_message_keeps_its_token_so_it_can_be_sent_later(client, instance, app):
    limit_school(instance, "1 per hour")
    assert good_message(client).status_code == 303
    refused = good_message(client)
    assert refused.status_code == 429
    later = good_message(client, refused.get_data(as_text=True))  # the same token
    assert later.status_code == 429  # still within the hour; and never a token error
    assert "Не получилось отправить форму" not in later.get_data(as_text=True)


def test_a_refused_message_in_english(client, instance):
    limit_school(instance, "1 per hour")
    english = SCHOOL + "?lang=en"
    assert good_message(client, path=english).status_code == 303
    refused = good_message(client, path=english)
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert '<html lang="en">' in html and TYPED in html
    assert "Messages already sent from this address in an hour: 1" in html
    assert "Please wait about an hour and send it again" in html


def test_a_flood_of_attempts_is_stopped_without_being_called_messages(client, app):
    """The default of attempts_per_ip, 60 an hour, stops a script that posts the form
    over and over; its 429 does not say that anybody sent messages."""
    started = time.time()  # the hour's window starts at the first attempt
    statuses = [try_once(client, text="").status_code for _ in range(60)]
    assert statuses == [422] * 60
    flooded = good_message(client)  # even a good one, until the hour is over
    waited = time.time() - started
    assert flooded.status_code == 429
    html = flooded.get_data(as_text=True)
    assert TYPED in html and 'value="mama.dimy@example.ru"' in html
    summary = error_summary(html)
    assert "Форму с этого адреса отправляли очень много раз подряд" in summary
    assert "сообщений" not in summary and "слишком много сообщений" not in html.lower()
    assert 3600 - waited - 2 <= int(flooded.headers["Retry-After"]) <= 3600
    assert rows(app) == []
    switch = try_once(client, text=TYPED, switch_language="en")  # switches are attempts too
    assert switch.status_code == 429 and TYPED in switch.get_data(as_text=True)
    assert post(client, address="198.51.100.99").status_code == 303  # another address


def test_the_attempts_limit_is_set_in_the_agency_file(client, instance):
    limit_school(instance, "5 per hour", attempts="3 per 10 minutes")
    assert [try_once(client, text="").status_code for _ in range(3)] == [422] * 3
    flooded = try_once(client, text=TYPED)
    assert flooded.status_code == 429
    assert 590 <= int(flooded.headers["Retry-After"]) <= 600
    assert "Подождите примерно 10 минут" in flooded.get_data(as_text=True)


def test_a_malformed_attempts_limit_breaks_that_agency_alone(client, instance):
    limit_school(instance, "5 per hour", attempts="lots")
    assert client.get(SCHOOL).status_code == 503
    assert client.get("/embed/orel-city-admin").status_code == 200


def test_honeypot_decoys_count_like_messages(client, instance, app):
    """A bot that fills the trap meets the message limit as a citizen would, so the limit
    does not tell it that its messages are not stored."""
    limit_school(instance, "2 per hour")
    decoys = [good_message(client, website="http://spam.example") for _ in range(3)]
    assert [d.status_code for d in decoys] == [303, 303, 429]
    assert rows(app) == []


def test_a_limited_page_view_says_how_long_and_nothing_of_messages(instance):
    app = create_app(
        {"secret_key": "k", "demo": True, "ratelimit_pages": "2 per minute"},
        instance_path=instance,
    )
    client = client_of(app)
    assert [client.get(SCHOOL).status_code for _ in range(2)] == [200, 200]
    limited = client.get(SCHOOL)
    assert limited.status_code == 429
    html = limited.get_data(as_text=True)
    assert "Подождите меньше минуты" in html or "Подождите несколько минут" in html
    assert "сообщени" not in html.lower()
    assert 0 < int(limited.headers["Retry-After"]) <= 60


@pytest.mark.parametrize(
    "seconds, ru, en",
    [
        (1, "меньше минуты", "less than a minute"),
        (59, "меньше минуты", "less than a minute"),
        (60, "несколько минут", "a few minutes"),
        (299, "несколько минут", "a few minutes"),
        (301, "примерно 10 минут", "about 10 minutes"),
        (600, "примерно 10 минут", "about 10 minutes"),
        (1440, "примерно 25 минут", "about 25 minutes"),
        (2999, "примерно 50 минут", "about 50 minutes"),
        (3000, "около часа", "about an hour"),
        (3426, "около часа", "about an hour"),
        (3600, "около часа", "about an hour"),
        (5400, "примерно 2 часа", "about 2 hours"),
        (4 * 3600 + 100, "примерно 4 часа", "about 4 hours"),
        (21 * 3600, "примерно 21 час", "about 21 hours"),
        (86400, "около суток", "about a day"),
        (3 * 86400 - 500, "примерно 3 дня", "about 3 days"),
        (30 * 86400, "примерно 30 дней", "about 30 days"),
    ],
)
def test_the_wait_in_words(app, seconds, ru, en):
    with app.test_request_context():
        for lang, words in (("ru", ru), ("en", en)):
            g.lang = lang
            refresh()
            assert str(errors.wait_in_words(seconds)) == words


# --- what the citizen sees -----------------------------------------------------


def test_a_limited_citizen_gets_the_form_back_in_the_iframe_and_the_form_stays_readable(
    client, instance
):
    limit_school(instance, "1 per hour")
    assert post(client).status_code == 303
    limited = post(client)
    assert limited.status_code == 429
    html = limited.get_data(as_text=True)
    assert "Сообщение не отправлено" in html and 'lang="ru"' in html
    assert "Traceback" not in html and "Слишком много сообщений" not in html
    assert 0 < int(limited.headers["Retry-After"]) <= 3600
    assert limited.headers["Content-Security-Policy"].endswith(SCHOOL_ANCESTORS)
    assert 'action="/embed/orel-school-57"' in html  # the iframe's form, to send it later
    form = client.get(SCHOOL, environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert form.status_code == 200 and 'name="text"' in form.get_data(as_text=True)


def test_each_agency_and_each_channel_share_the_citizens_count(client, instance):
    limit_school(instance, "2 per hour")
    assert post(client, SCHOOL).status_code == 303
    assert post(client, "/f/orel-school-57").status_code == 303
    assert post(client, "/f/orel-school-57").status_code == 429
    assert post(client, "/f/orel-city-admin").status_code == 303  # its own 5 per hour


@pytest.mark.parametrize(
    "config",
    [{"secret_key": "k", "demo": True, "ratelimit_pages": "3 per minute"}],
)
def test_page_views_are_limited_per_address_across_agencies_but_ops_are_not(client, config):
    paths = [SCHOOL, "/f/orel-city-admin", "/theme/orel-school-57.css"]
    assert [client.get(p).status_code for p in paths] == [200, 200, 200]
    limited = client.get("/embed/orel-polyclinic-1")
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    other = client.get(SCHOOL, environ_base={"REMOTE_ADDR": "198.51.100.200"})
    assert other.status_code == 200
    for path in ("/healthz", "/readyz", "/static/otklik.css") * 3:
        with client.get(path) as response:
            assert response.status_code == 200


def test_the_store_failures_series_exists_at_0_before_any_failure(client):
    """An alert on its increase needs the series before the first failure."""
    assert client.get(SCHOOL).status_code == 200
    scraped = client.get("/metrics").get_data(as_text=True)
    assert re.search(rf'^{FAILURES}{{store="mmap"}} \d', scraped, re.M)


def test_a_store_that_is_down_does_not_take_the_forms_down(instance, caplog, monkeypatch):
    # A pause longer than the test, however slow a busy machine makes it: a submission
    # counts several times (page view, attempt, message), and the first pause is 1 s.
    monkeypatch.setattr(limits, "RETRY_STORE_AFTER", (600,))
    port = free_port()
    app = create_app(
        {
            "secret_key": "k",
            "demo": True,
            "token_min_seconds": 0,
            "ratelimit_storage_uri": f"redis://127.0.0.1:{port}",
        },
        instance_path=instance,
    )
    limit_school(instance, "1 per hour")
    client = client_of(app)
    failures = metric(client.get("/metrics").get_data(as_text=True), FAILURES, store="redis")
    assert post(client).status_code == 303
    assert post(client).status_code == 429  # counted in memory meanwhile
    assert "rate limit store unreachable" in caplog.text
    assert "counting in memory until it is back" in caplog.text
    # Tried once, then left alone for its pause: one failure for the operator's alert.
    scraped = client.get("/metrics").get_data(as_text=True)
    assert metric(scraped, FAILURES, store="redis") == failures + 1


@contextlib.contextmanager
def redis_server(port: int, *options: str):
    """A real redis-server of our own on ``port``, stopped afterwards."""
    if shutil.which("redis-server") is None:
        message = "redis-server (the program) is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}, and CI=true makes that a failure")
        pytest.skip(message)
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    redis = subprocess.Popen([*command, *options], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield
    finally:
        redis.terminate()
        redis.wait(timeout=10)


@pytest.mark.services
def test_counting_goes_back_to_the_store_when_it_is_back(instance, caplog, monkeypatch):
    monkeypatch.setattr(limits, "RETRY_STORE_AFTER", (0,))  # try the store again at once
    caplog.set_level(logging.INFO, logger=limits.__name__)
    port = free_port()
    settings = {"secret_key": "k", "demo": True, "token_min_seconds": 0}
    app = create_app(
        {**settings, "ratelimit_storage_uri": f"redis://127.0.0.1:{port}"},
        instance_path=instance,
    )
    limit_school(instance, "2 per hour")
    client = client_of(app)
    assert post(client, address="198.51.100.7").status_code == 303  # in memory
    with redis_server(port):
        # Back in the store: a second app on it (another worker) sees this one's counts.
        assert post(client, address="198.51.100.7").status_code == 303
        assert "rate limit store is back" in caplog.text
        other = client_of(
            create_app(
                {**settings, "ratelimit_storage_uri": f"redis://127.0.0.1:{port}"},
                instance_path=instance,
            )
        )
        assert post(other, address="198.51.100.7").status_code == 303
        assert post(other, address="198.51.100.7").status_code == 429


@pytest.mark.services
def test_a_store_that_answers_but_refuses_writes_is_tried_less_and_less_often(caplog):
    """A read-only Redis (a replica) answers PING but refuses every count, as a full disk
    would: the pause before the next try grows, and the limits hold in memory meanwhile."""
    caplog.set_level(logging.INFO, logger=limits.__name__)
    port = free_port()
    with redis_server(port, "--replicaof", "127.0.0.1", str(free_port())):
        now = [1000.0]
        counted = limits.Counters(f"redis://127.0.0.1:{port}", "test", clock=lambda: now[0])
        pauses = []
        for _ in range(8):
            counted.hit("1000 per hour", "client")
            pauses.append(counted.retry_at - now[0])
            now[0] = counted.retry_at  # the pause has passed: the next hit tries the store
        assert pauses == [1, 2, 5, 10, 30, 60, 60, 60]
        assert caplog.text.count("rate limit store unreachable") == 1
        assert "read only replica" in caplog.text and "store is back" not in caplog.text
        counted.hit("2 per hour", "flood")
        counted.hit("2 per hour", "flood")
        with pytest.raises(limits.LimitReached) as refused:
            counted.hit("2 per hour", "flood")
        assert 3500 < refused.value.retry_after <= 3600


# --- several instances on one Redis --------------------------------------------


@pytest.mark.services
def test_two_apps_sharing_redis_share_the_limits(tmp_path, instance):
    require(6379, "Redis")
    prefix = f"test-{uuid.uuid4().hex}"
    settings = {
        "secret_key": "k",
        "demo": True,
        "token_min_seconds": 0,
        "ratelimit_storage_uri": "redis://127.0.0.1:6379",
        "ratelimit_key_prefix": prefix,
    }
    limit_school(instance, "3 per hour")
    other = tmp_path / "other"
    other.mkdir()
    (other / "agencies").symlink_to(instance / "agencies")
    first = client_of(create_app(settings, instance_path=instance))
    second = client_of(create_app(settings, instance_path=other))
    statuses = [post(c).status_code for c in (first, second, first, second)]
    assert statuses == [303, 303, 303, 429]
    third = create_app({**settings, "ratelimit_key_prefix": prefix + "-b"}, instance_path=other)
    assert post(client_of(third)).status_code == 303  # its own deployment, own counts


# --- over real HTTP: 3 gunicorn workers, and two instances on one Redis ----------


def test_three_gunicorn_workers_share_one_count(instance):
    limit_school(instance, "5 per hour")
    server = Gunicorn(
        instance, workers=3, env={**GUNICORN_ENV, "OTKLIK_RATELIMIT_PAGES": "30/minute"}
    )
    try:
        statuses = in_parallel([lambda: http_submit(server.url)] * 9)
        assert sorted(statuses) == [303] * 5 + [429] * 4
        # 9 form views above; 21 more pages may be seen, then none
        views = in_parallel([lambda: http_status(server.url + "/f/orel-city-admin")] * 25)
        assert sorted(views) == [200] * 21 + [429] * 4
    finally:
        server.stop()


@pytest.mark.services
def test_two_gunicorn_instances_on_one_redis_share_the_limits(tmp_path, instance):
    require(6379, "Redis")
    limit_school(instance, "4 per hour")
    other = tmp_path / "other"
    other.mkdir()
    shutil.copytree(instance / "agencies", other / "agencies")
    env = {
        **GUNICORN_ENV,
        "OTKLIK_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
        "OTKLIK_RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
    }
    first = Gunicorn(instance, workers=2, env=env)
    try:
        second = Gunicorn(other, workers=2, env=env)
        try:
            calls = [lambda: http_submit(first.url), lambda: http_submit(second.url)] * 4
            assert sorted(in_parallel(calls)) == [303] * 4 + [429] * 4
        finally:
            second.stop()
    finally:
        first.stop()


def test_gunicorn_refuses_oversized_headers_and_keeps_serving(instance):
    server = Gunicorn(instance, workers=1, env=GUNICORN_ENV)
    try:
        huge = http_status_with(server.url + SCHOOL, {"X-Junk": "a" * 9000})
        many = http_status_with(server.url + SCHOOL, {f"X-Junk-{i}": "a" for i in range(60)})
        long_line = http_status(server.url + SCHOOL + "?" + "a" * 5000)
        assert (huge, many, long_line) == (431, 431, 414)
        assert http_status(server.url + SCHOOL) == 200
    finally:
        server.stop()


def http_status_with(url: str, headers: dict) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=20) as r:
            return r.status
    except urllib.error.HTTPError as e:
        e.close()
        return e.code
