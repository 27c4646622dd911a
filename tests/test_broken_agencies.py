"""A broken edit of an agency file: the widget keeps serving the last good version in
every worker that had it, /readyz, /metrics and the log say so, and a file that was
never good gets a 503 page that still shows inside the agency's iframe."""

from __future__ import annotations

import logging
import re

import pytest

from tests.conftest import token_of, write_agency
from tests.prometheus import metric
from tests.server import GUNICORN_ENV, Gunicorn, http_status, http_submit
from widget import agencies, create_app, outbox

SCHOOL = "orel-school-57"
TEXT = "Здравствуйте! В столовой третий день холодный суп 🍲, дети жалуются. Разберитесь пжл"
CITIZEN_TEXT_PATTERN = re.compile(r"toml|\.toml|/|extends|embed_origins|region|Traceback")


def school_file(instance) -> str:
    return (instance / "agencies" / f"{SCHOOL}.toml").read_text(encoding="utf-8")


def post(client, agency_id: str, token: str):
    return client.post(
        f"/embed/{agency_id}",
        data={
            "topic": "food",
            "text": TEXT,
            "email": "mama.vani@example.ru",
            "consent": "y",
            "token": token,
            "website": "",
        },
    )


def frame_ancestors(response) -> list[str]:
    csp = response.headers["Content-Security-Policy"]
    return re.search(r"frame-ancestors ([^;]*)", csp).group(1).split()


def broken_listed(client) -> list[dict]:
    body = client.get("/readyz").get_json()
    return body["agency_files"]["broken"]


