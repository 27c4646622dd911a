"""The two sites a browser test talks to, each a real HTTP server in a thread.

- The widget: the real app (``create_app``) on ``http://127.0.0.1:<port>``, with a
  throw-away instance holding a copy of the demo agencies and ``browser-school``, a test
  agency whose ``embed_origins`` lists the host site.
- The host site: a fake agency website on ``http://localhost:<port>`` that embeds the
  widget in an ``<iframe>``. ``localhost`` and ``127.0.0.1`` are different *sites*, so the
  widget really is a third party there, as it is on an agency's real website. A second
  host on another port is an origin the agency did not list.

The host site also answers at ``http://127.0.0.1:<port>/cookie-probe`` with a cookie:
framed by a ``localhost`` page that is a third-party cookie, which tells which cookie
mode the browser is in.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, abort, request
from markupsafe import Markup, escape
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from widget import agencies, create_app, outbox
from widget.web.snippet import snippet_for

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO_AGENCIES = ROOT / "instance" / "agencies"
TEST_AGENCY = "browser-school"
# A copy of the test agency that takes one submission an hour from an address: its
# second POST meets the real rate limiter and its 429 page.
FLOODED_AGENCY = "browser-flooded"


class QuietHandler(WSGIRequestHandler):
    """No access log: it would only clutter the test output."""

    def log_request(self, *args, **kwargs) -> None:
        pass


def serve(app, host: str = "127.0.0.1") -> BaseWSGIServer:
    server = make_server(host, 0, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, name=f"serve-{host}", daemon=True).start()
    return server


@dataclass
class PostGate:
    """Holds POSTs at the door until ``expected`` of them are inside at once, so that
    a double submission really reaches the app twice, concurrently."""

    timeout: float = 5.0
    barrier: threading.Barrier | None = None
    seen: list[str] = field(default_factory=list)

    def arm(self, expected: int) -> None:
        self.seen = []
        self.barrier = threading.Barrier(expected, timeout=self.timeout)

    def disarm(self) -> None:
        self.barrier = None

    def arrived(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` POSTs have reached the gate."""
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.seen) >= count

    def wait(self, path: str) -> None:
        self.seen.append(path)
        barrier = self.barrier
        if barrier is not None:
            # a broken barrier lets the POST through: the test counts ``seen`` and fails
            with suppress(threading.BrokenBarrierError):
                barrier.wait()


class Widget:
    """The real app in a thread, plus what a test needs to look inside."""

    def __init__(self, instance: Path, host_origin: str):
        self.instance = instance
        write_test_agency(instance, host_origin)
        self.app = create_app(
            {
                "secret_key": "browser-test-secret",
                "token_min_seconds": 0,
                "demo": False,
                # every page of a worker's tests comes from 127.0.0.1
                "ratelimit_pages": "100000 per minute",
                "ratelimit_per_agency": "100000 per minute",
                "ratelimit_votes_per_ip": "100000 per minute",
            },
            instance_path=instance,
        )
        self.gate = PostGate()
        self.app.before_request(self._before_request)
        self.requests: list[dict] = []
        self.server = serve(self.app)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _before_request(self) -> None:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "sec_fetch_site": request.headers.get("Sec-Fetch-Site"),
                "sec_fetch_dest": request.headers.get("Sec-Fetch-Dest"),
                "cookie": request.headers.get("Cookie"),
            }
        )
        if request.method == "POST":
            self.gate.wait(request.path)

    def snippet(self, agency_id: str) -> str:
        """The iframe code that /snippet/<agency_id> tells agency staff to paste."""
        with self.app.test_request_context(base_url=self.url):
            agency = agencies.extension(self.app).get(agency_id)
            return snippet_for(self.app, agency, self.url).iframe

    def messages(self, containing: str) -> list[dict]:
        """Outbox rows of messages whose event holds ``containing`` (each test writes a
        unique text); ratings have no text."""
        db = outbox.connect(self.app.config["OUTBOX_PATH"])
        try:
            return [
                row
                for row in db["messages"].rows
                if row["kind"] == "message"
                and row["event"]
                and containing in json.loads(row["event"])["data"]["text"]
            ]
        finally:
            db.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_test_agency(instance: Path, host_origin: str) -> None:
    shutil.copytree(DEMO_AGENCIES, instance / "agencies")
    shutil.copytree(DEMO_AGENCIES.parent / "logos", instance / "logos")
    body = (DEMO_AGENCIES / "orel-school-57.toml").read_text(encoding="utf-8")
    body = body.replace(
        'embed_origins = ["https://school57.example.ru"]',
        f'embed_origins = ["https://school57.example.ru", "{host_origin}"]',
    )
    assert host_origin in body, "the demo school's embed_origins line changed: update sites.py"
    body = body.replace("orel-school-57", TEST_AGENCY)
    # Every test of a worker submits from 127.0.0.1: lift the limits for the test agency.
    limits = '\n[limits]\nper_ip = "{}"\nattempts_per_ip = "10000 per hour"\n'
    (instance / "agencies" / f"{TEST_AGENCY}.toml").write_text(
        body + limits.format("10000 per hour"), encoding="utf-8"
    )
    (instance / "agencies" / f"{FLOODED_AGENCY}.toml").write_text(
        body.replace(TEST_AGENCY, FLOODED_AGENCY) + limits.format("1 per hour"), encoding="utf-8"
    )


