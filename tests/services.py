"""Real local services for the tests that need them.

A test that needs RabbitMQ or Redis uses the real one. On a developer's laptop
without it the test skips, with the reason; under CI=true a missing service is a
failure, never a skip.
"""

from __future__ import annotations

import os
import socket

import pytest


def require(port: int, name: str, host: str = "127.0.0.1") -> None:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        message = f"{name} is not running on {host}:{port}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}, and CI=true makes that a failure")
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
