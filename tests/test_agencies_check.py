"""`flask agencies check`: every mistake an agency's staff can make in a file is named
as `path: field: message`, and any of them makes the command fail."""

from __future__ import annotations

import pytest

from tests.agency_files import GOOD, check, problem_for
from tests.conftest import write_agency
from widget import agencies
from widget.agencies import lint, schema


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
        f"{path}: file: never served, the name is not <agency-id>.toml ({schema.ID_RULE})"
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
    for key in lint.TEXT_KEYS:  # the base gives ru and en texts, not de
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
    assert found == ['routing_key: missing; add it, such as routing_key = "57.education.school-1"']


# A file as staff write it, with a mistake on every line that starts with "!": the test
# takes the "!" off and expects that line's number and the message after "|" (which goes
# on in lines that start with "    |").
MISTAKES = """extends = "_bases/orel"
name = "МБОУ «Школа № 1»"
routing_key = "57.education.school-1"
!shortname = "Школа № 1"  | shortname: unknown key; did you mean short_name?
!region = 57  | region: text in quotes is needed, got 57
!browser_language = "да"  | browser_language: true or false (without quotes) is needed, got 'да'
!embed_origins = "https://school1.example.ru"  | embed_origins: a list in square brackets, such as
    | ["…", "…"], is needed, got 'https://school1.example.ru'
languages = ["ru", "en"]

[contact]
!emial = "required"  | contact.emial: unknown key; did you mean email?
!phone = "maybe"  | contact.phone: one of 'required', 'optional' or 'hidden' is needed, got 'maybe'

[[topics]]
id = "food"
title = { ru = "Питание", en = "Meals" }

![[topics]]  | topics.1.title: missing; add it, such as title = "Питание"
!id = "Уроки"  | topics.1.id: an id of lower-case Latin letters, digits, - and _, such as "food",
    | is needed, got 'Уроки'
!titel = "Уроки"  | topics.1.titel: unknown key; did you mean title?

[[topics]]
id = "other"
!title = 5  | topics.2.title: text in quotes, or a table of texts by language such as { ru = "…",
    | en = "…" }, is needed, got 5
!answer_within_days = 400  | topics.2.answer_within_days: 400 is too large: at most 365

[texts.en]
!consnt = "I agree"  | texts.en.consnt: unknown key; did you mean consent?
!intro = ""  | texts.en.intro: empty; write the text or remove the key
!description = "%s"  | texts.en.description: too long: 301 characters, at most 300

[theme]
!accent = "blue"  | theme.accent: a colour like #0d4cd3 is needed, got 'blue'
!logo = "Logo.GIF"  | theme.logo: a file name in the logos folder ending .svg, .png or .jpg, such
    | as orel-city.svg, is needed, got 'Logo.GIF'

[limits]
!per_ip = "lots"  | limits.per_ip: not a rate limit such as '5 per hour': 'lots'

[attachments]
!max_files = "три"  | attachments.max_files: a whole number (without quotes) is needed, got 'три'
!max_mb = 50  | attachments.max_mb: 50 is too large: at most 20
types = [
  "image/jpeg",
!  "image/gif",  | attachments.types.1: one of 'image/jpeg', 'image/png', 'image/heic',
    | 'image/heif' or 'application/pdf' is needed, got 'image/gif'
]
""" % ("x" * 301)


def test_every_schema_problem_gets_its_line_and_plain_words(instance):
    body, expected = [], []
    for line in MISTAKES.splitlines():
        if line.startswith("    | "):  # the message above goes on
            number, message = expected.pop()
            expected.append((number, message + " " + line[len("    | ") :]))
            continue
        if line.startswith("!"):
            line, message = line[1:].split("  | ")
            expected.append((len(body) + 1, message))
        body.append(line)
    path = write_agency(instance, "school-1", "\n".join(body) + "\n")
    found = check(instance, ["school-1"])
    assert sorted(found) == sorted(f"{path}:{number}: {message}" for number, message in expected)


PYDANTIC_WORDS = ("Input should", "String should", "Extra inputs", "Field required", "Value error")


@pytest.mark.parametrize(
    "change, expected",
    [
        ("theme = 'blue'", "theme: a table ([theme] on a line of its own) is needed, got 'blue'"),
        ("languages = []", "languages: an empty list; at least one is needed"),
        (
            'languages = ["RU"]',
            'languages.0: a language code of 2 or 3 lower-case letters, such as "ru", is '
            "needed, got 'RU'",
        ),
        ('name = ""', "name: empty; write the text or remove the key"),
        ("\n[attachments]\ntypes = []", "attachments.types: an empty list; at least one is needed"),
        (
            "\n[attachments]\nmax_mb = 2.5",
            "attachments.max_mb: a whole number (without quotes) is needed, got 2.5",
        ),
        ("\n[attachments]\nmax_mb = 0", "attachments.max_mb: 0 is too small: at least 1"),
        (
            '\n[texts.EN]\nintro = "Hi"',
            'texts.EN: a language code of 2 or 3 lower-case letters, such as "ru", is needed, '
            "got 'EN'",
        ),
    ],
)
def test_more_schema_problems_in_plain_words(instance, change, expected):
    """``change`` replaces the line of GOOD that sets the same key; a table goes at the end."""
    key = change.split(" = ")[0]
    kept = "\n".join(line for line in GOOD.splitlines() if not line.startswith(f"{key} = "))
    body = f"{kept}\n{change}\n" if change.startswith("\n[") else f"{change}\n{kept}\n"
    found = problem_for(instance, body)
    assert found == [expected]
    assert not [word for word in PYDANTIC_WORDS if word in found[0]]


