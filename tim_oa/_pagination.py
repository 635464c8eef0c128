"""Async iteration over paged API results.

An :class:`AsyncPager` is given one function that fetches the page at a cursor. It walks pages until
the page says it is the last, refuses to loop when a cursor does not move forward or when pages
come back empty yet not last, and lets a caller resume from any saved cursor (``Page.next_cursor``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

import attrs

from ._converter import shown
from ._errors import PaginationError

T = TypeVar("T")

Cursor = Any
"""An int offset, a string cursor, or a message key, depending on the command."""

MAX_EMPTY_PAGES = 3
"""Consecutive empty pages that still name a next cursor before a walk gives up.

A server may answer an empty page that is not the last now and then (an opaque cursor that skips
removed entries); many in a row mean the walk would never end."""


@attrs.frozen
class Page(Generic[T]):
    """One page of results.

    Attributes:
        items: The items of this page, in the API's order.
        cursor: The cursor or offset this page was fetched with.
        next_cursor: The cursor or offset to resume from; ``None`` when this was the last page.
        total: The total the API reports alongside the page, when it does (``TotalCount`` of the
            subscribed-accounts list, ``SubscriberNum`` of the subscriber list).
    """

    items: tuple[T, ...]
    cursor: Cursor
    next_cursor: Cursor | None
    total: int | None = None

    @property
    def is_last(self) -> bool:
        """True when no page follows this one."""
        return self.next_cursor is None


PageFetcher = Callable[[Cursor], Awaitable[Page[T]]]


class AsyncPager(Generic[T]):
    """Iterates items across pages: ``async for item in pager``.

    ``pager.pages()`` yields :class:`Page` objects instead (each with the cursor to resume from),
    and ``await pager.collect()`` gathers every item into a list. Nothing is requested until
    iteration starts, and each iteration starts again from the initial cursor.
    """

    def __init__(self, fetch: PageFetcher[T], start: Cursor, *, command: str = "") -> None:
        self._fetch = fetch
        self._start = start
        self._command = command

    @property
    def start(self) -> Cursor:
        """The cursor or offset iteration starts from."""
        return self._start

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Yield each page in turn until the last one.

        Raises :class:`PaginationError` when a cursor comes back a second time, or after
        ``MAX_EMPTY_PAGES`` (3) empty pages in a row that each name a next cursor.
        """
        cursor = self._start
        seen: set[Hashable] = set()
        empty = 0
        while True:
            seen.add(cursor)
            page = await self._fetch(cursor)
            yield page
            if page.next_cursor is None:
                return
            if page.next_cursor in seen:
                raise PaginationError(
                    f"{self._command or 'pagination'}: the server returned cursor "
                    f"{shown(page.next_cursor)} again; stopping instead of looping"
                )
            empty = 0 if page.items else empty + 1
            if empty >= MAX_EMPTY_PAGES:
                raise PaginationError(
                    f"{self._command or 'pagination'}: {empty} empty pages in a row, each "
                    f"naming a next cursor; stopping instead of looping (resume from "
                    f"{shown(page.next_cursor)} to try again)"
                )
            cursor = page.next_cursor

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def collect(self, *, limit: int | None = None) -> list[T]:
        """Return every item (or the first ``limit`` items) as a list."""
        items: list[T] = []
        async for page in self.pages():
            items.extend(page.items)
            if limit is not None and len(items) >= limit:
                return items[:limit]
        return items

    def __repr__(self) -> str:
        return f"AsyncPager(command={self._command!r}, start={self._start!r})"
