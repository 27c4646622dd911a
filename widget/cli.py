"""Command-line tools (``flask agencies …``): thin wrappers over plain functions."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from . import agencies, settings
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
    `path: field: message` for each problem and exit with status 1 when there is any."""
    folder = agencies.extension(current_app).folder
    problems = agencies.check(folder, list(ids) or None, workers=workers)
    for line in problems:
        click.echo(line)
    checked = len(ids) if ids else len(agencies.all_ids(folder))
    if problems:
        click.echo(f"{len(problems)} problem(s) in {checked} file(s) checked", err=True)
        sys.exit(1)
    click.echo(f"{checked} file(s) checked, no problems", err=True)


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
    """Print the <iframe> code to paste and the link for social pages of AGENCY_ID
    (the same as the /snippet/<id> page shows). Warnings go to stderr."""
    app = current_app._get_current_object()
    try:
        base = settings.public_url(base_url, "--base-url") if base_url else app.config["PUBLIC_URL"]
    except settings.SettingsError as e:
        raise click.BadParameter(str(e)) from None
    if not base:
        raise click.UsageError(
            "links need the widget's public address: set public_url in settings.toml "
            "(or OTKLIK_PUBLIC_URL), or pass --base-url https://…"
        )
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


def _agency(agency_id: str) -> agencies.Agency:
    try:
        return agencies.extension(current_app).get(agency_id)
    except agencies.AgencyNotFound:
        raise click.ClickException(f"no agency {agency_id!r}") from None
    except agencies.AgencyError as e:
        raise click.ClickException("\n".join(e.problems)) from None


def init_app(app) -> None:
    app.cli.add_command(agencies_cli)
