"""The listener from RabbitMQ against a bare pika consumer, in the same run.

Needs RabbitMQ on 127.0.0.1:5672 (guest/guest; ``--url`` changes that). Each round
publishes the same ``feedback.status.v1`` updates (a receipt, work begun, an answer of
about 1,400 characters, for each of many messages) to two fresh exchanges, each bound
to one durable queue: the listener's (as ``flask listen`` declares it) and the
baseline's. Then, one after the other, each side's process starts and takes its queue
until every update is committed:

- ``flask listen`` on an amqp ``updates_url``: validates each update, commits a batch
  in one transaction (``synchronous=FULL``), then acks each;
- bench/_bare_consumer.py: pika with the same prefetch, one SQLite commit
  (``synchronous=FULL``) and one ack per delivery.

Each side is timed from the first commit seen to the last (start-up and imports are
not counted), and its CPU time taken over the same span. The queues and exchanges are
deleted afterwards. Run: ``.venv/bin/python bench/listener.py [--messages N]
[--rounds N]``; see bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pika
import pika.exceptions

from bench._common import (
    BENCH,
    ROOT,
    Load,
    cpu_seconds,
    machine,
    ratio_row,
    shown,
    write_results,
)
from bench._compare import cpu_row, make_instance, pooled
from bench._updates import answered_history, body_of
from widget import receipts
from widget.intakes.amqp import PREFETCH

RABBIT = "amqp://guest:guest@127.0.0.1:5672/%2F"
ROUTING_KEY = "57.education.orel-school-57"
TIMEOUT = 300  # seconds a side may take for one round before the run fails


class Broker:
    """This run's exchanges and queues on the broker, deleted at exit."""

    def __init__(self, url: str) -> None:
        tag = uuid.uuid4().hex[:12]
        self.url = url
        self.listener_exchange, self.listener_queue = (
            f"otklik-bench-updates-{tag}",
            f"otklik-bench-{tag}",
        )
        self.bare_exchange, self.bare_queue = (
            f"{self.listener_exchange}-bare",
            f"{self.listener_queue}-bare",
        )
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(self.bare_exchange, "topic", durable=True)
        self.channel.queue_declare(self.bare_queue, durable=True)
        self.channel.queue_bind(self.bare_queue, self.bare_exchange, routing_key="#")

    @property
    def updates_url(self) -> str:
        return f"{self.url}?exchange={self.listener_exchange}&queue={self.listener_queue}"

    def publish(self, bodies: list[bytes]) -> None:
        """To both exchanges, persistent; then wait until both queues hold them all."""
        properties = pika.BasicProperties(
            content_type="application/cloudevents+json",
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        for exchange in (self.listener_exchange, self.bare_exchange):
            for body in bodies:
                self.channel.basic_publish(exchange, ROUTING_KEY, body, properties=properties)
        deadline = time.monotonic() + TIMEOUT
        while any(self.ready(q) < len(bodies) for q in (self.listener_queue, self.bare_queue)):
            if time.monotonic() > deadline:
                raise RuntimeError("the broker did not take every update")
            self.connection.process_data_events(0.05)

    def ready(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def consumers(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).method.consumer_count

    def close(self) -> None:
        try:
            queues = (self.listener_queue, f"{self.listener_queue}.dead", self.bare_queue)
            exchanges = (
                self.listener_exchange,
                f"{self.listener_exchange}.dead",
                self.bare_exchange,
            )
            for queue in queues:
                self.channel.queue_delete(queue)
            for exchange in exchanges:
                self.channel.exchange_delete(exchange)
        finally:
            self.connection.close()


def drain(command: list[str], env: dict, database: Path, table: str, expected: int) -> Load:
    """Start ``command``, wait until ``table`` in ``database`` holds ``expected`` rows,
    stop it. Timed, and its CPU counted, from the first commit seen to the last."""
    before = _rows(database, table)  # committed in earlier rounds
    # its output goes to a file: a pipe nobody reads would block its logging
    with tempfile.TemporaryFile() as log, _started(command, env, log) as process:
        first = None  # (seconds, cpu seconds, rows) when commits were first seen
        deadline = time.monotonic() + TIMEOUT
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{command[1]} exited: {log.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[1]} did not commit {expected} updates in time")
            done = _rows(database, table)
            now, cpu = time.monotonic(), cpu_seconds(process.pid)
            if done > before and first is None:
                first = (now, cpu, done)
            if done >= expected:
                break
            time.sleep(0.005)
    seconds, counted = now - first[0], done - first[2]
    cpu_ms = (cpu - first[1]) / max(counted, 1) * 1000
    return Load(counted, seconds, 0.0, 0.0, 0, extra={"cpu_ms": round(cpu_ms, 3)})


@contextlib.contextmanager
def _started(command: list[str], env: dict, output):
    """``command`` running from the checkout, stopped with SIGTERM (as systemd would)."""
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _rows(database: Path, table: str) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=RABBIT, help="the broker (default: %(default)s)")
    parser.add_argument("--messages", type=int, default=900, help="updates per round")
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds")
    args = parser.parse_args()
    if args.messages < 3 * PREFETCH:  # timed from the first commit: one batch is not timed
        parser.error(f"--messages: at least {3 * PREFETCH}, three of the listener's batches")
    print(f"# {machine()['cores']} cores; the broker runs on the same machine", flush=True)
    rows, listener_runs, bare_runs = [], [], []
    broker = Broker(args.url)
    try:
        with tempfile.TemporaryDirectory(prefix="otklik-bench-") as tmp:
            tmp = Path(tmp)
            instance = make_instance(tmp)
            with (instance / "settings.toml").open("a", encoding="utf-8") as f:
                f.write(f'updates_url = "{broker.updates_url}"\n')
            listen = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "listen"]
            env = {"OTKLIK_INSTANCE_PATH": str(instance)}
            outbox = instance / "outbox.sqlite3"
            # once with nothing to take: the listener declares its queue, as in production
            with _started(listen, env, subprocess.DEVNULL):
                _wait(lambda: _exists(broker, broker.listener_queue), "the listener's queue")
            bare = [sys.executable, str(BENCH / "_bare_consumer.py"), args.url, broker.bare_queue]
            print(f"listener vs bare pika consumer, {args.messages} updates a round:", flush=True)
            for round_ in range(args.rounds):
                bodies = [
                    body_of(event)
                    for _ in range(args.messages // 3)
                    for event in answered_history(receipts.new())
                ]
                broker.publish(bodies)
                expected = len(bodies) * (round_ + 1)
                base_db = tmp / "bare.sqlite3"
                bare_runs.append(drain([*bare, str(base_db)], {}, base_db, "updates", expected))
                listener_runs.append(drain(listen, env, outbox, "updates", expected))
                print(
                    f"  round {round_ + 1}: listener {listener_runs[-1].rate}/s,"
                    f" bare {bare_runs[-1].rate}/s",
                    flush=True,
                )
            taken, base = pooled(listener_runs), pooled(bare_runs)
            rows.append(
                ratio_row(
                    "listener from RabbitMQ (flask listen, synchronous=FULL)",
                    taken.rate,
                    base.rate,
                    "updates/s",
                    0.5,
                    note="baseline: bare pika consumer, one SQLite commit and ack per update,"
                    f" prefetch {PREFETCH}; the broker shares the machine",
                    runs=[r.rate for r in listener_runs],
                    baseline_runs=[r.rate for r in bare_runs],
                    stored=_rows(outbox, "updates"),
                )
            )
            rows.append(
                cpu_row(
                    "listener: CPU per update",
                    taken,
                    base,
                    0.5,
                    note="the consuming process, user + system, from its first commit to its last",
                )
            )
    finally:
        broker.close()
    path = write_results("listener", rows)
    print(f"# wrote {shown(path)}", flush=True)


def _exists(broker: Broker, queue: str) -> bool:
    try:
        broker.consumers(queue)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        broker.channel = broker.connection.channel()
        return False


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
