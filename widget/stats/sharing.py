"""Several instances: the figures are the deployment's. Each instance counts what it
took (its messages, and the updates of those; the ratings and votes posted to it), and
every so often (the forwarder's loop, ``SHARE_SECONDS``) shares them through the Redis
named by ``stats_uri``:

- **out**: for each agency whose counts changed, a snapshot of this instance's own
  counts of it, SET under ``<prefix>:stats:<instance id>:<agency>`` (a whole value, never
  an increment: sending it twice, or after a crash, changes nothing; the SQLite counts
  stay the truth), and the agency noted in the sorted set ``<prefix>:stats:changed``
  with the time;
- **in**: the snapshots of the other instances noted since the last look (with a minute
  of overlap, for clocks that differ), each taking the place of that instance's earlier
  one in this outbox (``stats_counts.instance``).

Reading sums every instance's counts: each page is the deployment's, behind by the time
of one share on each side (docs/scaling.md).
"""

from __future__ import annotations

import json
import logging
import socket

import redis
from sqlite_utils import Database

from ..outbox import counts, write_transaction

log = logging.getLogger(__name__)

SHARE_SECONDS = 10.0
OVERLAP_SECONDS = 60.0
BATCH = 500


class Sharing:
    def __init__(self, uri: str, prefix: str, instance_id: str | None = None) -> None:
        self.client = redis.Redis.from_url(uri, socket_timeout=5)
        self.prefix = f"{prefix}:stats"
        self.instance_id = instance_id or socket.gethostname()
        self.seen_until = 0.0  # the time of the latest peer's change taken in

    def share(self, db: Database, now: float) -> tuple[int, int]:
        """Send this instance's changed agencies, then take the peers' in: how many of each."""
        return self.send(db, now), self.take(db)

    def send(self, db: Database, now: float) -> int:
        sent = 0
        while batch := counts.changed(db, BATCH):
            with self.client.pipeline(transaction=False) as pipe:
                for agency_id, _ in batch:
                    snapshot = {
                        "labels": counts.labels(db, agency_id),
                        "rows": counts.own(db, agency_id),
                    }
                    value = json.dumps(snapshot, ensure_ascii=False)
                    pipe.set(f"{self.prefix}:{self.instance_id}:{agency_id}", value)
                    pipe.zadd(f"{self.prefix}:changed", {f"{self.instance_id}\t{agency_id}": now})
                pipe.execute()
            with write_transaction(db):
                counts.shared(db, batch)
            sent += len(batch)
        return sent

    def take(self, db: Database) -> int:
        noted = self.client.zrangebyscore(
            f"{self.prefix}:changed", self.seen_until - OVERLAP_SECONDS, "+inf", withscores=True
        )
        peers = [
            (member.decode().split("\t", 1), score)
            for member, score in noted
            if not member.decode().startswith(f"{self.instance_id}\t")
        ]
        for start in range(0, len(peers), BATCH):
            chunk = peers[start : start + BATCH]
            values = self.client.mget(
                [f"{self.prefix}:{instance}:{agency}" for (instance, agency), _ in chunk]
            )
            with write_transaction(db):
                for ((instance, agency_id), _), value in zip(chunk, values, strict=True):
                    if value is None:
                        continue
                    snapshot = json.loads(value)
                    counts.merge(db, instance, agency_id, snapshot["labels"], snapshot["rows"])
        if noted:
            self.seen_until = max(self.seen_until, max(score for _, score in noted))
        return len(peers)


def from_settings(config) -> Sharing | None:
    uri = config.get("STATS_URI")
    if not uri:
        return None
    return Sharing(uri, config["STATS_KEY_PREFIX"], config.get("INSTANCE_ID"))