def test_an_empty_topic_list_is_named_on_its_line(instance):
    body = GOOD[: GOOD.index("[[topics]]")] + "topics = []\n"
    path = write_agency(instance, "school-1", body)
    assert check(instance, ["school-1"]) == [
        f"{path}:{len(body.splitlines())}: topics: an empty list; at least one is needed"
    ]


def test_a_problem_in_a_base_names_the_base_and_its_line(instance):
    base = instance / "agencies" / "_bases" / "orel.toml"
    lines = base.read_text(encoding="utf-8").splitlines()
    number = lines.index('accent = "#0d4cd3"') + 1
    lines[number - 1] = 'accent = "navy"'
    base.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = write_agency(instance, "school-1", GOOD)
    assert check(instance, ["school-1"]) == [
        f"{base}:{number}: theme.accent: a colour like #0d4cd3 is needed, got 'navy' "
        f"({path.name} gets it from this base)"
    ]


def test_a_key_the_agency_sets_itself_is_its_own_even_when_the_base_has_it(instance):
    path = write_agency(instance, "school-1", GOOD + '\n[theme]\naccent = "navy"\n')
    (line,) = check(instance, ["school-1"])
    assert line.startswith(f"{path}:{len(GOOD.splitlines()) + 3}: theme.accent: ")


def test_the_checks_beyond_the_schema_name_the_line_too(instance):
    path = write_agency(instance, "school-1", GOOD + '\n[theme]\naccent = "#7fb2ff"\n')
    (line,) = check(instance, ["school-1"])
    assert line.startswith(f"{path}:{len(GOOD.splitlines()) + 3}: theme.accent: #7fb2ff on white")


def test_broken_toml_names_the_line(instance):
    path = write_agency(instance, "school-1", GOOD.replace('title = "Питание"', 'title = "Питание'))
    (line,) = check(instance, ["school-1"])
    number = GOOD.splitlines().index('title = "Питание"') + 1
    assert line.startswith(f"{path}:{number}: toml: ")


def test_lines_are_found_past_multi_line_strings_and_arrays(instance):
    body = GOOD.replace(
        "[[topics]]",
        'embed_origins = [\n  "https://a.example.ru",  # main site\n  "https://b.example.ru",\n]\n'
        '[texts.ru]\nintro = """\n[theme]\naccent = "x"\n"""\n\n[[topics]]',
    ).replace('embed_origins = ["https://school1.example.ru"]\n', "")
    body += '\n[theme]\naccent = "green"\n'
    path = write_agency(instance, "school-1", body)
    (line,) = check(instance, ["school-1"])
    assert line.startswith(f"{path}:{len(body.splitlines())}: theme.accent: ")


# --- routing keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, words",
    [
        ("57.school-1", "not of the form <region>.<sector>.<agency-id>"),
        ("57.edu.school-1", "'edu' is not one of the sectors"),
        ("77.education.school-1", "region is '57'"),
        ("57.education.school-2", "not the agency id 'school-1'"),
    ],
)
def test_a_routing_key_no_documented_binding_routes_is_a_warning(instance, runner, key, words):
    path = write_agency(instance, "school-1", GOOD.replace("57.education.school-1", key))
    (line,) = check(instance, ["school-1"])
    assert line.startswith(f"{path}:3: warning: routing_key: ") and words in line
    result = runner.invoke(args=["agencies", "check", "school-1"])
    assert result.exit_code == 0, result.output
    assert line in result.output.splitlines()
    assert "1 file(s) checked, no problems, 1 warning(s)" in result.output


def test_an_unknown_id_given_on_the_command_line_is_a_problem(instance):
    found = check(instance, ["no-such-school"])
    assert found == [f"{instance / 'agencies' / 'no-such-school.toml'}: file: no such agency file"]


def test_the_demo_agencies_have_no_problems(instance):
    assert check(instance) == []


def test_the_command_prints_problems_and_fails(instance, runner):
    write_agency(instance, "school-1", GOOD + '\n[theme]\naccent = "#ffff00"\n')
    result = runner.invoke(args=["agencies", "check"])
    assert result.exit_code == 1
    assert f"{instance / 'agencies' / 'school-1.toml'}:12: theme.accent: " in result.output
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
