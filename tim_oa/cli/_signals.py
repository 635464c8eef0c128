"""Stopping a command cleanly on SIGINT (Ctrl-C), SIGTERM and SIGHUP.

Left alone, Python turns SIGINT into a ``KeyboardInterrupt`` wherever the program happens to be (on
Python 3.10, inside an event loop, that ends in a ``CancelledError`` traceback), and SIGTERM and
SIGHUP kill the process outright. Neither lets a bulk job write down the ids it had not confirmed.
While a command runs, :class:`StopSignals` handles the three signals itself, in three phases:

- **before the job** (reading input, checking options): a signal raises :class:`Stopped` at once.
  Nothing has been sent, so there is nothing to record;
- **during the job** (the event loop runs): the first signal cancels the job at its next ``await``,
  so the command can still report what finished; later signals are ignored until it has stopped;
- **after the job** (writing the last records, the failed ids, the summary): signals are noted and
  the report is finished first.

A job cut short by a signal makes the command exit with 128 + the signal's number (130 for Ctrl-C,
143 for SIGTERM, 129 for SIGHUP), the status a shell reports for a process killed by that signal.
Outside the main thread (where Python cannot install handlers) nothing is installed and Ctrl-C is
a plain ``KeyboardInterrupt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType, TracebackType
from typing import Any, Final, TypeVar

import anyio

T = TypeVar("T")

STOP_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals that stop a command cleanly (SIGHUP does not exist on Windows)."""


def exit_code(signum: int) -> int:
    """The exit status of a command stopped by signal ``signum``: 128 + its number."""
    return 128 + signum


def signal_name(signum: int) -> str:
    """``"SIGTERM"``, or ``"signal N"`` for a number Python has no name for."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Stopped(BaseException):
    """A stop signal ended the command before its job finished.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except Exception`` swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal's number."""
        return exit_code(self.signum)


class StopSignals:
    """Handles SIGINT, SIGTERM and SIGHUP while a command runs; see the module docstring.

    Use as a context manager around the whole command, and run its event loop with
    :meth:`run_async`. The previous handlers are put back on exit.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        """The first stop signal received, if any."""
        self._phase = "before"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scope: anyio.CancelScope | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                try:
                    self._previous[signum] = signal.signal(signum, self._handle)
                except (OSError, ValueError):  # pragma: no cover - a platform refusing one
                    continue
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @property
    def installed(self) -> bool:
        """True when the handlers are in place (main thread, inside the ``with`` block)."""
        return bool(self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if self._phase == "before":
            raise Stopped(signum)
        if first and self._phase == "during":
            self._cancel_job()
        # After the first signal, or after the job: noted, and the report is finished first.

    def _cancel_job(self) -> None:
        loop, scope = self._loop, self._scope
        if loop is None or scope is None:
            return  # not armed yet: run_async cancels as soon as it arms
        # A signal handler runs between two bytecodes of whatever the loop was doing: leave the
        # cancellation to the loop instead of touching its tasks from here. (RuntimeError: the
        # loop closed meanwhile.)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(scope.cancel)

    def run_async(self, job: Callable[[], Awaitable[T]]) -> T:
        """Run ``job`` in a new event loop; a stop signal cancels it.

        Returns what ``job`` returns. Raises :class:`Stopped` when a signal cancelled the job
        before it finished (also when one arrived before it started).
        """

        async def main() -> T:
            with anyio.CancelScope() as scope:
                self._loop = asyncio.get_running_loop()
                self._scope = scope
                if self.signum is not None:
                    scope.cancel()
                return await job()
            raise Stopped(self.signum if self.signum is not None else signal.SIGINT)

        self._phase = "during"
        try:
            return anyio.run(main)
        finally:
            self._phase = "after"
            self._loop = self._scope = None
