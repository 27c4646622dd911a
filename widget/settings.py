"""Service settings: defaults, then ``instance/settings.toml``, then ``OTKLIK_<KEY>``.

This is the one module that reads settings. Everything else asks ``app.config``,
where each setting is stored under its upper-case name (``token_max_age`` becomes
``app.config["TOKEN_MAX_AGE"]``).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    kind: type = str


DEMO_PUBLIC_URL = "http://127.0.0.1:8000"  # gunicorn.conf.py's bind

SETTINGS = [
    Setting("secret_key", None, "Signs the form tokens. Required unless demo = true."),
    Setting(
        "secret_key_fallbacks",
        [],
        "Old secret keys whose tokens are still accepted during a key rotation.",
        list,
    ),
    Setting("demo", False, "Serve /demo and allow running without a secret_key.", bool),
    Setting(
        "queue_url",
        "spool:outbound",
        "Where the forwarder delivers messages: spool:<dir>, amqp://… or http(s)://…. "
        "A relative spool folder is resolved against the instance folder.",
    ),
    Setting("queue_secret", None, "HMAC key for the X-Otklik-Signature header (HTTP intake)."),
    Setting(
        "updates_url",
        "spool:inbound",
        "Where `flask listen` takes the central system's updates from: spool:<dir> or "
        "amqp://…?exchange=…&queue=…. A relative spool folder is resolved against the "
        "instance folder.",
    ),
    Setting(
        "intake_secret",
        None,
        "HMAC key the central system signs updates pushed to POST /intake/updates with; "
        "the route exists only when it is set.",
    ),
    Setting(
        "intake_secret_fallbacks",
        [],
        "Old intake secrets whose signatures are still accepted during a rotation.",
        list,
    ),
    Setting(
        "outbox_path",
        "outbox.sqlite3",
        "The SQLite outbox; a relative path is resolved against the instance folder.",
    ),
    Setting(
        "ratelimit_storage_uri",
        "mmap:ratelimits.counters",
        "Where rate-limit counters live: mmap:<file> (shared by the workers of one "
        "instance; a relative file is resolved against the instance folder) or "
        "redis://host:6379 (shared by several instances).",
    ),
    Setting(
        "ratelimit_key_prefix",
        "otklik",
        "Prefix of every rate-limit counter's key: one per deployment sharing a Redis.",
    ),
    Setting(
        "ratelimit_per_agency",
        "60 per minute; 600 per hour",
        "The most messages one agency accepts from everybody together.",
    ),
    Setting(
        "ratelimit_pages",
        "300 per minute",
        "The most page views (GET) one client address may make across all agencies.",
    ),
    Setting(
        "ratelimit_votes_per_ip",
        "5 per hour; 20 per day",
        "The most votes one client address may cast in one poll (a household or an office "
        "shares an address).",
    ),
    Setting(
        "tallies_uri",
        "outbox",
        "Where polls' tallies are kept: outbox (in the outbox file, in each vote's "
        "transaction) or redis://host:6379/0 (shared by several instances).",
    ),
    Setting(
        "tallies_key_prefix",
        "otklik",
        "Prefix of every tally's key in Redis: one per deployment sharing a Redis.",
    ),
    Setting(
        "stats_uri",
        None,
        "Where several instances share their statistics' counts: redis://host:6379/0 "
        "(each instance's forwarder sends its own and takes the others' in, every 10 s). "
        "Unset: the figures are this instance's alone.",
    ),
    Setting(
        "stats_key_prefix",
        "otklik",
        "Prefix of the statistics' keys in Redis: one per deployment sharing a Redis.",
    ),
    Setting(
        "instance_id",
        None,
        "This instance's name among those sharing statistics (default: the host name); "
        "unique and kept the same across restarts.",
    ),
    Setting("trusted_proxies", 0, "How many X-Forwarded-For hops to trust.", int),
    Setting(
        "max_content_length",
        # 10 files of 20 MB, the most an agency's [attachments] may allow, and the text:
        # a citizen who keeps to the count and the size per file is never refused unread
        200 * 1024 * 1024,
        "The largest request body in bytes; larger ones get a 413 page.",
        int,
    ),
    Setting(
        "token_min_seconds",
        3,
        "The least time in seconds between showing the form and accepting it.",
        int,
    ),
    Setting(
        "token_max_age",
        4 * 3600,
        "The most time in seconds between showing the form and accepting it.",
        int,
    ),
    Setting(
        "retention_days",
        30,
        "Days a delivered message's receipt and status are kept (without personal data).",
        int,
    ),
    Setting("max_attempts", 20, "Delivery attempts before a message is moved to dead.", int),
    Setting(
        "public_url",
        None,
        "The address citizens reach the widget at, such as https://otklik.example.ru: every "
        "absolute link (og:url, og:image, the snippet's code, link and QR code) is built from "
        "it, never from the request's Host header. Required unless demo = true; a demo "
        f"without it uses {DEMO_PUBLIC_URL} (where `make run` serves).",
    ),
]

BY_NAME = {setting.name: setting for setting in SETTINGS}
ENV_PREFIX = "OTKLIK_"


class SettingsError(click.ClickException):
    """A setting is missing or malformed; the message names it. At start-up it is one
    line and exit status 1, not a traceback: any flask command shows it so (``show``),
    and wsgi.py for gunicorn."""

    def show(self, file=None) -> None:
        click.echo(f"otklik: {self.message}", file=file, err=True)


def instance_path(default: str | os.PathLike | None = None) -> Path:
    """The instance folder: ``OTKLIK_INSTANCE_PATH``, else ``default``, else ./instance."""
    path = os.environ.get(ENV_PREFIX + "INSTANCE_PATH") or default or "instance"
    return Path(path).resolve()


def load(
    instance: Path,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return the settings as a dict keyed by upper-case name.

    Later sources win: defaults, ``settings.toml``, ``OTKLIK_*`` variables,
    then ``overrides`` (what tests and ``create_app`` callers pass).
    """
    environ = os.environ if environ is None else environ
    values = {s.name: s.default for s in SETTINGS}
    source = instance / "settings.toml"
    if source.exists():
        try:
            with source.open("rb") as f:
                from_file = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"{source}: {e}") from None
        for key, value in from_file.items():
            values[key] = _check(_known(key, str(source)), value, str(source))
    for env_key, raw in environ.items():
        if env_key.startswith(ENV_PREFIX) and env_key != ENV_PREFIX + "INSTANCE_PATH":
            key = env_key[len(ENV_PREFIX) :].lower()
            if key in BY_NAME:
                values[key] = _check(key, _parse_env(key, raw, env_key), env_key)
    for key, value in (overrides or {}).items():
        values[key] = _check(_known(key, "overrides"), value, "overrides")

    if not values["secret_key"] and not values["demo"]:
        raise SettingsError(
            "secret_key: required unless demo = true "
            f"(set it in {source} or as {ENV_PREFIX}SECRET_KEY)"
        )
    if not values["secret_key"]:
        values["secret_key"] = "otklik-demo-only-not-secret"
    if not values["public_url"] and not values["demo"]:
        raise SettingsError(
            "public_url: required unless demo = true: the address citizens reach the widget "
            f"at, such as https://otklik.example.ru (set it in {source} or as "
            f"{ENV_PREFIX}PUBLIC_URL)"
        )
    values["public_url"] = public_url(values["public_url"] or DEMO_PUBLIC_URL, "public_url")
    values["outbox_path"] = str(instance / values["outbox_path"])
    storage = values["ratelimit_storage_uri"]
    if storage.startswith("mmap:") and not storage.startswith("mmap:/"):
        values["ratelimit_storage_uri"] = "mmap:" + str(instance / storage[len("mmap:") :])
    for name in ("queue_url", "updates_url"):
        if values[name].startswith("spool:"):
            values[name] = "spool:" + str(instance / values[name][len("spool:") :])
    return {key.upper(): value for key, value in values.items()}


