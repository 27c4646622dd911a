"""Command-line tools (``flask agencies …``, ``forward``, ``listen``, ``outbox …``,
``stats``): thin wrappers over plain functions."""

from __future__ import annotations

import logging
import sqlite3
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from . import (
    agencies,
    demo,
    forwarder,
    intakes,
    listener,
    logs,
    metrics,
    outbox,
    routing,
    settings,
    transports,
)
from .agencies import files as agency_files
from .agencies.lines import is_warning
from .open311 import cli as open311_cli
from .outbox import delivery, repairs
from .outbox import updates as stored_updates
from .polls import cli as polls_cli
from .stats import cli as stats_cli
from .stats import sharing
from .web import snippet

agencies_cli = AppGroup("agencies", help="Check and manage agency configuration files.")


@agencies_cli.command("check")
@click.argument("ids", nargs=-1)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes to check with (default: one per core).",
)
def agencies_check(ids: tuple[str, ...], workers: int | None) -> None:
    """Validate agency files (all, or the IDS given) on all cores; print
    `path:line: field: message` for each problem and exit with status 1 when there is
    any. Warnings (`path:line: warning: field: message`) do not fail the check."""
    folder = agencies.extension(current_app).folder
    found = agencies.check(folder, list(ids) or None, workers=workers)
    found += polls_cli.check_lines(list(ids) or None)  # each agency's polls too
    for line in found:
        click.echo(line)
    warnings = sum(1 for line in found if is_warning(line))
    problems = len(found) - warnings
    checked = len(ids) if ids else len(agencies.all_ids(folder))
    also = f", {warnings} warning(s)" if warnings else ""
    if problems:
        click.echo(f"{problems} problem(s) in {checked} file(s) checked{also}", err=True)
        sys.exit(1)
    click.echo(f"{checked} file(s) checked, no problems{also}", err=True)


@agencies_cli.command("new")
@click.argument("agency_id")
@click.option("--extends", "extends", required=True, help='The base, such as "_bases/orel".')
@click.option("--name", required=True, help="The agency's full official name.")
@click.option("--short-name", help="A short name for headings (optional).")
@click.option("--region", help="The region code (default: the base's).")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="A site that may show the form, such as https://school57.ru (repeatable).",
)
@click.option(
    "--sector",
    type=click.Choice(list(routing.SECTORS)),
    help="The sector, for the routing key (default: the one the name says, if it says one).",
)
@click.option(
    "--routing-key",
    help="Where the central queue routes messages (default: <region>.<sector>.<id>).",
)
def agencies_new(
    agency_id, extends, name, short_name, region, origins, sector, routing_key
) -> None:
    """Write a new, valid agency file AGENCY_ID.toml from the template."""
    folder = agencies.extension(current_app).folder
    try:
        path, notes = agency_files.new(
            folder, agency_id, extends, name, short_name, region, origins, routing_key, sector
        )
    except agency_files.AgencyFileError as e:
        for line in e.problems:
            click.echo(line, err=True)
        sys.exit(1)
    click.echo(f"created {path}")
    for note in notes:
        click.echo(note, err=True)


@agencies_cli.command("import")
@click.argument("registry", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--extends", "extends", required=True, help="The base new agencies extend.")
@click.option("--verbose", "-v", is_flag=True, help="Also list the unchanged agencies.")
def agencies_import(registry: Path, extends: str, verbose: bool) -> None:
    """Create or update agency files from a registry export (CSV with the columns id,
    name, short_name, region, site_origin, and routing_key or sector). Keys added by hand
    are kept. Prints what changed; exits with status 1 if any row could not be imported."""
    folder = agencies.extension(current_app).folder
    try:
        report = agency_files.import_registry(folder, registry, extends)
    except agency_files.AgencyFileError as e:
        for line in e.problems:
            click.echo(line, err=True)
        sys.exit(1)
    for agency_id in report.created:
        click.echo(f"created {agency_id}")
    for agency_id, keys in report.updated.items():
        click.echo(f"updated {agency_id}: {', '.join(keys)}")
    if verbose:
        for agency_id in report.unchanged:
            click.echo(f"unchanged {agency_id}")
    for line in report.problems + report.warnings:
        click.echo(line)
    also = f", {len(report.warnings)} warning(s)" if report.warnings else ""
    click.echo(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.problems)} problem(s){also}",
        err=True,
    )
    if report.problems:
        sys.exit(1)


