"""Official Account commands: create, destroy, modify, get profiles, list a user's subscriptions.

The ``build_*`` and ``parse_*`` functions are the pure protocol (bodies in, models out); the
:class:`AccountsMixin` methods validate input, then schedule them through the session.

The models, the converter, the pager and the batch helpers are imported where they are first
needed, not at module level: ``tim_oa.Session`` then loads none of them (nor attrs) until a call
reads an answer, which keeps ``import tim_oa; tim_oa.Session`` close to ``import httpx``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _limits as L
from . import _registry as R
from ._base import BaseSession
from ._errors import (
    AccountIdInUseError,
    AccountNotFoundError,
    PaginationError,
    TimOAError,
    ValidationError,
)
from ._inference import ASKED_FIELDS, inferred, mismatch
from ._validation import (
    check_account_id,
    check_custom_account_id,
    check_filter,
    check_int,
    check_iterable,
    check_page_size,
    check_text,
    check_user_id,
    merge_extra,
)

if TYPE_CHECKING:
    from ._models import OfficialAccount, SubscribedAccount
    from ._pagination import AsyncPager, Page

CREATE = R.CREATE_ACCOUNT.name
DESTROY = R.DESTROY_ACCOUNT.name
GET_INFO = R.GET_ACCOUNTS.name
SUBSCRIBED = R.SUBSCRIBED_ACCOUNTS.name

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
        body["MaxSubscriberNum"] = check_int(
            max_subscribers, "max_subscribers", minimum=1, maximum=L.U32_MAX
        )
    return body


def build_create(owner: str, name: str, account_id: str | None, **fields: Any) -> dict[str, Any]:
    """Body of ``create_official_account``; note its id key is ``OfficialAccountUserID``."""
    body: dict[str, Any] = {"Owner_Account": check_user_id(owner, "owner")}
    if account_id is not None:
        body["OfficialAccountUserID"] = check_custom_account_id(account_id)
    body.update(profile_fields(name=check_text(name, "name", "Name", required=True), **fields))
    return body


def build_modify(
    account_id: str, extra_body: Mapping[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """Body of ``modify_official_account_base_info``: only the fields given."""
    changes = profile_fields(**fields)
    if not changes and not extra_body:
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


def parse_create(data: Mapping[str, Any], account_id: str | None) -> str:
    """The id a ``create_official_account`` answer names (``OfficialAccountUserID``).

    With a custom ``account_id`` an answer that leaves the id out is taken to mean that id; an
    answer naming another id, or none when the server was to generate it, is malformed (and the
    account may exist all the same).
    """
    from ._converter import answer_field, malformed, shown

    created = answer_field(data, "OfficialAccountUserID", str, CREATE, effect=True)
    if not created:
        if account_id is not None:
            return account_id
        raise malformed(CREATE, "OfficialAccountUserID is missing", effect=True)
    if account_id is not None and created != account_id:
        raise malformed(
            CREATE, f"asked for id {account_id!r}, answered {shown(created)}", effect=True
        )
    return str(created)


def parse_get_info(data: Mapping[str, Any], account_ids: Sequence[str]) -> list[OfficialAccount]:
    """One :class:`OfficialAccount` per requested id.

    Entries are matched by their ``Official_Account``. Only an answer with exactly one entry per
    requested id, whose entries carry either no id or the id asked at their position, is matched
    by position (for entries without an id). An id with no entry of its own gets an entry with
    ``error_code`` -1 (``.error`` is :class:`MissingResultError`): never another id's profile.
    """
    import attrs

    from ._converter import answer_list, malformed, structure_list
    from ._models import MISSING_ENTRY_CODE, OfficialAccount

    wanted = set(account_ids)
    raw = answer_list(data, "OfficialAccountInfoList", GET_INFO, effect=False)
    items = structure_list(raw, OfficialAccount, "OfficialAccountInfoList", GET_INFO)
    by_id: dict[str, OfficialAccount] = {}
    positional = len(items) == len(account_ids) and all(
        not item.official_account or item.official_account == asked
        for item, asked in zip(items, account_ids, strict=True)
    )
    for position, item in enumerate(items):
        key = item.official_account
        if not key:
            if not positional:
                continue  # an entry without an id cannot be told apart: its id stays missing
            key = account_ids[position]
            item = attrs.evolve(item, official_account=key)
        if key not in wanted:
            continue  # an entry for an id not asked about
        previous = by_id.setdefault(key, item)
        if previous != item:
            raise malformed(GET_INFO, f"{key!r} is answered twice, differently", effect=False)
    return [
        by_id.get(a)
        or OfficialAccount(
            a,
            error_code=MISSING_ENTRY_CODE,
            error_info="the server's answer has no entry for this id",
        )
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


def parse_subscribed_page(data: Mapping[str, Any], offset: int) -> Page[SubscribedAccount]:
    """One page of subscribed accounts; ``next_cursor`` is the next ``Offset`` or ``None``."""
    from ._converter import answer_field, answer_list, malformed, structure_list
    from ._models import SubscribedAccount
    from ._pagination import Page

    raw = answer_list(data, "OfficialAccountInfoList", SUBSCRIBED, effect=False)
    items = structure_list(raw, SubscribedAccount, "OfficialAccountInfoList", SUBSCRIBED)
    total = answer_field(data, "TotalCount", int, SUBSCRIBED, effect=False)
    next_offset = answer_field(data, "Next", int, SUBSCRIBED, effect=False)
    flag = answer_field(data, "CompleteFlag", int, SUBSCRIBED, effect=False)
    if flag not in (None, 0, 1):
        raise malformed(SUBSCRIBED, f"CompleteFlag must be 0 or 1, got {flag}", effect=False)
    if flag == 1 or (flag is None and next_offset is None):
        return Page(items, offset, None, total)
    if next_offset is None or next_offset <= offset:
        raise PaginationError(
            f"{SUBSCRIBED}: CompleteFlag is 0 but Next ({next_offset!r}) does not move past "
            f"Offset {offset}"
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
        extra_body: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an Official Account and return its id (``create_official_account``).

        Without ``account_id`` the server generates one (``@TOA#_@TOA#…``); such a create is not
        retried after an unknown outcome, since a repeat could create a second account. A custom
        ``account_id`` must start with ``@TOA#_``, be printable ASCII of at most 48 bytes, and not
        start with ``@TOA#_@TOA#``. ``owner`` must be an imported IM account. ``max_subscribers``
        is 1 to 4294967295.

        With a custom id, a retry after an attempt that may have reached the server (its answer
        was lost: a timeout or dropped connection after sending, HTTP 5xx) may be told 130008 (in
        use) about the account that attempt created. The account is then looked up once, and
        taken as created by this call only if every field the call set matches it (owner, name,
        introduction, face_url, organization, custom_string; the text fields not set are empty;
        max_subscribers where the answer shows it) and its ``CreateTime``, when answered, is not
        older than the call's start (less ``CREATE_TIME_SKEW``, 60 s of clock difference).
        Its id is then returned and a WARNING record with ``tim_oa_outcome="inferred"`` is
        logged. Otherwise :class:`AccountIdInUseError` is raised: ``after_unknown_outcome`` is
        False when no earlier attempt can have reached the server (the id is simply taken), and
        True when one may have but the account found is not the one asked for (the message says
        which field differs).
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
        body = merge_extra(body, extra_body, R.CREATE_ACCOUNT.modelled)
        started = self._wall_time()
        try:
            data = await self._request(R.CREATE_ACCOUNT, body)
        except AccountIdInUseError as exc:
            if account_id is None or not exc.after_unknown_outcome:
                raise
            asked = {"owner": owner, **{k: body.get(w) for k, w in ASKED_FIELDS}}
            await self._confirm_created(exc, account_id, asked, started)
            return account_id
        return parse_create(data, account_id)

    def _wall_time(self) -> float:
        """Unix seconds by the session's clock when it tells wall time (the emulator's does)."""
        wall = getattr(self._clock, "time", None)
        return float(wall()) if callable(wall) else time.time()

    async def _confirm_created(
        self, exc: AccountIdInUseError, account_id: str, asked: dict[str, Any], started: float
    ) -> None:
        """After 130008 following a lost answer, check the account in use is the one asked for.

        It is taken as created by this call only when every profile field matches what the call
        set (unset text fields empty) and its ``CreateTime``, when answered, is not older than
        the call's start less ``CREATE_TIME_SKEW`` (see :mod:`tim_oa._inference`).
        """
        from ._converter import shown

        try:
            (found,) = await self.get_accounts([account_id])
        except TimOAError as lookup:
            found_text = f"looking it up failed ({type(lookup).__name__}: {lookup})"
        else:
            found_text = (
                mismatch(found, asked, started)
                if found.ok
                else f"looking it up answered {found.error}"
            )
            if found_text and found.ok:
                found_text = (
                    f"it has owner {shown(found.owner)} and name {shown(found.name, 160)} "
                    f"({found_text})"
                )
            if not found_text:
                inferred(
                    CREATE,
                    account_id,
                    "answered 130008 (in use) after an attempt whose answer was lost; the "
                    "account has every field asked for and was created after the call began, "
                    "so it is taken as created by that attempt",
                )
                return
        error = AccountIdInUseError(
            exc.code,
            f"{exc.info} (an earlier attempt of this call may have created {account_id!r}, but "
            f"{found_text}; asked for owner {asked['owner']!r} and name {asked['name']!r})",
            command=exc.command,
            request_id=exc.request_id,
        )
        error.attempts = exc.attempts
        error.after_unknown_outcome = True
        raise error from exc

    async def destroy_account(
        self, account_id: str, *, extra_body: Mapping[str, Any] | None = None
    ) -> None:
        """Destroy an Official Account (``destroy_official_account``).

        Raises :class:`AccountNotFoundError` if it does not exist or was already destroyed, except
        when a retry is told so after an attempt that may have reached the server (its answer was
        lost: a timeout or dropped connection after sending, HTTP 5xx, a transient code): that
        attempt destroyed it, so the call returns and logs a WARNING record with
        ``tim_oa_outcome="inferred"``. After attempts that cannot have reached the server (a
        refused connection, HTTP 429, a rate limit code) 130004 is raised as it is.
        """
        body = merge_extra(
            {"Official_Account": check_account_id(account_id)},
            extra_body,
            R.DESTROY_ACCOUNT.modelled,
        )
        try:
            await self._request(R.DESTROY_ACCOUNT, body)
        except AccountNotFoundError as exc:
            if not exc.after_unknown_outcome or exc.code != 130004:
                raise
            inferred(
                DESTROY,
                account_id,
                "answered 130004 (not found) after an attempt whose answer was lost; taken as "
                "destroyed by that attempt",
            )

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
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        """Change an account's profile (``modify_official_account_base_info``).

        Only the fields given are sent; at least one is required (or ``extra_body``). Byte limits
        (UTF-8): name 150, introduction 400, face_url 500, organization 500, custom_string 3000.
        """
        body = build_modify(
            account_id,
            extra_body,
            name=name,
            introduction=introduction,
            face_url=face_url,
            organization=organization,
            custom_string=custom_string,
            max_subscribers=max_subscribers,
        )
        body = merge_extra(body, extra_body, R.MODIFY_ACCOUNT.modelled)
        await self._request(R.MODIFY_ACCOUNT, body)

    async def get_accounts(
        self,
        account_ids: Iterable[str],
        *,
        fields: Iterable[str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> list[OfficialAccount]:
        """Fetch profiles of any number of accounts (``get_official_account_info``).

        Ids are sent in chunks of 50, concurrently, and the answer keeps the input order (one
        entry per input id). An account that does not exist is not dropped: its entry has
        ``ok == False`` and ``.error`` (e.g. :class:`AccountNotFoundError`; an id the server's
        answer left out has :class:`MissingResultError`). ``fields`` limits the profile fields
        returned (``"name"``/``"Name"``, ``"subscriber_num"``, …). If a chunk fails as a whole,
        the other chunks are cancelled and that chunk's error is raised.
        """
        from ._batch import chunked
        from ._bulk import batch_workers, check_ids, chunk_sender
        from ._tasks import gather_chunks

        ids = list(check_iterable(account_ids, "account_ids"))
        distinct = check_ids(ids, "account_ids", check_account_id, invalid="raise").valid
        wire_fields = _filter(fields, "fields", ACCOUNT_FILTER)
        self._check_open()
        spec = R.GET_ACCOUNTS
        send = chunk_sender(self, spec, lambda c: build_get_info(c, wire_fields), extra_body)
        found: dict[str, OfficialAccount] = {}

        async def fetch(chunk: Sequence[str]) -> None:
            for account in parse_get_info(await send(chunk), chunk):
                found[account.official_account] = account

        assert spec.chunk_size is not None
        chunks = list(chunked(distinct, spec.chunk_size))
        await gather_chunks(chunks, min(len(chunks), batch_workers(self, None)), fetch)
        return [found[a] for a in ids]

    def subscribed_accounts(
        self,
        user_id: str,
        *,
        page_size: int = L.MAX_PAGE_SIZE,
        account_fields: Iterable[str] | None = None,
        self_fields: Iterable[str] | None = None,
        offset: int = 0,
        extra_body: Mapping[str, Any] | None = None,
    ) -> AsyncPager[SubscribedAccount]:
        """Accounts ``user_id`` subscribes to (``get_subscribed_official_account_list``).

        Walks ``Offset``/``Next`` until ``CompleteFlag`` is 1. ``account_fields`` and
        ``self_fields`` become the ``ResponseFilter`` (Python or wire names); ``offset`` resumes
        from a saved ``Page.next_cursor``. Input is checked now, before any request.
        """
        from ._pagination import AsyncPager

        check_user_id(user_id)
        check_page_size(page_size)
        check_int(offset, "offset", minimum=0, maximum=L.U32_MAX)
        acct = _filter(account_fields, "account_fields", ACCOUNT_FILTER)
        own = _filter(self_fields, "self_fields", SELF_FILTER)
        merge_extra({}, extra_body, R.SUBSCRIBED_ACCOUNTS.modelled)
        extra = dict(extra_body or {})

        async def fetch(cursor: int) -> Page[SubscribedAccount]:
            body = {**build_subscribed_page(user_id, page_size, cursor, acct, own), **extra}
            return parse_subscribed_page(await self._request(R.SUBSCRIBED_ACCOUNTS, body), cursor)

        return AsyncPager(fetch, offset, command=SUBSCRIBED)
