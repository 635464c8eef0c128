"""Handlers of the account commands of ``im_open_login_svc``: import, check and delete users.

These four commands are not Official Account commands, but every app that uses Official Accounts
needs them: an owner (and, INFERRED, a subscriber) must be an imported account. The emulator keeps
its own facts about them here, from Tencent's pages on importing one account (``account_import``),
importing many (``multiaccount_import``), querying (``account_check``) and deleting
(``account_delete``); it shares none with the client.

What the pages say, and what the emulator does:

- ``multiaccount_import``: ``{"Accounts": [UserID, ...]}`` (older form) or ``{"AccountList":
  [{"UserID", "Nick"?, "FaceUrl"?}, ...]}`` (newer form), 1 to 100 ids of at most 32 bytes each;
  the answer's ``FailAccounts`` lists the ids that were not imported (always empty here: the
  emulator has no reason to fail one). 100 calls per second.
- ``account_import``: ``{"UserID", "Nick"?, "FaceUrl"?}``; older pages call the id
  ``Identifier``, and both are accepted. Importing an account again is not an error. A profile
  value over 500 bytes is 40601 (documented). 200 calls per second.
- ``account_check``: ``{"CheckItem": [{"UserID"}, ...]}``, 1 to 100; each ``ResultItem`` carries
  ``UserID``, ``ResultCode`` 0, ``ResultInfo`` "" and ``AccountStatus`` ``"Imported"`` or
  ``"NotImported"``. 100 calls per second.
- ``account_delete``: ``{"DeleteItem": [{"UserID"}, ...]}``, 1 to 100; each ``ResultItem`` is
  ``{"ResultCode", "ResultInfo", "UserID"}``, with 70107 for an id that was not imported
  (documented sample). Its call rate is not published: 100 per second, like the check (INFERRED).

INFERRED where the pages are silent: a body of the wrong shape (a field missing or of the wrong
type, a list of 0 or over 100 items, an id that is empty or over 32 bytes) fails the whole
request with 70402, the login service's documented "invalid parameter" code, rather than the
Official Account service's 20001/6017; the profile fields are checked but not kept (no Official
Account command returns them).

``GetIPList`` of the ``ConfigSvc`` service (the addresses Tencent's webhooks come from) is here
too, for the same reason: every app that receives webhooks needs it. The emulator answers a fixed
list of documentation addresses.
"""

from __future__ import annotations

from typing import Any, Final

from ._backend import Backend
from ._call import Call, Handler, Result
from ._failure import Failure
from ._readers import Body

SERVICE: Final = "im_open_login_svc"
"""The REST service of the account commands."""

MAX_ITEMS: Final = 100
"""Ids per request of ``multiaccount_import``, ``account_check`` and ``account_delete``."""
USER_ID_MAX_BYTES: Final = 32
PROFILE_VALUE_MAX_BYTES: Final = 500

CALLS_PER_SECOND: Final[dict[str, float]] = {
    "multiaccount_import": 100.0,
    "account_import": 200.0,
    "account_check": 100.0,
    "account_delete": 100.0,  # INFERRED: not published
}
"""Each command's documented call rate; the emulator's ``rate_limit`` caps them further."""

INVALID_PARAMETER: Final = 70402
"""The login service's "invalid parameter: a required field is missing or malformed"."""
PROFILE_VALUE_TOO_LONG: Final = 40601
"""A profile field's value is over 500 bytes."""
NOT_IMPORTED: Final = 70107
"""The account was not imported (``account_delete``'s per-item code)."""


def _invalid(why: str) -> Failure:
    return Failure(INVALID_PARAMETER, f"invalid parameter: {why}")


