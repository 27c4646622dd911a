"""The spec's errors: a list of ``{code, description}`` (``<errors><error>`` in XML),
answered with the HTTP status the code names (400, 403, 404; 429 and 503 for the
limits and the outbox)."""

from __future__ import annotations


class Open311Error(Exception):
    """What is wrong with a request, each problem a description of its own."""

    def __init__(self, status: int, *descriptions: str, headers: dict | None = None):
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions
        self.headers = headers or {}

    def document(self) -> list[dict]:
        return [{"code": self.status, "description": d} for d in self.descriptions]


def bad(*descriptions: str) -> Open311Error:
    return Open311Error(400, *descriptions)


def forbidden(description: str) -> Open311Error:
    return Open311Error(403, description)


def not_found(description: str) -> Open311Error:
    return Open311Error(404, description)
