"""Official Account commands: create, destroy, modify, get profiles, list a user's subscriptions.

The ``build_*`` and ``parse_*`` functions are the pure protocol (bodies in, models out); the
:class:`AccountsMixin` methods validate input, then schedule them through the session.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import anyio

from . import _limits as L
from ._base import BaseSession
from ._batch import chunked
from ._converter import structure
from ._errors import PaginationError, ValidationError
from ._models import OfficialAccount, SubscribedAccount
from ._pagination import AsyncPager, Page
from ._validation import (
    check_account_id,
    check_custom_account_id,
    check_filter,
    check_int,
    check_page_size,
    check_text,
    check_user_id,
)

# Python argument -> wire key of the writable text fields.
TEXT_FIELDS = {
    "name": "Name",
    "introduction": "Introduction",
    "face_url": "FaceUrl",
    "organization": "Organization",
    "custom_string": "CustomString",
}

# Names accepted in ``fields=`` / ``account_fields=`` (Python or wire spelling) -> wire key.
ACCOUNT_FILTER = {
    "create_time": "CreateTime",
    "name": "Name",
    "owner": "Owner_Account",
    "last_msg_time": "LastMsgTime",
    "subscriber_num": "SubscriberNum",
    "introduction": "Introduction",
    "face_url": "FaceUrl",
    "organization": "Organization",
    "custom_string": "CustomString",
}
SELF_FILTER = {"subscribe_time": "SubscribeTime", "custom_string": "CustomString"}


def _filter(values: Iterable[str] | None, arg: str, names: dict[str, str]) -> list[str] | None:
    if values is None:
        return None
    allowed = {**names, **{w: w for w in names.values()}}
    return [allowed[n] for n in check_filter(values, arg, allowed)]


def profile_fields(**fields: Any) -> dict[str, Any]:
    """Validate the profile fields that were given (not ``None``) and return them by wire key."""
    body: dict[str, Any] = {}
    for arg, wire_key in TEXT_FIELDS.items():
        value = fields.get(arg)
        if value is not None:
            body[wire_key] = check_text(value, arg, wire_key, required=arg == "name")
    max_subscribers = fields.get("max_subscribers")
    if max_subscribers is not None:
        body["MaxSubscriberNum"] = check_int(max_subscribers, "max_subscribers", minimum=1)
    return body


def build_create(owner: str, name: str, account_id: str | None, **fields: Any) -> dict[str, Any]:
    """Body of ``create_official_account``; note its id key is ``OfficialAccountUserID``."""
    body: dict[str, Any] = {"Owner_Account": check_user_id(owner, "owner")}
    if account_id is not None:
        body["OfficialAccountUserID"] = check_custom_account_id(account_id)
    body.update(profile_fields(name=check_text(name, "name", "Name", required=True), **fields))
    return body


def build_modify(account_id: str, **fields: Any) -> dict[str, Any]:
    """Body of ``modify_official_account_base_info``: only the fields given."""
    changes = profile_fields(**fields)
    if not changes:
        raise ValidationError(
            "modify_account needs at least one field to change "
            f"({', '.join([*TEXT_FIELDS, 'max_subscribers'])})",
            field="fields",
        )
    return {"Official_Account": check_account_id(account_id), **changes}


def build_get_info(account_ids: Sequence[str], fields: list[str] | None) -> dict[str, Any]:
    """Body of ``get_official_account_info`` for at most 50 ids."""
    body: dict[str, Any] = {"OfficialAccountIdList": [{"Official_Account": a} for a in account_ids]}
    if fields is not None:
        body["ResponseFilter"] = {"OfficialAccountBaseInfoFilter": fields}
    return body


def parse_get_info(data: dict[str, Any], account_ids: Sequence[str]) -> list[OfficialAccount]:
    """One :class:`OfficialAccount` per requested id, matched by id (or position if absent)."""
    items = data.get("OfficialAccountInfoList") or []
    by_id: dict[str, OfficialAccount] = {}
    for position, raw in enumerate(items):
        account = structure(raw, OfficialAccount)
        if not account.official_account and position < len(account_ids):
            account = structure({**raw, "Official_Account": account_ids[position]}, OfficialAccount)
        by_id[account.official_account] = account
    return [
        by_id.get(a)
        or OfficialAccount(a, error_code=-1, error_info="missing from the server's answer")
        for a in account_ids
    ]


def build_subscribed_page(
    user_id: str,
    limit: int,
    offset: int,
    account_fields: list[str] | None,
    self_fields: list[str] | None,
) -> dict[str, Any]:
    """Body of one ``get_subscribed_official_account_list`` page."""
    body: dict[str, Any] = {"Subscriber_Account": user_id, "Limit": limit, "Offset": offset}
    response_filter: dict[str, list[str]] = {}
    if account_fields is not None:
        response_filter["OfficialAccountBaseInfoFilter"] = account_fields
    if self_fields is not None:
        response_filter["SelfInfoFilter"] = self_fields
    if response_filter:
        body["ResponseFilter"] = response_filter
    return body


def parse_subscribed_page(data: dict[str, Any], offset: int) -> Page[SubscribedAccount]:
    """One page of subscribed accounts; ``next_cursor`` is the next ``Offset`` or ``None``."""
    items = tuple(
        structure(i, SubscribedAccount) for i in data.get("OfficialAccountInfoList") or []
    )
    total = data.get("TotalCount")
    next_offset = data.get("Next")
    complete = data.get("CompleteFlag") == 1 or ("CompleteFlag" not in data and next_offset is None)
    if complete:
        return Page(items, offset, None, total)
    if not isinstance(next_offset, int) or isinstance(next_offset, bool) or next_offset <= offset:
        raise PaginationError(
            "get_subscribed_official_account_list: CompleteFlag is 0 but Next "
            f"({next_offset!r}) does not move past Offset {offset}"
        )
    return Page(items, offset, next_offset, total)


class AccountsMixin(BaseSession):
    """Session methods for the accounts themselves."""

    async def create_account(
        self,
        owner: str,
        name: str,
        *,
        account_id: str | None = None,
        introduction: str | None = None,
        face_url: str | None = None,
        organization: str | None = None,
        custom_string: str | None = None,
        max_subscribers: int | None = None,
    ) -> str:
        """Create an Official Account and return its id (``create_official_account``).

        Without ``account_id`` the server generates one (``@TOA#_@TOA#…``); such a create is not
        retried after an unknown outcome, since a repeat could create a second account. A custom
        ``account_id`` must start with ``@TOA#_``, be printable ASCII of at most 48 bytes, and not
        start with ``@TOA#_@TOA#``. ``owner`` must be an imported IM account.
        """
        body = build_create(
            owner,
            name,
            account_id,
            introduction=introduction,
            face_url=face_url,
            organization=organization,
            custom_string=custom_string,
            max_subscribers=max_subscribers,
        )
        data = await self._request("create_official_account", body)
        created = data.get("OfficialAccountUserID") or account_id
        if not isinstance(created, str) or not created:
            raise ValidationError("the server's answer carries no OfficialAccountUserID")
        return created

    async def destroy_account(self, account_id: str) -> None:
        """Destroy an Official Account (``destroy_official_account``).

        Raises :class:`AccountNotFoundError` if it does not exist or was already destroyed.
        """
        body = {"Official_Account": check_account_id(account_id)}
        await self._request("destroy_official_account", body)

    async def modify_account(
        self,
        account_id: str,
        *,
        name: str | None = None,
        introduction: str | None = None,
        face_url: str | None = None,
        organization: str | None = None,
        custom_string: str | None = None,
        max_subscribers: int | None = None,
    ) -> None:
        """Change an account's profile (``modify_official_account_base_info``).

        Only the fields given are sent; at least one is required. Byte limits (UTF-8): name 150,
        introduction 400, face_url 500, organization 500, custom_string 3000.
        """
        body = build_modify(
            account_id,
            name=name,
            introduction=introduction,
            face_url=face_url,
            organization=organization,
            custom_string=custom_string,
            max_subscribers=max_subscribers,
        )
        await self._request("modify_official_account_base_info", body)

    async def get_accounts(
        self, account_ids: Iterable[str], *, fields: Iterable[str] | None = None
    ) -> list[OfficialAccount]:
        """Fetch profiles of any number of accounts (``get_official_account_info``).

        Ids are sent in chunks of 50, concurrently, and the answer keeps the input order (one
        entry per input id). An account that does not exist is not dropped: its entry has
        ``ok == False`` and ``.error`` (e.g. :class:`AccountNotFoundError`). ``fields`` limits the
        profile fields returned (``"name"``/``"Name"``, ``"subscriber_num"``, …).
        """
        ids = list(account_ids) if not isinstance(account_ids, str) else None
        if ids is None:
            raise ValidationError("account_ids must be an iterable of ids, not a str")
        for index, account_id in enumerate(ids):
            check_account_id(account_id, f"account_ids[{index}]")
        wire_fields = _filter(fields, "fields", ACCOUNT_FILTER)
        distinct = list(dict.fromkeys(ids))
        found: dict[str, OfficialAccount] = {}

        async def fetch(chunk: Sequence[str]) -> None:
            data = await self._request(
                "get_official_account_info", build_get_info(chunk, wire_fields)
            )
            for account in parse_get_info(data, chunk):
                found[account.official_account] = account

        chunks = list(chunked(distinct, L.MAX_ACCOUNTS_PER_INFO_CALL))
        if len(chunks) == 1:
            await fetch(chunks[0])  # the common case needs no task group
        else:
            async with anyio.create_task_group() as tg:
                for chunk in chunks:
                    tg.start_soon(fetch, chunk)
        return [found[a] for a in ids]

    def subscribed_accounts(
        self,
        user_id: str,
        *,
        page_size: int = L.MAX_PAGE_SIZE,
        account_fields: Iterable[str] | None = None,
        self_fields: Iterable[str] | None = None,
        offset: int = 0,
    ) -> AsyncPager[SubscribedAccount]:
        """Accounts ``user_id`` subscribes to (``get_subscribed_official_account_list``).

        Walks ``Offset``/``Next`` until ``CompleteFlag`` is 1. ``account_fields`` and
        ``self_fields`` become the ``ResponseFilter`` (Python or wire names); ``offset`` resumes
        from a saved ``Page.next_cursor``. Input is checked now, before any request.
        """
        check_user_id(user_id)
        check_page_size(page_size)
        check_int(offset, "offset", minimum=0)
        acct = _filter(account_fields, "account_fields", ACCOUNT_FILTER)
        own = _filter(self_fields, "self_fields", SELF_FILTER)

        async def fetch(cursor: int) -> Page[SubscribedAccount]:
            body = build_subscribed_page(user_id, page_size, cursor, acct, own)
            data = await self._request("get_subscribed_official_account_list", body)
            return parse_subscribed_page(data, cursor)

        return AsyncPager(fetch, offset, command="get_subscribed_official_account_list")
