"""The wire protocol as pure functions: URLs, query strings, bodies and the response envelope.

Nothing here does I/O, so every function is tested without a network. The session calls these for
each attempt: a fresh ``random`` and a current UserSig go into every query string, and every answer
goes through :func:`decode_response`. Redaction lives here too, because the envelope's
``ErrorInfo`` may echo the request (and its UserSig) back.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import math
import re
import secrets
import time
import zlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import quote, quote_plus

from ._codes import api_error
from ._errors import MalformedResponseError, TransportError, ValidationError
from ._limits import U32_MAX
from ._registry import command_path as command_path  # the URL path of a command


class RawResponse(NamedTuple):
    """One HTTP answer as a transport hands it over: status, decoded body, ``Retry-After``.

    ``retry_after`` is the server's ``Retry-After`` in seconds (429 and 503 only; see
    :func:`parse_retry_after`), else ``None``. The repr shows the body's size, not the body.
    """

    status_code: int
    content: bytes
    retry_after: float | None = None

    def __repr__(self) -> str:
        return (
            f"RawResponse(status_code={self.status_code}, content=<{len(self.content)} bytes>, "
            f"retry_after={self.retry_after})"
        )


MAX_RETRY_AFTER = 300.0
"""Longest ``Retry-After`` taken from a server, in seconds; larger values are cut to this."""


U32_BITS = U32_MAX.bit_length()


def new_random() -> int:
    """A random unsigned 32-bit integer (0 … 4294967295) for the ``random`` query parameter."""
    return secrets.randbits(U32_BITS)  # 0 … U32_MAX, one draw (randbelow loops around it)


@lru_cache(maxsize=64)
def _query_prefix(sdkappid: int, identifier: str, usersig: str) -> str:
    # Everything up to the value of ``random``, percent-encoded once per signature (a UserSig
    # lives for hours; encoding the whole query on every attempt cost ~18 µs).
    return (
        f"sdkappid={sdkappid}&identifier={quote_plus(identifier)}"
        f"&usersig={quote_plus(usersig)}&random="
    )


def signed_query(sdkappid: int, identifier: str, usersig: str, random: int) -> str:
    """The encoded query string of one attempt, in the documented parameter order.

    ``sdkappid``, ``identifier``, ``usersig``, ``random``, ``contenttype=json``. The prefix up to
    ``random=`` is cached per (sdkappid, identifier, usersig), so an attempt only formats
    ``random``.
    """
    return f"{_query_prefix(sdkappid, identifier, usersig)}{random}&contenttype=json"


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Encode a request body as compact UTF-8 JSON (the API requires a JSON object).

    Raises :class:`ValidationError` (``field="body"``) for what JSON cannot carry: NaN and
    infinities, lone surrogates, and values that are not JSON (sets, bytes, other objects).
    """
    try:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        problem = _json_problem(exc)
    # Raised outside the ``except`` block: json's exception adds nothing for the user.
    raise ValidationError(f"body cannot be sent as JSON: {problem}", field="body")


def _json_problem(exc: BaseException) -> str:
    if isinstance(exc, UnicodeEncodeError):
        return "a text contains a lone surrogate (not valid Unicode)"
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    if isinstance(exc, TypeError):
        # "Object of type set is not JSON serializable" / "keys must be str, int, ..."
        return str(exc)
    return "NaN and infinite numbers are not JSON"


