"""Subscriber commands: list, add, remove, and set a subscriber's custom string.

Pure ``build_*``/``parse_*`` functions plus the :class:`SubscribersMixin` session methods. The bulk
methods run through the batch engine in :mod:`tim_oa._batch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from . import _limits as L
from ._base import BaseSession
from ._batch import (
    BatchResult,
    Outcome,
    ProgressCallback,
    run_batch,
    status_from_result,
    stops_batch,
)
from ._converter import structure
from ._models import Subscriber
from ._pagination import AsyncPager, Page
from ._validation import (
    check_account_id,
    check_concurrency,
    check_id_list,
    check_page_size,
    check_str,
    check_text,
    check_user_id,
)


def build_add(account_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
    """Body of one ``add_subscriber`` call (at most 100 ids)."""
    return {
        "Official_Account": account_id,
        "SubscriberList": [{"Subscriber_Account": u} for u in user_ids],
    }


def build_remove(account_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
    """Body of one ``delete_subscriber`` call: plain string ids in ``SubscriberToDel_Account``."""
    return {"Official_Account": account_id, "SubscriberToDel_Account": list(user_ids)}


def parse_results(data: dict[str, Any]) -> dict[str, Outcome]:
    """Per-id outcomes from a ``SubscriberList`` of ``{Subscriber_Account, Result}`` items."""
    outcomes: dict[str, Outcome] = {}
    for item in data.get("SubscriberList") or []:
        user_id = item.get("Subscriber_Account")
        if isinstance(user_id, str):
            result = item.get("Result")
            outcomes[user_id] = Outcome(user_id, status_from_result(result), result)
    return outcomes


def build_subscribers_page(account_id: str, limit: int, cursor: str) -> dict[str, Any]:
    """Body of one ``get_subscriber_info`` page."""
    return {"Official_Account": account_id, "Limit": limit, "Next": cursor}


def parse_subscribers_page(data: dict[str, Any], cursor: str) -> Page[Subscriber]:
    """One page of subscribers; ``next_cursor`` is ``None`` once the server answers ``Next: ""``."""
    items = tuple(structure(i, Subscriber) for i in data.get("SubscriberList") or [])
    next_cursor = data.get("Next") or None
    return Page(items, cursor, next_cursor, data.get("SubscriberNum"))


class SubscribersMixin(BaseSession):
    """Session methods for an account's subscribers."""

    def subscribers(
        self, account_id: str, *, page_size: int = L.MAX_PAGE_SIZE, cursor: str = ""
    ) -> AsyncPager[Subscriber]:
        """Subscribers of an account (``get_subscriber_info``).

        Follows the string cursor ``Next`` until the server answers ``""``. Pass a saved
        ``Page.next_cursor`` as ``cursor`` to resume. ``Page.total`` is ``SubscriberNum``.
        """
        check_account_id(account_id)
        check_page_size(page_size)
        check_str(cursor, "cursor")

        async def fetch(at: str) -> Page[Subscriber]:
            data = await self._request(
                "get_subscriber_info", build_subscribers_page(account_id, page_size, at)
            )
            return parse_subscribers_page(data, at)

        return AsyncPager(fetch, cursor, command="get_subscriber_info")

    async def add_subscribers(
        self,
        account_id: str,
        user_ids: Iterable[str],
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> BatchResult:
        """Subscribe any number of users to an account (``add_subscriber``).

        Ids are checked, de-duplicated and sent in chunks of 100, ``concurrency`` chunks at a time
        (default: the session's ``max_concurrency``). Every id gets an outcome: ``succeeded``
        (Result 1), ``unchanged`` (Result 2, already subscribed) or ``failed`` (Result 0, or the
        error that sank its chunk after retries). ``on_progress`` (sync or async) is called with a
        :class:`BatchProgress` after each chunk.
        """
        return await self._run_subscriber_batch(
            "add_subscriber",
            build_add,
            L.MAX_SUBSCRIBERS_PER_ADD,
            account_id,
            user_ids,
            concurrency,
            on_progress,
        )

    async def remove_subscribers(
        self,
        account_id: str,
        user_ids: Iterable[str],
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> BatchResult:
        """Unsubscribe any number of users from an account (``delete_subscriber``).

        As :meth:`add_subscribers`; ``unchanged`` (Result 2) means the user was not subscribed.
        """
        return await self._run_subscriber_batch(
            "delete_subscriber",
            build_remove,
            L.MAX_SUBSCRIBERS_PER_DELETE,
            account_id,
            user_ids,
            concurrency,
            on_progress,
        )

    async def _run_subscriber_batch(
        self,
        command: str,
        build: Any,
        chunk_size: int,
        account_id: str,
        user_ids: Iterable[str],
        concurrency: int | None,
        on_progress: ProgressCallback | None,
    ) -> BatchResult:
        check_account_id(account_id)
        ids = check_id_list(user_ids, "user_ids")
        workers = self.max_concurrency if concurrency is None else check_concurrency(concurrency)

        async def send_chunk(chunk: Sequence[str]) -> dict[str, Outcome]:
            return parse_results(await self._request(command, build(account_id, chunk)))

        return await run_batch(
            ids,
            chunk_size=chunk_size,
            concurrency=workers,
            send_chunk=send_chunk,
            on_progress=on_progress,
            stop_on=stops_batch,
        )

    async def modify_subscriber(self, account_id: str, user_id: str, custom_string: str) -> None:
        """Set the custom string of one subscription (``modify_subscriber_info``, ≤3000 bytes)."""
        body = {
            "Official_Account": check_account_id(account_id),
            "Subscriber_Account": check_user_id(user_id),
            "CustomString": check_text(custom_string, "custom_string", "CustomString"),
        }
        await self._request("modify_subscriber_info", body)
