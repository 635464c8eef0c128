"""Published facts about the Official Account API, as data.

One table of numbers and names from Tencent's documentation (see the reference in the project's
design notes). The client's validation and the emulator both read these values; neither copies them.
Values marked INFERRED are not published by Tencent and were chosen as the safest reading.
"""

from __future__ import annotations

from typing import Final

SERVICE: Final = "official_account_open_http_svc"
"""The REST service name in every Official Account URL."""
LOGIN_SERVICE: Final = "im_open_login_svc"
"""The service of the IM app's own accounts (import, check, delete)."""
CONFIG_SERVICE: Final = "ConfigSvc"
"""The service of the app's configuration (``GetIPList``)."""

ACCOUNT_ID_PREFIX: Final = "@TOA#_"
"""Every Official Account id starts with this prefix."""

GENERATED_ID_PREFIX: Final = "@TOA#_@TOA#"
"""Reserved for server-generated ids; a custom id must not start with it."""

ACCOUNT_ID_MAX_BYTES: Final = 48
USER_ID_MAX_BYTES: Final = 32  # ordinary IM UserID rule

# UTF-8 byte limits of the writable text fields, keyed by wire name.
FIELD_MAX_BYTES: Final[dict[str, int]] = {
    "Name": 150,
    "Introduction": 400,
    "FaceUrl": 500,
    "Organization": 500,
    "CustomString": 3000,
    "Reason": 100,  # recall reason
    "Nick": 500,  # account_import (its 40601: "a profile field is over 500 bytes")
}

DEFAULT_MAX_SUBSCRIBERS: Final = 100_000

# Items per request.
MAX_ACCOUNTS_PER_INFO_CALL: Final = 50  # get_official_account_info
MAX_SUBSCRIBERS_PER_ADD: Final = 100  # add_subscriber
MAX_SUBSCRIBERS_PER_DELETE: Final = 100  # delete_subscriber (INFERRED: by analogy with add)
MAX_MSG_KEYS_PER_RECALL: Final = 10  # official_account_msg_recall
MAX_PAGE_SIZE: Final = 200  # Limit of both subscriber list calls
MAX_ACCOUNTS_PER_IMPORT: Final = 100  # multiaccount_import (page 34954)
MAX_ACCOUNTS_PER_CHECK: Final = 100  # account_check (page 38417)
MAX_ACCOUNTS_PER_DELETE: Final = 100  # account_delete (page 36443)
MAX_HISTORY_PAGE_SIZE: Final = 20  # ReqMsgNumber (INFERRED: larger ranges come back partial)

MAX_MESSAGE_BYTES: Final = 12 * 1024  # one message, JSON-encoded MsgBody (12 KB)

# Rates.
CALLS_PER_SECOND: Final = 200.0  # per command, per app
IMPORT_MANY_PER_SECOND: Final = 100.0  # multiaccount_import
ACCOUNT_CHECKS_PER_SECOND: Final = 100.0  # account_check
ACCOUNT_DELETES_PER_SECOND: Final = 100.0  # account_delete (INFERRED: no rate on its page)
SENDS_PER_SECOND_PER_ACCOUNT: Final = 1.0
BROADCASTS_PER_HOUR_PER_ACCOUNT: Final = 2
SEND_DEDUP_WINDOW_SECONDS: Final = 300.0  # same content and Random within 5 minutes is dropped

U32_MAX: Final = 2**32 - 1

# Filter names accepted in ResponseFilter.
ACCOUNT_FILTER_FIELDS: Final = (
    "CreateTime",
    "Name",
    "Owner_Account",
    "LastMsgTime",
    "SubscriberNum",
    "Introduction",
    "FaceUrl",
    "Organization",
    "CustomString",
)
SELF_INFO_FILTER_FIELDS: Final = ("SubscribeTime", "CustomString")

MSG_FLAGS: Final = ("AcceptAndNotify", "AcceptNotNotify", "Discard")

COMMANDS: Final = (
    "create_official_account",
    "destroy_official_account",
    "modify_official_account_base_info",
    "get_official_account_info",
    "get_subscriber_info",
    "add_subscriber",
    "delete_subscriber",
    "modify_subscriber_info",
    "get_subscribed_official_account_list",
    "send_official_account_msg",
    "official_account_msg_get_simple",
    "official_account_msg_recall",
)
"""The twelve Official Account commands."""
