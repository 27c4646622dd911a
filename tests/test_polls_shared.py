"""Two instances sharing the real Redis keep one tally of a poll."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import token_of
from tests.deployments import instance_app
from tests.polls import counts, url, write_poll
from tests.services import require
from widget import create_app, outbox

SCHEMA = json.loads(
    (Path(__file__).parent.parent / "docs" / "voted.schema.json").read_text(encoding="utf-8")
)
GOOD = {"q-priority": "park", "q-mood": "5"}


def test_two_instances_on_one_redis_show_one_tally(instance, tmp_path):
    require(6379, "Redis")
    write_poll(instance, "dvor")
    prefix = f"otklik-test-{uuid.uuid4().hex}"
    a, b = (instance_app(instance, tmp_path, n, prefix) for n in ("a", "b"))
    for app, ip in ((a, "203.0.113.1"), (b, "203.0.113.2"), (b, "203.0.113.3")):
        client = app.test_client()
        page = client.get(url("dvor"), environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
        data = {"token": token_of(page), "website": "", **GOOD}
        assert (
            client.post(url("dvor"), data=data, environ_base={"REMOTE_ADDR": ip}).status_code == 303
        )
    assert counts(a, "dvor") == counts(b, "dvor")
    assert counts(a, "dvor")[("", "")] == 3 and counts(a, "dvor")[("mood", "5")] == 3
    html = a.test_client().get(url("dvor", "/results")).get_data(as_text=True)
    assert "Голосов на эту минуту: 3." in html
    with b.app_context():
        events = [json.loads(e) for (e,) in outbox.get_db().execute("SELECT event FROM messages")]
    assert len(events) == 2
    for event in events:
        jsonschema.validate(event, SCHEMA)
    a.extensions["otklik.tallies"].client.delete(
        f"{prefix}:tally:orel-city-admin:dvor", f"{prefix}:questions:orel-city-admin:dvor"
    )


@pytest.mark.parametrize("uri", ["memcached://x", "sqlite"])
def test_a_wrong_tallies_uri_stops_the_start(instance, uri):
    from widget.settings import SettingsError

    with pytest.raises(SettingsError, match="tallies_uri"):
        create_app({"secret_key": "k", "demo": True, "tallies_uri": uri}, instance_path=instance)
