"""What the client knows about each wire command, as one table of frozen records.

One :class:`Command` per command the client sends: its service path, whether it is safe to send
again when the first outcome is unknown, its published rate, the body keys its typed request sets
(``extra_body`` may not set them), the body key naming the account whose broadcasts are paced,
and for bulk commands the chunk size, the per-item id key and the per-item result codes. The
session reads this table (:func:`lookup`, :func:`command_path`, :func:`is_safe_to_repeat`); the
endpoint modules only build bodies, send them and parse the answers.

The emulator (``tim_oa.testing``) does not read this table: it keeps its own facts, so a mistake
here cannot hide behind an emulator that makes the same one. Published numbers live in
:mod:`tim_oa._limits`; this table cites them.

Adding a command: one row here, one method, one parser, and their tests.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from . import _limits as L


class Repeat(enum.Enum):
    """How safe it is to send a command again when its first outcome is unknown."""

    SAFE = "safe"
    """Repeating has no further effect (reads; set-to-value writes; add/remove answer Result 2)."""
    SAFE_WITH_CUSTOM_ID = "safe-with-custom-id"
    """Create: a repeat with the same custom id cannot make a second account (it answers 130008);
    without one, a repeat may create a duplicate."""
    SAFE_WITH_RANDOM = "safe-with-random"
    """Broadcast send: the server drops the same content with the same ``Random`` for 5 minutes."""
    UNSAFE = "unsafe"
    """Unknown commands sent through ``Session.call``: never repeated after an unknown outcome."""


SUCCEEDED, UNCHANGED, FAILED = "succeeded", "unchanged", "failed"
"""Per-item statuses of a bulk answer (the values of ``tim_oa.Status``; no import of the batch
engine here, which loads attrs)."""


class Command(NamedTuple):
    """The facts about one wire command.

    Attributes:
        name: The command word, the last segment of its URL path.
        service: The service segment before it (``official_account_open_http_svc``, …).
        repeat: How safe a repeat is after an unknown outcome (:class:`Repeat`).
        rate: The published calls per second per app (the limiter paces each command at its
            share of the session's ``rate_limit``: ``rate / 200``).
        modelled: Body keys the typed request sets; ``extra_body`` may not set them.
        pace_key: The body key naming the account whose broadcasts are paced (sends only).
        chunk_size: Items per request of a bulk command (``None``: not a bulk command).
        id_key: The wire key of one item's id in a bulk request and answer (for a list of
            plain ids, the list's key).
        codes: A bulk answer's per-item codes and the status each means (others: failed).
        error_rules: Codes this command gives a meaning of its own: ``code -> (error class name,
            retry kind name)``, read by :func:`tim_oa._codes.rule_for`.
    """

    name: str
    service: str = L.SERVICE
    repeat: Repeat = Repeat.SAFE
    rate: float = L.CALLS_PER_SECOND
    modelled: frozenset[str] = frozenset()
    pace_key: str | None = None
    chunk_size: int | None = None
    id_key: str | None = None
    codes: Mapping[int, str] = {}
    error_rules: Mapping[int, tuple[str, str]] = {}

    @property
    def path(self) -> str:
        """The URL path relative to the base URL."""
        return f"/v4/{self.service}/{self.name}"

    @property
    def rate_share(self) -> float:
        """The command's rate as a share of the usual 200 per second (1.0 for most)."""
        return self.rate / L.CALLS_PER_SECOND


def _keys(*names: str) -> frozenset[str]:
    return frozenset(names)


_PROFILE = _keys("Name", "Introduction", "FaceUrl", "Organization", "CustomString")
_ADD_REMOVE: Final = {1: SUCCEEDED, 2: UNCHANGED, 0: FAILED}
# Codes of the account service's pages (34953, 34954, 36443, 38417).
_LOGIN_ERRORS: Final = {
    70169: ("ServerError", "TRANSIENT"),  # "server timeout, try again later"
    70202: ("ServerError", "TRANSIENT"),  # "server timeout, try again later"
    70398: ("ServiceNotEnabledError", "NEVER"),  # more accounts than the plan allows
    70402: ("InvalidRequestError", "NEVER"),  # invalid parameters
    70403: ("PermissionDeniedError", "NEVER"),  # needs the app admin
    70500: ("ServerError", "TRANSIENT"),  # internal error, try again later
}

# --- official_account_open_http_svc: the twelve Official Account commands -------------
CREATE_ACCOUNT: Final = Command(
    "create_official_account",
    repeat=Repeat.SAFE_WITH_CUSTOM_ID,
    modelled=_PROFILE | _keys("MaxSubscriberNum", "Owner_Account", "OfficialAccountUserID"),
)

# A repeat answers 130004 at worst (taken as done after a lost answer).
DESTROY_ACCOUNT: Final = Command("destroy_official_account", modelled=_keys("Official_Account"))

MODIFY_ACCOUNT: Final = Command(
    "modify_official_account_base_info",
    modelled=_PROFILE | _keys("MaxSubscriberNum", "Official_Account"),
)

GET_ACCOUNTS: Final = Command(
    "get_official_account_info",
    modelled=_keys("OfficialAccountIdList", "ResponseFilter"),
    chunk_size=L.MAX_ACCOUNTS_PER_INFO_CALL,
    id_key="Official_Account",
)

LIST_SUBSCRIBERS: Final = Command(
    "get_subscriber_info", modelled=_keys("Official_Account", "Limit", "Next")
)

ADD_SUBSCRIBERS: Final = Command(
    "add_subscriber",
    modelled=_keys("Official_Account", "SubscriberList"),
    chunk_size=L.MAX_SUBSCRIBERS_PER_ADD,
    id_key="Subscriber_Account",
    codes=_ADD_REMOVE,
)

REMOVE_SUBSCRIBERS: Final = Command(
    "delete_subscriber",
    modelled=_keys("Official_Account", "SubscriberToDel_Account"),
    chunk_size=L.MAX_SUBSCRIBERS_PER_DELETE,
    id_key="Subscriber_Account",
    codes=_ADD_REMOVE,
)

MODIFY_SUBSCRIBER: Final = Command(
    "modify_subscriber_info",
    modelled=_keys("Official_Account", "Subscriber_Account", "CustomString"),
)

SUBSCRIBED_ACCOUNTS: Final = Command(
    "get_subscribed_official_account_list",
    modelled=_keys("Subscriber_Account", "Limit", "Offset", "ResponseFilter"),
)

SEND_MESSAGE: Final = Command(
    "send_official_account_msg",
    repeat=Repeat.SAFE_WITH_RANDOM,
    modelled=_keys(
        "Official_Account",
        "Random",
        "MsgBody",
        "CloudCustomData",
        "OfflinePushInfo",
        "ForbidCallbackControl",
        "OnlineOnlyFlag",
        "SendMsgControl",
    ),
    pace_key="Official_Account",
    # The 2-broadcasts-per-hour cap (INFERRED code: the emulator answers 60019): final for
    # the hour, so repeating it within seconds only adds load.
    error_rules={60019: ("RateLimitedError", "NEVER")},
)

MESSAGE_HISTORY: Final = Command(
    "official_account_msg_get_simple",
    modelled=_keys("Official_Account", "ReqMsgNumber", "WithRecalledMsg", "LastMsgKey"),
)

RECALL_MESSAGES: Final = Command(
    "official_account_msg_recall",
    modelled=_keys("Official_Account", "MsgKeyList", "Reason"),
    chunk_size=L.MAX_MSG_KEYS_PER_RECALL,
    id_key="MsgKey",
    codes={0: SUCCEEDED},
    # The recall page documents 10004 as "invalid parameter", not as a server error.
    error_rules={10004: ("InvalidRequestError", "NEVER")},
)

# --- im_open_login_svc: the accounts of the IM app (imported users) -------------------
# Importing again creates no second internal id (Tencent's pages 34953, 34954).
IMPORT_ACCOUNTS: Final = Command(
    "multiaccount_import",
    service=L.LOGIN_SERVICE,
    rate=L.IMPORT_MANY_PER_SECOND,
    modelled=_keys("Accounts", "AccountList"),
    chunk_size=L.MAX_ACCOUNTS_PER_IMPORT,
    id_key="Accounts",
    codes={1: SUCCEEDED, 0: FAILED},
    error_rules=_LOGIN_ERRORS,
)

IMPORT_ACCOUNT: Final = Command(
    "account_import",
    service=L.LOGIN_SERVICE,
    modelled=_keys("UserID", "Identifier", "Nick", "FaceUrl"),
    error_rules={
        **_LOGIN_ERRORS,
        40006: ("ServerError", "TRANSIENT"),  # setting the profile failed, try again
        40601: ("InvalidRequestError", "NEVER"),  # a profile field over 500 bytes
    },
)

CHECK_ACCOUNTS: Final = Command(
    "account_check",
    service=L.LOGIN_SERVICE,
    rate=L.ACCOUNT_CHECKS_PER_SECOND,
    modelled=_keys("CheckItem"),
    chunk_size=L.MAX_ACCOUNTS_PER_CHECK,
    id_key="UserID",
    error_rules=_LOGIN_ERRORS,
)

# Deleting a deleted account answers 70107 (not imported) for it: nothing left to do.
DELETE_ACCOUNTS: Final = Command(
    "account_delete",
    service=L.LOGIN_SERVICE,
    rate=L.ACCOUNT_DELETES_PER_SECOND,
    modelled=_keys("DeleteItem"),
    chunk_size=L.MAX_ACCOUNTS_PER_DELETE,
    id_key="UserID",
    codes={0: SUCCEEDED, 70107: UNCHANGED},
    error_rules=_LOGIN_ERRORS,
)

# --- ConfigSvc ----------------------------------------------------------------------
GET_IP_LIST: Final = Command("GetIPList", service=L.CONFIG_SERVICE)

COMMANDS: Final[dict[str, Command]] = {
    c.name: c
    for c in (
        CREATE_ACCOUNT,
        DESTROY_ACCOUNT,
        MODIFY_ACCOUNT,
        GET_ACCOUNTS,
        LIST_SUBSCRIBERS,
        ADD_SUBSCRIBERS,
        REMOVE_SUBSCRIBERS,
        MODIFY_SUBSCRIBER,
        SUBSCRIBED_ACCOUNTS,
        SEND_MESSAGE,
        MESSAGE_HISTORY,
        RECALL_MESSAGES,
        IMPORT_ACCOUNTS,
        IMPORT_ACCOUNT,
        CHECK_ACCOUNTS,
        DELETE_ACCOUNTS,
        GET_IP_LIST,
    )
}
"""Every command tim_oa knows, by command word."""


def lookup(command: str) -> Command:
    """The record of ``command``; an unknown one is an Official Account command never repeated."""
    found = COMMANDS.get(command)
    if found is None:
        return Command(command, repeat=Repeat.UNSAFE)
    return found


def command_path(command: str) -> str:
    """The URL path of a command, relative to the base URL."""
    return lookup(command).path


def is_safe_to_repeat(command: Command, body: Mapping[str, Any]) -> bool:
    """Whether sending ``body`` to ``command`` again can do no harm if the first try took effect."""
    rule = command.repeat
    if rule is Repeat.SAFE:
        return True
    if rule is Repeat.SAFE_WITH_CUSTOM_ID:
        return bool(body.get("OfficialAccountUserID"))
    if rule is Repeat.SAFE_WITH_RANDOM:
        return "Random" in body
    return False


def pace_account(command: Command, body: Mapping[str, Any]) -> str | None:
    """The account whose broadcasts ``body`` counts against, if ``command`` is paced by one."""
    if command.pace_key is None:
        return None
    account = body.get(command.pace_key)
    return account if isinstance(account, str) else None
