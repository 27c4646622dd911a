"""The SQLite counter store: one count for all the processes that share the file."""

from __future__ import annotations

import multiprocessing

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from widget import counters
from widget.settings import load


@pytest.mark.parametrize(
    "uri", ["sqlite:", "sqlite://host/file", "memory://", "sqlite:///", "redis:/x"]
)
def test_a_uri_without_a_file_is_refused(uri):
    with pytest.raises(ValueError):
        counters.path_of(uri)


def test_a_relative_file_is_resolved_against_the_instance(tmp_path):
    settings = load(tmp_path, {"demo": True}, environ={})
    assert settings["RATELIMIT_STORAGE_URI"] == f"sqlite:{tmp_path}/ratelimits.sqlite3"
    settings = load(tmp_path, {"demo": True, "ratelimit_storage_uri": "sqlite:/x/y.db"}, {})
    assert settings["RATELIMIT_STORAGE_URI"] == "sqlite:/x/y.db"
    redis = load(tmp_path, {"demo": True, "ratelimit_storage_uri": "redis://h:6379"}, {})
    assert redis["RATELIMIT_STORAGE_URI"] == "redis://h:6379"


def hammer(uri: str, times: int) -> None:
    storage = storage_from_string(uri)
    for _ in range(times):
        storage.incr("shared", 3600)


def test_hits_from_many_processes_at_once_are_all_counted(tmp_path):
    uri = f"sqlite:{tmp_path}/counters.sqlite3"
    context = multiprocessing.get_context("spawn")  # fresh interpreters, like gunicorn workers
    workers = [context.Process(target=hammer, args=(uri, 100)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * 3
    assert storage_from_string(uri).get("shared") == 300


def test_a_limit_through_the_limits_library(tmp_path):
    limiter = FixedWindowRateLimiter(storage_from_string(f"sqlite:{tmp_path}/c.sqlite3"))
    item = parse("3 per hour")
    assert [limiter.hit(item, "client-a") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(item, "client-b")
    remaining = limiter.get_window_stats(item, "client-a").remaining
    assert remaining == 0
    limiter.clear(item, "client-a")
    assert limiter.hit(item, "client-a")


def test_an_expired_window_starts_again_from_one(tmp_path):
    storage = storage_from_string(f"sqlite:{tmp_path}/c.sqlite3")
    assert storage.incr("k", 0) == 1  # a window that ends at once
    assert storage.incr("k", 0) == 1
    assert storage.get("k") == 0
    assert storage.incr("k", 3600, amount=2) == 2
    assert storage.incr("k", 3600) == 3
    assert storage.get("k") == 3 and storage.check()
    assert storage.reset() == 1 and storage.get("k") == 0


def test_an_unwritable_store_is_reported_not_hidden(tmp_path):
    with pytest.raises(Exception, match="unable to open"):
        storage_from_string(f"sqlite:{tmp_path}/no-such-folder/c.sqlite3")
