"""Observer hooks: follow every call, retry, limiter wait, bulk chunk and webhook callback.

Subclass :class:`Observer`, override the methods you need, and give instances to a session or a
webhook router::

    class Retries(tim_oa.Observer):
        def retry_scheduled(self, event: tim_oa.observers.RetryScheduled) -> None:
            RETRIES.labels(event.command, event.reason).inc()

    async with tim_oa.Session(..., observers=[Retries()]) as oa:
        ...

Events carry commands, attempt numbers, durations, error classes and codes, and counts; never a
URL query, a UserSig or a request body. OpenTelemetry tracing and metrics (``tim-oa[otel]``) are
built on the same events. See the "Tracing and metrics" guide.
"""

from __future__ import annotations

from ._observer import (
    AttemptFinished,
    AttemptStarted,
    BulkFinished,
    BulkStarted,
    CallFinished,
    CallStarted,
    ChunkFinished,
    ChunkStarted,
    LimiterWaited,
    Observer,
    RetryScheduled,
    WebhookAnswered,
    WebhookReceived,
)

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
