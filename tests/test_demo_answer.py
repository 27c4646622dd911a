"""`flask demo answer`: a newcomer answers their own message on the demo instance, and
the answer arrives the real way (the spool intake, `flask listen`) on its page."""

from __future__ import annotations

from pathlib import Path

from tests.answers import rate, receipt_of, sent, text_of
from widget import create_app

ANSWER = "Здравствуйте!\nСуп в столовой теперь подают горячим 🍲\nАдминистрация"


def inbound(app) -> list[Path]:
    return sorted(Path(app.config["UPDATES_URL"].removeprefix("spool:")).glob("*.json"))


def test_what_is_no_answer_is_refused_with_a_clear_word(app, client, runner):
    done = sent(client)
    said = runner.invoke(args=["demo", "answer", "K7M2-9QX", "Здравствуйте"])
    assert said.exit_code == 1 and "is no receipt" in said.output
    said = runner.invoke(args=["demo", "answer", receipt_of(done)])
    assert said.exit_code == 1 and "an answer needs its TEXT" in said.output
    said = runner.invoke(args=["demo", "answer", "K7M2-9QXD", "Здравствуйте"])
    assert said.exit_code == 1 and "no message K7M2-9QXD in this instance's outbox" in said.output
    said = runner.invoke(args=["demo", "answer", receipt_of(done), "Ответ " * 5000])
    assert said.exit_code == 1 and "longer than 20,000 characters" in said.output
    assert inbound(app) == []


def test_a_real_instance_refuses_to_make_up_answers(instance):
    real = create_app({"secret_key": "s", "demo": False}, instance_path=instance)
    said = real.test_cli_runner().invoke(args=["demo", "answer", "K7M2-9QXD", "Здравствуйте"])
    assert said.exit_code == 1 and "only on a demo instance" in said.output


def test_the_answer_arrives_through_the_listener_and_can_be_rated(app, client, runner):
    done = sent(client)
    said = runner.invoke(args=["demo", "answer", receipt_of(done).lower(), ANSWER])
    assert said.exit_code == 0, said.output
    assert len(inbound(app)) == 1
    assert "Дан ответ" not in text_of(client.get(done))  # not yet: the listener takes it
    taken = runner.invoke(args=["listen", "--once"])
    assert taken.exit_code == 0, taken.output
    assert inbound(app) == []
    page = text_of(client.get(done))
    assert "Статус: Дан ответ" in page and "Суп в столовой теперь подают горячим 🍲" in page
    assert rate(client, done, solved="yes", score="5").status_code == 303
    runner.invoke(args=["demo", "answer", receipt_of(done), "--status", "closed"])
    runner.invoke(args=["listen", "--once"])
    assert "Статус: Закрыто" in text_of(client.get(done))
