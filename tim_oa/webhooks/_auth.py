"""Callback authentication: ``Sign = sha256(token + RequestTime)`` in hex (reference §1.6).

The signature covers the token and the time only, not the body or the other parameters: it proves
the sender knows the token, nothing about the body's integrity (serve the webhook over HTTPS).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Final

from ._events import Event

_SIGN_RE: Final = re.compile(r"[0-9a-fA-F]{64}")


def sign(token: str, request_time: str | int) -> str:
    """The ``Sign`` Tencent sends: lowercase hex SHA-256 of the token then the decimal time.

    ``request_time`` is hashed exactly as it appears in the URL, so pass the string you received.
    """
    return hashlib.sha256(f"{token}{request_time}".encode()).hexdigest()


def sign_matches(token: str, request_time: str, signature: str) -> bool:
    """Whether ``signature`` (any hex case) is the ``Sign`` for ``token`` and ``request_time``.

    Compared in constant time; anything that is not 64 hex digits is simply a mismatch.
    """
    if not _SIGN_RE.fullmatch(signature):
        return False
    return hmac.compare_digest(sign(token, request_time).encode(), signature.lower().encode())


def callback_query(
    sdkappid: int,
    command: str | type[Event],
    *,
    token: str | None = None,
    request_time: int | None = None,
    client_ip: str = "127.0.0.1",
    opt_platform: str = "RESTAPI",
) -> dict[str, str]:
    """The query parameters Tencent appends to your callback URL, signed when ``token`` is given.

    Handy for testing your own webhook: ``httpx.post(url, params=callback_query(...), json=...)``.
    ``command`` is a ``CallbackCommand`` string or an event class; ``request_time`` defaults to
    now (Unix seconds).
    """
    wire_command = command if isinstance(command, str) else command.command
    query = {
        "SdkAppid": str(sdkappid),
        "CallbackCommand": wire_command,
        "contenttype": "json",
        "ClientIP": client_ip,
        "OptPlatform": opt_platform,
    }
    if token is not None:
        stamp = str(int(time.time()) if request_time is None else request_time)
        query["Sign"] = sign(token, stamp)
        query["RequestTime"] = stamp
    return query
