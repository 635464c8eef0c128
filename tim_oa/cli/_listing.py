"""Listings: stream every item to stdout, and on any stop say exactly where to resume.

A listing writes and flushes each record before it counts it as written, so the resume point it
prints is "after the last record the OS accepted", whatever stopped it: ``--max-items``, a closed
pipe (``| head -1``), a signal or an error. The point is a page's cursor plus the number of that
page's items already written: an offset listing folds the two into ``--offset``; the others print
``--cursor``/``--last-msg-key`` with ``--skip N`` when they stopped inside a page (their cursors
are the server's and cannot point between two items). With ``--max-items`` the last request asks
for only the items still wanted, so that stop needs no ``--skip``.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click

import tim_oa

from ._context import State
from ._exitcodes import OK
from ._output import RecordWriter, format_seconds, note, plural
from ._signals import Stopped, signal_name

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ResumeStyle:
    """How a listing's command line names its resume point.

    Attributes:
        option: The option that takes the cursor (``--offset``, ``--cursor``, ``--last-msg-key``).
        start: The cursor of a listing from the beginning (left out of the printed hint).
        offset: The cursor is an item offset, so the items to skip are added to it.
    """

    option: str
    start: Any
    offset: bool = False

    def hint(self, cursor: Any, skip: int) -> str:
        """The options that resume at ``cursor`` after skipping ``skip`` items."""
        if self.offset:
            return f"{self.option} {int(cursor) + skip}"
        parts = []
        if cursor != self.start:
            parts.append(f"{self.option} {shlex.quote(str(cursor))}")
        if skip:
            parts.append(f"--skip {skip}")
        return " ".join(parts) or "(the same command, from the start)"


def skip_option(func: F) -> F:
    """``--skip N``: drop the first N items after the cursor (printed with a mid-page stop)."""
    return click.option(
        "--skip",
        type=click.IntRange(min=0),
        default=0,
        metavar="N",
        help="Skip the first N items from the cursor (printed with it when a run stopped "
        "inside a page).",
    )(func)


@asynccontextmanager
async def _closing(iterator: AsyncIterator[T]) -> AsyncGenerator[AsyncIterator[T], None]:
    """Close an async generator on exit, even when the loop over it stops early."""
    try:
        yield iterator
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


class Listing:
    """Streams a paged listing to stdout and keeps the exact point to resume from.

    :attr:`position` is ``(cursor, skip)``, the next item not yet written: the page at
    ``cursor`` less its first ``skip`` items; ``None`` once the listing is complete.
    """

    def __init__(
        self,
        state: State,
        label: str,
        output: str,
        style: ResumeStyle,
        start: Any,
        skip: int = 0,
    ) -> None:
        self.state = state
        self.label = label
        self.writer = RecordWriter(sys.stdout, output)
        self.style = style
        self.position: tuple[Any, int] | None = (start, skip)
        self.pages = 0
        self.started = time.perf_counter()

    async def consume(
        self,
        make_pager: Callable[[Any, int], tim_oa.AsyncPager[T]],
        page_size: int,
        max_items: int | None,
        record: Callable[[T], dict[str, Any]],
    ) -> None:
        """Write the items from :attr:`position` on, at most ``max_items`` of them."""
        assert self.position is not None
        cursor, skip = self.position
        wanted = max_items
        while True:
            size = page_size if wanted is None else min(page_size, wanted + skip)
            refetch = False
            async with _closing(make_pager(cursor, size).pages()) as pages:
                async for page in pages:
                    self.pages += 1
                    items = page.items
                    first = min(skip, len(items))
                    skip -= first
                    last = len(items) if wanted is None else min(len(items), first + wanted)
                    for index in range(first, last):
                        if not self.writer.write_flushed(record(items[index])):
                            return  # the reader went away; position is the last record written
                        self.position = (page.cursor, index + 1)
                    if wanted is not None:
                        wanted -= last - first
                    if last < len(items):
                        return  # stopped inside the page, at --max-items
                    if page.next_cursor is None:
                        self.position = None
                        return
                    cursor = page.next_cursor
                    self.position = (cursor, skip)
                    if wanted == 0:
                        return
                    if wanted is not None and wanted + skip < size:
                        refetch = True  # ask the next page for only what is still wanted
                        break
            if not refetch:
                return

    def run(self, job: Callable[[], Awaitable[None]]) -> int:
        """Run ``job``; print the summary, and how to resume when the listing is not complete.

        Exit code: 0 when complete, stopped at ``--max-items`` or by a closed stdout; 128 + N
        after signal N; an error propagates (after the summary) to the caller's error handling.
        """
        try:
            self.state.run_async(job)
        except Stopped as stopped:
            self._summary(f"interrupted by {signal_name(stopped.signum)}")
            return stopped.exit_code
        except BaseException:
            if self.pages:  # an error before the first page needs no summary besides itself
                self._summary("stopped by an error")
            raise
        if self.writer.closed:
            self._summary("stopped: stdout was closed")
        else:
            self._summary("stopped at --max-items" if self.position is not None else None)
        return OK

    def _summary(self, stopped: str | None) -> None:
        elapsed = format_seconds(time.perf_counter() - self.started)
        items, pages = plural(self.writer.count, "item"), plural(self.pages, "page")
        line = f"{self.label}: {items} in {pages}, {elapsed}"
        if stopped is not None:
            line += f"; {stopped}"
            if self.position is not None and (self.pages or self.writer.count):
                line += f"; resume with: {self.style.hint(*self.position)}"
        note(line)
