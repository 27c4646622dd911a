"""The polls' tallies, kept as votes arrive, never counted per request.

``outbox`` (the default): in the outbox file, in the vote's own transaction, so a
tally never differs from the votes committed. ``redis://…``: in Redis, shared by the
instances of a deployment; each instance commits the vote to its outbox first, then
adds it to the tally in one MULTI (a crash between the two loses that vote from the
tally, never counts one twice: docs/design.md).
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from sqlite_utils import Database

from ..outbox import votes as stored_votes
from .schema import Poll

Counts = stored_votes.Counts


class OutboxTallies:
    """In the outbox file, updated in each vote's transaction."""

    def __init__(self, outbox_db: Callable[[], Database]):
        self.outbox_db = outbox_db

    def in_transaction(self, poll: Poll, answers: dict) -> Callable[[Database], None]:
        def add(db: Database) -> None:
            stored_votes.add_to_tally(db, poll.agency_id, poll.id, answers, poll.fingerprints())

        return add

    def after_commit(self, poll: Poll, answers: dict) -> None:
        pass

    def counts(self, agency_id: str, poll_id: str) -> Counts:
        return stored_votes.tally(self.outbox_db(), agency_id, poll_id)

    def votes(self, agency_id: str, poll_id: str) -> int:
        return stored_votes.votes(self.outbox_db(), agency_id, poll_id)

    def fingerprints(self, agency_id: str, poll_id: str) -> dict[str, str]:
        return stored_votes.fingerprints(self.outbox_db(), agency_id, poll_id)


class RedisTallies:
    """In Redis, one hash per poll (``<prefix>:tally:<agency>:<poll>``, field
    ``question/choice``, and ``/`` for the votes) and one of its questions' fingerprints."""

    def __init__(self, uri: str, prefix: str):
        self.client = redis.Redis.from_url(uri, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix

    def _keys(self, agency_id: str, poll_id: str) -> tuple[str, str]:
        return (
            f"{self.prefix}:tally:{agency_id}:{poll_id}",
            f"{self.prefix}:questions:{agency_id}:{poll_id}",
        )

    def in_transaction(self, poll: Poll, answers: dict) -> Callable[[Database], None]:
        return lambda db: None

    def after_commit(self, poll: Poll, answers: dict) -> None:
        tally, questions = self._keys(poll.agency_id, poll.id)
        with self.client.pipeline(transaction=True) as pipe:
            for q, c in stored_votes.rows_of(answers):
                pipe.hincrby(tally, f"{q}/{c}", 1)
            for q, f in poll.fingerprints().items():
                pipe.hsetnx(questions, q, f)
            pipe.execute()

    def counts(self, agency_id: str, poll_id: str) -> Counts:
        tally, _ = self._keys(agency_id, poll_id)
        found = {}
        for field, n in self.client.hgetall(tally).items():
            q, _, c = field.decode().partition("/")
            found[(q, c)] = int(n)
        return found

    def votes(self, agency_id: str, poll_id: str) -> int:
        """As the outbox's: every vote adds one, in the pipeline (MULTI) of its answers."""
        tally, _ = self._keys(agency_id, poll_id)
        return int(self.client.hget(tally, "/") or 0)

    def fingerprints(self, agency_id: str, poll_id: str) -> dict[str, str]:
        _, questions = self._keys(agency_id, poll_id)
        return {k.decode(): v.decode() for k, v in self.client.hgetall(questions).items()}


def from_settings(uri: str, prefix: str, outbox_db: Callable[[], Database]):
    if uri == "outbox":
        return OutboxTallies(outbox_db)
    if uri.startswith(("redis://", "rediss://", "unix://")):
        return RedisTallies(uri, prefix)
    raise ValueError(f"tallies_uri: outbox or redis://host:6379/0, got {uri!r}")
