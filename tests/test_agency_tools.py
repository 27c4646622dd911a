"""`flask agencies new` and `flask agencies import`: files written for staff are valid,
written only when valid, and an import never loses what people wrote by hand."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, write_agency
from widget import agencies, routing

HEADER = "id,name,short_name,region,site_origin,routing_key\n"
ROW_3 = (
    "school-3,МБОУ «Школа № 3»,Школа № 3,57,https://School3.example.ru/about,"
    "57.education.school-3\n"
)
ROW_4 = "school-4,МБОУ «Школа № 4»,,57,school4.example.ru,57.education.school-4\n"


def new(runner, *args):
    return runner.invoke(args=["agencies", "new", *args])


def run_import(runner, path, *args):
    return runner.invoke(args=["agencies", "import", str(path), "--extends", "_bases/orel", *args])


@pytest.fixture
def registry(tmp_path):
    def write(text: str, encoding: str = "utf-8"):
        path = tmp_path / "registry.csv"
        path.write_bytes(text.encode(encoding))
        return path

    return write


# --- new ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["Bad_Id", "--extends", "_bases/orel", "--name", "X"], "is not an agency id"),
        (["orel-school-57", "--extends", "_bases/orel", "--name", "X"], "exists already"),
        (["school-2", "--extends", "_bases/nowhere", "--name", "X"], "no such base"),
        (["school-2", "--extends", "orel", "--name", "X"], "must name a base"),
        (
            ["school-2", "--extends", "_bases/orel", "--name", "Школа", "--origin", "http://s.ru"],
            "embed_origins: ",
        ),
        (["school-2", "--extends", "_bases/orel", "--name", "", "--sector", "sport"], "name: "),
    ],
)
def test_new_refuses_and_writes_nothing(runner, instance, args, message):
    before = sorted(p.name for p in (instance / "agencies").iterdir())
    result = new(runner, *args)
    assert result.exit_code == 1
    assert message in result.output
    assert sorted(p.name for p in (instance / "agencies").iterdir()) == before


def test_new_writes_a_file_that_passes_the_check_and_is_served(runner, instance, client):
    name = 'МБОУ "Школа № 2" \\ г. Орёл'
    result = new(
        runner, "school-2", "--extends", "_bases/orel", "--name", name,
        "--origin", "https://школа2.рф/", "--origin", "https://vk.example.ru",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert agencies.check(instance / "agencies") == []
    agency = agencies.read(instance / "agencies", "school-2")[0]
    assert agency.name == name
    assert agency.embed_origins == ["https://xn--2-7sb3aeo2d.xn--p1ai", "https://vk.example.ru"]
    assert agency.region == "57" and agency.routing_key == "57.education.school-2"
    assert "sector education, from the name" in result.output
    assert [t.id for t in agency.topics] == ["other"]
    assert "Школа № 2" in client.get("/f/school-2").get_data(as_text=True)


def test_new_needs_a_region_when_the_base_has_none(runner, instance):
    (instance / "agencies" / "_bases" / "bare.toml").write_text("languages = ['ru']\n")
    result = new(runner, "school-2", "--extends", "_bases/bare", "--name", "Школа")
    assert result.exit_code == 1 and "region: " in result.output
    result = new(
        runner, "school-2", "--extends", "_bases/bare", "--name", "Школа", "--region", "77"
    )
    assert agencies.read(instance / "agencies", "school-2")[0].routing_key == (
        "77.education.school-2"
    )
    assert result.exit_code == 0, result.output
    assert agencies.check(instance / "agencies", ["school-2"]) == []


def test_new_asks_for_the_sector_when_the_name_does_not_tell_it(runner, instance):
    # a sports school: sport or education? A person has to say.
    args = ["sport-2", "--extends", "_bases/orel", "--name", "МБУ ДО «Спортивная школа № 2»"]
    result = new(runner, *args)
    assert result.exit_code == 1
    assert "--sector" in result.output and "education, health, culture" in result.output
    assert not (instance / "agencies" / "sport-2.toml").exists()
    result = new(runner, *args, "--sector", "sport")
    assert result.exit_code == 0, result.output
    agency = agencies.read(instance / "agencies", "sport-2")[0]
    assert agency.routing_key == "57.sport.sport-2"
    assert agencies.check(instance / "agencies", ["sport-2"]) == []


def test_new_writes_a_routing_key_of_another_shape_but_warns(runner, instance):
    result = new(
        runner, "library-3", "--extends", "_bases/orel", "--name", "Библиотека № 3",
        "--routing-key", "57.orel-library-3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: routing_key: '57.orel-library-3' is not of the form" in result.output
    assert agencies.read(instance / "agencies", "library-3")[0].routing_key == "57.orel-library-3"


# --- import ------------------------------------------------------------------------


def test_import_builds_the_routing_key_from_a_sector_column(runner, instance, registry):
    path = registry(
        "id,name,region,sector\n"
        "library-3,Библиотека № 3,57,culture\n"
        "library-4,Библиотека № 4,57,libraries\n"
        "library-5,Библиотека № 5,57,\n"
    )
    result = run_import(runner, path)
    assert result.exit_code == 1
    agency = agencies.read(instance / "agencies", "library-3")[0]
    assert agency.routing_key == "57.culture.library-3"
    lines = result.output.splitlines()
    assert any(line.startswith(f"{path}:3: sector: 'libraries' is not one of") for line in lines)
    assert f"{path}:4: routing_key: empty, and no sector to build it from" in lines


def test_import_warns_about_a_routing_key_no_binding_routes(runner, instance, registry):
    path = registry(HEADER + ROW_3.replace("57.education.school-3", "57.school-3"))
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert f"{path}:2: warning: routing_key: '57.school-3' is not of the form" in result.output
    assert "1 created, 0 updated, 0 unchanged, 0 problem(s), 1 warning(s)" in result.output


def test_import_refuses_a_file_without_the_needed_columns(runner, registry):
    result = run_import(runner, registry("id,title\nschool-3,Школа\n"))
    assert result.exit_code == 1
    assert "header: no column name, region" in result.output


def test_import_reports_bad_rows_by_line_and_imports_the_rest(runner, instance, registry):
    path = registry(
        HEADER
        + "School 5,Школа 5,,57,,57.edu.x\n"
        + ROW_3
        + "school-6,,,57,,57.edu.x\n"
        + "school-3,Дубль,,57,,57.edu.x\n"
        + "school-7,Школа 7,,57,http://school7.example.ru,57.edu.school-7\n"
        + "school-8,Школа 8,,5,,57.edu.school-8\n"
    )
    result = run_import(runner, path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{path}:2: id: 'School 5' is not an agency id" in result.output
    assert f"{path}:4: name: empty" in lines
    assert f"{path}:5: id: 'school-3' is on line 3 too" in lines
    assert any(line.startswith(f"{path}:6: ") and "embed_origins" in line for line in lines)
    assert any(line.startswith(f"{path}:7: ") and "region" in line for line in lines)
    assert "created school-3" in lines
    folder = instance / "agencies"
    assert not any((folder / f"school-{i}.toml").exists() for i in (5, 6, 7, 8))


def test_import_creates_valid_files_and_a_second_run_changes_nothing(runner, instance, registry):
    path = registry(HEADER + ROW_3 + ROW_4)
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == ["created school-3", "created school-4"]
    assert "2 created, 0 updated, 0 unchanged, 0 problem(s)" in result.output
    folder = instance / "agencies"
    assert agencies.check(folder) == []
    school = agencies.read(folder, "school-3")[0]
    assert school.embed_origins == ["https://school3.example.ru"]
    assert school.short_name == "Школа № 3" and school.routing_key == "57.education.school-3"
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.toml")}
    again = run_import(runner, path, "--verbose")
    assert again.exit_code == 0
    assert "unchanged school-3" in again.output and "unchanged school-4" in again.output
    assert "0 created, 0 updated, 2 unchanged" in again.output
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.toml")} == stamps


def test_import_updates_only_the_registry_keys_and_keeps_hand_edits(runner, instance, registry):
    write_agency(
        instance,
        "school-3",
        """# Edited by hand: do not lose this comment.
