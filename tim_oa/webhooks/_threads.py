"""Thread slots for a router's sync handlers: who holds one, and how a thread gives it back.

A sync handler runs in a worker thread holding one of the router's ``max_threads`` slots until it
returns, even after its callback was answered at the deadline. Giving the slot back must never
wait for the event loop: the loop may have finished by then.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import sniffio


def soon_in_this_loop() -> Callable[[Callable[[], object]], None]:
    """From inside the event loop: a function any thread may call to run a callback in this loop.

    It schedules the callback and returns at once; once the loop has finished, it does nothing.
    """
    if sniffio.current_async_library() == "trio":
        import trio

        token = trio.lowlevel.current_trio_token()

        def on_trio(callback: Callable[[], object]) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(callback)

        return on_trio
    import asyncio

    loop = asyncio.get_running_loop()

    def on_asyncio(callback: Callable[[], object]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed
            loop.call_soon_threadsafe(callback)

    return on_asyncio


class Borrower:
    """One sync handler's claim on a thread slot: pending, running, or abandoned unstarted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state = "pending"
