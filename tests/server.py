"""The real server in a subprocess: gunicorn with the production config; and citizens
who reach it over real HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import token_of
from tests.forms import SCHOOL
from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent


class Gunicorn:
    def __init__(self, instance: Path, workers: int = 3, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = instance / "server.log"
        environ = {
            **os.environ,
            "OTKLIK_INSTANCE_PATH": str(instance),
            "OTKLIK_BIND": f"127.0.0.1:{self.port}",
            "OTKLIK_WORKERS": str(workers),
            **(env or {}),
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "wsgi:app"],
                cwd=ROOT,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start:\n{self.log.read_text()}")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        return self.log.read_text(encoding="utf-8", errors="replace")


# -- citizens over real HTTP -----------------------------------------------------------

UNIQUE = {
    "name": "Евлампия Тестовая-Уникальная",
    "email": "evlampia.q7z@example.ru",
    "phone": "+7 999 765-43-21",
    "text": "Уникальный текст сообщения 9f3c1e: в подъезде не горит свет.",
}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def post(url: str, data: dict) -> tuple[int, dict]:
    body = urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(url, data=body)
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as e:
        e.close()
        return e.code, dict(e.headers)


def submit(server, i: int, results: list) -> None:
    form_url = f"{server.url}/embed/orel-school-57"
    with urllib.request.urlopen(form_url, timeout=20) as response:
        html = response.read().decode()
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    status, headers = post(form_url, {**UNIQUE, "topic": "food", "consent": "y", "token": token})
    results.append((status, headers.get("Location", "")))
    if i % 2 == 0:  # a double press of Submit
        results.append(
            post(form_url, {**UNIQUE, "topic": "food", "consent": "y", "token": token})[1].get(
                "Location", ""
            )
        )


def http_post(url: str, data: dict) -> int:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode())
    try:
        with opener.open(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as e:
        e.close()
        return e.code


def http_submit(base: str, token_from: str | None = None) -> int:
    """GET the form (from ``token_from`` if given), then POST it to ``base``."""
    with urllib.request.urlopen((token_from or base) + SCHOOL, timeout=20) as response:
        token = token_of(response.read().decode())
    data = {"topic": "food", "text": "Суп холодный.", "email": "a@example.ru", "consent": "y"}
    return http_post(base + SCHOOL, {**data, "token": token})


def in_parallel(calls) -> list:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda call: call(), calls))


# gunicorn for tests that post at once, several workers sharing one secret key
GUNICORN_ENV = {"OTKLIK_TOKEN_MIN_SECONDS": "0", "OTKLIK_SECRET_KEY": "shared-secret"}


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as e:
        e.close()
        return e.code
