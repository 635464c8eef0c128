"""Task groups that never surface an ``ExceptionGroup``: what every fan-out of tim_oa runs on.

A public call may raise only tim_oa's own errors. anyio's task groups wrap what their tasks raise
in an exception group; these helpers unwrap it to the first real error (never a cancellation), so
a bulk job or a many-chunk ``get_accounts`` raises that chunk's own error.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from contextvars import ContextVar
from typing import Any, TypeVar

import anyio

T = TypeVar("T")

_GROUP_TYPES: tuple[type[BaseException], ...] = tuple(
    t for t in (getattr(builtins, "BaseExceptionGroup", None),) if t is not None
)
if not _GROUP_TYPES:  # pragma: no cover (Python 3.10: anyio's own backport)
    with contextlib.suppress(ImportError):
        _GROUP_TYPES = (importlib.import_module("exceptiongroup").BaseExceptionGroup,)


def _first_real(error: BaseException) -> BaseException | None:
    """The first exception in a (nested) group that is not a cancellation."""
    if not isinstance(error, _GROUP_TYPES):
        return None if isinstance(error, anyio.get_cancelled_exc_class()) else error
    for inner in getattr(error, "exceptions", ()):
        found = _first_real(inner)
        if found is not None:
            return found
    return None


_WORKER = "tim_oa worker"


async def run_workers(
    count: int, worker: Callable[[], Coroutine[Any, Any, None]], crew: Crew | None = None
) -> None:
    """Run ``count`` copies of ``worker`` at once (inline when one is enough).

    With a ``crew``, only ``crew.spare`` start at once and the crew starts the others, up to
    ``count``, as requests leave (see :class:`Crew`). Workers are expected to catch their own
    errors; should one escape anyway, it is raised alone, never wrapped in an exception group.
    """
    if count <= 1:
        await worker()
        return
    try:
        async with anyio.create_task_group() as tg:

            def start() -> None:
                tg.start_soon(worker, name=_WORKER)  # named: anyio would work out a name each time

            at_once = count if crew is None else crew.begin(count, start)
            for _ in range(at_once):
                start()
    except BaseException as exc:
        if not isinstance(exc, _GROUP_TYPES):
            raise
        first = _first_real(exc)
        if first is None:
            raise
        raise first from None


async def gather_chunks(
    chunks: Iterable[T], concurrency: int, fetch: Callable[[T], Awaitable[None]]
) -> None:
    """Call ``fetch`` on every chunk, at most ``concurrency`` at once.

    The first chunk to raise cancels the others and its own error is raised (never a group).
    """
    pending = iter(chunks)
    errors: list[Exception] = []
    with anyio.CancelScope() as scope:

        async def worker() -> None:
            for chunk in pending:
                try:
                    await fetch(chunk)
                except Exception as exc:
                    errors.append(exc)
                    scope.cancel()
                    return

        await run_workers(concurrency, worker)
    if errors:
        raise errors[0]


SENT: ContextVar[Callable[[], None] | None] = ContextVar("tim_oa_sent", default=None)
"""Set by a bulk job's worker around each chunk: the request loop calls it once, when the chunk's
first request is granted by the limiter and leaves."""


class Crew:
    """Starts a bulk job's workers as they are needed, not all at once.

    A job may run as many workers as the session keeps requests in flight, which before the first
    answer is the adaptive bound's ceiling (hundreds or thousands at the paid tiers). Starting
    them all costs tens of milliseconds of CPU before the first request, and most would only
    queue at the limiter. The crew starts :attr:`spare` workers, then one more each time a
    request leaves while fewer than :attr:`spare` workers are not sending (taking a chunk,
    waiting for the limiter, or just started): so the workers number about the requests in
    flight plus the spare, whatever the rate and the round trip.

    Each worker calls :meth:`ticket` when it takes a chunk and hands it to the request loop
    through :data:`SENT`; :meth:`Ticket.close` after the chunk, sent or not.
    """

    __slots__ = ("_start", "cap", "sending", "spare", "started")

    def __init__(self, spare: int = 8) -> None:
        self.spare = spare
        self.cap = 0
        self.started = 0
        self.sending = 0  # chunks whose request has left and that are not finished yet
        self._start: Callable[[], None] | None = None

    def begin(self, cap: int, start: Callable[[], None]) -> int:
        """Take the job's worker cap and the way to start one; the number to start now."""
        self.cap, self._start = cap, start
        self.started = min(cap, self.spare)
        return self.started

    def ticket(self) -> Ticket:
        """A worker took a chunk."""
        return Ticket(self)

    def _left(self) -> None:
        self.sending += 1
        idle = self.started - self.sending
        if idle < self.spare and self.started < self.cap and self._start is not None:
            self.started += 1
            self._start()


class Ticket:
    """One chunk's request: used when it leaves, closed when the chunk is finished."""

    __slots__ = ("_crew", "_used")

    def __init__(self, crew: Crew) -> None:
        self._crew = crew
        self._used = False

    def __call__(self) -> None:
        """The chunk's request left (called through :data:`SENT` by the request loop)."""
        if not self._used:
            self._used = True
            self._crew._left()

    def close(self) -> None:
        """The chunk is finished: a worker that was sending is free again."""
        if self._used:
            self._used = False
            self._crew.sending -= 1
