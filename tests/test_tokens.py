"""Form tokens: signed, bound to an agency, neither too young nor too old."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import URLSafeSerializer

from widget import create_app, tokens
from widget.tokens import TokenError


@pytest.fixture
def app(instance):
    return create_app(
        {"secret_key": "k1", "token_min_seconds": 3, "token_max_age": 3600}, instance_path=instance
    )


def reason(app, token, agency="orel-school-57", now=None):
    with app.app_context(), pytest.raises(TokenError) as caught:
        tokens.verify(token, agency, now=now)
    return caught.value.reason


def test_a_token_verifies_for_its_agency_between_min_and_max_age(app):
    with app.app_context():
        token = tokens.issue("orel-school-57", "https://school57.example.ru")
        checked = tokens.verify(token, "orel-school-57", now=time.time() + 10)
    assert checked.origin == "https://school57.example.ru"
    assert len(checked.nonce) >= 16


def test_a_token_too_young_is_refused(app):
    with app.app_context():
        token = tokens.issue("orel-school-57")
    assert reason(app, token, now=time.time() + 1) == TokenError.TOO_FAST


def test_a_token_too_old_is_refused(app):
    with app.app_context():
        token = tokens.issue("orel-school-57")
    assert reason(app, token, now=time.time() + 3601) == TokenError.EXPIRED


def test_a_token_for_another_agency_is_refused(app):
    with app.app_context():
        token = tokens.issue("orel-polyclinic-1")
    assert reason(app, token, now=time.time() + 10) == TokenError.FOREIGN


@pytest.mark.parametrize("token", ["", "garbage", "a.b", "W10.abc", "x" * 5000])
def test_a_malformed_token_is_forged(app, token):
    assert reason(app, token) == TokenError.FORGED


def test_a_tampered_token_is_forged(app):
    with app.app_context():
        token = tokens.issue("orel-school-57")
    payload, signature = token.rsplit(".", 1)
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    assert reason(app, tampered, now=time.time() + 10) == TokenError.FORGED


def test_a_token_signed_with_another_key_is_forged(app, instance):
    other = create_app({"secret_key": "someone-else"}, instance_path=instance)
    with other.app_context():
        token = tokens.issue("orel-school-57")
    assert reason(app, token, now=time.time() + 10) == TokenError.FORGED


def test_tokens_survive_a_key_rotation_through_the_fallbacks(instance):
    old = create_app({"secret_key": "old", "token_min_seconds": 0}, instance_path=instance)
    with old.app_context():
        token = tokens.issue("orel-school-57")
    rotated = create_app(
        {"secret_key": "new", "secret_key_fallbacks": ["old"], "token_min_seconds": 0},
        instance_path=instance,
    )
    with rotated.app_context():
        assert tokens.verify(token, "orel-school-57").agency_id == "orel-school-57"


def test_a_form_opened_before_an_upgrade_still_sends(app):
    """Tokens of earlier versions were zlib-compressed when that made them shorter (a
    leading "."): a citizen who opened the form before the deploy can still send it."""
    issued_ms = int((time.time() - 10) * 1000)
    payload = ["orel-school-57", issued_ms, "n" * 16, "https://school57.example.ru"]
    earlier = URLSafeSerializer(["k1"], salt=tokens.SALT).dumps(payload)
    assert earlier.startswith(".")
    with app.app_context():
        checked = tokens.verify(earlier, "orel-school-57")
    assert checked.origin == "https://school57.example.ru" and checked.nonce == "n" * 16


# Tokens as the version before this one signed them (its own JSON and HMAC, byte for byte
# URLSafeSerializer's but never compressed, non-ASCII written as it is), minted with
# secret_key "k1": (token, issued_at, origin). A form opened before the upgrade is sent
# within token_max_age of it.
ISSUED_BEFORE = [
    (
        "WyJvcmVsLXNjaG9vbC01NyIsMTc5NjE2MDk2MDAyMiwiOU9palRtNW5fOW9IM290ViIsbnVsbF0"
        ".kTlaulcZlU1L9nyq_ijgIXJQvEs",
        1796160960.022,
        None,
    ),
    (
        "WyJvcmVsLXNjaG9vbC01NyIsMTc5NjE2MDk2MDAzMCwiVV9BN0ZhZE5ibnR5WUxVRCIsImh0dHBzOi8vc2No"
        "b29sNTcuZXhhbXBsZS5ydSJd.vtf8IV1y2ir9Bub8gsgPYny0wDk",
        1796160960.030,
        "https://school57.example.ru",
    ),
    (
        "WyJvcmVsLXNjaG9vbC01NyIsMTc5NjE2MDk2MDAzNiwiQWhjTEc3QmFPN3hseVM1QSIsImh0dHBzOi8v0YjQ"
        "utC-0LvQsDU3LtGA0YQiXQ.tJYwNubTKY-udpcOBgJYG1tIJPk",
        1796160960.036,
        "https://школа57.рф",
    ),
]


@pytest.mark.parametrize("token, issued_at, origin", ISSUED_BEFORE)
def test_a_form_opened_just_before_the_upgrade_still_sends(app, token, issued_at, origin):
    with app.app_context():
        checked = tokens.verify(token, "orel-school-57", now=issued_at + 3599)
    assert checked.origin == origin and checked.issued_at == issued_at
    assert reason(app, token, now=issued_at + 3601) == TokenError.EXPIRED


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "https://school57.example.ru",
        "https://orel-school-57.example.ru",  # zlib shortens this payload
        "https://школа57.рф",
        'https://odd"\\origin\u2028',
    ],
)
def test_a_token_is_read_by_itsdangerous_as_documented(app, origin):
    """Every instance, and a rollback to an earlier version, reads a token with
    URLSafeSerializer's own ``loads``, whatever the origin holds."""
    with app.app_context():
        token = tokens.issue("orel-school-57", origin)
    payload = URLSafeSerializer(["k1"], salt=tokens.SALT).loads(token)
    assert payload[0] == "orel-school-57" and payload[3] == origin
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", payload[2])


def test_nonces_are_fresh_and_url_safe():
    nonces = {tokens.new_nonce() for _ in range(1000)}
    assert len(nonces) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", nonce) for nonce in nonces)


def test_tokens_and_seals_of_itsdangerous_own_kind_still_verify(app):
    # tokens.py signs without trying zlib; what itsdangerous's URLSafeSerializer made
    # before (compressed when that was shorter: a long, repetitive origin here) verifies,
    # and what we make now, it reads: a deploy refuses no form and no saved link
    origin = "https://" + "school" * 30 + ".example.ru"
    plain = URLSafeSerializer(["k1"], salt=tokens.SALT)
    old = plain.dumps(["orel-school-57", int((time.time() - 60) * 1000), "n" * 16, origin])
    assert old.startswith(".")  # compressed
    with app.app_context():
        assert tokens.verify(old, "orel-school-57").origin == origin
        new = tokens.issue("orel-school-57", origin)
        assert not new.startswith(".") and plain.loads(new)[3] == origin
        sealed = URLSafeSerializer(["k1"], salt=tokens.DONE_SALT).dumps(
            ["orel-school-57", "K7M2-9QXD", "food" * 40, "2026-12-01", ["email"]]
        )
        assert sealed.startswith(".")
        assert tokens.open_done(sealed, "orel-school-57", "K7M2-9QXD").topic_id == "food" * 40
