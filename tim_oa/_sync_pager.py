"""Plain iteration over paged results for :class:`tim_oa.SyncSession`.

A :class:`SyncPager` drives the :class:`~tim_oa.AsyncPager` of the session in the session's loop
thread one page at a time: each ``next()`` that needs a page is one blocking call, so a walk over
a million subscribers holds one page at a time, as the async walk does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from ._pagination import AsyncPager, Page
    from ._session import Session

T = TypeVar("T")
R = TypeVar("R")


class _Owner(Protocol):
    """What a pager needs of its :class:`SyncSession`."""

    def _run(self, make: Callable[[Session], Coroutine[Any, Any, R]]) -> R: ...

    def _target(self) -> Session: ...

    @property
    def _generation(self) -> int: ...

    def _close_soon(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> None: ...


async def _next_page(pages: AsyncIterator[Page[T]]) -> tuple[bool, Page[T] | None]:
    try:
        return True, await pages.__anext__()
    except StopAsyncIteration:
        return False, None


class SyncPager(Generic[T]):
    """Iterates items across pages: ``for item in pager``.

    The blocking twin of :class:`~tim_oa.AsyncPager`, returned by the paged methods of
    :class:`~tim_oa.SyncSession` (``subscribers``, ``subscribed_accounts``, ``messages``).
    ``pager.pages()`` yields :class:`~tim_oa.Page` objects (each with the cursor to resume from)
    and ``pager.collect()`` gathers every item into a list. Pages are fetched one at a time as the
    iteration asks for them; each iteration starts again from the initial cursor. Input was
    checked when the pager was made; nothing is requested until iteration starts.
    """

    __slots__ = ("_generation", "_make", "_owner", "_pager")

    def __init__(self, owner: _Owner, make: Callable[[Session], AsyncPager[T]]) -> None:
        self._owner = owner
        self._make = make
        self._pager = make(owner._target())  # checks the input now
        self._generation = owner._generation

    @property
    def start(self) -> Any:
        """The cursor or offset iteration starts from."""
        return self._pager.start

    def _current(self) -> AsyncPager[T]:
        # After a fork the pager is made again on the child's own session.
        owner = self._owner
        session = owner._target()
        if self._generation != owner._generation:
            self._pager = self._make(session)
            self._generation = owner._generation
        return self._pager

    def pages(self) -> Iterator[Page[T]]:
        """Yield each page in turn until the last one (see :meth:`AsyncPager.pages`)."""
        owner = self._owner
        pages: AsyncIterator[Page[T]] | None = None
        try:
            pages = walk = self._current().pages()
            while True:
                more, page = owner._run(lambda _: _next_page(walk))
                if not more:
                    return
                assert page is not None
                yield page
        finally:
            if pages is not None:
                aclose = getattr(pages, "aclose", None)
                if aclose is not None:
                    owner._close_soon(aclose)

    def __iter__(self) -> Iterator[T]:
        pages = cast("Generator[Page[T], None, None]", self.pages())
        try:
            for page in pages:
                yield from page.items
        finally:
            pages.close()

    def collect(self, *, limit: int | None = None) -> list[T]:
        """Return every item (or the first ``limit`` items) as a list."""
        pager = self._current()
        return self._owner._run(lambda _: pager.collect(limit=limit))

    def __repr__(self) -> str:
        return f"Sync{self._pager!r}"
