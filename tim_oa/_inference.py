"""Outcomes a write infers after a lost answer: the checks, and the audit record it logs.

A create answered 130008 (in use) or a destroy answered 130004 (not found) by a retry may be the
echo of an earlier attempt of the same call that reached the server and whose answer was lost.
:mod:`tim_oa._accounts` decides when to take it so; this module holds what that decision compares.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import OfficialAccount

logger = logging.getLogger("tim_oa")

# The profile fields a create sets, compared with the lookup after 130008 (model name, wire key).
ASKED_FIELDS = (
    ("name", "Name"),
    ("introduction", "Introduction"),
    ("face_url", "FaceUrl"),
    ("organization", "Organization"),
    ("custom_string", "CustomString"),
    ("max_subscriber_num", "MaxSubscriberNum"),
)
#: Seconds an account's ``CreateTime`` (server clock, whole seconds) may precede the start of a
#: create (client clock) and still be taken as made by it. Tencent's own advice for callbacks
#: tolerates a minute between its clock and yours (``RequestTime``), so the same minute here.
CREATE_TIME_SKEW = 60.0


def mismatch(found: OfficialAccount, asked: Mapping[str, Any], started: float) -> str:
    """Why ``found`` is not the account a create asking ``asked`` made ("" when it may be)."""
    from ._converter import shown

    for field, value in asked.items():
        held = getattr(found, field)
        if field == "max_subscriber_num":
            if value is not None and held is not None and held != value:
                return f"it has MaxSubscriberNum {held}, asked {value}"
        elif (value or "") != (held or ""):
            if field in ("owner", "name"):
                return f"its {field} differs"
            return f"its {field} is {shown(held, 160)}, not the one asked for"
    if found.create_time is not None and found.create_time < started - CREATE_TIME_SKEW:
        return (
            f"it was created at {found.create_time}, {started - found.create_time:.0f} s before "
            "this call began"
        )
    return ""


def inferred(command: str, account_id: str, text: str) -> None:
    """Log an outcome tim_oa inferred after a lost answer (for audits: ``tim_oa_outcome``)."""
    logger.warning(
        "%s %s: %s",
        command,
        account_id,
        text,
        extra={
            "tim_oa_outcome": "inferred",
            "tim_oa_command": command,
            "tim_oa_account": account_id,
        },
    )
