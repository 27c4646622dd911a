"""The embedded default: one JSON file per event in a folder (``spool:<dir>``).

Each event is written to a hidden temporary name, fsynced, renamed to ``<event id>.json``
and the folder fsynced, so a reader that skips dot-files never sees a half-written
file, and a file that is there survives a power cut. Sending an event twice rewrites
the same file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from . import Outcome, Outgoing, Transport, TransportError


class SpoolTransport(Transport):
    def __init__(self, folder: str) -> None:
        if not folder:
            raise TransportError("queue_url: spool: needs a folder, e.g. spool:outbound")
        self.folder = Path(folder)
        self.where = f"spool:{self.folder}"

    def send(self, batch: Sequence[Outgoing]) -> list[Outcome]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return [Outcome.unsent(f"cannot create the spool folder: {e.strerror}")] * len(batch)
        outcomes: list[Outcome] = []
        for message in batch:
            try:
                self._write(message)
                outcomes.append(Outcome.delivered())
            except OSError as e:  # disk full, read-only, permissions: try again later
                outcomes.append(Outcome.retry(f"spool write failed: {e.strerror}"))
        if any(o.status == "delivered" for o in outcomes):
            try:
                self._fsync_folder()
            except OSError as e:
                reason = f"spool folder fsync failed: {e.strerror}"
                return [Outcome.retry(reason) for _ in batch]
        return outcomes

    def _write(self, message: Outgoing) -> None:
        name = f"{message.id}.json"
        if "/" in message.id or message.id.startswith("."):
            raise OSError(0, f"refusing the event id {message.id!r} as a file name")
        temp = self.folder / f".{name}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            view = memoryview(message.body)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, self.folder / name)

    def _fsync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