def _user_id(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{where} must be a string")
    size = len(value.encode("utf-8"))
    if not 1 <= size <= USER_ID_MAX_BYTES:
        raise _invalid(f"{where} must be 1..{USER_ID_MAX_BYTES} bytes, got {size}")
    return value


def _items(body: Body, name: str) -> list[Any]:
    if name not in body:
        raise _invalid(f"{name} is required")
    items = body[name]
    if not isinstance(items, list):
        raise _invalid(f"{name} must be an array")
    if not 1 <= len(items) <= MAX_ITEMS:
        raise _invalid(f"{name} must hold 1..{MAX_ITEMS} items, got {len(items)}")
    return items


def _user_items(body: Body, name: str) -> list[str]:
    """Read ``[{"UserID": id}, ...]``."""
    users = []
    for index, item in enumerate(_items(body, name)):
        if not isinstance(item, dict) or "UserID" not in item:
            raise _invalid(f'{name}[{index}] must be a {{"UserID": string}} object')
        users.append(_user_id(item["UserID"], f"{name}[{index}].UserID"))
    return users


def _profile(item: Body, where: str) -> None:
    """Check the optional ``Nick`` and ``FaceUrl`` of one account."""
    for key in ("Nick", "FaceUrl"):
        if key not in item:
            continue
        value = item[key]
        if not isinstance(value, str):
            raise _invalid(f"{where}{key} must be a string")
        if len(value.encode("utf-8")) > PROFILE_VALUE_MAX_BYTES:
            raise Failure(
                PROFILE_VALUE_TOO_LONG,
                f"{where}{key} is over the {PROFILE_VALUE_MAX_BYTES}-byte limit",
            )


def multiaccount_import(backend: Backend, body: Body, call: Call) -> Result:
    """``multiaccount_import``: the older ``Accounts`` or the newer ``AccountList`` form."""
    if "AccountList" in body and "Accounts" in body:
        raise _invalid("give Accounts or AccountList, not both")
    users = []
    if "AccountList" in body:
        for index, item in enumerate(_items(body, "AccountList")):
            where = f"AccountList[{index}]."
            if not isinstance(item, dict) or "UserID" not in item:
                raise _invalid(f'AccountList[{index}] must be a {{"UserID": string}} object')
            users.append(_user_id(item["UserID"], f"{where}UserID"))
            _profile(item, where)
    else:
        for index, value in enumerate(_items(body, "Accounts")):
            users.append(_user_id(value, f"Accounts[{index}]"))
    for user in users:
        backend.import_user(user)
    return {"FailAccounts": []}


def account_import(backend: Backend, body: Body, call: Call) -> Result:
    """``account_import``: one account, ``UserID`` (or the older ``Identifier``)."""
    if "UserID" in body and "Identifier" in body:
        raise _invalid("give UserID or Identifier, not both")
    name = "Identifier" if "Identifier" in body else "UserID"
    if name not in body:
        raise _invalid("UserID is required")
    user = _user_id(body[name], name)
    _profile(body, "")
    backend.import_user(user)
    return {}


def account_check(backend: Backend, body: Body, call: Call) -> Result:
    """``account_check``: one ``ResultItem`` per id, in request order."""
    users = _user_items(body, "CheckItem")
    return {
        "ResultItem": [
            {
                "UserID": user,
                "ResultCode": 0,
                "ResultInfo": "",
                "AccountStatus": "Imported" if backend.is_known(user) else "NotImported",
            }
            for user in users
        ]
    }


def account_delete(backend: Backend, body: Body, call: Call) -> Result:
    """``account_delete``: one ``ResultItem`` per id; 70107 for one that was not imported."""
    users = _user_items(body, "DeleteItem")
    results = []
    for user in users:
        if backend.delete_user(user):
            code, info = 0, ""
        else:
            code, info = NOT_IMPORTED, "Err_TLS_PT_Open_Login_Account_Not_Exist"
        results.append({"ResultCode": code, "ResultInfo": info, "UserID": user})
    return {"ResultItem": results}


HANDLERS: Final[dict[str, Handler]] = {
    "multiaccount_import": multiaccount_import,
    "account_import": account_import,
    "account_check": account_check,
    "account_delete": account_delete,
}
"""Command name -> handler of the four account commands of ``im_open_login_svc``."""

CONFIG_SERVICE: Final = "ConfigSvc"
"""The REST service of ``GetIPList`` (Tencent's callback source addresses)."""

CALLBACK_ADDRESSES: Final = ("192.0.2.0/25", "198.51.100.17", "203.0.113.64/26")
"""What the emulator's ``GetIPList`` answers: documentation ranges (RFC 5737), never a real
address, so an allowlist built from the emulator cannot open a real firewall by mistake."""


def get_ip_list(backend: Backend, body: Body, call: Call) -> Result:
    """``GetIPList``: the callback source addresses, the same whatever the query's ``nettype``."""
    return {"IPList": list(CALLBACK_ADDRESSES)}


CONFIG_HANDLERS: Final[dict[str, Handler]] = {"GetIPList": get_ip_list}
"""Command name -> handler of ``ConfigSvc``."""
