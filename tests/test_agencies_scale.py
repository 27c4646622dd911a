"""Thousands of agency files: nothing is read at start-up, any agency is served on its
first request, the cache stays bounded, and edits and deletions reach every worker
without a restart. (160,000 files and the timings are in bench/agencies_160k.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import CheckedClient, write_agency
from widget import agencies, create_app
from widget.agencies import reading

MANY = 3000
TEMPLATE = """extends = "_bases/orel"
name = "Школа № {i}"
short_name = "Школа № {i}"
embed_origins = ["https://school{i}.example.ru"]
routing_key = "57.education.school-{i}"

[[topics]]
id = "other"
title = {{ ru = "Другое", en = "Other" }}
"""


@pytest.fixture
def crowded(instance) -> Path:
    """The demo instance plus MANY schools extending the shared base."""
    folder = instance / "agencies"
    for i in range(MANY):
        (folder / f"school-{i}.toml").write_text(TEMPLATE.format(i=i), encoding="utf-8")
    return instance


def app_for(instance, config):
    app = create_app(config, instance_path=instance)
    app.test_client_class = CheckedClient
    return app


def touch_later(path: Path) -> None:
    """Make an edit visible to a stamp check even within one timestamp tick."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_start_up_reads_no_agency_file(instance, config):
    folder = instance / "agencies"
    for i in range(MANY):  # not even TOML: a start-up that parsed them would fail
        (folder / f"broken-{i}.toml").write_text("this is = = not toml", encoding="utf-8")
    app = app_for(instance, config)
    assert len(agencies.extension(app)) == 0
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/embed/orel-school-57").status_code == 200
    assert client.get("/embed/broken-17").status_code == 503  # that agency alone
    assert len(agencies.extension(app)) == 2


def test_a_never_seen_agency_is_served_on_its_first_request(crowded, config):
    client = app_for(crowded, config).test_client()
    for i in (0, 1234, MANY - 1):
        html = client.get(f"/f/school-{i}").get_data(as_text=True)
        assert f"Школа № {i}" in html
        assert "Напишите нам вопрос" in html  # the intro comes from the shared base


def test_the_cache_keeps_only_the_most_recently_used(crowded):
    registry = agencies.Registry(crowded / "agencies", size=50)
    first = registry.get("school-0")
    for i in range(1, 300):
        registry.get(f"school-{i}")
    assert len(registry) == 50
    assert registry.get("school-299") is registry.get("school-299")  # still cached
    assert registry.get("school-0") is not first  # evicted, read again
    assert registry.get("school-0") == first


def test_an_edit_reaches_every_worker_without_a_restart(crowded, config):
    workers = [app_for(crowded, config).test_client() for _ in range(2)]
    for client in workers:
        assert "Школа № 7<" in client.get("/f/school-7").get_data(as_text=True)
    write_agency(crowded, "school-7", TEMPLATE.format(i=7).replace("Школа № 7", "Лицей № 7"))
    for client in workers:
        html = client.get("/f/school-7").get_data(as_text=True)
        assert "Лицей № 7" in html and "Школа № 7<" not in html


def test_an_edit_of_the_shared_base_reaches_every_agency_and_worker(crowded, config):
    workers = [app_for(crowded, config).test_client() for _ in range(2)]
    for client in workers:
        assert "Напишите нам вопрос" in client.get("/f/school-8").get_data(as_text=True)
    base = crowded / "agencies" / "_bases" / "orel.toml"
    base.write_text(
        base.read_text(encoding="utf-8").replace("Напишите нам вопрос", "Задайте вопрос"),
        encoding="utf-8",
    )
    touch_later(base)
    for client in workers:
        for agency in ("school-8", "school-9", "orel-school-57"):
            html = client.get(f"/f/{agency}").get_data(as_text=True)
            assert "Задайте вопрос" in html, agency


def test_a_deleted_file_stops_being_served_everywhere(crowded, config):
    workers = [app_for(crowded, config).test_client() for _ in range(2)]
    for client in workers:
        assert client.get("/embed/school-9").status_code == 200
    (crowded / "agencies" / "school-9.toml").unlink()
    for client in workers:
        assert client.get("/embed/school-9").status_code == 404
        assert client.get("/f/school-9").status_code == 404


def test_a_file_replaced_by_rename_is_picked_up(crowded, config):
    """Deploy tools (rsync, git checkout, config maps) replace files by renaming."""
    client = app_for(crowded, config).test_client()
    assert "Школа № 5<" in client.get("/f/school-5").get_data(as_text=True)
    folder = crowded / "agencies"
    staged = folder / ".school-5.toml.tmp"
    staged.write_text(TEMPLATE.format(i=5).replace("Школа № 5", "Гимназия № 5"), encoding="utf-8")
    os.replace(staged, folder / "school-5.toml")
    assert "Гимназия № 5" in client.get("/f/school-5").get_data(as_text=True)


def test_a_broken_file_breaks_that_agency_until_it_is_fixed(crowded, config):
    client = app_for(crowded, config).test_client()
    write_agency(crowded, "school-3", "name = [unclosed")
    assert client.get("/embed/school-3").status_code == 503
    assert client.get("/embed/school-4").status_code == 200
    write_agency(crowded, "school-3", TEMPLATE.format(i=3))
    assert client.get("/embed/school-3").status_code == 200


def test_fixing_a_broken_base_heals_the_agencies_that_extend_it(crowded, config):
    client = app_for(crowded, config).test_client()
    base = crowded / "agencies" / "_bases" / "orel.toml"
    good = base.read_text(encoding="utf-8")
    base.write_text(good.replace('accent = "#0d4cd3"', "accent = "), encoding="utf-8")
    touch_later(base)
    assert client.get("/embed/school-1").status_code == 503
    base.write_text(good, encoding="utf-8")
    touch_later(base)
    touch_later(base)
    assert client.get("/embed/school-1").status_code == 200


def test_a_base_that_appears_later_heals_the_agencies_that_name_it(crowded, config):
    client = app_for(crowded, config).test_client()
    write_agency(crowded, "school-2", TEMPLATE.format(i=2).replace("_bases/orel", "_bases/late"))
    assert client.get("/embed/school-2").status_code == 503
    late = crowded / "agencies" / "_bases" / "late.toml"
    late.write_text((crowded / "agencies" / "_bases" / "orel.toml").read_text(encoding="utf-8"))
    assert client.get("/embed/school-2").status_code == 200


def test_a_shared_base_is_parsed_once_until_it_changes(crowded):
    bases = reading.BaseCache()
    base = crowded / "agencies" / "_bases" / "orel.toml"
    first, _stamp = bases.load(base)
    assert bases.load(base)[0] is first
    touch_later(base)
    assert bases.load(base)[0] is not first


def test_a_flood_of_requests_to_a_broken_agency_does_not_grow_memory(crowded):
    """The broken agency's error is cached and raised again for each request: it must
    not collect one more traceback entry per request."""
    write_agency(crowded, "school-3", "name = [unclosed")
    registry = agencies.Registry(crowded / "agencies")
    depths = []
    for _ in range(100):
        with pytest.raises(agencies.AgencyError) as caught:
            registry.get("school-3")
        depth, tb = 0, caught.value.__traceback__
        while tb:
            depth, tb = depth + 1, tb.tb_next
        depths.append(depth)
    assert depths[-1] == depths[1]