@agencies_cli.command("snippet")
@click.argument("agency_id")
@click.option(
    "--base-url",
    help="The address citizens reach the widget at (default: the public_url setting).",
)
@click.option(
    "--qr",
    "qr_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the QR code of the link to this SVG file.",
)
def agencies_snippet(agency_id: str, base_url: str | None, qr_path: str | None) -> None:
    """Print the <iframe> code to paste and the link for social pages of AGENCY_ID,
    the code of its statistics, and its open polls' (the same as the /snippet/<id> page
    shows). Warnings go to stderr."""
    app = current_app
    try:
        base = settings.public_url(base_url, "--base-url") if base_url else app.config["PUBLIC_URL"]
    except settings.SettingsError as e:
        raise click.BadParameter(str(e)) from None
    agency = _agency(agency_id)
    found = snippet.snippet_for(app, agency, base)
    click.echo("# the code for the agency's site:", err=True)
    click.echo(found.iframe)
    click.echo("# the link for social pages:", err=True)
    click.echo(found.page_url)
    for warning in found.warnings:
        click.echo(f"warning: {warning}", err=True)
    if qr_path:
        Path(qr_path).write_bytes(found.qr_file())
        click.echo(f"# the QR code of the link: {qr_path}", err=True)
    click.echo("# the code of the agency's statistics, for its site:", err=True)
    click.echo(snippet.stats_snippet(app, agency, base))
    for item in snippet.poll_snippets(app, agency, base, snippet.now()):
        click.echo(f"# the open poll {item.poll_id!r}: the code, then the link", err=True)
        click.echo(item.snippet.iframe)
        click.echo(item.snippet.page_url)
        if qr_path:
            path = Path(qr_path)
            poll_qr = path.with_name(f"{path.stem}-{item.poll_id}{path.suffix}")
            poll_qr.write_bytes(item.snippet.qr_file())
            click.echo(f"# its QR code: {poll_qr}", err=True)


def _agency(agency_id: str) -> agencies.Agency:
    try:
        return agencies.load(agency_id)
    except agencies.AgencyNotFound:
        raise click.ClickException(f"no agency {agency_id!r}") from None
    except agencies.AgencyError as e:
        raise click.ClickException("\n".join(e.problems)) from None


def init_app(app) -> None:
    app.cli.add_command(agencies_cli)
    app.cli.add_command(forward_command)
    app.cli.add_command(listen_command)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(demo.demo_cli)
    app.cli.add_command(polls_cli.polls_cli)
    app.cli.add_command(open311_cli.open311_cli)
    app.cli.add_command(stats_cli.stats_command)


# -- forwarding: `flask forward`, `flask outbox …` ---------------------------------------


def make_forwarder(app, batch_size: int | None = None, lease: float = 120.0):
    """A Forwarder for the app's outbox and queue_url; a bad setting is a ClickException."""
    config = app.config
    try:
        transport = transports.open_transport(config["QUEUE_URL"], secret=config["QUEUE_SECRET"])
        return forwarder.Forwarder(
            config["OUTBOX_PATH"],
            transport,
            max_attempts=config["MAX_ATTEMPTS"],
            retention_days=config["RETENTION_DAYS"],
            batch_size=batch_size,
            lease_seconds=lease,
            sharing=sharing.from_settings(config),
        )
    except transports.TransportError as e:
        raise click.ClickException(str(e)) from None


@click.command("forward")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 5000),
    default=None,
    help="Messages claimed and sent at once (default: the transport's own).",
)
@click.option(
    "--lease",
    type=click.FloatRange(1),
    default=120.0,
    show_default=True,
    help="Seconds a claimed batch is held before another forwarder may take it over.",
)
@with_appcontext
def forward_command(once: bool, batch_size: int | None, lease: float) -> None:
    """Deliver the outbox to the central queue (queue_url) until SIGTERM or Ctrl-C,
    which finish the batch in hand first."""
    if not logging.getLogger().handlers:
        logs.configure()
    metrics.clean_folder()
    sender = make_forwarder(current_app, batch_size, lease)
    try:
        if not once:
            sender.run()
            return
        totals = sender.run_once()
        click.echo(
            f"delivered {totals.delivered}, to retry {totals.retried}, dead {totals.dead},"
            f" waiting {totals.unsent}, purged {totals.purged}"
        )
        for reason, count in sorted(totals.reasons.items(), key=lambda kv: -kv[1]):
            click.echo(f"  {count} × {reason}", err=True)
        if totals.unsent and not totals.delivered:
            depth = outbox.depth(sender.db)
            raise click.ClickException(
                f"{totals.problem}. {depth['pending']} message(s) wait in the outbox and"
                " will go once the queue can be reached."
            )
    except sqlite3.Error as e:
        raise click.ClickException(f"outbox error: {e}") from None
    finally:
        sender.close()


