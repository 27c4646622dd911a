"""A submission becomes a CloudEvents 1.0 structured JSON event: the queue contract.

docs/event.schema.json describes the result; tests validate events against it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from .agencies import CONTACT_FIELDS, WAYS, Agency

TYPE = "feedback.submitted.v1"
RATED_TYPE = "feedback.rated.v1"
VOTED_TYPE = "poll.voted.v1"
CONTENT_TYPE = "application/cloudevents+json"


@dataclass(frozen=True)
class Consent:
    text: str
    version: str
    given_at: float


@dataclass(frozen=True)
class Location:
    """Where a request posted over Open311 is about: its point (WGS84) and/or the address
    the integrator's app gave. Not the citizen's postal address (``contact.address``)."""

    lat: float | None = None
    long: float | None = None
    address: str | None = None

    def as_data(self) -> dict:
        point = {} if self.lat is None else {"lat": self.lat, "long": self.long}
        return {**point, **({"address": self.address} if self.address else {})}


@dataclass(frozen=True)
class Submission:
    agency: Agency
    topic_id: str
    text: str
    contact: dict[str, str]  # only the fields the citizen filled
    lang: str
    channel: str  # "embed", "page" or "open311"
    origin: str | None
    consent: Consent | None
    follows: str | None = None  # the receipt of the message this one follows up
    # Posted over Open311: the API key's name, where the request is about, and the
    # link to the integrator's photo (recorded as given, never fetched).
    integrator: str | None = None
    location: Location | None = None
    media_url: str | None = None


def iso(timestamp: float) -> str:
    return (
        datetime.fromtimestamp(timestamp, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def build(
    submission: Submission,
    event_id: str,
    receipt: str,
    received_at: float,
    attachments: list[dict] = (),
) -> dict:
    """The CloudEvent for one submission; ``attachments`` hold name, type, size,
    sha256 and the raw ``content``, which travels base64-encoded."""
    agency = submission.agency
    topic = agency.topic(submission.topic_id)
    consent = submission.consent
    return {
        "specversion": "1.0",
        "id": event_id,
        "type": TYPE,
        "source": f"/agencies/{agency.id}",
        "subject": receipt,
        "time": iso(received_at),
        "datacontenttype": "application/json",
        "data": {
            "receipt": receipt,
            "agency": {"id": agency.id, "region": agency.region},
            "routing_key": agency.routing_key,
            "topic": {"id": topic.id, "title": topic.title_in(submission.lang)},
            "text": submission.text,
            "contact": {
                k: submission.contact[k] for k in CONTACT_FIELDS if submission.contact.get(k)
            },
            "language": submission.lang,
            "channel": submission.channel,
            "origin": submission.origin,
            "received_at": iso(received_at),
            **({"follows": submission.follows} if submission.follows else {}),
            **({"integrator": submission.integrator} if submission.integrator else {}),
            **({"location": submission.location.as_data()} if submission.location else {}),
            **({"media_url": submission.media_url} if submission.media_url else {}),
            "consent": None
            if consent is None
            else {
                "text_sha256": hashlib.sha256(consent.text.encode()).hexdigest(),
                "version": consent.version,
                "given_at": iso(consent.given_at),
            },
            "attachments": [
                {
                    **{k: a[k] for k in ("name", "type", "size", "sha256")},
                    "content": base64.b64encode(a["content"]).decode("ascii"),
                }
                for a in attachments
            ],
        },
    }


def build_rated(
    agency: Agency,
    receipt: str,
    message_id: str | None,
    rating,  # ratings.Rating
    *,
    event_id: str,
    lang: str,
    channel: str,
) -> dict:
    """The ``feedback.rated.v1`` CloudEvent of a citizen's rating of an answer."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "type": RATED_TYPE,
        "source": f"/agencies/{agency.id}",
        "subject": receipt,
        "time": iso(rating.rated_at),
        "datacontenttype": "application/json",
        "data": {
            "receipt": receipt,
            "agency_id": agency.id,
            "message_id": message_id,
            "solved": rating.solved,
            "score": rating.score,
            "comment": rating.comment,
            "lang": lang,
            "channel": channel,
            "rated_at": iso(rating.rated_at),
        },
    }


def build_voted(
    agency: Agency,
    poll_id: str,
    answers: dict,
    *,
    event_id: str,
    voted_at: float,
    lang: str,
    channel: str,
    origin: str | None,
) -> dict:
    """The ``poll.voted.v1`` CloudEvent of one vote (docs/voted.schema.json)."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "type": VOTED_TYPE,
        "source": f"/agencies/{agency.id}",
        "subject": poll_id,
        "time": iso(voted_at),
        "datacontenttype": "application/json",
        "data": {
            "agency_id": agency.id,
            "region": agency.region,
            "poll_id": poll_id,
            "answers": answers,
            "lang": lang,
            "channel": channel,
            "origin": origin,
            "voted_at": iso(voted_at),
        },
    }


def ways_in(event: str | None) -> tuple[str, ...] | None:
    """Which ways to answer (``agencies.WAYS``) a stored event's contact holds; None
    when it is no longer known (a delivered message keeps no personal data)."""
    if event is None:
        return None
    return ways_of(json.loads(event)["data"]["contact"])


def ways_of(contact: dict[str, str]) -> tuple[str, ...]:
    """The ways to answer (``agencies.WAYS``) a contact holds, in their order."""
    return tuple(way for way in WAYS if contact.get(way))