HOST_PAGE = """<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<header><a href="/">Главная страница школы</a></header>
<main>
<h1>Обратная связь</h1>
<noscript><p id="no-script">В этом браузере JavaScript выключен.</p></noscript>
{body}
</main>
<footer><a href="/contacts">Контакты</a></footer>
</body>
</html>
"""


def host_app() -> Flask:
    """A fake agency website: a page that embeds the widget (at ``WIDGET_URL``), and
    the cookie probe."""
    app = Flask("host")

    @app.get("/school/<agency_id>")
    def school(agency_id: str):
        src = f"{app.config['WIDGET_URL']}/embed/{escape(agency_id)}"
        if request.args.get("lang"):  # the agency's page may link to its form in a language
            src += f"?lang={escape(request.args['lang'])}"
        frame = Markup(
            f'<iframe src="{src}" title="Форма обратной связи" '
            'style="width: 100%; max-width: 32rem; height: 1500px; border: 1px solid #999">'
            "</iframe>"
        )
        return HOST_PAGE.format(title="Школа — обратная связь", body=frame)

    @app.get("/pasted/<agency_id>")
    def pasted(agency_id: str):
        """A page with the agency's snippet pasted in, exactly as /snippet gives it."""
        return HOST_PAGE.format(title="Школа", body=Markup(app.config["SNIPPET"](agency_id)))

    @app.get("/cookie-check")
    def cookie_check():
        port = request.host.rsplit(":", 1)[1]
        frame = Markup(
            f'<iframe src="http://127.0.0.1:{port}/cookie-probe" title="Проверка cookie"></iframe>'
        )
        return HOST_PAGE.format(title="Проверка cookie", body=frame)

    @app.get("/cookie-probe")
    def cookie_probe():
        if request.host.split(":", 1)[0] != "127.0.0.1":
            abort(404)
        seen = escape(request.cookies.get("probe", "нет"))
        body = f"<p>probe cookie: {seen}</p>"
        response = app.make_response(HOST_PAGE.format(title="probe", body=body))
        response.set_cookie("probe", "1", secure=True, samesite="None")
        return response

    return app


class Sites:
    """Everything a browser test reaches: the widget, a host that may frame it, and a
    host that may not."""

    def __init__(self, instance: Path):
        host, stranger = host_app(), host_app()
        self.host_server = serve(host)
        self.host = f"http://localhost:{self.host_server.server_port}"
        self.widget = Widget(instance, host_origin=self.host)
        host.config["WIDGET_URL"] = stranger.config["WIDGET_URL"] = self.widget.url
        host.config["SNIPPET"] = self.widget.snippet
        self.stranger_server = serve(stranger)
        self.stranger = f"http://localhost:{self.stranger_server.server_port}"

    def host_page(self, agency_id: str = TEST_AGENCY, stranger: bool = False) -> str:
        return f"{self.stranger if stranger else self.host}/school/{agency_id}"

    @property
    def probe_origin(self) -> str:
        return f"http://127.0.0.1:{self.host_server.server_port}"

    def close(self) -> None:
        for server in (self.host_server, self.stranger_server):
            server.shutdown()
            server.server_close()
        self.widget.close()


@contextmanager
def running(instance: Path) -> Iterator[Sites]:
    sites = Sites(instance)
    try:
        yield sites
    finally:
        sites.close()
