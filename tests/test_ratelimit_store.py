"""The memory-mapped counter store: one count for all the processes that share the file."""

from __future__ import annotations

import fcntl
import gc
import multiprocessing
import os
import threading
import time

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from widget import ratelimit_store
from widget.settings import load


@pytest.fixture
def uri(tmp_path):
    return f"mmap:{tmp_path}/ratelimits.counters"


# --- hostile input first -------------------------------------------------------


@pytest.mark.parametrize("uri", ["mmap:", "mmap://host/file", "memory://", "mmap:///", "redis:/x"])
def test_a_uri_without_a_file_is_refused(uri):
    with pytest.raises(ValueError):
        ratelimit_store.path_of(uri)


def test_an_unwritable_store_is_reported_not_hidden(tmp_path):
    with pytest.raises(FileNotFoundError):
        storage_from_string(f"mmap:{tmp_path}/no-such-folder/ratelimits.counters")


@pytest.mark.parametrize("content", [b"", b"not ours at all", b"\xff" * ratelimit_store.SIZE])
def test_a_file_that_is_not_a_counter_table_is_made_one(tmp_path, content):
    """A file of another version, cut short, or overwritten: counting starts afresh."""
    path = tmp_path / "ratelimits.counters"
    path.write_bytes(content)
    storage = storage_from_string(f"mmap:{path}")
    assert storage.incr("k", 3600) == 1 and storage.check()
    assert path.stat().st_size == ratelimit_store.SIZE


def test_the_file_takes_all_its_room_when_made(uri, tmp_path):
    """A sparse file would take disk blocks on a later count; with the disk full then, the
    write to the mapped page kills the worker (SIGBUS) instead of failing a count."""
    storage_from_string(uri)
    made = (tmp_path / "ratelimits.counters").stat()
    assert made.st_size == ratelimit_store.SIZE and made.st_blocks * 512 >= ratelimit_store.SIZE


def open_as_another_version(uri: str) -> None:
    ratelimit_store.MAGIC = b"otklik-counters-0"  # a release whose table differs
    storage_from_string(uri).incr("k", 3600)


def test_a_release_with_another_table_replaces_the_file_under_the_running_one(uri):
    """The running workers keep counting in the file they mapped: cut in place, it would
    kill them (SIGBUS) on their next count."""
    running = storage_from_string(uri)
    assert running.incr("k", 3600) == 1
    spawn = multiprocessing.get_context("spawn")
    other = spawn.Process(target=open_as_another_version, args=(uri,))
    other.start()
    other.join(60)
    assert other.exitcode == 0
    assert running.incr("k", 3600) == 2 and running.get("k") == 2


def try_lock(path: str, offset: int, length: int, answer) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, length, offset)
        answer.put("locked")
    except OSError:
        answer.put("held by another")


def test_a_second_store_on_the_file_keeps_the_first_ones_lock(uri, tmp_path):
    """POSIX locks belong to the process: a second opening of the file (a second app in
    one process, the CLI) must not drop a lock that the first holds."""
    first = storage_from_string(uri)
    _fp, offset = ratelimit_store.place("k")
    context = multiprocessing.get_context("spawn")
    answer = context.Queue()
    with ratelimit_store._Locked(first, offset, ratelimit_store.BUCKET.size):
        second = storage_from_string(uri)  # opened and let go while the lock is held
        del second
        gc.collect()
        probe = context.Process(
            target=try_lock,
            args=(
                str(tmp_path / "ratelimits.counters"),
                offset,
                ratelimit_store.BUCKET.size,
                answer,
            ),
        )
        probe.start()
        probe.join(60)
    assert answer.get(timeout=10) == "held by another"


def test_garbage_in_a_slot_reads_as_an_ended_window(uri):
    """After a power cut a slot may hold anything: a window ending in a hundred years or
    a negative count must not lock a client out."""
    storage = storage_from_string(uri)
    assert storage.incr("k", 3600) == 1
    fp, offset = ratelimit_store.place("k")
    far = time.time() + 100 * 365 * 24 * 3600
    ratelimit_store.SLOT.pack_into(storage._memory, offset, fp, far, 10**9)
    assert storage.get("k") == 0 and storage.incr("k", 3600) == 1
    ratelimit_store.SLOT.pack_into(storage._memory, offset, fp, time.time() + 60, -5)
    assert storage.get("k") == 0 and storage.incr("k", 3600) == 1
    ratelimit_store.SLOT.pack_into(storage._memory, offset, fp, time.time() + 60, 2**63 - 1)
    assert storage.get("k") == 0 and storage.incr("k", 3600) == 1  # not an overflow