def public_url(value: str, where: str) -> str:
    """``value`` as a base URL (http(s)://host[:port][/prefix], no trailing slash)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"{where}: expected an address such as https://otklik.example.ru, got {value!r}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SettingsError(f"{where}: only scheme, host, port and path, got {value!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _known(key: str, where: str) -> str:
    if key not in BY_NAME:
        raise SettingsError(f"{key}: unknown setting (in {where})")
    return key


def _parse_env(key: str, raw: str, where: str) -> Any:
    kind = BY_NAME[key].kind
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{key}: expected true or false, got {raw!r} (in {where})")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(
                f"{key}: expected a whole number, got {raw!r} (in {where})"
            ) from None
    if kind is list:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise SettingsError(
                f'{key}: expected a JSON list such as ["a", "b"] (in {where})'
            ) from None
        return value
    return raw


def _check(key: str, value: Any, where: str) -> Any:
    kind = BY_NAME[key].kind
    if value is None and BY_NAME[key].default is None:
        return value
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise SettingsError(f"{key}: expected a whole number ≥ 0, got {value!r} (in {where})")
    if kind is bool and not isinstance(value, bool):
        raise SettingsError(f"{key}: expected true or false, got {value!r} (in {where})")
    if kind is list and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise SettingsError(f"{key}: expected a list of strings, got {value!r} (in {where})")
    if kind is str and not isinstance(value, str):
        raise SettingsError(f"{key}: expected a string, got {value!r} (in {where})")
    return value