def scraped(client, served: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    return metric(text, "otklik_agencies_broken", served=served)


def warnings_about(caplog, name: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "widget.agencies" and name in r.getMessage()
    ]


def test_an_edit_that_breaks_a_file_keeps_the_last_good_version_until_it_is_fixed(
    app, client, instance, caplog
):
    caplog.set_level(logging.INFO, logger="widget.agencies")
    good = school_file(instance)
    form = client.get(f"/embed/{SCHOOL}")
    assert form.status_code == 200
    # Staff rename a key by mistake (short_name → shortname) and save.
    write_agency(
        instance,
        SCHOOL,
        good.replace('short_name = "Школа № 57"', 'shortname = "Школа №57 (новое)"'),
    )

    again = client.get(f"/embed/{SCHOOL}")
    assert again.status_code == 200, "the last good version is still served"
    assert "Школа № 57" in again.get_data(as_text=True)
    assert frame_ancestors(again) == ["'self'", "https://school57.example.ru"]
    # A citizen who opened the form before the edit sends it afterwards: accepted.
    sent = post(client, SCHOOL, token_of(form.get_data(as_text=True)))
    assert sent.status_code == 303
    with app.app_context():
        assert outbox.depth(outbox.get_db())["pending"] == 1
    # ... and so does one who opened it after the edit.
    assert post(client, SCHOOL, token_of(again.get_data(as_text=True))).status_code == 303

    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["ready"] is True
    (listed,) = ready.get_json()["agency_files"]["broken"]
    assert listed["agency"] == SCHOOL
    assert listed["file"] == f"{SCHOOL}.toml"
    assert listed["serving"] == "last good"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", listed["since"])
    assert scraped(client, "last_good") == 1
    for _ in range(5):
        client.get(f"/embed/{SCHOOL}")
    (warning,) = warnings_about(caplog, SCHOOL)  # one per broken edit, not one per request
    assert f"{SCHOOL}.toml" in warning.getMessage() and "shortname" in warning.getMessage()
    assert "serves its last good version" in warning.getMessage()

    write_agency(instance, SCHOOL, good.replace("Школа № 57", "Школа № 57 имени Пушкина"))
    fixed = client.get(f"/embed/{SCHOOL}")
    assert fixed.status_code == 200
    assert "Школа № 57 имени Пушкина" in fixed.get_data(as_text=True)
    assert broken_listed(client) == []
    assert scraped(client, "last_good") == 0


def test_readyz_checks_the_listed_files_again_when_asked(client, instance):
    """Fixed on disk, and no citizen has asked for the form since: /readyz must not go on
    listing it."""
    good = school_file(instance)
    client.get(f"/embed/{SCHOOL}")
    write_agency(instance, SCHOOL, 'region = "орёл"\n' + good)
    client.get(f"/embed/{SCHOOL}")
    assert [b["agency"] for b in broken_listed(client)] == [SCHOOL]
    write_agency(instance, SCHOOL, good)
    assert broken_listed(client) == []


def test_a_file_broken_from_the_start_gets_a_503_framed_by_the_origins_it_lists(
    client, instance, caplog
):
    caplog.set_level(logging.INFO, logger="widget.agencies")
    write_agency(
        instance,
        "orel-kindergarten-12",
        'extends = "_bases/orel"\n'
        'name = "Детский сад № 12"\n'
        'embed_origins = ["https://ds12.example.ru", "https://ds12.orel.example.ru"]\n'
        'routing_key = "57.education.ds-12"\n'
        'theme = { accent = "зелёный" }\n'  # no topics either
        "[[topic]]\n"
        'id = "food"\n'
        'title = "Питание"\n',
    )
    for _ in range(3):
        page = client.get("/embed/orel-kindergarten-12")
        assert page.status_code == 503
        assert frame_ancestors(page) == [
            "'self'",
            "https://ds12.example.ru",
            "https://ds12.orel.example.ru",
        ]
    html = page.get_data(as_text=True)
    assert "Форма временно не работает" in html
    assert "через несколько минут" not in html, "waiting does not fix a configuration error"
    assert 'href="https://www.gosuslugi.ru/"' in html
    visible = re.sub(r"<[^>]+>", " ", html)
    assert not CITIZEN_TEXT_PATTERN.search(visible), "no file names or details for citizens"
    (warning,) = warnings_about(caplog, "orel-kindergarten-12")
    assert "answers 503" in warning.getMessage() and "accent" in warning.getMessage()
    (listed,) = broken_listed(client)
    assert listed["agency"] == "orel-kindergarten-12" and listed["serving"] == "error page"
    assert scraped(client, "error_page") == 1


def test_invalid_origins_in_a_broken_file_are_left_out(client, instance):
    write_agency(
        instance,
        "orel-library-3",
        'name = "Библиотека № 3"\n'
        'region = "57"\n'
        'embed_origins = ["https://lib3.example.ru/contacts", "https://lib3.example.ru", 7]\n'
        'routing_key = "57.culture.library-3"\n',
    )
    page = client.get("/embed/orel-library-3")
    assert page.status_code == 503
    assert frame_ancestors(page) == ["'self'", "https://lib3.example.ru"]


def test_a_file_that_is_not_toml_gets_a_503_framed_by_nobody_else(client, instance):
    write_agency(instance, "orel-library-4", 'name = "Библиотека № 4\nembed_origins = [')
    page = client.get("/embed/orel-library-4")
    assert page.status_code == 503
    assert frame_ancestors(page) == ["'self'"]
    assert "Форма временно не работает" in page.get_data(as_text=True)


def test_an_unparsable_edit_of_a_never_good_file_keeps_the_last_known_origins(client, instance):
    body = 'name = "Библиотека № 5"\nregion = "57"\nembed_origins = ["https://lib5.example.ru"]\n'
    write_agency(instance, "orel-library-5", body)  # no routing key, no topics
    assert frame_ancestors(client.get("/embed/orel-library-5"))[1:] == ["https://lib5.example.ru"]
    write_agency(instance, "orel-library-5", body + "[[topics]\n")
    page = client.get("/embed/orel-library-5")
    assert page.status_code == 503
    assert frame_ancestors(page) == ["'self'", "https://lib5.example.ru"]


def test_a_broken_base_keeps_every_agency_that_extends_it_on_its_last_good_version(
    client, instance, caplog
):
    caplog.set_level(logging.INFO, logger="widget.agencies")
    base = instance / "agencies" / "_bases" / "orel.toml"
    good = base.read_text(encoding="utf-8")
    for agency_id in (SCHOOL, "orel-polyclinic-1"):
        assert client.get(f"/embed/{agency_id}").status_code == 200
    # An editor's stray quote: the base no longer parses.
    write_agency(instance, "_bases/orel", good.replace('region = "57"', 'region = "57'))

    school = client.get(f"/embed/{SCHOOL}")
    assert school.status_code == 200 and "Школа № 57" in school.get_data(as_text=True)
    form = client.get("/embed/orel-polyclinic-1")
    assert form.status_code == 200
    assert post(client, "orel-polyclinic-1", token_of(form.get_data(as_text=True))).status_code in (
        303,
        422,  # the polyclinic's topics differ; what matters is that the form answers
    )
    # Never loaded in this worker: no last good version, but its own origins still hold.
    city = client.get("/embed/orel-city-admin")
    assert city.status_code == 503
    city_file = (instance / "agencies" / "orel-city-admin.toml").read_text(encoding="utf-8")
    origins = re.search(r"embed_origins = \[(.*)\]", city_file).group(1)
    assert frame_ancestors(city)[1:] == re.findall(r'"([^"]+)"', origins)

    logged = [r for r in caplog.records if "_bases/orel.toml is broken" in r.getMessage()]
    assert len(logged) == 1, "one warning for the base, not one per agency extending it"
    assert "orel.toml:3:" in logged[0].getMessage()  # where the TOML breaks
    listed = {b["agency"]: b for b in broken_listed(client)}
    assert set(listed) == {SCHOOL, "orel-polyclinic-1", "orel-city-admin"}
    assert {b["file"] for b in listed.values()} == {"_bases/orel.toml"}
    assert listed[SCHOOL]["serving"] == "last good"
    assert listed["orel-city-admin"]["serving"] == "error page"
    assert scraped(client, "last_good") == 2 and scraped(client, "error_page") == 1

    write_agency(instance, "_bases/orel", good)
    for agency_id in (SCHOOL, "orel-polyclinic-1", "orel-city-admin"):
        assert client.get(f"/embed/{agency_id}").status_code == 200
    assert broken_listed(client) == []
    assert scraped(client, "last_good") == 0 and scraped(client, "error_page") == 0


def test_a_worker_that_never_loaded_the_agency_serves_the_last_good_version_too(instance, config):
    """Two workers, one of which never loaded the agency: both keep the form up, a form
    served by one is accepted by the other, and so after a restart."""
    loaded, fresh = (create_app(config, instance_path=instance).test_client() for _ in range(2))
    form = loaded.get(f"/embed/{SCHOOL}")
    assert form.status_code == 200
    good = school_file(instance)
    write_agency(instance, SCHOOL, good.replace("[[topics]]", "[[topics]]\nlabel = 1", 1))
    assert loaded.get(f"/embed/{SCHOOL}").status_code == 200
    served = fresh.get(f"/embed/{SCHOOL}")
    assert served.status_code == 200 and "Школа № 57" in served.get_data(as_text=True)
    assert frame_ancestors(served) == ["'self'", "https://school57.example.ru"]
    assert post(fresh, SCHOOL, token_of(form.get_data(as_text=True))).status_code == 303
    (listed,) = broken_listed(fresh)
    assert listed["agency"] == SCHOOL and listed["serving"] == "last good"
    restarted = create_app(config, instance_path=instance).test_client()
    assert restarted.get(f"/embed/{SCHOOL}").status_code == 200


def last_good_file(instance, agency_id: str = SCHOOL):
    return instance / "agencies-last-good" / f"{agency_id}.json"


def test_the_last_good_version_is_written_once_per_version(instance):
    """160,000 agencies, several workers: each good version is written once, by the first
    worker to read it, not again by every worker or every cache miss."""
    first = agencies.Registry(instance / "agencies", last_good=instance / "agencies-last-good")
    first.get(SCHOOL)
    written = last_good_file(instance).stat()
    second = agencies.Registry(instance / "agencies", last_good=instance / "agencies-last-good")
    second.get(SCHOOL)
    assert last_good_file(instance).stat().st_mtime_ns == written.st_mtime_ns
    assert list(last_good_file(instance).parent.iterdir()) == [last_good_file(instance)]
    renamed = "Школа № 57 им. А. С. Пушкина"
    write_agency(instance, SCHOOL, school_file(instance).replace("Школа № 57", renamed))
    assert second.get(SCHOOL).short_name == renamed
    assert renamed in last_good_file(instance).read_text(encoding="utf-8")


def test_a_last_good_version_that_no_longer_fits_the_schema_is_ignored(instance):
    """After an upgrade that changed the schema, an old last good file must not be served
    as if it were an agency: the 503 page is."""
    folder = instance / "agencies-last-good"
    agencies.Registry(instance / "agencies", last_good=folder).get(SCHOOL)
    stored = last_good_file(instance).read_text(encoding="utf-8")
    last_good_file(instance).write_text(stored.replace('"topics"', '"topic"'), encoding="utf-8")
    write_agency(instance, SCHOOL, school_file(instance).replace('"#1d6f42"', '"#1d6f4"'))
    registry = agencies.Registry(instance / "agencies", last_good=folder)
    with pytest.raises(agencies.AgencyError) as raised:
        registry.get(SCHOOL)
    assert raised.value.origins == ("https://school57.example.ru",)
    assert [b.last_good for b in registry.broken()] == [None]


def test_a_deleted_agency_leaves_no_last_good_version_behind(instance):
    folder = instance / "agencies-last-good"
    registry = agencies.Registry(instance / "agencies", last_good=folder)
    registry.get(SCHOOL)
    good = school_file(instance)
    (instance / "agencies" / f"{SCHOOL}.toml").unlink()
    with pytest.raises(agencies.AgencyNotFound):
        registry.get(SCHOOL)
    write_agency(instance, SCHOOL, good.replace('"#1d6f42"', '"#1d6f4"'))
    with pytest.raises(agencies.AgencyError):
        agencies.Registry(instance / "agencies", last_good=folder).get(SCHOOL)


def test_the_503_page_of_a_broken_agency_speaks_the_language_asked(client, instance):
    write_agency(
        instance,
        "orel-museum-2",
        'name = "Краеведческий музей"\n'
        'region = "57"\n'
        'languages = ["ru", "en"]\n'
        'embed_origins = ["https://museum.example.ru"]\n'
        'routing_key = "57.culture.museum"\n',  # no topics
    )
    english = client.get("/embed/orel-museum-2?lang=en")
    assert english.status_code == 503
    html = english.get_data(as_text=True)
    assert '<html lang="en"' in html
    assert "The form is not working at the moment" in html
    assert "there is an error in its settings" in html
    assert "Форма временно не работает" not in html
    russian = client.get("/embed/orel-museum-2?lang=xx").get_data(as_text=True)
    assert '<html lang="ru"' in russian and "Форма временно не работает" in russian


def test_a_broken_english_only_agency_gets_its_503_page_in_english(client, instance):
    write_agency(
        instance,
        "orel-expats-1",
        'name = "Help desk for foreign students"\n'
        'region = "57"\n'
        'languages = ["en"]\n'
        'routing_key = "57.education.foreign"\n'
        "[[topic]]\n"  # a typo: [[topics]]
        'id = "visa"\n',
    )
    page = client.get("/f/orel-expats-1")
    assert page.status_code == 503
    assert "The form is not working at the moment" in page.get_data(as_text=True)


def test_the_standalone_page_of_a_broken_agency_answers_from_the_last_good_version(
    client, instance
):
    assert client.get(f"/f/{SCHOOL}").status_code == 200
    write_agency(instance, SCHOOL, school_file(instance) + "\nunknown_key = true\n")
    assert client.get(f"/f/{SCHOOL}").status_code == 200


def test_the_last_good_version_outlives_the_cache(instance):
    """A busy worker evicts a rarely asked agency from its cache: broken meanwhile, its
    form must still come back from the last good version, not the 503 page."""
    registry = agencies.Registry(instance / "agencies", size=2)
    good = registry.get(SCHOOL)
    write_agency(instance, SCHOOL, school_file(instance).replace('"#1d6f42"', '"#1d6f4"'))
    assert registry.get(SCHOOL) is good
    for other in ("orel-polyclinic-1", "orel-city-admin"):
        registry.get(other)
    assert len(registry) == 2  # the school is out of the cache ...
    assert registry.get(SCHOOL) is good  # ... but not forgotten
    assert [b.agency_id for b in registry.broken()] == [SCHOOL]


def test_a_base_named_but_missing_is_the_naming_files_fault(client, instance):
    assert client.get(f"/embed/{SCHOOL}").status_code == 200
    write_agency(instance, SCHOOL, school_file(instance).replace("_bases/orel", "_bases/orel-2026"))
    assert client.get(f"/embed/{SCHOOL}").status_code == 200
    (listed,) = broken_listed(client)
    assert listed["file"] == f"{SCHOOL}.toml" and listed["serving"] == "last good"
    (instance / "agencies" / "_bases" / "orel-2026.toml").write_text(
        (instance / "agencies" / "_bases" / "orel.toml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    assert broken_listed(client) == []  # the base it names has appeared


def test_after_a_broken_edit_every_gunicorn_worker_serves_the_form_and_accepts_it(instance):
    """Four workers, one of which loaded the form before the edit: the iframe must not
    flip between the form and the 503 page, and a form posted to any worker is accepted."""
    server = Gunicorn(instance, workers=4, env=GUNICORN_ENV)
    try:
        assert http_status(server.url + f"/embed/{SCHOOL}") == 200
        write_agency(instance, SCHOOL, school_file(instance).replace('"#1d6f42"', '"green"'))
        assert [http_status(server.url + f"/embed/{SCHOOL}") for _ in range(16)] == [200] * 16
        assert [http_submit(server.url) for _ in range(4)] == [303] * 4
    finally:
        log = server.stop()
    assert "is broken" in log and "serves its last good version" in log
    assert "answers 503" not in log
