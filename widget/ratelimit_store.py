"""Rate-limit counters in one memory-mapped file: a storage backend for the ``limits``
library, shared by every process of one instance.

The ``limits`` library's ``memory://`` storage counts per process, so under gunicorn with N
workers a limit lets N times as many requests through. This backend keeps the counters
in a file that every worker maps into its memory, without a server to run:
``mmap:<path>`` (``mmap:///abs/path`` works too). Importing this module registers the
scheme with ``limits``; the settings module resolves a relative path against the
instance folder.

Every page view is counted, so a count must be cheap: here it is a lock of a few bytes
of the file (``fcntl.lockf``, which the kernel releases when a process dies), a read and
a write of the mapped memory, and the unlock, where a database would take a write
transaction a page view.

The file is a table of ``BUCKETS`` buckets of ``WAYS`` slots; a slot holds a counter: a
64-bit fingerprint of its key, when its window ends, and its count. A key's bucket comes
from its fingerprint. When every slot of a bucket holds a running window, a new key
takes the slot whose window ends first: that counter starts again (the client it
counted is let through earlier than its limit says, never later). With 131,072 slots
that needs over 8 live counters in one bucket of 16,384: far more clients than one
instance sees in a window.

Counters are not precious: nothing is flushed to disk, and a power cut may leave
garbage in a slot; a window that ends further ahead than ``LONGEST_WINDOW`` or a
negative count reads as an ended window. Only the fixed-window strategy is supported
(the one widget.web.limits uses). Knows nothing of Flask.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import mmap
import os
import struct
import threading
import time
import weakref
from urllib.parse import urlsplit

from limits.storage import Storage

SCHEME = "mmap"
MAGIC = b"otklik-counters-1"
HEADER = 64  # bytes before the first bucket: MAGIC, then zeros
WAYS = 8  # slots in a bucket
BUCKETS = 16_384
SLOT = struct.Struct("<Qdq")  # fingerprint (0: empty), window end (epoch seconds), count
BUCKET = struct.Struct("<" + "Qdq" * WAYS)
SIZE = HEADER + BUCKETS * BUCKET.size  # 3 MiB
LONGEST_WINDOW = 366 * 24 * 3600  # a window ending later than this is garbage
MAX_COUNT = 2**62  # a count from here up is garbage


def path_of(uri: str) -> str:
    """The file an ``mmap:`` URI names: ``mmap:/abs/file`` or ``mmap:///abs/file``."""
    parts = urlsplit(uri)
    if parts.scheme != SCHEME or parts.netloc or not parts.path.strip("/"):
        raise ValueError(f"expected mmap:/path/to/ratelimits.counters, got {uri!r}")
    return parts.path


def fingerprint(key: str) -> int:
    """A key's 64 bits (never 0, which marks an empty slot): the same in every process."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


@functools.lru_cache(maxsize=4096)
def place(key: str) -> tuple[int, int]:
    """The key's fingerprint, and where its bucket starts in the file: remembered for
    the keys counted last."""
    fp = fingerprint(key)
    return fp, HEADER + (fp % BUCKETS) * BUCKET.size


class MmapStorage(Storage):
    """Counters shared by every process that maps the same file."""

    STORAGE_SCHEME = (SCHEME,)  # registers the scheme with limits.storage_from_string

    def __init__(self, uri: str, wrap_exceptions: bool = False, **_options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.path = path_of(uri)
        # Mapped once: a forked worker shares the mapping, and takes locks of its own.
        table = _Table.of(self.path, self)
        self._fd, self._memory, self._thread_lock = table.fd, table.memory, table.lock

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        # ValueError: the mapping was closed; struct.error: a count out of range
        return (OSError, ValueError, struct.error)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        memory = self._memory
        fp, offset = place(key)
        with _Locked(self, offset, BUCKET.size):
            slots = BUCKET.unpack_from(memory, offset)
            chosen, chosen_end = 0, None
            for way in range(WAYS):
                slot_fp, end, count = slots[3 * way : 3 * way + 3]
                running = now < end < now + LONGEST_WINDOW and 0 <= count < MAX_COUNT
                if slot_fp == fp:
                    if running:
                        count += amount
                        SLOT.pack_into(memory, offset + way * SLOT.size, fp, end, count)
                        return count
                    chosen, chosen_end = way, 0.0
                    break
                if not slot_fp or not running:
                    end = 0.0  # free, or ended: take it before any running one
                if chosen_end is None or end < chosen_end:
                    chosen, chosen_end = way, end
            SLOT.pack_into(memory, offset + chosen * SLOT.size, fp, now + expiry, amount)
            return amount

    def _find(self, key: str) -> tuple[float, int] | None:
        """The window end and count of the key's running window, or None."""
        now = time.time()
        memory = self._memory
        fp, offset = place(key)
        with _Locked(self, offset, BUCKET.size):
            slots = BUCKET.unpack_from(memory, offset)
        for way in range(WAYS):
            slot_fp, end, count = slots[3 * way : 3 * way + 3]
            if slot_fp == fp and now < end < now + LONGEST_WINDOW and 0 <= count < MAX_COUNT:
                return end, count
        return None

    def get(self, key: str) -> int:
        found = self._find(key)
        return found[1] if found else 0

    def get_expiry(self, key: str) -> float:
        found = self._find(key)
        return found[0] if found else time.time()

    def check(self) -> bool:
        try:
            return self._memory[: len(MAGIC)] == MAGIC
        except (OSError, ValueError):  # ValueError: closed
            return False

    def running(self) -> int:
        """How many counters hold a running window."""
        now = time.time()
        with _Locked(self, HEADER, SIZE - HEADER):
            return sum(
                1
                for offset in range(HEADER, SIZE, SLOT.size)
                for fp, end, count in [SLOT.unpack_from(self._memory, offset)]
                if fp and now < end < now + LONGEST_WINDOW and 0 <= count < MAX_COUNT
            )

    def reset(self) -> int | None:
        running = self.running()
        with _Locked(self, HEADER, SIZE - HEADER):
            self._memory[HEADER:SIZE] = bytes(SIZE - HEADER)
        return running

    def clear(self, key: str) -> None:
        memory = self._memory
        fp, offset = place(key)
        with _Locked(self, offset, BUCKET.size):
            slots = BUCKET.unpack_from(memory, offset)
            for way in range(WAYS):
                if slots[3 * way] == fp:
                    SLOT.pack_into(memory, offset + way * SLOT.size, 0, 0.0, 0)


