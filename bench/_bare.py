"""The baseline for a submission: a bare Flask route that validates a form with
WTForms and inserts one row into SQLite with the outbox's settings (WAL,
synchronous=FULL, the same busy timeout), one connection per worker process.

bench/web.py runs it under the same gunicorn.conf.py as the widget; the database
is $OTKLIK_BENCH_DB.
"""

import json
import os
import sqlite3
import time
import uuid

from flask import Flask, redirect, request
from wtforms import BooleanField, Form, RadioField, StringField, TextAreaField
from wtforms.validators import AnyOf, Email, InputRequired, Length, Optional

app = Flask(__name__)
TOPICS = ["food", "lessons", "building", "other"]
_db = None


class Feedback(Form):
    topic = RadioField(choices=TOPICS, validators=[InputRequired(), AnyOf(TOPICS)])
    text = TextAreaField(validators=[InputRequired(), Length(max=5000)])
    name = StringField(validators=[Optional(), Length(max=200)])
    email = StringField(validators=[Optional(), Length(max=254), Email()])
    consent = BooleanField()
    token = StringField()


def db() -> sqlite3.Connection:
    global _db
    if _db is None:
        _db = sqlite3.connect(os.environ["OTKLIK_BENCH_DB"], timeout=10)
        _db.execute("PRAGMA journal_mode=WAL")
        _db.execute("PRAGMA synchronous=FULL")
        _db.execute("PRAGMA busy_timeout=10000")
        with _db:
            _db.execute(
                "CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY,"
                " token_nonce TEXT NOT NULL UNIQUE, event TEXT, created_at REAL NOT NULL)"
            )
    return _db


@app.get("/")
def ready():
    db()
    return "ok"


@app.post("/")
def submit():
    form = Feedback(request.form)
    if not form.validate():
        return "invalid", 422
    event_id, now = str(uuid.uuid4()), time.time()
    with db() as conn:
        conn.execute(
            "INSERT INTO messages (id, token_nonce, event, created_at) VALUES (?, ?, ?, ?)",
            [event_id, form.token.data, json.dumps(form.data, ensure_ascii=False), now],
        )
    return redirect("/done", 303)
