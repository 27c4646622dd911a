"""What became of a message, from the updates the central system sent about it: the
status now, its history, the answer and its deadline. No Flask and no SQL: the outbox
gives the updates (``outbox.updates.history``), the pages show what this sums up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .updates import Update

ANSWERED, CLOSED = "answered", "closed"


@dataclass(frozen=True)
class Progress:
    history: tuple[Update, ...]  # every distinct update, in the order they happened

    @property
    def status(self) -> str:
        """The status now: that of the update that happened last (received before any)."""
        return self.history[-1].status if self.history else "received"

    @property
    def answer(self) -> Update | None:
        """The latest update that brought an answer."""
        answers = [u for u in self.history if u.status == ANSWERED and u.answer]
        return answers[-1] if answers else None

    @property
    def answer_by(self) -> date | None:
        """The answer-by date the agency set last, when it extended the deadline."""
        dates = [u.answer_by for u in self.history if u.answer_by]
        return date.fromisoformat(dates[-1]) if dates else None

    def due(self, received_on: date | None, within_days: int) -> date | None:
        """When the answer is due: the date the agency set last, else ``within_days``
        (the topic's) after the message was received; None when neither is known."""
        if self.answer_by is not None:
            return self.answer_by
        return received_on + timedelta(days=within_days) if received_on else None

    @property
    def closed(self) -> bool:
        return self.status == CLOSED

    @property
    def rateable(self) -> bool:
        """A rating is asked for once there is an answer, and may change until the
        message is closed. A redirect brings no answer: the agency it went to will."""
        return self.answer is not None and not self.closed

    @property
    def message_id(self) -> str | None:
        """The message's event id, when an update named it."""
        named = [u.message_id for u in self.history if u.message_id]
        return named[-1] if named else None
