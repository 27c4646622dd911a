"""Statistics (issue 20): bad input first, then what is counted as facts arrive (once
each, in any order), what is shown and what the exports hold."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest

from tests.answers import rate, receipt_of, sent
from tests.conftest import token_of
from tests.polls import url, write_poll
from tests.prometheus import metric
from tests.stats import SCHOOL, THIS_MONTH, TODAY, at, enqueue, post, report, take
from tests.updates import status_event
from widget import create_app, outbox, stats
from widget.stats import exports
from widget.stats.report import Period


def test_an_unknown_scope_region_or_agency_is_refused(app):
    with pytest.raises(ValueError, match="scope"):
        report(app, "planet", "earth")
    with pytest.raises(LookupError):
        report(app, "region", "00")
    with pytest.raises(LookupError):
        report(app, "agency", "no-such-agency")
    assert report(app, "region", "57").name == "Орловская область"  # known, nothing yet


def test_a_period_is_whole_months_and_said_plainly_when_wrong():
    for first, last in (("2026-13", None), ("2026-1", None), ("2026-05", "2026-04")):
        with pytest.raises(ValueError):
            Period.parse(first, last, date(2026, 12, 2))
    assert Period.parse(None, None, date(2026, 12, 2)) == Period("2026-01", "2026-12")


def test_a_decoy_or_a_repeat_is_never_counted(client, app):
    token = token_of(client.get("/embed/orel-school-57").get_data(as_text=True))
    assert post(client, token=token).status_code == 303
    assert post(client, token=token).status_code == 303  # the same press again
    assert post(client, website="http://spam.example").status_code == 303  # a bot: decoy
    with app.app_context():
        (n,) = (
            outbox.get_db()
            .execute("SELECT sum(messages) FROM stats_rows WHERE scope = 'agency'")
            .fetchone()
        )
    assert n == 1


def test_messages_count_by_topic_and_channel_and_below_five_show_as_suppressed(client, app):
    for _ in range(3):
        assert post(client, topic="food").status_code == 303  # embed
    assert report(app).total.messages.suppressed  # 3: "<5"
    enqueue(app, 4, topic="lessons")  # a page's channel
    found = report(app)
    assert found.total.messages.value == 7
    topics = {b.key: b.total for b in found.topics}
    assert topics["food"].suppressed and topics["lessons"].suppressed
    channels = {b.key: b.total for b in found.channels}
    assert channels["embed"].suppressed and channels["page"].suppressed
    region = report(app, "region", "57")
    assert region.total.messages.value == 7
    assert [r.key for r in region.rows] == [SCHOOL]
    assert report(app, "instance", None).rows[0].key == "57"


def test_answers_count_once_from_the_first_answer_against_the_deadline_in_force(app):
    receipts = enqueue(app, 10)
    extended = (TODAY + timedelta(days=60)).isoformat()
    events = [status_event("answered", receipt=r, time=at(2)) for r in receipts[:4]]
    # Answered after 40 days, past the topic's 30: late, unless extended before then
    late = status_event("answered", receipt=receipts[4], time=at(40))
    slow = status_event("answered", receipt=receipts[5], time=at(40))
    # The extension happened before the answer but arrives after it: on time all the same.
    extension = status_event("in_progress", receipt=receipts[5], time=at(20), answer_by=extended)
    # An extension made after the answer changes nothing.
    after = status_event("in_progress", receipt=receipts[4], time=at(41), answer_by=extended)
    again = status_event("answered", receipt=receipts[0], time=at(9))  # a second answer
    assert take(app, *events, late, slow) == [True] * 6
    assert take(app, extension, after, again, events[0]) == [True, True, True, False]
    found = report(app).total
    assert found.messages.value == 10
    assert found.answered.value == 6
    assert found.on_time.value == 5
    assert found.median_days.value == 2 and found.p90_days.value == 40
    bars = {b.label: b.value for b in report(app).answer_days}
    assert bars["1–7"].suppressed and bars["31+"].suppressed  # 4 and 2 answers: "<5"


def test_an_update_for_a_message_another_instance_took_is_not_counted_here(app):
    assert take(app, status_event("answered", receipt="ZZZZ-ZZZZ", time=at(1))) == [True]
    with app.app_context():
        db = outbox.get_db()
        assert db.execute("SELECT count(*) FROM stats_counts").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM stats_rows").fetchone() == (0,)


def test_a_changed_rating_counts_once_as_the_latest(client, app):
    done = [sent(client) for _ in range(5)]
    for d in done:
        take(app, status_event("answered", receipt=receipt_of(d), time=at(1)))
        assert rate(client, d, solved="no", score="2").status_code == 303
    assert rate(client, done[0], solved="yes", score="5").status_code == 303  # changed
    found = report(app).total
    assert found.ratings.value == 5
    assert found.mean_score.value == pytest.approx((5 + 2 * 4) / 5)
    assert found.solved_share.value == pytest.approx(0.2)
    scores = {b.label: b.value for b in report(app).scores}
    assert scores["2"].suppressed and scores["5"].suppressed  # 4 and 1


def test_votes_and_the_polls_they_were_cast_in_are_counted(client, app, instance):
    write_poll(instance, "dvor")
    good = {"q-priority": "park", "q-mood": "4"}

    for i in range(5):
        ip = f"203.0.113.{i + 1}"
        page = client.get(url("dvor"), environ_base={"REMOTE_ADDR": ip})
        data = {"token": token_of(page.get_data(as_text=True)), "website": "", **good}
        assert (
            client.post(url("dvor"), data=data, environ_base={"REMOTE_ADDR": ip}).status_code == 303
        )
    found = report(app, key="orel-city-admin").total
    assert (found.polls.value, found.votes.value) == (1, 5)


def test_the_exports_parse_and_hold_the_report(client, app):
    enqueue(app, 6, topic="food")
    enqueue(app, 2, topic="lessons")
    found = report(app)
    rows = list(csv.DictReader(io.StringIO(exports.to_csv(found))))
    assert tuple(rows[0]) == exports.CSV_COLUMNS
    assert {r["licence"] for r in rows} == {"CC BY 4.0"}
    total = next(r for r in rows if r["section"] == "total")
    assert total["messages"] == "8" and total["ratings"] == "0" and total["mean_score"] == ""
    lessons = next(
        r for r in rows if r["section"] == "topic" and r["row"] == "lessons" and not r["month"]
    )
    assert lessons["messages"] == "" and lessons["suppressed"] == "messages"
    data = json.loads(json.dumps(exports.to_json(found)))
    assert data["licence"]["name"] == "CC BY 4.0" and data["columns"] == list(stats.COLUMNS)
    assert data["total"]["messages"] == {"value": 8, "suppressed": False}
    topic = next(t for t in data["topics"] if t["key"] == "lessons")
    assert topic["total"] == {"value": None, "suppressed": True}


def test_flask_stats_refuses_bad_input_and_prints_the_pages_figures(app, runner, tmp_path):
    assert runner.invoke(args=["stats", "region"]).exit_code == 2  # no KEY
    assert runner.invoke(args=["stats", "instance", "--from", "2026-13"]).exit_code == 2
    result = runner.invoke(args=["stats", "agency", "no-such-agency"])
    assert result.exit_code == 1 and "no agency" in result.output
    enqueue(app, 6)
    enqueue(app, 2, topic="lessons")
    month = THIS_MONTH.first
    args = ["--from", month, "--to", month]
    result = runner.invoke(args=["stats", "agency", SCHOOL, *args])
    assert result.exit_code == 0, result.output
    total = next(line for line in result.output.splitlines() if line.startswith("total"))
    assert total.split()[1:5] == ["8", "0", "0", "—"]  # 8 messages, none answered: no median
    written = tmp_path / "school.csv"
    assert (
        runner.invoke(
            args=["stats", "agency", SCHOOL, *args, "--csv", "-o", str(written)]
        ).exit_code
        == 0
    )
    with app.app_context():
        assert written.read_bytes().decode() == exports.to_csv(report(app))
    result = runner.invoke(args=["stats", "region", "57", *args, "--json"])
    assert json.loads(result.output)["rows"][0]["messages"] == {"value": 8, "suppressed": False}
    national = runner.invoke(args=["stats", "national", *args, "--csv"]).output
    rows = list(csv.DictReader(io.StringIO(national)))
    assert {(r["scope"], r["key"]) for r in rows} == {("instance", ""), ("region", "57")}


def test_prometheus_shows_the_counts_never_by_agency(app, client):
    receipts = enqueue(app, 6)
    take(app, *[status_event("answered", receipt=r, time=at(1)) for r in receipts[:5]])
    scraped = client.get("/metrics").get_data(as_text=True)
    assert metric(scraped, "otklik_stats_messages_total") == 6
    assert metric(scraped, "otklik_stats_answered_total") == 5
    assert metric(scraped, "otklik_stats_on_time_total") == 5
    assert "agency" not in "".join(line for line in scraped.splitlines() if "otklik_stats" in line)


def test_an_agency_removed_from_the_files_keeps_its_figures_under_its_counted_name(app, instance):
    enqueue(app, 5)
    name = report(app).name
    (instance / "agencies" / f"{SCHOOL}.toml").unlink()
    found = report(app)
    assert found.name == name and found.total.messages.value == 5
    assert [t.label for t in found.topics] == ["food"]  # its topics by id now


def test_counts_kept_before_the_rows_table_show_the_same_figures_after_it(
    instance, config, tmp_path
):
    """An outbox whose counts 0007 wrote (every figure a row of stats_counts, the
    instance's too) gives the same pages once 0009 has moved the row figures."""
    path = str(tmp_path / "outbox.sqlite3")
    db = outbox.connect(path)
    outbox.MIGRATIONS.apply(db, stop_before="0009_stats_rows")
    month = THIS_MONTH.first
    figures = {
        "messages": 8, "topic:food": 8, "channel:page": 8, f"day:{TODAY.day:02d}": 8,
        "answered": 7, "on_time": 6, "days:3": 4, "days:10": 3,
        "ratings": 6, "score:4:yes": 4, "score:2:no": 2,
    }  # fmt: skip
    with db.conn:
        for scope, key in (("agency", SCHOOL), ("region", "57"), ("instance", "")):
            db.conn.executemany(
                "INSERT INTO stats_counts (scope, key, month, figure, region, count)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (scope, key, month, figure, "" if scope == "instance" else "57", n)
                    for figure, n in figures.items()
                    if scope == "agency" or not figure.startswith("topic:")
                ],
            )
        db.execute(
            "INSERT INTO stats_agencies (agency_id, region, name) VALUES (?, '57', ?)",
            [SCHOOL, "Школа № 57"],
        )
    db.close()
    app = create_app({**config, "outbox_path": path}, instance_path=instance)
    for scope, key in (("agency", SCHOOL), ("region", "57"), ("instance", None)):
        total = report(app, scope, key).total
        assert (total.messages.value, total.answered.value, total.on_time.value) == (8, 7, 6)
        assert (total.median_days.value, total.p90_days.value) == (3, 10)
        assert (total.ratings.value, total.mean_score.value) == (6, 3.33)
        assert total.solved_share.value == 0.667
    assert [(t.key, t.total.value) for t in report(app).topics] == [("food", 8)]
    (row,) = report(app, "region", "57").rows
    assert (row.key, row.figures.messages.value, row.figures.median_days.value) == (SCHOOL, 8, 3)


def test_a_region_s_report_is_kept_until_a_fact_of_the_region_is_counted(app):
    enqueue(app, 6)
    first = report(app, "region", "57")
    assert report(app, "region", "57") is first  # nothing new: the one made before
    assert report(app, "instance", None) is report(app, "instance", None)
    receipts = enqueue(app, 5)
    assert report(app, "region", "57").total.messages.value == 11
    take(app, *[status_event("answered", receipt=r, time=at(1)) for r in receipts])
    assert report(app, "region", "57").rows[0].figures.answered.value == 5
    assert report(app, "instance", None).total.answered.value == 5