class _Table:
    """This process's one opening of a counter file, shared by every storage of it here.

    POSIX record locks belong to a process and a file, not to a descriptor: closing any
    descriptor of the file, or unlocking it whole, drops every lock the process holds on
    it, and two descriptors of one process never exclude each other. So a process opens
    each file once, and closes it when no storage uses it any more.
    """

    def __init__(self, path: str):
        self.path = path
        self.fd, self.memory = _open(path)
        self.lock = threading.Lock()  # fcntl locks do not exclude a process's own threads
        self.users = 0

    @classmethod
    def of(cls, path: str, user: object) -> _Table:
        real = os.path.realpath(path)
        with _OPENED_LOCK:
            table = _OPENED.get(real) or cls(real)
            _OPENED[real] = table
            table.users += 1
        weakref.finalize(user, table.release)
        return table

    def release(self) -> None:
        with _OPENED_LOCK:
            self.users -= 1
            if self.users == 0 and _OPENED.get(self.path) is self:
                del _OPENED[self.path]
                self.memory.close()
                os.close(self.fd)


_OPENED: dict[str, _Table] = {}  # by real path
_OPENED_LOCK = threading.Lock()


def _open(path: str) -> tuple[int, mmap.mmap]:
    """The file, open and mapped. A file that is not ours (another size, another
    header: from another version, or cut short) is replaced by a new one, never changed
    in place: a process that has it mapped would die (SIGBUS) touching a page cut off."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)  # the first opening in this process: no lock lost
            if os.fstat(fd).st_ino != os.stat(path).st_ino:
                os.close(fd)  # replaced while we waited: open the new one
                continue
            if os.fstat(fd).st_size == SIZE and os.pread(fd, len(MAGIC), 0) == MAGIC:
                memory = mmap.mmap(fd, SIZE)
                fcntl.lockf(fd, fcntl.LOCK_UN)
                return fd, memory
            _put_empty_table(path)  # others wait on our lock, then find it replaced
            os.close(fd)
        except BaseException:
            os.close(fd)
            raise


def _put_empty_table(path: str) -> None:
    """A new file of empty slots at ``path``. Written out in full, not left sparse: a
    write to a mapped page the disk has no room for kills the process (SIGBUS), so a full
    disk later must find every page already there (on a file system that does not copy
    on write: docs/abuse.md)."""
    new = f"{path}.{os.getpid()}.new"
    try:
        with open(new, "wb") as file:
            file.write(MAGIC + bytes(SIZE - len(MAGIC)))
        os.chmod(new, 0o600)
        os.replace(new, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(new)
        raise


class _Locked:
    """Holds a range of the file against other processes, and the storage against this
    process's other threads."""

    __slots__ = ("length", "offset", "storage")

    def __init__(self, storage: MmapStorage, offset: int, length: int):
        self.storage, self.offset, self.length = storage, offset, length

    def __enter__(self) -> None:
        self.storage._thread_lock.acquire()
        try:
            fcntl.lockf(self.storage._fd, fcntl.LOCK_EX, self.length, self.offset)
        except BaseException:
            self.storage._thread_lock.release()
            raise

    def __exit__(self, *_exc) -> None:
        try:
            fcntl.lockf(self.storage._fd, fcntl.LOCK_UN, self.length, self.offset)
        finally:
            self.storage._thread_lock.release()
