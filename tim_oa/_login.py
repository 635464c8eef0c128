"""The app's own IM accounts (``im_open_login_svc``) and the webhook addresses (``ConfigSvc``).

An Official Account's owner, and every subscriber, must be an account the app imported into the
IM service first (Tencent answers 70107 otherwise). These commands import, check and delete those
accounts; :meth:`ImportsMixin.get_callback_ips` lists the addresses Tencent's webhooks come from,
for an allowlist. Pure ``build_*``/``parse_*`` functions plus the session methods; the bulk ones
run through :func:`tim_oa._bulk.run_bulk`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _registry as R
from ._base import BaseSession
from ._validation import check_bool, check_text, check_user_id, merge_extra

if TYPE_CHECKING:  # loaded on first use (see tim_oa._accounts)
    from ._batch import BatchResult, ProgressCallback
    from ._bulk import Invalid

IMPORTED, NOT_IMPORTED = "Imported", "NotImported"
"""``AccountStatus`` values of an ``account_check`` answer."""

IMPORT_SUCCEEDED, IMPORT_FAILED = 1, 0
"""``Outcome.code`` of an imported id: tim_oa's own codes (the answer only lists failures)."""


def build_import_many(user_ids: Sequence[str]) -> dict[str, Any]:
    """Body of one ``multiaccount_import`` call (at most 100 ids)."""
    return {"Accounts": list(user_ids)}


def parse_import_many(data: Mapping[str, Any], asked: Sequence[str]) -> dict[str, int]:
    """Each asked id's outcome code: 0 if ``FailAccounts`` names it, else 1.

    A missing ``FailAccounts`` is taken as none failed (INFERRED: the page shows it in its sample
    answer without saying it is always there). One that is not a list of str is malformed.
    """
    from ._converter import answer_list, malformed

    command = R.IMPORT_ACCOUNTS.name
    failed = answer_list(data, "FailAccounts", command, effect=True)
    for position, item in enumerate(failed):
        if type(item) is not str:
            raise malformed(command, f"FailAccounts[{position}] is not a str", effect=True)
    refused = set(failed)
    return {u: IMPORT_FAILED if u in refused else IMPORT_SUCCEEDED for u in asked}


def _user_items(key: str, user_ids: Sequence[str]) -> dict[str, Any]:
    return {key: [{"UserID": u} for u in user_ids]}


def build_check(user_ids: Sequence[str]) -> dict[str, Any]:
    """Body of one ``account_check`` call (at most 100 ids)."""
    return _user_items("CheckItem", user_ids)


def build_delete(user_ids: Sequence[str]) -> dict[str, Any]:
    """Body of one ``account_delete`` call (at most 100 ids)."""
    return _user_items("DeleteItem", user_ids)


def _result_items(
    data: Mapping[str, Any], command: str, asked: Sequence[str], *, effect: bool
) -> dict[str, Mapping[str, Any]]:
    """The ``ResultItem`` objects of asked ids, by ``UserID``; malformed items raise."""
    from ._converter import answer_list, malformed, shown

    if "ResultItem" not in data:
        raise malformed(command, "ResultItem is missing", effect=effect)
    wanted = set(asked)
    found: dict[str, Mapping[str, Any]] = {}
    for position, item in enumerate(answer_list(data, "ResultItem", command, effect=effect)):
        if type(item) is not dict:
            raise malformed(command, f"ResultItem[{position}] is not an object", effect=effect)
        user_id, code = item.get("UserID"), item.get("ResultCode")
        if type(user_id) is not str or type(code) is not int:
            raise malformed(
                command,
                f"ResultItem[{position}] needs a str UserID and an int ResultCode, got "
                f"{shown(user_id)} and {shown(code)}",
                effect=effect,
            )
        if user_id in wanted:
            if user_id in found and found[user_id].get("ResultCode") != code:
                raise malformed(
                    command, f"{shown(user_id)} is answered twice, differently", effect=effect
                )
            found[user_id] = item
    return found


