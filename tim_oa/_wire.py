"""The wire protocol as pure functions: URLs, query strings, bodies and the response envelope.

Nothing here does I/O, so every function is tested without a network. The session calls these for
each attempt: a fresh ``random`` and a current UserSig go into every query string.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ._codes import api_error
from ._errors import MalformedResponseError, TransportError, ValidationError
from ._limits import SERVICE, U32_MAX


def command_path(command: str) -> str:
    """The URL path of a command, relative to the base URL."""
    return f"/v4/{SERVICE}/{command}"


def new_random() -> int:
    """A random unsigned 32-bit integer (0 … 4294967295) for the ``random`` query parameter."""
    return secrets.randbelow(U32_MAX + 1)


def build_query(sdkappid: int, identifier: str, usersig: str, random: int) -> dict[str, str]:
    """The query parameters of one attempt, in the documented order."""
    return {
        "sdkappid": str(sdkappid),
        "identifier": identifier,
        "usersig": usersig,
        "random": str(random),
        "contenttype": "json",
    }


@functools.lru_cache(maxsize=64)
def _query_prefix(sdkappid: int, identifier: str, usersig: str) -> str:
    # [pipeline shim of the transport contract] the encoded query up to ``random=``.
    return (
        f"sdkappid={sdkappid}&identifier={quote(identifier, safe='')}"
        f"&usersig={quote(usersig, safe='')}&random="
    )


def signed_query(sdkappid: int, identifier: str, usersig: str, random: int) -> str:
    """The encoded query string of one attempt (prefix cached per signature)."""
    return f"{_query_prefix(sdkappid, identifier, usersig)}{random}&contenttype=json"


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Encode a request body; the API requires a JSON object, never an empty body."""
    try:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"body is not JSON: {exc}", field="body") from None


def decode_response(
    command: str, response: Any, content: bytes | None = None, *, usersig: str | None = None
) -> dict[str, Any]:
    """Check one HTTP answer and return the decoded JSON envelope on success.

    Raises :class:`TransportError` for a status other than 200 or a body that is not a JSON object,
    and the matching :class:`ApiError` subclass when ``ErrorCode`` is non-zero. Unknown fields are
    kept; ``RequestId`` may or may not be present.
    """
    del usersig  # [pipeline shim] scrubbing it from ErrorInfo is the transport branch's work
    retry_after = None
    if content is None:  # [pipeline shim] (command, RawResponse) as in the contract
        status_code, content, retry_after = (
            response.status_code,
            response.content,
            response.retry_after,
        )
    else:
        status_code = response
    if status_code != 200:
        raise TransportError(
            f"{command}: HTTP {status_code}",
            command=command,
            status_code=status_code,
            retry_after=retry_after,
        )
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise MalformedResponseError(
            f"{command}: response body is not JSON", command=command, status_code=status_code
        ) from None
    if not isinstance(data, dict):
        raise MalformedResponseError(
            f"{command}: response body is not a JSON object",
            command=command,
            status_code=status_code,
        )
    code = data.get("ErrorCode", 0)
    status = data.get("ActionStatus")
    if not isinstance(code, int) or isinstance(code, bool):
        raise MalformedResponseError(
            f"{command}: response has a non-integer ErrorCode",
            command=command,
            status_code=status_code,
        )
    if code != 0 or status == "FAIL":
        info = data.get("ErrorInfo")
        request_id = data.get("RequestId")
        raise api_error(
            code,
            info if isinstance(info, str) else "",
            command=command,
            request_id=request_id if isinstance(request_id, str) else None,
        )
    return data


_SECRET_QUERY = re.compile(r"(?i)(usersig|secret_key|secretkey)=[^&\s\"']*")


def redact(text: str) -> str:
    """Replace the value of any ``usersig=`` (or secret key) query parameter in ``text``."""
    return _SECRET_QUERY.sub(r"\1=<redacted>", text)
