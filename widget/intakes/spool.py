"""Updates as files in a folder (``spool:<dir>``, the embedded default ``spool:inbound``).

Every ``*.json`` file is one event. The sender writes it under a name starting with a
dot and renames it when complete (as Otklik's own spool does), so a file that is there
is whole; dot-files and folders are never taken. The oldest (by modification time) go
first. A committed file is removed; an invalid one is moved to ``rejected/`` with
``<name>.reason.txt`` beside it. A removal undone by a power cut brings the file back
once: a repeat, dropped by id.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from .. import updates
from . import Incoming, Intake, IntakeError, Unavailable

REJECTED = "rejected"


class SpoolIntake(Intake):
    kind = "spool"

    def __init__(self, folder: str) -> None:
        if not folder:
            raise IntakeError("updates_url: spool: needs a folder, e.g. spool:inbound")
        self.folder = Path(folder)
        self.rejected = self.folder / REJECTED
        self.where = f"spool:{self.folder}"

    def take(self, limit: int, wait: float) -> list[Incoming]:
        waiting = self._waiting()
        if not waiting and wait > 0:
            time.sleep(wait)
            waiting = self._waiting()
        taken = []
        for path in waiting[:limit]:
            try:
                if path.stat().st_size > updates.LARGEST:
                    taken.append(Incoming(b"", path.name, path, "larger than any valid update"))
                else:
                    taken.append(Incoming(path.read_bytes(), path.name, path))
            except FileNotFoundError:
                continue  # another listener on the folder took it
            except OSError as e:
                taken.append(Incoming(b"", path.name, path, f"cannot be read: {e.strerror}"))
        return taken

    def done(self, incoming: Incoming) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(incoming.handle)

    def reject(self, incoming: Incoming, reason: str) -> None:
        """The reason is written first: a crash before the move leaves the file to be
        taken (and rejected) again."""
        self.rejected.mkdir(exist_ok=True)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        reason_file = self.rejected / f"{incoming.name}.reason.txt"
        reason_file.write_text(f"{when} rejected: {reason}\n", encoding="utf-8")
        with contextlib.suppress(FileNotFoundError):
            os.replace(incoming.handle, self.rejected / incoming.name)

    def _waiting(self) -> list[Path]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with os.scandir(self.folder) as entries:
                found = []
                for entry in entries:
                    if entry.name.startswith(".") or not entry.name.endswith(".json"):
                        continue
                    try:
                        if entry.is_file(follow_symlinks=False):
                            found.append((entry.stat().st_mtime_ns, entry.name))
                    except FileNotFoundError:
                        continue
        except OSError as e:
            raise Unavailable(f"cannot read the folder {self.folder}: {e.strerror}") from None
        return [self.folder / name for _mtime, name in sorted(found)]
