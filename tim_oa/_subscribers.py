"""Subscriber commands: list, add, remove, and set a subscriber's custom string.

Pure ``build_*``/``parse_*`` functions plus the :class:`SubscribersMixin` session methods. The bulk
methods run through the batch engine in :mod:`tim_oa._batch`.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from json.encoder import encode_basestring as _string
from typing import TYPE_CHECKING, Any

from . import _limits as L
from . import _registry as R
from ._answers import InOrder
from ._base import BaseSession
from ._validation import (
    check_account_id,
    check_page_size,
    check_str,
    check_text,
    check_user_id,
    merge_extra,
)

if TYPE_CHECKING:  # loaded on first use (see tim_oa._accounts)
    from ._batch import BatchResult, ProgressCallback
    from ._bulk import Invalid
    from ._models import Subscriber
    from ._pagination import AsyncPager, Page

ADD = R.ADD_SUBSCRIBERS.name
LIST = R.LIST_SUBSCRIBERS.name


def build_add(account_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
    """Body of one ``add_subscriber`` call (at most 100 ids)."""
    return {
        "Official_Account": account_id,
        "SubscriberList": [{"Subscriber_Account": u} for u in user_ids],
    }


def build_remove(account_id: str, user_ids: Sequence[str]) -> dict[str, Any]:
    """Body of one ``delete_subscriber`` call: plain string ids in ``SubscriberToDel_Account``."""
    return {"Official_Account": account_id, "SubscriberToDel_Account": list(user_ids)}


def encode_add(account_id: str, user_ids: Sequence[str]) -> bytes:
    """``encode_body(build_add(...))``, the same bytes, written from the ids directly.

    ``json.dumps`` walks the chunk's 100 one-key objects one by one; joining the escaped ids
    (``json``'s own C string encoder) costs about a sixth of that, for every chunk of a bulk job.
    The ids and the account id were checked (no lone surrogate), so the UTF-8 encoding succeeds.
    """
    items = '},{"Subscriber_Account":'.join(map(_string, user_ids))
    listed = '{"Subscriber_Account":' + items + "}" if user_ids else ""
    text = f'{{"Official_Account":{_string(account_id)},"SubscriberList":[{listed}]}}'
    return text.encode("utf-8")


def encode_remove(account_id: str, user_ids: Sequence[str]) -> bytes:
    """``encode_body(build_remove(...))``, the same bytes (see :func:`encode_add`)."""
    listed = ",".join(map(_string, user_ids))
    text = f'{{"Official_Account":{_string(account_id)},"SubscriberToDel_Account":[{listed}]}}'
    return text.encode("utf-8")


def parse_results(
    data: Mapping[str, Any], command: str = ADD, asked: Sequence[str] | None = None
) -> Mapping[str, int]:
    """Each answered id's ``Result`` from a ``SubscriberList`` of ``{Subscriber_Account, Result}``.

    The answer is malformed (``MalformedResponseError``, which may have taken effect) unless
    ``SubscriberList`` is a list of objects with a str ``Subscriber_Account`` and a ``Result`` of
    0, 1 or 2, and an id answered twice has the same ``Result`` both times. Ids left out are
    missing results (failed by the batch engine); so is an answer with no list at all. Given
    ``asked`` (the chunk's ids), entries for other ids are left out.
    """
    listed = data.get("SubscriberList")
    if type(listed) is list:  # the usual answer: no need to load the converter's checks
        fast = _plain_results(listed, asked)
        if fast is not None:
            return fast
    from ._converter import answer_list, malformed, shown

    if "SubscriberList" not in data:
        raise malformed(command, "SubscriberList is missing", effect=True)
    items = answer_list(data, "SubscriberList", command, effect=True)
    wanted = None if asked is None else set(asked)
    results: dict[str, int] = {}
    for position, item in enumerate(items):
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


_RESULTS = frozenset((0, 1, 2))


_ACCOUNT = operator.itemgetter("Subscriber_Account")
_RESULT = operator.itemgetter("Result")


def _in_order(items: list[Any], asked: Sequence[str]) -> InOrder | None:
    """The answer as :class:`InOrder` if its items name exactly ``asked``, in order; else ``None``.

    Each item must also have a ``Result`` of 0, 1 or 2. Every test is a call done in C.
    """
    if len(items) != len(asked):
        return None
    try:
        answered = list(map(_ACCOUNT, items))
        codes = list(map(_RESULT, items))
    except (TypeError, KeyError, IndexError):
        return None
    if answered != asked or (
        codes and (set(map(type, codes)) != {int} or not _RESULTS.issuperset(codes))
    ):
        return None
    return InOrder(asked, codes)


def _plain_results(items: list[Any], asked: Sequence[str] | None) -> Mapping[str, int] | None:
    """``parse_results`` of a well-formed answer, every test done in C; ``None`` if unusual.

    Unusual: an item not an object, a key missing or of another type, an id twice, an id not
    asked about. The item-by-item loop then says exactly what is wrong, or drops the stranger.
    A 100-item answer is parsed a thousand or two thousand times a second at the paid tiers.
    """
    if asked is not None:
        in_order = _in_order(items, asked)
        if in_order is not None:
            return in_order
    try:
        results = {item["Subscriber_Account"]: item["Result"] for item in items}
    except (TypeError, KeyError):
        return None
    if len(results) != len(items):
        return None  # an id answered twice: the loop checks the two results agree
    if results and (
        set(map(type, results)) != {str}
        or set(map(type, results.values())) != {int}
        or not _RESULTS.issuperset(results.values())
        or (asked is not None and not results.keys() <= set(asked))
    ):
        return None
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
        merge_extra({}, extra_body, R.LIST_SUBSCRIBERS.modelled)
        extra = dict(extra_body or {})

        async def fetch(at: str) -> Page[Subscriber]:
            body = {**build_subscribers_page(account_id, page_size, at), **extra}
            return parse_subscribers_page(await self._request(R.LIST_SUBSCRIBERS, body), at)

        return AsyncPager(fetch, cursor, command=LIST)

    async def add_subscribers(
        self,
        account_id: str,
        user_ids: Iterable[str],
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
        extra_body: Mapping[str, Any] | None = None,
        invalid: Invalid = "raise",
    ) -> BatchResult:
        """Subscribe any number of users to an account (``add_subscriber``).

        Ids are checked, de-duplicated and sent in chunks of 100, ``concurrency`` chunks at a time
        (default: the session's ``max_concurrency``). Every id gets an outcome: ``succeeded``
        (Result 1), ``unchanged`` (Result 2, already subscribed) or ``failed`` (Result 0, or the
        error that sank its chunk after retries). ``on_progress`` (sync or async) is called with a
        :class:`BatchProgress` after each chunk; if it raises, the job still finishes and
        :class:`ProgressCallbackError` carries the result. ``extra_body`` adds wire fields tim_oa
        does not model to every chunk's request.

        ``invalid="raise"`` (default): ids that break the UserID rules raise one
        :class:`ValidationError` listing every one with its index, before anything is sent.
        ``invalid="fail"``: each becomes a failed outcome carrying its ``ValidationError`` and
        the other ids are sent.
        """
        return await self._subscriber_batch(
            R.ADD_SUBSCRIBERS, account_id, user_ids, concurrency, on_progress, extra_body, invalid
        )

    async def remove_subscribers(
        self,
        account_id: str,
        user_ids: Iterable[str],
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
        extra_body: Mapping[str, Any] | None = None,
        invalid: Invalid = "raise",
    ) -> BatchResult:
        """Unsubscribe any number of users from an account (``delete_subscriber``).

        As :meth:`add_subscribers`; ``unchanged`` (Result 2) means the user was not subscribed.
        """
        return await self._subscriber_batch(
            R.REMOVE_SUBSCRIBERS,
            account_id,
            user_ids,
            concurrency,
            on_progress,
            extra_body,
            invalid,
        )

    async def _subscriber_batch(
        self,
        spec: R.Command,
        account_id: str,
        user_ids: Iterable[str],
        concurrency: int | None,
        on_progress: ProgressCallback | None,
        extra_body: Mapping[str, Any] | None,
        invalid: Invalid,
    ) -> BatchResult:
        from ._bulk import run_bulk

        check_account_id(account_id)
        adding = spec is R.ADD_SUBSCRIBERS
        build = build_add if adding else build_remove
        encode = encode_add if adding else encode_remove
        return await run_bulk(
            self,
            spec,
            user_ids,
            arg="user_ids",
            build=lambda chunk: build(account_id, chunk),
            encode=lambda chunk: encode(account_id, chunk),
            parse=lambda data, chunk: parse_results(data, spec.name, chunk),
            invalid=invalid,
            extra_body=extra_body,
            concurrency=concurrency,
            on_progress=on_progress,
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
        await self._request(
            R.MODIFY_SUBSCRIBER, merge_extra(body, extra_body, R.MODIFY_SUBSCRIBER.modelled)
        )
