"""Observer plumbing: the trackers the request loop, the bulk engine and the router call.

A session or router with observers, or in a process where OpenTelemetry is importable, has a
:class:`Hub`; the others pay one ``None`` check per call (the request loop uses :data:`NO_CALL`,
whose methods do nothing). Observer errors are logged once per observer and method and never reach
the caller. The public interface and the events are in ``_observer``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from ._clock import Clock
from ._observer import check_observers
from .observers import (
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

__all__ = ["NO_CALL", "Hub", "Observer", "check_observers", "make_hub", "start_bulk", "start_hook"]

logger = logging.getLogger("tim_oa")

_METHODS = tuple(name for name in vars(Observer) if not name.startswith("_"))


def _guarded(observer: Observer, name: str) -> Callable[[Any], None]:
    method = getattr(observer, name)
    failed = False

    def call(event: Any) -> None:
        nonlocal failed
        try:
            method(event)
        except Exception:
            if not failed:
                failed = True
                logger.exception("observer %s.%s raised; ignored", type(observer).__name__, name)

    return call


class Hub:
    """The observers of a session or router, plus OpenTelemetry when it is importable.

    ``active()`` says whether anything listens right now: user observers, or OpenTelemetry with
    a tracer or meter provider set. The methods fan one event out to every listener (only to
    observers that override the method).
    """

    call_started: Callable[[CallStarted], None]
    call_finished: Callable[[CallFinished], None]
    attempt_started: Callable[[AttemptStarted], None]
    attempt_finished: Callable[[AttemptFinished], None]
    retry_scheduled: Callable[[RetryScheduled], None]
    limiter_waited: Callable[[LimiterWaited], None]
    bulk_started: Callable[[BulkStarted], None]
    chunk_started: Callable[[ChunkStarted], None]
    chunk_finished: Callable[[ChunkFinished], None]
    bulk_finished: Callable[[BulkFinished], None]
    webhook_received: Callable[[WebhookReceived], None]
    webhook_answered: Callable[[WebhookAnswered], None]

    def __init__(
        self,
        observers: tuple[Observer, ...],
        otel: Any,
        base_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.observers = observers
        self.otel = otel  # tim_oa._otel.OTel, or None
        self.target = Target(base_url or "")
        self.clock = clock
        everyone: tuple[Observer, ...] = observers + ((otel.observer,) if otel else ())
        for name in _METHODS:
            base = getattr(Observer, name)
            listeners = [
                _guarded(o, name) for o in everyone if getattr(type(o), name, base) is not base
            ]
            setattr(self, name, _fan_out(listeners))

    def active(self) -> bool:
        """Whether any event of this hub would reach someone now."""
        return bool(self.observers) or (self.otel is not None and self.otel.enabled())

    def call(self, command: str, path: str, unseen: bool = False) -> Call | _QuietCall | _NoCall:
        """The tracker of one call of this hub's session.

        ``unseen``: no generic HTTP instrumentation can see the call's requests (they go over
        the session's own connections), so there is nothing to suppress either.
        """
        if not self.active():  # OpenTelemetry without a provider: only the suppression
            return NO_CALL if unseen else _QuietCall(self.otel)
        assert self.clock is not None
        return Call(self, command, path, self.target, self.clock, True)


def _fan_out(listeners: list[Callable[[Any], None]]) -> Callable[[Any], None]:
    if not listeners:
        return _nothing
    if len(listeners) == 1:
        return listeners[0]

    def each(event: Any) -> None:
        for listener in listeners:
            listener(event)

    return each


def _nothing(event: Any) -> None:
    pass


def make_hub(
    observers: tuple[Observer, ...], base_url: str | None = None, clock: Clock | None = None
) -> Hub | None:
    """A hub for these observers, or None when nothing could ever listen (no OpenTelemetry)."""
    from . import _otel

    otel = _otel.get()
    if not observers and otel is None:
        return None
    return Hub(observers, otel, base_url, clock)


def _error_fields(error: BaseException | None) -> tuple[str | None, int | None]:
    if error is None:
        return None, None
    code = getattr(error, "code", None)
    return type(error).__name__, code if isinstance(code, int) else None


class Target:
    """The endpoint's host, port and scheme, taken once from a session's base URL."""

    __slots__ = ("address", "port", "scheme")

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.address = parts.hostname or ""
        self.port = parts.port


class Call:
    """Tracks one call of the request loop and sends its events (made only when someone listens).

    It also keeps OpenTelemetry's HTTP instrumentation off around each attempt, so generic
    instrumentation of httpx or aiohttp never records the signed URL.
    """

    __slots__ = (
        "_attempt_start",
        "_attempts",
        "_clock",
        "_hub",
        "_in_attempt",
        "_listen",
        "_path",
        "_started",
        "_state",
        "_suppressed",
        "_target",
        "command",
    )

    def __init__(
        self, hub: Hub, command: str, path: str, target: Target, clock: Clock, listen: bool
    ) -> None:
        self._hub = hub
        self.command = command
        self._path = path
        self._target = target
        self._clock = clock
        self._listen = listen
        self._state: dict[Any, Any] = {}
        self._started = clock.monotonic() if listen else 0.0
        self._attempts = 0
        self._attempt_start = 0.0
        self._suppressed: Any = None
        self._in_attempt = False
        if listen:
            hub.call_started(CallStarted(command=command, state=self._state))

    def waiting(self, wait: Awaitable[None], kind: str = "call") -> Awaitable[None]:
        """``wait`` (a limiter's), timed when someone listens."""
        return self._timed(wait, kind) if self._listen else wait

    async def _timed(self, wait: Awaitable[None], kind: str) -> None:
        t0 = self._clock.monotonic()
        await wait
        waited = self._clock.monotonic() - t0
        self._hub.limiter_waited(LimiterWaited(command=self.command, waited=waited, kind=kind))

    def attempt_started(self, attempt: int) -> None:
        """Just before the request is sent."""
        self._attempts = attempt
        self._in_attempt = True
        otel = self._hub.otel
        if otel is not None:
            self._suppressed = otel.suppress()
        if self._listen:
            self._attempt_start = self._clock.monotonic()
            target = self._target
            self._hub.attempt_started(
                AttemptStarted(
                    command=self.command,
                    attempt=attempt,
                    server_address=target.address,
                    server_port=target.port,
                    scheme=target.scheme,
                    path=self._path,
                    state=self._state,
                )
            )

    def attempt_finished(self, error: BaseException | None) -> None:
        """The attempt ended (``error``: what it raised)."""
        token, self._suppressed = self._suppressed, None
        if token is not None:
            self._hub.otel.unsuppress(token)
        self._in_attempt = False
        if self._listen:
            error_type, code = _error_fields(error)
            status = getattr(error, "status_code", None)
            if not isinstance(status, int):  # none, or an answer of the API (over HTTP 200)
                status = 200 if error is None or isinstance(code, int) else None
            self._hub.attempt_finished(
                AttemptFinished(
                    command=self.command,
                    attempt=self._attempts,
                    duration=self._clock.monotonic() - self._attempt_start,
                    error_type=error_type,
                    error_code=code,
                    http_status=status,
                    state=self._state,
                )
            )

    def retry_scheduled(self, retry: int, delay: float, error: BaseException) -> None:
        """A retry after ``delay`` seconds was decided."""
        if self._listen:
            error_type, code = _error_fields(error)
            self._hub.retry_scheduled(
                RetryScheduled(
                    command=self.command,
                    attempt=self._attempts,
                    retry=retry,
                    delay=delay,
                    reason=error_type or "",
                    error_code=code,
                    state=self._state,
                )
            )

    def succeeded(self) -> None:
        """The attempt and the call succeeded."""
        self.attempt_finished(None)
        self.finished(None)

    def finished(self, error: BaseException | None) -> None:
        """The call returned (``error`` None) or raised."""
        if self._in_attempt:  # an attempt cut short by a cancellation, a closed pool or a bug
            self.attempt_finished(error)
        if self._listen:
            error_type, code = _error_fields(error)
            self._hub.call_finished(
                CallFinished(
                    command=self.command,
                    attempts=self._attempts,
                    duration=self._clock.monotonic() - self._started,
                    error_type=error_type,
                    error_code=code,
                    state=self._state,
                )
            )


class _NoCall:
    """The tracker of a session nobody observes: every method does nothing."""

    __slots__ = ()

    def waiting(self, wait: Awaitable[None], kind: str = "call") -> Awaitable[None]:
        return wait

    def attempt_started(self, attempt: int) -> None:
        pass

    def attempt_finished(self, error: BaseException | None) -> None:
        pass

    def retry_scheduled(self, retry: int, delay: float, error: BaseException) -> None:
        pass

    def succeeded(self) -> None:
        pass

    def finished(self, error: BaseException | None) -> None:
        pass


class _QuietCall(_NoCall):
    """The tracker when nobody listens but OpenTelemetry is importable: the suppression only."""

    __slots__ = ("_otel", "_token")

    def __init__(self, otel: Any) -> None:
        self._otel = otel
        self._token: Any = None

    def attempt_started(self, attempt: int) -> None:
        self._token = self._otel.suppress()

    def attempt_finished(self, error: BaseException | None) -> None:
        token, self._token = self._token, None
        if token is not None:
            self._otel.unsuppress(token)

    def succeeded(self) -> None:
        self.attempt_finished(None)

    def finished(self, error: BaseException | None) -> None:
        self.attempt_finished(error)


NO_CALL: Call | _NoCall = _NoCall()
"""The tracker of every call of a session without a hub."""


class Bulk:
    """Tracks one bulk job (made only when someone listens)."""

    __slots__ = ("_clock", "_hub", "_started", "_state", "command", "total")

    def __init__(self, hub: Hub, command: str, total: int, chunks: int, clock: Clock) -> None:
        self._hub = hub
        self._clock = clock
        self.command = command
        self.total = total
        self._state: dict[Any, Any] = {}
        self._started = clock.monotonic()
        hub.bulk_started(
            BulkStarted(command=command, total=total, chunks=chunks, state=self._state)
        )

    def chunk_started(self, index: int, size: int) -> tuple[dict[Any, Any], float]:
        """Before a chunk is sent; returns what :meth:`chunk_finished` takes back."""
        state: dict[Any, Any] = {}
        self._hub.chunk_started(
            ChunkStarted(command=self.command, position=index, size=size, state=state)
        )
        return state, self._clock.monotonic()

    def chunk_finished(
        self,
        started: tuple[dict[Any, Any], float] | None,
        index: int,
        size: int,
        counts: tuple[int, int, int],
        error: BaseException | None,
    ) -> None:
        """After a chunk's ids got their outcomes (``counts``: succeeded, unchanged, failed)."""
        state, t0 = started if started is not None else ({}, self._clock.monotonic())
        error_type, code = _error_fields(error)
        self._hub.chunk_finished(
            ChunkFinished(
                command=self.command,
                position=index,
                size=size,
                succeeded=counts[0],
                unchanged=counts[1],
                failed=counts[2],
                duration=self._clock.monotonic() - t0,
                error_type=error_type,
                error_code=code,
                state=state,
            )
        )

    def finished(self, counts: Sequence[int], error: BaseException | None) -> None:
        """The job returned or raised."""
        self._hub.bulk_finished(
            BulkFinished(
                command=self.command,
                total=self.total,
                succeeded=counts[0],
                unchanged=counts[1],
                failed=counts[2],
                duration=self._clock.monotonic() - self._started,
                error_type=_error_fields(error)[0],
                state=self._state,
            )
        )


def start_bulk(session: object, command: str, total: int, chunk_size: int) -> Bulk | None:
    """The tracker of a bulk job of ``session``, or None when nobody listens."""
    hub = getattr(session, "_hub", None)
    if hub is None or not hub.active():
        return None
    chunks = -(-total // chunk_size)
    return Bulk(hub, command, total, chunks, hub.clock)


class Hook:
    """Tracks one webhook callback of a router (made only when someone listens)."""

    __slots__ = ("_hub", "_started", "_state", "command", "event_type")

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._state: dict[Any, Any] = {}
        self._started = time.perf_counter()
        self.command = ""
        self.event_type: str | None = None

    def received(self, command: str, event_type: str) -> None:
        """The callback passed the checks."""
        self.command = command
        self.event_type = event_type
        self._hub.webhook_received(
            WebhookReceived(command=command, event_type=event_type, state=self._state)
        )

    def answered(self, answer: str, outcome: str, command: str | None = None) -> None:
        """The callback got its answer (``answer="rejected"``: refused before any handler)."""
        self._hub.webhook_answered(
            WebhookAnswered(
                command=command if command is not None else self.command,
                event_type=self.event_type,
                answer=answer,
                outcome=outcome,
                duration=time.perf_counter() - self._started,
                state=self._state,
            )
        )


def start_hook(hub: Hub | None) -> Hook | None:
    """The tracker of one callback, or None when nobody listens."""
    if hub is None or not hub.active():
        return None
    return Hook(hub)
