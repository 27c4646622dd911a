"""Instances of one deployment, each with its own outbox, on the real Redis."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CheckedClient
from widget import create_app


def instance_app(instance: Path, tmp_path: Path, name: str, prefix: str, **settings):
    """One instance of a deployment on the real Redis (its keys under ``prefix``)."""
    app = create_app(
        {
            "secret_key": "test-secret",
            "token_min_seconds": 0,
            "demo": True,
            "tallies_uri": "redis://127.0.0.1:6379/0",
            "tallies_key_prefix": prefix,
            "outbox_path": str(tmp_path / f"{name}.sqlite3"),
            **settings,
        },
        instance_path=instance,
    )
    app.test_client_class = CheckedClient
    return app
