"""What the long-running commands (``flask forward``, ``flask listen``) share: stopping
on SIGTERM or Ctrl-C once the work in hand is done, and waiting out a failure with a
growing, jittered delay."""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_signals(stop: Callable[[], None], log: logging.Logger, doing: str) -> Iterator[None]:
    """While inside, SIGTERM and SIGINT call ``stop()`` (and log ``"SIGTERM: <doing>"``),
    so that the loop finishes what it holds; a second signal stops the process at once.
    Outside the main thread (tests run loops in threads) signals are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log.info("%s: %s", signal.Signals(signum).name, doing)
        stop()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def jittered(delay: float) -> float:
    """Somewhere in the upper half of ``delay``, so that many processes that failed
    together do not all try again together."""
    return random.uniform(delay / 2, delay)


def backoff(failures: int, cap: float = 60.0) -> float:
    """Seconds to wait after ``failures`` failures in a row: 2, 4, 8 ... up to ``cap``,
    jittered."""
    return jittered(min(cap, 2.0 ** min(failures, 6)))
