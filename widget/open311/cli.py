"""``flask open311 keys add|list|revoke``: thin commands over ``keys``' functions."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import keys

open311_cli = AppGroup("open311", help="Open311 GeoReport v2: the integrators' API keys.")


@open311_cli.group("keys")
def keys_cli() -> None:
    """Add, list and revoke the API keys that may post requests (docs/open311.md)."""


def _path():
    return keys.path_in(current_app.instance_path)


@keys_cli.command("add")
@click.argument("name")
@click.option("--agency", "agency_ids", multiple=True, help="An agency id it may post to.")
@click.option("--region", "regions", multiple=True, help="A region whose agencies it may post to.")
@click.option("--limit", default=keys.DEFAULT_LIMIT, show_default=True, help="Its messages.")
def keys_add(name: str, agency_ids: tuple[str, ...], regions: tuple[str, ...], limit: str) -> None:
    """List a new key for the integrator NAME and print it: the one time it is shown."""
    try:
        api_key = keys.add(_path(), name, list(agency_ids), list(regions), limit)
    except keys.KeyFileError as e:
        raise click.ClickException(str(e)) from None
    except ValueError as e:
        raise click.ClickException(f"{name}: {e}") from None
    click.echo(api_key)
    click.echo(f"# the key of {name}: give it to them now, it is not kept", err=True)


@keys_cli.command("list")
def keys_list() -> None:
    """The keys listed: name, where it may post, its limit, when it was added."""
    try:
        found = keys.listed(_path())
    except keys.KeyFileError as e:
        raise click.ClickException(str(e)) from None
    for key in found:
        where = " ".join([*key.agencies, *(f"region:{r}" for r in key.regions)])
        click.echo(f"{key.name}\t{where}\t{key.limit}\t{key.added_at}")


@keys_cli.command("revoke")
@click.argument("name")
def keys_revoke(name: str) -> None:
    """Take the key of NAME off the list: refused from the next request on."""
    try:
        keys.revoke(_path(), name)
    except keys.KeyFileError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"revoked: {name}")