# -- updates in: `flask listen` -----------------------------------------------------------


def make_listener(app) -> listener.Listener:
    """A Listener for the app's outbox and updates_url; a bad setting is a ClickException."""
    try:
        intake = intakes.open_intake(app.config["UPDATES_URL"])
    except intakes.IntakeError as e:
        raise click.ClickException(str(e)) from None
    return listener.Listener(app.config["OUTBOX_PATH"], intake)


@click.command("listen")
@click.option("--once", is_flag=True, help="Take the updates waiting now, then exit.")
@with_appcontext
def listen_command(once: bool) -> None:
    """Take the central system's updates (statuses, answers) from updates_url into the
    outbox until SIGTERM or Ctrl-C, which finish the batch in hand first."""
    if not logging.getLogger().handlers:
        logs.configure()
    metrics.clean_folder()
    taker = make_listener(current_app)
    try:
        if not once:
            taker.run()
            return
        totals = taker.run_once()
        click.echo(
            f"recorded {totals.recorded}, repeats {totals.repeats}, rejected {totals.rejected}"
        )
    except intakes.Unavailable as e:
        raise click.ClickException(str(e)) from None
    except sqlite3.Error as e:
        raise click.ClickException(f"outbox error: {e}") from None
    finally:
        taker.close()


outbox_cli = AppGroup("outbox", help="Inspect and repair the outbox.")


def _outbox_db():
    return outbox.connect(current_app.config["OUTBOX_PATH"])


@outbox_cli.command("stats")
def outbox_stats() -> None:
    """How much waits: pending and dead messages, and the oldest pending age."""
    db = _outbox_db()
    try:
        depth = outbox.depth(db)
    finally:
        db.close()
    click.echo(f"pending: {depth['pending']}")
    click.echo(f"dead: {depth['dead']}")
    click.echo(f"oldest pending age: {depth['oldest_pending_age']:.0f} s")


@outbox_cli.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "dead", "delivered"]),
    default="dead",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
def outbox_list(status: str, limit: int) -> None:
    """List messages with a status, oldest first: id, receipt, agency, topic, attempts,
    when received, the last error (never the message itself) and the kind (message, or
    rating: the rating of the message with that receipt)."""
    db = _outbox_db()
    try:
        rows = repairs.listing(db, status, limit)
    finally:
        db.close()
    for row in rows:
        received = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row["created_at"]))
        click.echo(
            "\t".join(
                [
                    row["id"],
                    row["receipt"],
                    row["agency_id"],
                    row["topic_id"],
                    str(row["attempts"]),
                    received,
                    row["last_error"] or "",
                    row["kind"],
                ]
            )
        )
    click.echo(f"{len(rows)} {status} message(s) listed", err=True)


@outbox_cli.command("retry")
@click.argument("ident", required=False)
@click.option("--all-dead", is_flag=True, help="Retry every dead message.")
def outbox_retry(ident: str | None, all_dead: bool) -> None:
    """Send a message again (by event id or receipt), or every dead one with --all-dead,
    with a fresh set of attempts; the forwarder picks them up at once."""
    if bool(ident) == all_dead:
        raise click.UsageError("give one message id or receipt, or --all-dead")
    db = _outbox_db()
    try:
        if all_dead:
            click.echo(f"{repairs.requeue_dead(db)} dead message(s) queued again")
        else:
            click.echo(f"{repairs.requeue(db, ident)} queued again")
    except (repairs.NotFound, repairs.NotRetryable) as e:
        raise click.ClickException(str(e)) from None
    finally:
        db.close()


@outbox_cli.command("purge")
def outbox_purge() -> None:
    """Delete delivered messages and ratings older than retention_days (dead ones stay),
    and the answers and notes of messages closed longer ago than that (their statuses
    stay)."""
    days = current_app.config["RETENTION_DAYS"]
    db = _outbox_db()
    try:
        forgotten = stored_updates.forget_answers(db, days)
        purged = delivery.purge(db, days)
    finally:
        db.close()
    click.echo(f"{purged} delivered message(s) older than {days} days purged")
    click.echo(f"{forgotten} message(s) closed over {days} days ago: answers and notes dropped")


@outbox_cli.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
def outbox_backup(target: str) -> None:
    """Copy the outbox to TARGET while it is in use (SQLite's online backup: a
    consistent copy, the web and the forwarder go on writing). TARGET must not exist."""
    try:
        pages = outbox.backup(current_app.config["OUTBOX_PATH"], target)
    except (FileExistsError, sqlite3.Error) as e:
        raise click.ClickException(f"backup failed: {e}") from None
    click.echo(f"outbox copied to {target} ({pages} pages)")