def decode_response(
    command: str, response: RawResponse, *, usersig: str | None = None
) -> dict[str, Any]:
    """Check one HTTP answer and return the decoded JSON envelope on success.

    Raises:
        TransportError: The status is not 200 (``retry_after`` carries the server's
            ``Retry-After`` on 429/503; a 3xx is never followed).
        MalformedResponseError: The body is not JSON, not a JSON object, its ``ErrorCode`` is
            not an integer, or it says nothing of its status (neither ``ErrorCode`` nor
            ``ActionStatus``: every answer of the API carries both, so ``{}`` is no success).
        ApiError: The matching subclass when ``ErrorCode`` is non-zero (or ``ActionStatus`` is
            ``FAIL``). Its ``ErrorInfo`` is redacted: ``usersig`` exactly, and any token that
            decodes as a TLS v2 UserSig.

    Unknown fields are kept; ``RequestId`` may or may not be present.
    """
    status_code = response.status_code
    if status_code != 200:
        note = " (redirects are not followed)" if 300 <= status_code < 400 else ""
        raise TransportError(
            f"{command}: HTTP {status_code}{note}",
            command=command,
            status_code=status_code,
            retry_after=response.retry_after,
        )
    problem = None
    try:
        data = json.loads(response.content)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        problem = "the answer is not JSON"
    # Raised outside the ``except`` block, so no ``__context__`` holds the body.
    if problem is not None:
        raise MalformedResponseError(f"{command}: {problem}", command=command)
    if not isinstance(data, dict):
        raise MalformedResponseError(
            f"{command}: the answer is JSON but not an object", command=command
        )
    code = data.get("ErrorCode")
    if "ErrorCode" not in data:
        if data.get("ActionStatus") != "OK":
            raise MalformedResponseError(
                f"{command}: the answer has neither ErrorCode nor ActionStatus OK",
                command=command,
            )
        code = 0
    if not isinstance(code, int) or isinstance(code, bool):
        raise MalformedResponseError(
            f"{command}: the answer's ErrorCode is not an integer", command=command
        )
    if code != 0 or data.get("ActionStatus") == "FAIL":
        info = data.get("ErrorInfo")
        request_id = data.get("RequestId")
        raise api_error(
            code,
            redact(info, usersig) if isinstance(info, str) else "",
            command=command,
            request_id=request_id if isinstance(request_id, str) else None,
        )
    return data


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date.

    Returns ``None`` when absent or unreadable, ``0.0`` for a date in the past, and at most
    :data:`MAX_RETRY_AFTER`.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isascii() and value.replace(".", "", 1).isdigit():
        seconds = float(value)
    else:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:  # "-0000" dates: RFC 9110 dates are always GMT
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


# --- redaction --------------------------------------------------------------------------------

REDACTED = "<redacted>"

_SECRET_QUERY = re.compile(r"(?i)(usersig|secret_key|secretkey)=[^&\s\"']*")
# A run of the UserSig alphabet (URL-safe base64: '*' '-' '_' for '+' '/' '='), possibly
# percent-encoded ('%2A' for '*'), long enough to be a signature (a real one is 150+ characters).
_TOKEN = re.compile(r"(?:[A-Za-z0-9_*-]|%2[Aa])(?:[A-Za-z0-9_*-]|%2[Aa]){39,}")
_TO_STANDARD_BASE64 = bytes.maketrans(b"*-_", b"+/=")


def redact(text: str, usersig: str | None = None) -> str:
    """Remove secrets from ``text`` (an error message, a log line, a server's ``ErrorInfo``).

    Replaced by ``<redacted>``: the given ``usersig`` (as is and percent-encoded), the value of any
    ``usersig=`` or ``secret_key=`` query parameter, and any token that decodes as a TLS v2
    UserSig (URL-safe base64, zlib, a JSON object with ``TLS.sig``), whoever signed it.
    """
    if usersig:
        for form in {usersig, quote(usersig, safe=""), quote_plus(usersig)}:
            text = text.replace(form, REDACTED)
    text = _SECRET_QUERY.sub(rf"\1={REDACTED}", text)
    return _TOKEN.sub(_redact_token, text)


def _redact_token(match: re.Match[str]) -> str:
    token = match.group()
    if len(token) > _LONGEST_TOKEN:
        return REDACTED  # no text of ours carries such a run; don't spend time decoding it
    # A signature may sit at the end of a longer run ("...-eJyr..."): zlib streams start "eJ".
    start = 0
    for _ in range(_MAX_TRIES):
        if is_usersig(token[start:]):
            return token[:start] + REDACTED
        start = token.find("eJ", start + 1)
        if start == -1:
            break
    return token


_LONGEST_TOKEN = 1 << 16
_MAX_TRIES = 8


def is_usersig(token: str) -> bool:
    """Whether ``token`` decodes as a TLS v2 UserSig (not whether its signature is valid)."""
    raw = token.replace("%2A", "*").replace("%2a", "*").encode("ascii", "replace")
    raw = raw.translate(_TO_STANDARD_BASE64)
    # Ignore what follows the signature in the same run of characters: '=' only pads the end.
    pad = raw.find(b"=")
    if pad == -1:
        raw = raw[: len(raw) - len(raw) % 4]
    else:
        end = pad
        while raw[end : end + 1] == b"=":
            end += 1
        raw = raw[:end]
    try:
        packed = base64.b64decode(raw, validate=True)
        inflater = zlib.decompressobj()
        # Bounded: a token in a server's text must not inflate to megabytes here.
        document = json.loads(inflater.decompress(packed, 1 << 16))
    except (binascii.Error, ValueError, zlib.error, RecursionError):
        return False
    return isinstance(document, dict) and "TLS.sig" in document
