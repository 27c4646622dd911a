"""Agency files: the schema, `extends`, the cache, and errors that name file and field."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import DEMO_AGENCIES, ROOT, write_agency
from widget import agencies
from widget.agencies import AgencyError, AgencyNotFound, Registry

MINIMAL = """
name = "Тестовая школа"
region = "57"
routing_key = "57.test"
[[topics]]
id = "other"
title = "Другое"
"""


def problems_of(instance, agency_id, body) -> list[str]:
    write_agency(instance, agency_id, body)
    with pytest.raises(AgencyError) as caught:
        agencies.read(instance / "agencies", agency_id)
    return caught.value.problems


def test_every_demo_agency_is_valid():
    assert agencies.check(DEMO_AGENCIES) == []
    assert len(agencies.all_ids(DEMO_AGENCIES)) >= 3


def test_a_base_gives_defaults_that_the_agency_overrides(instance):
    polyclinic, sources = agencies.read(instance / "agencies", "orel-polyclinic-1")
    assert polyclinic.region == "57"  # from the base
    assert polyclinic.contact.phone == "required"  # the agency's own
    assert polyclinic.contact.email == "optional"  # deep-merged from the base's [contact]
    assert polyclinic.text("ru", "consent").startswith("Я даю согласие")
    assert [p.name for p in sources] == ["orel-polyclinic-1.toml", "orel.toml"]


def test_a_minimal_file_gets_sensible_defaults(instance):
    write_agency(instance, "minimal", MINIMAL)
    agency, _ = agencies.read(instance / "agencies", "minimal")
    assert agency.languages == ["ru"] and agency.embed_origins == []
    assert agency.topics[0].answer_within_days == 30
    assert agency.display_name == "Тестовая школа"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (MINIMAL.replace('region = "57"', 'region = "Орёл"'), "region", "2 or 3 digits"),
        ("nmae = 'typo'\n" + MINIMAL, "nmae", "unknown key; did you mean name?"),
        (MINIMAL + '\n[contact]\nemail = "maybe"\n', "contact.email", "'required'"),
        (MINIMAL + '\n[theme]\naccent = "blue"\n', "theme.accent", "a colour like #0d4cd3"),
        (MINIMAL + '\n[limits]\nper_ip = "lots"\n', "limits.per_ip", "not a rate limit"),
        (MINIMAL + '\n[limits]\nper_ip = "1 per 2 years"\n', "limits.per_ip", "a year at most"),
        ('embed_origins = ["http://school.example.ru"]\n' + MINIMAL, "embed_origins", "https://"),
        (
            'embed_origins = ["https://school.example.ru/page"]\n' + MINIMAL,
            "embed_origins",
            "without a path",
        ),
        (MINIMAL + '\n[[topics]]\nid = "other"\ntitle = "Ещё"\n', "topics", "used twice"),
        (MINIMAL.replace('routing_key = "57.test"', ""), "routing_key", "missing"),
    ],
)
def test_a_schema_problem_names_file_field_and_message(instance, body, field, message):
    (line,) = problems_of(instance, "bad", body)
    path, named, text = line.split(": ", 2)
    assert re.fullmatch(r".*agencies/bad\.toml(:\d+)?", path)
    assert named.startswith(field)
    assert message in text


def test_broken_toml_names_the_file(instance):
    (line,) = problems_of(instance, "bad", 'name = "unterminated\n')
    assert line.split(": ")[1] == "toml"


def test_an_extends_cycle_is_named(instance):
    bases = instance / "agencies" / "_bases"
    (bases / "a.toml").write_text('extends = "_bases/b"\n')
    (bases / "b.toml").write_text('extends = "_bases/a"\n')
    (line,) = problems_of(instance, "cyclic", 'extends = "_bases/a"\n' + MINIMAL)
    assert "extends: a cycle" in line


@pytest.mark.parametrize("base", ["_bases/missing", "../settings", "/etc/passwd", "_bases/../x"])
def test_a_bad_or_missing_base_is_named(instance, base):
    (line,) = problems_of(instance, "bad-base", f'extends = "{base}"\n' + MINIMAL)
    assert ": extends: " in line


def test_the_registry_reloads_a_changed_file_and_forgets_a_deleted_one(instance):
    registry = Registry(instance / "agencies")
    write_agency(instance, "school", MINIMAL)
    assert registry.get("school").name == "Тестовая школа"
    write_agency(instance, "school", MINIMAL.replace("Тестовая школа", "Новая школа"))
    assert registry.get("school").name == "Новая школа"
    (instance / "agencies" / "school.toml").unlink()
    with pytest.raises(AgencyNotFound):
        registry.get("school")


def test_the_registry_reloads_when_a_base_changes(instance):
    registry = Registry(instance / "agencies")
    assert registry.get("orel-school-57").region == "57"
    base = instance / "agencies" / "_bases" / "orel.toml"
    base.write_text(base.read_text().replace('region = "57"', 'region = "157"'))
    write_agency(instance, "_bases/orel", base.read_text())
    assert registry.get("orel-school-57").region == "157"


def test_a_broken_file_is_served_again_once_fixed(instance):
    registry = Registry(instance / "agencies")
    write_agency(instance, "school", MINIMAL.replace('"57"', '"xx"'))
    with pytest.raises(AgencyError):
        registry.get("school")
    write_agency(instance, "school", MINIMAL)
    assert registry.get("school").region == "57"


def test_the_cache_is_bounded(instance):
    registry = Registry(instance / "agencies", size=2)
    for agency_id in ("orel-school-57", "orel-polyclinic-1", "orel-city-admin"):
        registry.get(agency_id)
    assert len(registry._cache) == 2


def test_bases_and_bad_ids_are_never_served(instance):
    registry = Registry(instance / "agencies")
    for agency_id in ("_bases/orel", "../agencies/orel-school-57", "Orel", "x", "orel.toml"):
        with pytest.raises(AgencyNotFound):
            registry.get(agency_id)


def test_the_check_command_passes_the_demo(runner):
    result = runner.invoke(args=["agencies", "check"])
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output


def test_the_check_command_names_file_and_field_and_fails(runner, instance):
    write_agency(instance, "bad", MINIMAL.replace('region = "57"', 'region = "Орёл"'))
    result = runner.invoke(args=["agencies", "check"])
    assert result.exit_code == 1
    assert "bad.toml:3: region: " in result.output
    named = runner.invoke(args=["agencies", "check", "orel-school-57"])
    assert named.exit_code == 0
    missing = runner.invoke(args=["agencies", "check", "no-such-agency"])
    assert missing.exit_code == 1 and "no such agency file" in missing.output


def test_two_readings_of_unchanged_files_are_one_agency_and_an_edit_is_another(instance):
    """The caches of form classes and blank forms key on an agency: equal agencies must
    hash alike (a set, a dict, an lru_cache), and an edited one must be a new key."""
    folder = instance / "agencies"
    write_agency(instance, "minimal", MINIMAL)
    first, _ = agencies.read(folder, "minimal")
    again, _ = agencies.read(folder, "minimal")
    assert again == first and hash(again) == hash(first) and len({first, again}) == 1
    write_agency(instance, "minimal", MINIMAL.replace("Тестовая школа", "Тестовая школа № 2"))
    edited, _ = agencies.read(folder, "minimal")
    assert edited != first and len({first, again, edited}) == 2


def test_the_schema_imports_neither_flask_nor_babel():
    """The model of an agency file is for tools and for other modules' types too: it must
    not bring the web framework with it. Only the schema and what it imports are run
    here, not the packages' __init__ files: widget's builds the app, and the agencies'
    serves requests (``load``)."""
    code = textwrap.dedent(
        f"""
        import sys, types
        for name in ("widget", "widget.agencies"):
            package = types.ModuleType(name)
            package.__path__ = [{str(ROOT)!r} + "/" + name.replace(".", "/")]
            sys.modules[name] = package
        import widget.agencies.schema
        print(sorted({{m.partition(".")[0] for m in sys.modules}} & {{"flask", "flask_babel"}}))
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
