"""Service settings: defaults, settings.toml, OTKLIK_* variables, and clear errors."""

from __future__ import annotations

import pytest

from widget import create_app, settings
from widget.settings import SettingsError, load


def write(instance, text):
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "settings.toml").write_text(text, encoding="utf-8")


def test_defaults_need_a_secret_key_outside_demo(tmp_path):
    with pytest.raises(SettingsError, match=r"^secret_key: required unless demo = true"):
        load(tmp_path, environ={})


def test_demo_runs_without_a_secret_key(tmp_path):
    values = load(tmp_path, {"demo": True}, environ={})
    assert values["SECRET_KEY"] and values["DEMO"] is True


def test_the_file_overrides_defaults_and_the_environment_overrides_the_file(tmp_path):
    write(tmp_path, 'secret_key = "from-file"\ntoken_max_age = 600\n')
    values = load(tmp_path, environ={"OTKLIK_TOKEN_MAX_AGE": "900", "OTKLIK_DEMO": "true"})
    assert values["SECRET_KEY"] == "from-file"
    assert values["TOKEN_MAX_AGE"] == 900
    assert values["DEMO"] is True


def test_list_settings_come_from_the_environment_as_json(tmp_path):
    values = load(
        tmp_path,
        environ={
            "OTKLIK_SECRET_KEY": "new",
            "OTKLIK_SECRET_KEY_FALLBACKS": '["old"]',
            "OTKLIK_PUBLIC_URL": "https://otklik.example.ru",
        },
    )
    assert values["SECRET_KEY_FALLBACKS"] == ["old"]


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OTKLIK_TOKEN_MAX_AGE": "soon"}, "token_max_age: expected a whole number"),
        ({"OTKLIK_DEMO": "perhaps"}, "demo: expected true or false"),
        ({"OTKLIK_SECRET_KEY_FALLBACKS": "old"}, "secret_key_fallbacks: expected a JSON list"),
    ],
)
def test_a_bad_environment_value_is_named(tmp_path, environ, named):
    with pytest.raises(SettingsError, match=named):
        load(tmp_path, environ={"OTKLIK_SECRET_KEY": "x", **environ})


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('secret_key = "x"\ntoken_max_age = "an hour"\n', "token_max_age: expected a whole number"),
        ('secret_key = "x"\ntoken_max_age = -5\n', "token_max_age: expected a whole number"),
        ('secret_key = "x"\nsecret_kee = "typo"\n', "secret_kee: unknown setting"),
        ('secret_key = "x"\ndemo = "yes"\n', "demo: expected true or false"),
        ("secret_key = \n", "settings.toml"),
    ],
)
def test_a_bad_settings_file_is_named(tmp_path, text, named):
    write(tmp_path, text)
    with pytest.raises(SettingsError, match=named):
        load(tmp_path, environ={})


def test_paths_are_resolved_against_the_instance_folder(tmp_path):
    values = load(tmp_path, {"demo": True}, environ={})
    assert values["OUTBOX_PATH"] == str(tmp_path / "outbox.sqlite3")
    assert values["QUEUE_URL"] == f"spool:{tmp_path / 'outbound'}"


def test_the_instance_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OTKLIK_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("OTKLIK_DEMO", "true")
    assert settings.instance_path() == tmp_path
    app = create_app()
    assert app.instance_path == str(tmp_path)
    assert (tmp_path / "outbox.sqlite3").exists()


def test_the_app_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OTKLIK_DEMO", raising=False)
    monkeypatch.delenv("OTKLIK_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="secret_key"):
        create_app(instance_path=tmp_path)


def test_the_shipped_demo_instance_loads():
    from tests.conftest import ROOT

    values = load(ROOT / "instance", environ={})
    assert values["DEMO"] is True