extends = "_bases/orel"
name = "Старое название"
short_name = "Школа № 3"
embed_origins = ["https://vk.example.ru"]  # the VK page, added by hand
routing_key = "57.education.school-3"

[contact]
phone = "required"

[[topics]]
id = "food"
title = { ru = "Питание", en = "Meals" }
answer_within_days = 10
""",
    )
    result = run_import(runner, registry(HEADER + ROW_3))
    assert result.exit_code == 0, result.output
    assert "updated school-3: name, embed_origins" in result.output.splitlines()
    text = (instance / "agencies" / "school-3.toml").read_text(encoding="utf-8")
    assert "# Edited by hand: do not lose this comment." in text
    school = agencies.read(instance / "agencies", "school-3")[0]
    assert school.name == "МБОУ «Школа № 3»"
    assert school.embed_origins == ["https://school3.example.ru", "https://vk.example.ru"]
    assert school.contact.phone == "required"
    assert [(t.id, t.answer_within_days) for t in school.topics] == [("food", 10)]
    assert "region" not in text  # the base's region already matches the registry


def test_an_empty_optional_cell_leaves_the_key_alone(runner, instance, registry):
    run_import(runner, registry(HEADER + ROW_3))
    result = run_import(runner, registry(HEADER + ROW_3.replace(",Школа № 3,", ",,")))
    assert "unchanged" in result.output
    assert agencies.read(instance / "agencies", "school-3")[0].short_name == "Школа № 3"


def test_import_reads_semicolons_and_windows_1251(runner, instance, registry):
    text = (HEADER + ROW_3).replace(",", ";")
    result = run_import(runner, registry(text, encoding="cp1251"))
    assert result.exit_code == 0, result.output
    assert agencies.read(instance / "agencies", "school-3")[0].name == "МБОУ «Школа № 3»"


def test_import_never_touches_a_broken_file(runner, instance, registry):
    path = write_agency(instance, "school-3", "name = [broken")
    result = run_import(runner, registry(HEADER + ROW_3))
    assert result.exit_code == 1
    assert "cannot update this file" in result.output
    assert path.read_text() == "name = [broken"


def test_the_queue_docs_list_exactly_the_sectors_the_tools_know():
    text = (ROOT / "docs" / "queue.md").read_text(encoding="utf-8")
    section = text[text.index("### Routing keys") :]
    documented = re.findall(r"^\| `([a-z]+)` \| ", section[: section.index("\n### ")], re.M)
    assert documented == list(routing.SECTORS)