# --- counting ------------------------------------------------------------------


def test_a_relative_file_is_resolved_against_the_instance(tmp_path):
    settings = load(tmp_path, {"demo": True}, environ={})
    assert settings["RATELIMIT_STORAGE_URI"] == f"mmap:{tmp_path}/ratelimits.counters"
    settings = load(tmp_path, {"demo": True, "ratelimit_storage_uri": "mmap:/x/y.counters"}, {})
    assert settings["RATELIMIT_STORAGE_URI"] == "mmap:/x/y.counters"
    redis = load(tmp_path, {"demo": True, "ratelimit_storage_uri": "redis://h:6379"}, {})
    assert redis["RATELIMIT_STORAGE_URI"] == "redis://h:6379"


def hammer(uri: str, times: int) -> None:
    storage = storage_from_string(uri)
    for _ in range(times):
        storage.incr("shared", 3600)


def test_hits_from_many_processes_at_once_are_all_counted(uri):
    context = multiprocessing.get_context("spawn")  # fresh interpreters, like gunicorn workers
    workers = [context.Process(target=hammer, args=(uri, 2000)) for _ in range(3)]
    for worker in workers:
        worker.start()
    hammer(uri, 2000)
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * 3
    assert storage_from_string(uri).get("shared") == 8000


def test_workers_forked_after_the_store_opened_count_together(uri):
    """gunicorn loads the app, and so opens the store, before it forks its workers."""
    storage = storage_from_string(uri)
    context = multiprocessing.get_context("fork")

    def count(times):
        for _ in range(times):
            storage.incr("shared", 3600)

    workers = [context.Process(target=count, args=(1000,)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * 3
    assert storage.get("shared") == 3000


def test_hits_from_many_threads_are_all_counted(uri):
    """The development server answers in threads: the file lock does not exclude them."""
    storage = storage_from_string(uri)
    threads = [
        threading.Thread(target=lambda: [storage.incr("k", 3600) for _ in range(500)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert storage.get("k") == 2000


def test_a_limit_through_the_limits_library(uri):
    limiter = FixedWindowRateLimiter(storage_from_string(uri))
    item = parse("3 per hour")
    assert [limiter.hit(item, "client-a") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(item, "client-b")
    stats = limiter.get_window_stats(item, "client-a")
    assert stats.remaining == 0 and 3590 < stats.reset_time - time.time() <= 3600
    limiter.clear(item, "client-a")
    assert limiter.hit(item, "client-a")


def test_an_expired_window_starts_again_from_one(uri):
    storage = storage_from_string(uri)
    assert storage.incr("k", 0) == 1  # a window that ends at once
    assert storage.incr("k", 0) == 1
    assert storage.get("k") == 0
    assert storage.incr("k", 3600, amount=2) == 2
    assert storage.incr("k", 3600) == 3
    assert storage.get("k") == 3 and storage.check()
    assert storage.reset() == 1 and storage.get("k") == 0


def test_a_full_bucket_gives_up_the_window_that_ends_first(uri):
    """More live counters in one bucket than it has slots: the one nearest its end
    starts again (its client is let through early, never refused late); every other
    keeps its count."""
    storage = storage_from_string(uri)
    keys, i = [], 0
    target = ratelimit_store.fingerprint("key-0") % ratelimit_store.BUCKETS
    while len(keys) < ratelimit_store.WAYS + 1:
        key = f"key-{i}"
        if ratelimit_store.fingerprint(key) % ratelimit_store.BUCKETS == target:
            keys.append(key)
        i += 1
    for n, key in enumerate(keys[:-1]):
        storage.incr(key, 60 + n, amount=5)  # keys[0]'s window ends first
    assert storage.incr(keys[-1], 3600) == 1
    assert storage.get(keys[0]) == 0
    assert [storage.get(k) for k in keys[1:-1]] == [5] * (ratelimit_store.WAYS - 1)


def test_the_file_holds_no_key_only_fingerprints(uri, tmp_path):
    storage = storage_from_string(uri)
    storage.incr("LIMITER/otklik/pages/203.0.113.77/5/1/minute", 60)
    data = (tmp_path / "ratelimits.counters").read_bytes()
    assert b"203.0.113.77" not in data and b"LIMITER" not in data
    assert storage.running() == 1
