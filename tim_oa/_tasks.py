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


async def run_workers(count: int, worker: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``count`` copies of ``worker`` at once (inline when one is enough).

    Workers are expected to catch their own errors; should one escape anyway, it is raised
    alone, never wrapped in an exception group.
    """
    if count <= 1:
        await worker()
        return
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(worker)
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
