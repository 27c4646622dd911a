"""Command-line tools (``flask agencies …``): thin wrappers over plain functions."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from . import agencies

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


def init_app(app) -> None:
    app.cli.add_command(agencies_cli)
