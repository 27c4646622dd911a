"""Fixtures: a throw-away instance, the app, a client whose every page goes through one
checker (valid HTML, unique ids, no script, CSP, no cookie), and a tiny disk to fill."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from tests.pages import NU, check_response
from widget import create_app

ROOT = Path(__file__).resolve().parent.parent
DEMO_AGENCIES = ROOT / "instance" / "agencies"

# public_url is required outside demo mode. Every app the tests build, in this process or
# in a server they start (which inherits the environment), gets the test client's own
# address unless a test says otherwise.
os.environ["OTKLIK_PUBLIC_URL"] = "http://localhost"


class CheckedClient(FlaskClient):
    """A test client that checks every response it gets."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        response.get_data()  # buffer it, then free what the request held open:
        response.close()
        response.request.input_stream.close()  # werkzeug leaves it open without redirects
        check_response(response)
        return response


@pytest.fixture(scope="session", autouse=True)
def page_checker():
    """The HTML validator behind check_response, started before the first test."""
    NU.start()


@pytest.fixture
def instance(tmp_path) -> Path:
    """A fresh instance folder holding a copy of the demo agencies and their logos."""
    folder = tmp_path / "instance"
    shutil.copytree(DEMO_AGENCIES, folder / "agencies")
    shutil.copytree(DEMO_AGENCIES.parent / "logos", folder / "logos")
    return folder


@pytest.fixture
def config() -> dict:
    """Settings for the test app; tests change them before asking for ``app``."""
    return {
        "secret_key": "test-secret",
        "token_min_seconds": 0,
        "demo": True,
    }


@pytest.fixture
def app(instance, config):
    app = create_app(config, instance_path=instance)
    app.test_client_class = CheckedClient
    return app


@pytest.fixture
def client(app) -> CheckedClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def token_of(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def receipt_in(location: str) -> str:
    """The receipt a done page's URL names (its path ends with it; a seal follows)."""
    return urlsplit(location).path.rsplit("/", 1)[1]


def write_agency(instance: Path, agency_id: str, body: str) -> Path:
    path = instance / "agencies" / f"{agency_id}.toml"
    path.write_text(body, encoding="utf-8")
    # make the change visible to an mtime check even within one timestamp tick
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    return path


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs, mounted for the test: a disk that really fills up."""
    folder = tmp_path / "disk"
    folder.mkdir()
    problem = None
    if os.geteuid() != 0:
        problem = "mounting a tmpfs needs root (CI runs the tests as root)"
    else:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if mounted.returncode != 0:
            problem = f"cannot mount a tmpfs: {mounted.stderr.strip()}"
    if problem:  # a laptop may lack it; under CI the full-disk tests must run
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


def fill_disk(folder) -> None:
    """Write zeros until the disk has not one byte left."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
