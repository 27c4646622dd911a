"""Agency files as the tests write them, and what `flask agencies check` says of them."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import write_agency
from widget import agencies

GOOD = """extends = "_bases/orel"
name = "МБОУ «Школа № 1»"
routing_key = "57.education.school-1"
embed_origins = ["https://school1.example.ru"]
languages = ["ru"]

[[topics]]
id = "food"
title = "Питание"
"""


def check(instance: Path, *args: str) -> list[str]:
    return agencies.check(instance / "agencies", *args)


def problem_for(instance: Path, body: str, agency_id: str = "school-1") -> list[str]:
    """The problems of ``body`` as the agency's file, without the file and line."""
    path = write_agency(instance, agency_id, body)
    found = check(instance, [agency_id])
    where = re.compile(re.escape(str(path)) + r"(:\d+)?: ")
    assert all(where.match(line) for line in found), found
    return [where.sub("", line, count=1) for line in found]


def limit_school(instance, per_ip: str, attempts: str | None = None) -> None:
    path = instance / "agencies" / "orel-school-57.toml"
    limits = f'\n[limits]\nper_ip = "{per_ip}"\n'
    if attempts:
        limits += f'attempts_per_ip = "{attempts}"\n'
    write_agency(instance, "orel-school-57", path.read_text() + limits)
