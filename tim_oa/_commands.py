"""Per-command facts the session needs: when a command is safe to send twice.

Retrying is decided in two steps. A failure that proves the server never processed the request
(the connection was refused, a rate limit or an expired UserSig rejected it) may be retried for any
command. A failure that leaves it unknown whether the request took effect (a timeout after sending,
HTTP 5xx, a transient server code) is retried only for commands whose repetition cannot do harm.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final


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


COMMAND_REPEAT: Final[dict[str, Repeat]] = {
    "create_official_account": Repeat.SAFE_WITH_CUSTOM_ID,
    "destroy_official_account": Repeat.SAFE,  # a repeat answers 130004 at worst
    "modify_official_account_base_info": Repeat.SAFE,
    "get_official_account_info": Repeat.SAFE,
    "get_subscriber_info": Repeat.SAFE,
    "add_subscriber": Repeat.SAFE,
    "delete_subscriber": Repeat.SAFE,
    "modify_subscriber_info": Repeat.SAFE,
    "get_subscribed_official_account_list": Repeat.SAFE,
    "send_official_account_msg": Repeat.SAFE_WITH_RANDOM,
    "official_account_msg_get_simple": Repeat.SAFE,
    "official_account_msg_recall": Repeat.SAFE,
}


def is_safe_to_repeat(command: str, body: Mapping[str, Any]) -> bool:
    """Whether sending ``body`` to ``command`` again can do no harm if the first try took effect."""
    rule = COMMAND_REPEAT.get(command, Repeat.UNSAFE)
    if rule is Repeat.SAFE:
        return True
    if rule is Repeat.SAFE_WITH_CUSTOM_ID:
        return bool(body.get("OfficialAccountUserID"))
    if rule is Repeat.SAFE_WITH_RANDOM:
        return "Random" in body
    return False
