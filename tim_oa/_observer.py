"""The observer interface: :class:`Observer` and the events it receives.

An :class:`Observer` gets one method call per event; every method of the base class does nothing,
so a subclass overrides only what it needs. Events carry the command, attempt numbers, durations
(seconds, on the session's clock), error classes and codes and counts; never a URL, a query
string, a UserSig or a request body. Each started/finished pair shares one ``state`` dict, where an
observer may keep what it needs between the two (a span, a start time), keyed by itself.
Events are named tuples (``import tim_oa; tim_oa.Session`` loads no attrs). The trackers that
send these events live in ``_observe``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

__all__ = [
    "AttemptFinished",
    "AttemptStarted",
    "BulkFinished",
    "BulkStarted",
    "CallFinished",
    "CallStarted",
    "ChunkFinished",
    "ChunkStarted",
    "LimiterWaited",
    "Observer",
    "RetryScheduled",
    "WebhookAnswered",
    "WebhookReceived",
]


class CallStarted(NamedTuple):
    """A command call began (before its first UserSig, slot and limiter wait)."""

    command: str
    state: dict[Any, Any]


class CallFinished(NamedTuple):
    """A command call ended: ``error_type`` is None on success."""

    command: str
    attempts: int
    duration: float
    error_type: str | None
    error_code: int | None
    state: dict[Any, Any]


class AttemptStarted(NamedTuple):
    """One HTTP request of a call is about to be sent (``attempt`` counts from 1).

    ``server_address``/``server_port``/``path`` locate the endpoint; the signed query is not here.
    """

    command: str
    attempt: int
    server_address: str
    server_port: int | None
    scheme: str
    path: str
    state: dict[Any, Any]


class AttemptFinished(NamedTuple):
    """One HTTP request ended: ``error_type`` None on success; ``http_status`` when known."""

    command: str
    attempt: int
    duration: float
    error_type: str | None
    error_code: int | None
    http_status: int | None
    state: dict[Any, Any]


class RetryScheduled(NamedTuple):
    """A failed attempt will be retried after ``delay`` seconds (``retry`` counts from 1)."""

    command: str
    attempt: int
    retry: int
    delay: float
    reason: str
    error_code: int | None
    state: dict[Any, Any]


class LimiterWaited(NamedTuple):
    """The call waited ``waited`` seconds for its limiter turn (``kind``: "call" or "send")."""

    command: str
    waited: float
    kind: str


class BulkStarted(NamedTuple):
    """A bulk job began: ``total`` distinct ids in ``chunks`` chunks."""

    command: str
    total: int
    chunks: int
    state: dict[Any, Any]


class ChunkStarted(NamedTuple):
    """One chunk of a bulk job is about to be sent (``position`` counts from 0)."""

    command: str
    position: int
    size: int
    state: dict[Any, Any]


class ChunkFinished(NamedTuple):
    """One chunk ended, with its ids' outcomes (``error_type``: the error that sank it, if any)."""

    command: str
    position: int
    size: int
    succeeded: int
    unchanged: int
    failed: int
    duration: float
    error_type: str | None
    error_code: int | None
    state: dict[Any, Any]


class BulkFinished(NamedTuple):
    """A bulk job ended: the ids by outcome (``error_type`` when the job itself raised)."""

    command: str
    total: int
    succeeded: int
    unchanged: int
    failed: int
    duration: float
    error_type: str | None
    state: dict[Any, Any]


class WebhookReceived(NamedTuple):
    """A callback passed the checks (``event_type``: the event class name)."""

    command: str
    event_type: str
    state: dict[Any, Any]


class WebhookAnswered(NamedTuple):
    """A callback was answered.

    ``answer`` is the answer class (``"Allow"``, ``"Refuse"`` …), or ``"rejected"`` for a request
    refused before any handler (then ``outcome`` is the :class:`WebhookError` reason). Otherwise
    ``outcome`` is ``"handler"``, ``"no_handler"``, ``"deadline"``, ``"error"``, ``"bad_answer"``
    or ``"not_ours"`` (a callback of another service, allowed).
    """

    command: str
    event_type: str | None
    answer: str
    outcome: str
    duration: float
    state: dict[Any, Any]


class Observer:
    """Receives tim_oa's events; subclass it and override the methods you need.

    Give instances to ``Session(observers=[...])``, ``with_options(observers=...)`` or
    ``WebhookRouter(observers=[...])``. Methods are called synchronously in the task doing the
    work, so they should be quick; an exception in one is logged once and otherwise ignored.
    """

    def call_started(self, event: CallStarted) -> None:
        """A public call (one command) began."""

    def call_finished(self, event: CallFinished) -> None:
        """A public call ended, with its result class and code."""

    def attempt_started(self, event: AttemptStarted) -> None:
        """One HTTP request is about to be sent."""

    def attempt_finished(self, event: AttemptFinished) -> None:
        """One HTTP request ended."""

    def retry_scheduled(self, event: RetryScheduled) -> None:
        """A retry was decided, after a delay."""

    def limiter_waited(self, event: LimiterWaited) -> None:
        """The limiter (or the send pacing) held the call."""

    def bulk_started(self, event: BulkStarted) -> None:
        """A bulk job began."""

    def chunk_started(self, event: ChunkStarted) -> None:
        """A chunk of a bulk job is about to be sent."""

    def chunk_finished(self, event: ChunkFinished) -> None:
        """A chunk of a bulk job ended."""

    def bulk_finished(self, event: BulkFinished) -> None:
        """A bulk job ended."""

    def webhook_received(self, event: WebhookReceived) -> None:
        """A webhook callback was accepted and is about to be dispatched."""

    def webhook_answered(self, event: WebhookAnswered) -> None:
        """A webhook callback was answered (or rejected)."""


def check_observers(observers: object) -> tuple[Observer, ...]:
    """The ``observers=`` option as a tuple; TypeError for anything but Observer instances."""
    if observers is None:
        return ()
    if isinstance(observers, (str, bytes, Observer)) or not isinstance(observers, Iterable):
        raise TypeError("observers must be a list of tim_oa.Observer instances")
    result = tuple(observers)
    for item in result:
        if not isinstance(item, Observer):
            raise TypeError(
                f"observers must be tim_oa.Observer instances, not {type(item).__name__}"
            )
    return result
