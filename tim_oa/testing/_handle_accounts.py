"""Handlers of the account commands: create, destroy, modify, get info.

Unfiltered account items carry the nine filter fields and nothing more: the reference does not
list ``MaxSubscriberNum`` among the returned fields (§4.4: whether it is returnable is UNKNOWN),
so the emulator leaves it out rather than let users' tests depend on it. The info-changed
callback fires on every successful modify, with the four profile texts as they are after it
(INFERRED: the reference leaves open whether unchanged fields are omitted).
"""

from __future__ import annotations

from typing import Final

from .. import _limits as L
from .._codes import ErrorCode as C
from . import _readers as R
from ._backend import Backend
from ._call import Call, Result, before
from ._failure import Failure
from ._readers import Body
from ._records import is_valid_account_id
from ._webhooks import (
    AFTER_CREATE,
    AFTER_DESTROYED,
    AFTER_INFO_CHANGED,
    BEFORE_CREATE,
    Decision,
)

ALL_ACCOUNT_FIELDS: Final = L.ACCOUNT_FILTER_FIELDS
"""Account fields returned when no ``OfficialAccountBaseInfoFilter`` is given: the filter's nine
(reference §4.4 and §4.9); not ``MaxSubscriberNum`` (see the module docstring)."""
_PROFILE_TEXTS: Final = ("Introduction", "FaceUrl", "Organization", "CustomString")


def _texts(body: Body, names: tuple[str, ...]) -> dict[str, str]:
    return {
        key: R.check_bytes(key, value, allow_empty=key != "Name")
        for key in names
        if (value := R.opt_str(body, key)) is not None
    }


def _max_subscribers(body: Body) -> int | None:
    value = R.opt_int(body, "MaxSubscriberNum")
    if value is not None and value < 1:
        raise R.invalid("MaxSubscriberNum", "must be a positive integer")
    return value


# -- 1. create_official_account --


def create_account(backend: Backend, body: Body, call: Call) -> Result:
    """``create_official_account``."""
    owner = R.check_user_id("Owner_Account", R.req_str(body, "Owner_Account"))
    name = R.check_bytes("Name", R.req_str(body, "Name"), allow_empty=False)
    texts = _texts(body, _PROFILE_TEXTS)
    max_subscribers = _max_subscribers(body)
    custom_id = R.opt_str(body, "OfficialAccountUserID")
    if custom_id is not None and (
        not is_valid_account_id(custom_id) or custom_id.startswith(L.GENERATED_ID_PREFIX)
    ):
        raise Failure(
            C.OA_ID_INVALID,
            "OfficialAccountUserID must be printable ASCII, at most "
            f"{L.ACCOUNT_ID_MAX_BYTES} bytes, start with {L.ACCOUNT_ID_PREFIX} and not "
            f"with {L.GENERATED_ID_PREFIX}",
        )

    def finish(decision: Decision) -> Body:
        if decision.error is not None:
            raise Failure(*decision.error)
        account_id = backend.create_account(
            owner,
            name,
            account_id=custom_id,
            introduction=texts.get("Introduction", ""),
            face_url=texts.get("FaceUrl", ""),
            organization=texts.get("Organization", ""),
            custom_string=texts.get("CustomString", ""),
            max_subscribers=max_subscribers,
        )
        people = {"Operator_Account": call.operator, "Owner_Account": owner, "Name": name}
        call.notify(AFTER_CREATE, Official_Account=account_id, **people)
        return {"OfficialAccountUserID": account_id}

    backend.check_create(owner, custom_id)
    fields = {"Operator_Account": call.operator, "Owner_Account": owner, "Name": name}
    return before(call, BEFORE_CREATE, fields, finish)


# -- 2. destroy_official_account --


def destroy_account(backend: Backend, body: Body, call: Call) -> Result:
    """``destroy_official_account``."""
    account = backend.get(R.account_id(body))
    backend.destroy_account(account.account_id)
    call.notify(
        AFTER_DESTROYED,
        Official_Account=account.account_id,
        Owner_Account=account.owner,
        Name=account.name,
    )
    return {}


# -- 3. modify_official_account_base_info --


def modify_account(backend: Backend, body: Body, call: Call) -> Result:
    """``modify_official_account_base_info``: only the fields given change."""
    account_id = R.account_id(body)
    texts = _texts(body, ("Name", *_PROFILE_TEXTS))
    max_subscribers = _max_subscribers(body)
    if not texts and max_subscribers is None:
        raise R.invalid("body", "has no field to modify")
    backend.modify_account(
        account_id,
        name=texts.get("Name"),
        introduction=texts.get("Introduction"),
        face_url=texts.get("FaceUrl"),
        organization=texts.get("Organization"),
        custom_string=texts.get("CustomString"),
        max_subscribers=max_subscribers,
    )
    account = backend.get(account_id)
    call.notify(
        AFTER_INFO_CHANGED,
        Official_Account=account_id,
        Operator_Account=call.operator,
        Introduction=account.introduction,
        Name=account.name,
        FaceUrl=account.face_url,
        Organization=account.organization,
    )
    return {}


# -- 4. get_official_account_info --


def get_account_info(backend: Backend, body: Body, call: Call) -> Result:
    """``get_official_account_info``: one entry per id, each with its own status."""
    items = R.req_list(body, "OfficialAccountIdList")
    R.check_count("OfficialAccountIdList", items, L.MAX_ACCOUNTS_PER_INFO_CALL)
    ids = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Official_Account"), str):
            raise R.wrong_type(
                "OfficialAccountIdList", 'an array of {"Official_Account": string} objects'
            )
        ids.append(item["Official_Account"])
    fields = R.response_filter(
        body, "OfficialAccountBaseInfoFilter", L.ACCOUNT_FILTER_FIELDS, ALL_ACCOUNT_FIELDS
    )
    result = []
    for account_id in ids:
        entry: Body = {"Official_Account": account_id}
        account = backend.find(account_id)
        if account is None:
            # A malformed id fails its own item with 130007 rather than the whole request
            # (INFERRED), like an unknown one fails with 130004.
            if is_valid_account_id(account_id):
                code, info = C.OA_NOT_FOUND, "Official Account does not exist"
            else:
                code, info = C.OA_ID_INVALID, "not a valid Official Account id"
            entry.update(ActionStatus="FAIL", ErrorCode=int(code), ErrorInfo=info)
        else:
            entry.update(ActionStatus="OK", ErrorCode=0, ErrorInfo="")
            entry.update({name: account.field_value(name) for name in fields})
        result.append(entry)
    return {"OfficialAccountInfoList": result}
