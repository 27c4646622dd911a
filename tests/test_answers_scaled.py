"""Two instances behind one address (issue 18): each with its own instance folder,
outbox, listener and queue, on the one real RabbitMQ, with the same secret_key. A
message sent through A and answered centrally shows its answer on B's page (the seal
opens it there), and B takes its rating, which reaches the central queue."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.answers import forward_all, rate, receipt_of, sent, text_of
from tests.central import Rabbit
from tests.conftest import DEMO_AGENCIES, CheckedClient
from tests.services import require
from tests.updates import Central, Running, history, status_event
from widget import create_app
from widget.transports import open_transport

pytestmark = pytest.mark.services

ANSWER = "Здравствуйте! Горячее питание налажено с 4 декабря, меню — на стенде у столовой 🍲"


def instance(tmp_path, name: str, queue_url: str, updates_url: str):
    folder = tmp_path / name
    shutil.copytree(DEMO_AGENCIES, folder / "agencies")
    app = create_app(
        {
            "secret_key": "one-secret-for-every-instance",
            "token_min_seconds": 0,
            "queue_url": queue_url,
            "updates_url": updates_url,
        },
        instance_path=folder,
    )
    app.test_client_class = CheckedClient
    return app


@pytest.fixture
def rabbit():
    require(5672, "RabbitMQ")
    queue = Rabbit()
    yield queue
    queue.channel.queue_delete(queue.queue)
    queue.channel.exchange_delete(queue.exchange)
    queue.connection.close()


@pytest.fixture
def central():
    require(5672, "RabbitMQ")
    side = Central()
    yield side
    for queue in (f"{side.queue}-b", f"{side.queue}-b.dead"):
        side.channel.queue_delete(queue)
    side.close()


def test_a_message_sent_through_a_is_answered_and_rated_on_b(tmp_path, rabbit, central):
    a = instance(tmp_path, "a", rabbit.url, central.url)
    b_url = central.url.replace(f"queue={central.queue}", f"queue={central.queue}-b")
    b = instance(tmp_path, "b", rabbit.url, b_url)
    with Running(a, central.url), Running(b, b_url):
        done = sent(a.test_client(), text="В столовой опять холодный суп, дети жалуются 😟")
        forward_all(a, open_transport(rabbit.url))
        ((_properties, body),) = rabbit.drain()
        message = json.loads(body)
        assert message["subject"] == receipt_of(done)

        # Answered centrally: one publish, seen by every instance's own queue.
        central.wait_for(lambda: central.count() == (0, 1))
        central.wait_for(lambda: central.count(f"{central.queue}-b") == (0, 1))
        central.publish(
            status_event(
                "answered", receipt=receipt_of(done), message_id=message["id"], answer=ANSWER
            )
        )
        for app in (a, b):
            central.wait_for(lambda app=app: history(app, receipt_of(done)) != [])

        on_b_page = b.test_client()
        assert ANSWER in text_of(on_b_page.get(done))  # B holds no row of the message
        assert rate(on_b_page, done, solved="yes", score="5", comment="Спасибо!").status_code == 303
        assert "вопрос решён — да" in text_of(on_b_page.get(done))

    forward_all(b, open_transport(rabbit.url))
    ((properties, body),) = rabbit.drain()
    rated = json.loads(body)
    assert rated["type"] == "feedback.rated.v1" and rated["subject"] == receipt_of(done)
    assert rated["data"]["message_id"] == message["id"]  # from the update, not B's outbox
    assert rated["data"]["comment"] == "Спасибо!" and properties.delivery_mode == 2
