"""Agencies: the files that say who has a form and how it looks.

Request code calls ``load(agency_id)``; tools ``read``, ``all_ids`` and ``check``. Inside:

- ``schema``: the model of an agency file and its validators (no Flask, no Babel);
- ``reading``: reading one agency's files, ``extends`` and the bases, then the schema;
- ``registry``: the agencies of a worker, cached, with the last good version of a file
  an edit broke (kept in ``<instance>/agencies-last-good/``, shared by the workers);
- ``lint``: the check (``flask agencies check``), on all cores for large sets;
- ``errors``: the schema's errors in plain words, with file and line;
- ``files``: writing agency files (``flask agencies new`` and ``import``).
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from .lint import check
from .reading import AgencyError, AgencyNotFound, agencies_dir, all_ids, read
from .registry import Registry
from .schema import AGENCY_ID, CONTACT_FIELDS, WAYS, Agency, Attachments, parse_limit

__all__ = [
    "AGENCY_ID",
    "CONTACT_FIELDS",
    "WAYS",
    "Agency",
    "AgencyError",
    "AgencyNotFound",
    "Attachments",
    "Registry",
    "all_ids",
    "check",
    "extension",
    "init_app",
    "load",
    "parse_limit",
    "read",
]

EXTENSION = "otklik.agencies"


def load(agency_id: str) -> Agency:
    """The agency, as this app's Registry has it now (see ``Registry.get``).

    Raises AgencyNotFound, or AgencyError when its files are broken and were never read
    good (or their last good version no longer fits the schema).
    """
    return current_app.extensions[EXTENSION].get(agency_id)


def extension(app) -> Registry:
    return app.extensions[EXTENSION]


def last_good_dir(instance: Path) -> Path:
    """Where each agency's last good version is kept; may be deleted (it is written again
    as each agency is read), but then a file broken meanwhile gets the 503 page."""
    return instance / "agencies-last-good"


def init_app(app) -> None:
    instance = Path(app.instance_path)
    registry = Registry(agencies_dir(instance), last_good=last_good_dir(instance))
    app.extensions[EXTENSION] = registry
