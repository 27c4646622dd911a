"""`flask agencies check`: every mistake an agency's staff can make in a file is named
as `path: field: message`, and any of them makes the command fail."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    path = write_agency(instance, agency_id, body)
    found = check(instance, [agency_id])
    assert all(line.startswith(f"{path}: ") for line in found), found
    return [line[len(f"{path}: ") :] for line in found]


def test_a_pale_accent_colour_is_refused_with_its_contrast(instance):
    (problem,) = problem_for(instance, GOOD + '\n[theme]\naccent = "#7fb2ff"\n')
    assert problem.startswith("theme.accent: #7fb2ff on white has contrast 2.")
    assert "4.5:1" in problem


def test_an_accent_just_dark_enough_passes(instance):
    # #767676 is the lightest grey with 4.5:1 on white; #777777 falls short.
    assert problem_for(instance, GOOD + '\n[theme]\naccent = "#767676"\n') == []
    assert problem_for(instance, GOOD + '\n[theme]\naccent = "#777777"\n') != []


def test_an_id_key_that_differs_from_the_file_name_is_named(instance):
    (problem,) = problem_for(instance, 'id = "school-2"\n' + GOOD)
    assert problem.startswith("id: is 'school-2', but the file is named school-1.toml")
    assert problem_for(instance, 'id = "school-1"\n' + GOOD) == []


@pytest.mark.parametrize("name", ["School-1.toml", "x.toml", "school_1.toml", "school-1.TOML"])
def test_files_that_would_never_be_served_are_named(instance, name):
    path = instance / "agencies" / name
    path.write_text(GOOD, encoding="utf-8")
    found = check(instance)
    assert found == [
        f"{path}: file: never served, the name is not <agency-id>.toml ({agencies.ID_RULE})"
    ]


@pytest.mark.parametrize(
    "origin, message",
    [
        ("http://school1.example.ru", "must start with https://"),
        ("https://school1.example.ru/feedback", "without a path"),
        ("https://school1.example.ru/", "without a path"),
        ("https://School1.example.ru", "lower case"),
        ("school1.example.ru", "must start with https://"),
    ],
)
def test_embed_origins_must_be_bare_https_origins(instance, origin, message):
    body = GOOD.replace("https://school1.example.ru", origin)
    (problem,) = problem_for(instance, body)
    assert problem.startswith("embed_origins: ") and message in problem


def test_http_localhost_origins_are_allowed_for_local_testing(instance):
    body = GOOD.replace(
        '"https://school1.example.ru"', '"http://localhost:8000", "http://127.0.0.1"'
    )
    assert problem_for(instance, body) == []


def test_a_topic_id_used_twice_is_named(instance):
    (problem,) = problem_for(instance, GOOD + '\n[[topics]]\nid = "food"\ntitle = "Ещё питание"\n')
    assert problem.startswith("topics: ") and "'food' is used twice" in problem


def test_an_extends_cycle_is_named_with_the_whole_chain(instance):
    bases = instance / "agencies" / "_bases"
    (bases / "a.toml").write_text('extends = "_bases/b"\n', encoding="utf-8")
    (bases / "b.toml").write_text('extends = "_bases/a"\n', encoding="utf-8")
    (problem,) = problem_for(instance, GOOD.replace("_bases/orel", "_bases/a"))
    assert problem.startswith("extends: a cycle: ")
    assert "_bases/a.toml → " in problem and "_bases/b.toml → " in problem


def test_a_missing_base_is_named(instance):
    (problem,) = problem_for(instance, GOOD.replace("_bases/orel", "_bases/nowhere"))
    assert problem.startswith("extends: no such base ") and "nowhere.toml" in problem


def test_texts_and_titles_must_exist_in_every_listed_language(instance):
    body = GOOD.replace('languages = ["ru"]', 'languages = ["ru", "de"]')
    found = problem_for(instance, body)
    for key in agencies.TEXT_KEYS:  # the base gives ru and en texts, not de
        assert any(p.startswith(f"texts.de.{key}: missing, but given for ru") for p in found)
    assert any(
        p.startswith("topics.0.title: topic 'food' has one title for 2 languages") for p in found
    )


def test_a_language_the_widget_cannot_speak_is_named(instance):
    """Tatar texts and titles given, but the widget's own words have no Tatar: its
    labels and buttons would be Russian on a page marked lang="tt"."""
    body = GOOD.replace('languages = ["ru"]', 'languages = ["ru", "tt"]').replace(
        'title = "Питание"', 'title = { ru = "Питание", tt = "Туклану" }'
    )
    body += '\n[texts.tt]\nintro = "..."\nconsent = "..."\nsuccess = "..."\ndescription = "..."\n'
    found = problem_for(instance, body)
    assert [p for p in found if p.startswith("languages:")] == [
        "languages: the widget has no translation into 'tt': its own words (labels, buttons, "
        "error messages) would be Russian on the tt page; remove it, or add the translation "
        "(docs/languages.md)"
    ]
    english = GOOD.replace('languages = ["ru"]', 'languages = ["ru", "en"]')
    assert not [p for p in problem_for(instance, english) if p.startswith("languages:")]


def test_a_title_missing_in_one_language_is_named(instance):
    body = GOOD.replace('languages = ["ru"]', 'languages = ["ru", "en"]').replace(
        'title = "Питание"', 'title = { ru = "Питание" }'
    )
    assert problem_for(instance, body) == ["topics.0.title.en: topic 'food' has no title in en"]


def test_schema_problems_name_the_field(instance):
    found = problem_for(instance, GOOD.replace('routing_key = "57.education.school-1"\n', ""))
    assert found == ["routing_key: Field required"]


def test_an_unknown_id_given_on_the_command_line_is_a_problem(instance):
    found = check(instance, ["no-such-school"])
    assert found == [f"{instance / 'agencies' / 'no-such-school.toml'}: file: no such agency file"]


def test_the_demo_agencies_have_no_problems(instance):
    assert check(instance) == []


def test_the_command_prints_problems_and_fails(instance, runner):
    write_agency(instance, "school-1", GOOD + '\n[theme]\naccent = "#ffff00"\n')
    result = runner.invoke(args=["agencies", "check"])
    assert result.exit_code == 1
    assert f"{instance / 'agencies' / 'school-1.toml'}: theme.accent: " in result.output
    assert "1 problem(s) in 4 file(s) checked" in result.output


def test_the_command_succeeds_on_good_files(instance, runner):
    write_agency(instance, "school-1", GOOD)
    result = runner.invoke(args=["agencies", "check", "school-1", "orel-school-57"])
    assert result.exit_code == 0, result.output
    assert "2 file(s) checked, no problems" in result.output


def test_the_parallel_check_finds_what_the_serial_one_finds(instance):
    folder = instance / "agencies"
    for i in range(1200):
        body = GOOD.replace("school-1", f"school-{i}")
        if i in (3, 777, 1199):
            body += '\n[theme]\naccent = "#eeeeee"\n'
        (folder / f"school-{i}.toml").write_text(body, encoding="utf-8")
    serial = agencies.check(folder, workers=1)
    parallel = agencies.check(folder, workers=2)
    assert parallel == serial
    broken = sorted(line.split(":")[0].rsplit("/", 1)[1] for line in parallel)
    assert broken == ["school-1199.toml", "school-3.toml", "school-777.toml"]
