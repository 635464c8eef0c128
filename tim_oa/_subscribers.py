"""Subscriber commands: list, add, remove, and set a subscriber's custom string.

Pure ``build_*``/``parse_*`` functions plus the :class:`SubscribersMixin` session methods. The bulk
methods run through the batch engine in :mod:`tim_oa._batch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _limits as L
from ._base import BaseSession
from ._validation import (
    check_account_id,
    check_callback,
    check_id_list,
    check_page_size,
    check_str,
    check_text,
    check_user_id,
    merge_extra,
)

if TYPE_CHECKING:  # loaded on first use (see tim_oa._accounts)
    from ._batch import BatchResult, ProgressCallback
    from ._models import Subscriber
    from ._pagination import AsyncPager, Page

ADD = "add_subscriber"
REMOVE = "delete_subscriber"
LIST = "get_subscriber_info"
MODIFY = "modify_subscriber_info"

# Wire keys each command's typed request sets (``extra_body`` may not set them).
ADD_KEYS = frozenset({"Official_Account", "SubscriberList"})
REMOVE_KEYS = frozenset({"Official_Account", "SubscriberToDel_Account"})
LIST_KEYS = frozenset({"Official_Account", "Limit", "Next"})
MODIFY_KEYS = frozenset({"Official_Account", "Subscriber_Account", "CustomString"})


def build_add(account_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
    """Body of one ``add_subscriber`` call (at most 100 ids)."""
    return {
        "Official_Account": account_id,
        "SubscriberList": [{"Subscriber_Account": u} for u in user_ids],
    }


def build_remove(account_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
    """Body of one ``delete_subscriber`` call: plain string ids in ``SubscriberToDel_Account``."""
    return {"Official_Account": account_id, "SubscriberToDel_Account": list(user_ids)}


def parse_results(
    data: Mapping[str, Any], command: str = ADD, asked: Sequence[str] | None = None
) -> dict[str, int]:
    """Each answered id's ``Result`` from a ``SubscriberList`` of ``{Subscriber_Account, Result}``.

    The answer is malformed (``MalformedResponseError``, which may have taken effect) unless
    ``SubscriberList`` is a list of objects with a str ``Subscriber_Account`` and a ``Result`` of
    0, 1 or 2, and an id answered twice has the same ``Result`` both times. Ids left out are
    missing results (failed by the batch engine); so is an answer with no list at all. Given
    ``asked`` (the chunk's ids), entries for other ids are left out.
    """
    from ._converter import answer_list, malformed, shown

    wanted = None if asked is None else set(asked)

    if "SubscriberList" not in data:
        raise malformed(command, "SubscriberList is missing", effect=True)
    results: dict[str, int] = {}
    for position, item in enumerate(answer_list(data, "SubscriberList", command, effect=True)):
        if type(item) is not dict:
            raise malformed(command, f"SubscriberList[{position}] is not an object", effect=True)
        user_id = item.get("Subscriber_Account")
        result = item.get("Result")
        if type(user_id) is not str:
            raise malformed(
                command, f"SubscriberList[{position}].Subscriber_Account is not a str", effect=True
            )
        if type(result) is not int or result not in (0, 1, 2):
            raise malformed(
                command,
                f"SubscriberList[{position}].Result must be 0, 1 or 2, got {shown(result)}",
                effect=True,
            )
        if wanted is not None and user_id not in wanted:
            continue  # an id not asked about: nothing to record
        if results.setdefault(user_id, result) != result:
            raise malformed(
                command,
                f"{shown(user_id)} is answered twice with different results "
                f"({results[user_id]} and {result})",
                effect=True,
            )
    return results


def build_subscribers_page(account_id: str, limit: int, cursor: str) -> dict[str, Any]:
    """Body of one ``get_subscriber_info`` page."""
    return {"Official_Account": account_id, "Limit": limit, "Next": cursor}


def parse_subscribers_page(data: Mapping[str, Any], cursor: str) -> Page[Subscriber]:
    """One page of subscribers; ``next_cursor`` is ``None`` once the server answers ``Next: ""``.

    ``Next`` is documented on every answer; a missing one is malformed rather than taken as the
    end, so an answer cut short cannot end an export early without a word. Wrong types (a
    ``SubscriberList`` that is not a list of subscriber objects, a ``Next`` that is not a str)
    raise ``MalformedResponseError``.
    """
    from ._converter import answer_list, malformed, structure_list
    from ._models import Subscriber
    from ._pagination import Page

    raw = answer_list(data, "SubscriberList", LIST, effect=False)
    next_cursor = data.get("Next")
    if next_cursor is None:  # without it a truncated export would look complete
        raise malformed(
            LIST, "Next is missing: no way to tell whether this page is the last", effect=False
        )
    total = data.get("SubscriberNum")
    if next_cursor is not None and type(next_cursor) is not str:
        raise malformed(LIST, f"Next must be a str, got {type(next_cursor).__name__}", effect=False)
    if total is not None and type(total) is not int:
        raise malformed(LIST, "SubscriberNum must be an int", effect=False)
    items = structure_list(raw, Subscriber, "SubscriberList", LIST)
    return Page(items, cursor, next_cursor or None, total)


class SubscribersMixin(BaseSession):
    """Session methods for an account's subscribers."""

    def subscribers(
        self,
        account_id: str,
        *,
        page_size: int = L.MAX_PAGE_SIZE,
        cursor: str = "",
        extra_body: Mapping[str, Any] | None = None,
    ) -> AsyncPager[Subscriber]:
        """Subscribers of an account (``get_subscriber_info``).

        Follows the string cursor ``Next`` until the server answers ``""``. Pass a saved
        ``Page.next_cursor`` as ``cursor`` to resume. ``Page.total`` is ``SubscriberNum``.
        ``extra_body`` adds wire fields tim_oa does not model to every page's request.
        """
        from ._pagination import AsyncPager

        check_account_id(account_id)
        check_page_size(page_size)
        check_str(cursor, "cursor")
        merge_extra({}, extra_body, LIST_KEYS)

        async def fetch(at: str) -> Page[Subscriber]:
            body = merge_extra(build_subscribers_page(account_id, page_size, at), extra_body, ())
            return parse_subscribers_page(await self._request(LIST, body), at)

        return AsyncPager(fetch, cursor, command=LIST)

    async def add_subscribers(
        self,
        account_id: str,
        user_ids: Iterable[str],
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> BatchResult:
        """Subscribe any number of users to an account (``add_subscriber``).

        Ids are checked, de-duplicated and sent in chunks of 100, ``concurrency`` chunks at a time
        (default: the session's ``max_concurrency``). Every id gets an outcome: ``succeeded``
        (Result 1), ``unchanged`` (Result 2, already subscribed) or ``failed`` (Result 0, or the
        error that sank its chunk after retries). ``on_progress`` (sync or async) is called with a
        :class:`BatchProgress` after each chunk; if it raises, the job still finishes and
        :class:`ProgressCallbackError` carries the result. ``extra_body`` adds wire fields tim_oa
        does not model to every chunk's request.
        """
        return await self._run_subscriber_batch(
            ADD,
            build_add,
            L.MAX_SUBSCRIBERS_PER_ADD,
            ADD_KEYS,
            account_id,
            user_ids,
            concurrency,
            on_progress,
            extra_body,
        )

    async def remove_subscribers(
        self,
        account_id: str,
        user_ids: Iterable[str],
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> BatchResult:
        """Unsubscribe any number of users from an account (``delete_subscriber``).

        As :meth:`add_subscribers`; ``unchanged`` (Result 2) means the user was not subscribed.
        """
        return await self._run_subscriber_batch(
            REMOVE,
            build_remove,
            L.MAX_SUBSCRIBERS_PER_DELETE,
            REMOVE_KEYS,
            account_id,
            user_ids,
            concurrency,
            on_progress,
            extra_body,
        )

    async def _run_subscriber_batch(
        self,
        command: str,
        build: Any,
        chunk_size: int,
        modelled: frozenset[str],
        account_id: str,
        user_ids: Iterable[str],
        concurrency: int | None,
        on_progress: ProgressCallback | None,
        extra_body: Mapping[str, Any] | None,
    ) -> BatchResult:
        from ._batch import ADD_REMOVE_CODES, batch_workers, run_batch, stops_batch

        check_account_id(account_id)
        ids = check_id_list(user_ids, "user_ids")
        workers = batch_workers(self, concurrency)
        check_callback(on_progress, "on_progress")
        merge_extra({}, extra_body, modelled)

        async def send_chunk(chunk: Sequence[str]) -> dict[str, int]:
            body = build(account_id, chunk)
            if extra_body:
                body = merge_extra(body, extra_body, ())
            return parse_results(await self._request(command, body), command, chunk)

        return await run_batch(
            ids,
            chunk_size=chunk_size,
            concurrency=workers,
            send_chunk=send_chunk,
            code_status=ADD_REMOVE_CODES,
            on_progress=on_progress,
            stop_on=stops_batch,
            observe=(self, command),
        )

    async def modify_subscriber(
        self,
        account_id: str,
        user_id: str,
        custom_string: str,
        *,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        """Set the custom string of one subscription (``modify_subscriber_info``, ≤3000 bytes)."""
        body = {
            "Official_Account": check_account_id(account_id),
            "Subscriber_Account": check_user_id(user_id),
            "CustomString": check_text(custom_string, "custom_string", "CustomString"),
        }
        await self._request(MODIFY, merge_extra(body, extra_body, MODIFY_KEYS))
