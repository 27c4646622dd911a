"""``flask demo answer``: on the demo instance, answer a message as the central system
would, so that a newcomer sees the whole loop (send, answer, rate) on their machine.

The update goes the real way: a ``feedback.status.v1`` event, checked against
docs/status.schema.json, written into the spool intake's folder (``updates_url``,
``<instance>/inbound/`` by default) the way a sender must (a dot-name, then renamed);
``flask listen`` (which ``make run`` starts) takes it from there.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from . import outbox, receipts, updates

DEMO_SOURCE = "/central/demo"


class DemoError(click.ClickException):
    pass


def answer(
    spool: Path,
    agency_id: str,
    receipt: str,
    text: str | None,
    status: str = "answered",
    answered_by: str | None = "Приёмная (демо)",
) -> Path:
    """Write one update of ``receipt`` into the spool folder; returns the file."""
    data = {"receipt": receipt, "agency_id": agency_id, "status": status}
    if status == "answered":
        data.update(answer=text, answered_by=answered_by)
    elif text:
        data["note"] = text
    if status == "redirected":
        data["redirected_to"] = "Другая организация (демо)"
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": updates.SCHEMA["properties"]["type"]["const"],
        "source": DEMO_SOURCE,
        "subject": receipt,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "datacontenttype": "application/json",
        "data": data,
    }
    body = json.dumps(event, ensure_ascii=False).encode()
    try:
        updates.parse(body)  # what the listener would refuse is said here, at once
    except updates.InvalidUpdate as e:
        raise DemoError(f"not a valid update: {e}") from None
    spool.mkdir(parents=True, exist_ok=True)
    temp = spool / f".{event['id']}.json.tmp"
    with open(temp, "wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    return temp.rename(spool / f"{event['id']}.json")


@click.group("demo")
def demo_cli() -> None:
    """The demo instance's own commands (only with demo = true)."""


@demo_cli.command("answer")
@click.argument("receipt")
@click.argument("text", required=False)
@click.option(
    "--status",
    type=click.Choice(updates.STATUSES),
    default="answered",
    show_default=True,
    help="The status to send; TEXT is then the answer (answered) or a short note.",
)
@click.option("--agency", "agency_id", help="The agency (default: the one the receipt is of).")
@with_appcontext
def answer_command(receipt: str, text: str | None, status: str, agency_id: str | None) -> None:
    """Answer the message RECEIPT as the central system would: the update goes into the
    spool intake's folder, for `flask listen` (started by `make run`) to take."""
    app = current_app
    if not app.config["DEMO"]:
        raise DemoError("only on a demo instance (demo = true): real answers come from staff")
    url = app.config["UPDATES_URL"]
    if not url.startswith("spool:"):
        raise DemoError(f"updates_url is not a spool folder ({url.split(':', 1)[0]}:…)")
    number = receipts.normalize(receipt)
    if number is None:
        raise DemoError(f"{receipt!r} is no receipt (8 letters and digits, like K7M2-9QXD)")
    if status == "answered" and not text:
        raise DemoError('an answer needs its TEXT: flask demo answer K7M2-9QXD "Здравствуйте!…"')
    if agency_id is None:
        db = outbox.connect(app.config["OUTBOX_PATH"])
        try:
            agency_id = outbox.agency_of(db, number)
        finally:
            db.close()
        if agency_id is None:
            raise DemoError(f"no message {number} in this instance's outbox; name its --agency")
    path = answer(Path(url.removeprefix("spool:")), agency_id, number, text, status)
    click.echo(f"{status}: {number} of {agency_id} → {path}")
    click.echo("flask listen (make run) takes it; then open the message's page again.")