def parse_delete(data: Mapping[str, Any], asked: Sequence[str]) -> dict[str, int]:
    """Each answered id's ``ResultCode`` (0 deleted, 70107 not an imported account)."""
    items = _result_items(data, R.DELETE_ACCOUNTS.name, asked, effect=True)
    return {user_id: item["ResultCode"] for user_id, item in items.items()}


def parse_check(data: Mapping[str, Any], asked: Sequence[str]) -> dict[str, bool]:
    """Each asked id: True if ``AccountStatus`` is ``Imported``, False if ``NotImported``.

    Raises the :class:`ApiError` of the first per-item non-zero ``ResultCode`` (its text names
    every id that failed, with its code), or :class:`MalformedResponseError` naming the ids the
    answer left out or whose ``AccountStatus`` is neither value.
    """
    from ._codes import api_error
    from ._converter import malformed, shown

    command = R.CHECK_ACCOUNTS.name
    items = _result_items(data, command, asked, effect=False)
    statuses: dict[str, bool] = {}
    refused: list[tuple[str, int, str]] = []
    unreadable: list[str] = []
    for user_id in asked:
        item = items.get(user_id)
        if item is None:
            unreadable.append(user_id)
            continue
        code = item["ResultCode"]
        if code != 0:
            info = item.get("ResultInfo")
            refused.append((user_id, code, info if isinstance(info, str) else ""))
            continue
        status = item.get("AccountStatus")
        if status not in (IMPORTED, NOT_IMPORTED):
            unreadable.append(user_id)
            continue
        statuses[user_id] = status == IMPORTED
    if refused:
        listed = "; ".join(f"{shown(u)}: {code} {info}".rstrip() for u, code, info in refused)
        return_code = refused[0][1]
        raise api_error(
            return_code, f"checking {len(refused)} id(s) failed: {listed}", command=command
        )
    if unreadable:
        listed = ", ".join(shown(u) for u in unreadable)
        raise malformed(
            command,
            f"no AccountStatus Imported or NotImported for {len(unreadable)} id(s): {listed}",
            effect=False,
        )
    return statuses


def parse_ip_list(data: Mapping[str, Any]) -> list[str]:
    """The ``IPList`` of a ``GetIPList`` answer: addresses and CIDR ranges, as given."""
    from ._converter import answer_list, malformed

    command = R.GET_IP_LIST.name
    if "IPList" not in data:
        raise malformed(command, "IPList is missing", effect=False)
    addresses = answer_list(data, "IPList", command, effect=False)
    for position, item in enumerate(addresses):
        if type(item) is not str:
            raise malformed(command, f"IPList[{position}] is not a str", effect=False)
    return list(addresses)


class ImportsMixin(BaseSession):
    """Session methods for the app's own IM accounts, and Tencent's callback addresses."""

    async def import_accounts(
        self,
        user_ids: Iterable[str],
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
        invalid: Invalid = "raise",
        extra_body: Mapping[str, Any] | None = None,
    ) -> BatchResult:
        """Import any number of the app's users as IM accounts (``multiaccount_import``).

        An Official Account's owner and its subscribers must be imported first. Ids (UserIDs of
        at most 32 bytes) are checked, de-duplicated and sent in chunks of 100, ``concurrency``
        chunks at a time; calls are paced at Tencent's 100 per second for this command. Each id
        is ``succeeded`` (``Outcome.code`` 1) unless the answer's ``FailAccounts`` names it
        (``failed``, code 0) or its chunk failed. Importing an imported id again does no harm.
        ``on_progress`` and ``invalid`` work as in :meth:`add_subscribers`.
        """
        from ._bulk import run_bulk

        return await run_bulk(
            self,
            R.IMPORT_ACCOUNTS,
            user_ids,
            arg="user_ids",
            build=build_import_many,
            parse=parse_import_many,
            invalid=invalid,
            extra_body=extra_body,
            concurrency=concurrency,
            on_progress=on_progress,
        )

    async def import_account(
        self,
        user_id: str,
        *,
        nick: str | None = None,
        face_url: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        """Import one user as an IM account, with a nickname and a picture (``account_import``).

        ``nick`` (``Nick``) and ``face_url`` (``FaceUrl``) are at most 500 bytes each. Importing
        an imported id again does no harm (Tencent updates the profile fields given).
        """
        body: dict[str, Any] = {"UserID": check_user_id(user_id)}
        if nick is not None:
            body["Nick"] = check_text(nick, "nick", "Nick")
        if face_url is not None:
            body["FaceUrl"] = check_text(face_url, "face_url", "FaceUrl")
        body = merge_extra(body, extra_body, R.IMPORT_ACCOUNT.modelled)
        await self._request(R.IMPORT_ACCOUNT, body)

    async def check_accounts(
        self,
        user_ids: Iterable[str],
        *,
        concurrency: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> dict[str, bool]:
        """Which users are imported IM accounts (``account_check``): ``{user_id: imported}``.

        Ids are checked (every bad one listed in one :class:`ValidationError`), de-duplicated
        and sent in chunks of 100, concurrently; the dict keeps the input order. An id Tencent
        answers with a non-zero ``ResultCode`` raises the :class:`ApiError` of that code, its
        text naming every such id of the chunk; ids the answer leaves out (or answers without
        ``Imported``/``NotImported``) raise :class:`MalformedResponseError` naming them. The
        first chunk to fail cancels the others.
        """
        from ._batch import chunked
        from ._bulk import batch_workers, check_ids, chunk_sender
        from ._tasks import gather_chunks

        spec = R.CHECK_ACCOUNTS
        ids = check_ids(user_ids, "user_ids", invalid="raise").valid
        workers = batch_workers(self, concurrency)
        send = chunk_sender(self, spec, build_check, extra_body)
        found: dict[str, bool] = {}

        async def fetch(chunk: Sequence[str]) -> None:
            found.update(parse_check(await send(chunk), chunk))

        assert spec.chunk_size is not None
        chunks = list(chunked(ids, spec.chunk_size))
        await gather_chunks(chunks, min(len(chunks), workers), fetch)
        return {u: found[u] for u in ids}

    async def delete_accounts(
        self,
        user_ids: Iterable[str],
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
        invalid: Invalid = "raise",
        extra_body: Mapping[str, Any] | None = None,
    ) -> BatchResult:
        """Delete any number of imported IM accounts (``account_delete``).

        Irreversible on Tencent's side: the user's profile, contacts and conversations go too,
        and on most plans a deleted UserID cannot be imported again for three months. Chunks of
        100; each id is ``succeeded`` (``ResultCode`` 0), ``unchanged`` (70107: it was not an
        imported account) or ``failed`` (any other code, as ``Outcome.code``). ``on_progress``
        and ``invalid`` work as in :meth:`add_subscribers`.
        """
        from ._bulk import run_bulk

        return await run_bulk(
            self,
            R.DELETE_ACCOUNTS,
            user_ids,
            arg="user_ids",
            build=build_delete,
            parse=parse_delete,
            invalid=invalid,
            extra_body=extra_body,
            concurrency=concurrency,
            on_progress=on_progress,
        )

    async def get_callback_ips(self, *, receiver_in_china: bool | None = None) -> list[str]:
        """The addresses Tencent's webhooks come from, for an allowlist (``ConfigSvc/GetIPList``).

        ``receiver_in_china``: where your webhook receiver runs. True asks for the egress
        addresses Tencent uses towards servers in the Chinese mainland (with Hong Kong),
        False for those towards servers elsewhere (``nettype`` 5 and 6); ``None`` (default)
        asks for every server address of the service, a superset. Entries are addresses or
        CIDR ranges (``"183.192.202.0/25"``), as Tencent gives them.
        """
        query = ""
        if receiver_in_china is not None:
            query = (
                "&nettype=5" if check_bool(receiver_in_china, "receiver_in_china") else "&nettype=6"
            )
        return parse_ip_list(await self._request(R.GET_IP_LIST, {}, extra_query=query))
