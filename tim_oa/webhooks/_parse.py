"""Reading one callback request: the query string, its authentication, then the body.

Checks run in this order, and the first failure raises ``WebhookError`` with its ``reason``:

1. ``query``: not a mapping / query string, a parameter repeated with different values;
2. ``sdkappid``: ``SdkAppid`` missing or not yours;
3. ``signature``: with a token, ``Sign`` or ``RequestTime`` missing, ``RequestTime`` not decimal,
   or ``Sign`` not ``sha256(token + RequestTime)``;
4. ``stale``: with a token, ``RequestTime`` more than ``max_skew`` seconds from now (either way);
5. ``body``: not a JSON object (or not UTF-8 / not JSON), a field of the wrong type; an empty
   body is read as ``{}`` when the query's command is not one of the eleven (the console's URL
   check was reported to send one);
6. ``command``: no ``CallbackCommand``, or one that is not one of the eleven (unless
   ``allow_unknown_commands=True``: then a :class:`RawCallback`).

So nothing in the body is read before the request is authenticated.

Choices where the reference is UNCERTAIN or silent (the tolerant reading; ``strict=True`` flips the
two marked *strict*):

- Query parameter names are matched case-insensitively (``SdkAppid``, ``sdkappid``, ``SdkAppId``).
- ``Sign`` is compared case-insensitively (samples are lowercase); any token string is accepted.
- ``contenttype``, ``ClientIP`` and ``OptPlatform`` are recorded, never required; headers such as
  ``Content-Type`` are not looked at.
- *strict*: when the query's ``CallbackCommand`` differs from the body's, the body's wins (its
  fields are what is read) and a warning is logged; strict mode refuses the request (``command``)
  and also requires the query's ``CallbackCommand``. A body without one uses the query's.
- *strict*: documented body fields may be absent (reference §1.8); strict mode requires them.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias, overload

import attrs

from .._errors import TimOAError, ValidationError, WebhookError
from ._auth import sign_matches
from ._events import EVENT_TYPES, CallbackContext, Event, build_event

logger = logging.getLogger("tim_oa.webhooks")

#: What ``parse_event`` takes as the query: a mapping of parameters (values a str or a list of
#: str, as ``urllib.parse.parse_qs`` gives), or the raw query string (str or bytes, as in ASGI).
QueryLike: TypeAlias = Mapping[str, str | Sequence[str]] | str | bytes
#: The body: the raw bytes (UTF-8 JSON), the text, or an already-parsed JSON object.
BodyLike: TypeAlias = bytes | bytearray | memoryview | str | Mapping[str, Any]

_DECIMAL_RE: Final = re.compile(r"[0-9]{1,15}")
_MAX_QUERY_FIELDS: Final = 100


@attrs.frozen
class RawCallback:
    """An authenticated callback no typed event or handler covers, as received.

    What a router's :meth:`~WebhookRouter.fallback` handler gets (for every callback without a
    handler of its own, Official Account ones included), and what ``parse_event(...,
    allow_unknown_commands=True)`` returns for a command that is not one of the eleven (one URL
    serves all of an app's callbacks: ``C2C.CallbackBeforeSendMsg``, ``State.StateChange`` …).

    Attributes:
        command: The ``CallbackCommand`` (the body's, else the query's).
        body: The body as a JSON object (``{}`` for an empty body, as the console's URL test
            sends).
        context: The query's facts (see :class:`CallbackContext`).
    """

    command: str
    body: Mapping[str, Any] = attrs.field(eq=False, repr=False)
    context: CallbackContext


def _query_error(message: str) -> WebhookError:
    return WebhookError(f"malformed callback query: {message}", reason="query")


def _pairs(query: Any) -> list[tuple[Any, Any]] | None:
    if isinstance(query, (bytes, bytearray, memoryview)):
        try:
            query = bytes(query).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(query, str):
        try:
            return urllib.parse.parse_qsl(
                query, keep_blank_values=True, max_num_fields=_MAX_QUERY_FIELDS
            )
        except ValueError:
            return None
    if isinstance(query, Mapping):
        try:
            return list(query.items())
        except Exception:  # an exotic mapping; treat it like any malformed query
            return None
    return None


def read_query(query: Any) -> dict[str, str] | WebhookError:
    """The parameters by lowercased name, or the error (returned, not raised)."""
    pairs = _pairs(query)
    if pairs is None:
        return _query_error("expected a mapping or a query string")
    params: dict[str, str] = {}
    for name, raw in pairs:
        values = [raw] if isinstance(raw, str) else raw
        if not isinstance(name, str) or not isinstance(values, (list, tuple)):
            return _query_error("parameter names and values must be strings")
        for value in values:
            if not isinstance(value, str):
                return _query_error("parameter names and values must be strings")
            if params.setdefault(name.lower(), value) != value:
                return _query_error(f"parameter {name[:40]!r} is given twice with different values")
    return params


def _check_options(sdkappid: Any, token: Any, max_skew: Any, now: Any) -> ValidationError | None:
    if isinstance(sdkappid, bool) or not isinstance(sdkappid, int) or sdkappid <= 0:
        return ValidationError("sdkappid must be a positive int", field="sdkappid")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        return ValidationError(
            "token must be a str with something besides whitespace, or None", field="token"
        )
    for name, value in (("max_skew", max_skew), ("now", now)):
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            return ValidationError(f"{name} must be a finite number or None", field=name)
    if max_skew is not None and max_skew < 0:
        return ValidationError("max_skew must not be negative", field="max_skew")
    return None


def _authenticate(
    query: Any, sdkappid: Any, token: Any, max_skew: Any, now: Any
) -> CallbackContext | TimOAError:
    """Steps 1-4 of the module docstring; errors are returned so the caller can drop the token."""
    problem = _check_options(sdkappid, token, max_skew, now)
    if problem is not None:
        return problem
    params = read_query(query)
    if isinstance(params, WebhookError):
        return params
    appid = params.get("sdkappid")
    if appid is None:
        return WebhookError("the callback has no SdkAppid", reason="sdkappid")
    if not _DECIMAL_RE.fullmatch(appid) or int(appid) != sdkappid:
        return WebhookError(f"SdkAppid {appid[:20]!r} is not this app's", reason="sdkappid")
    stamp = params.get("requesttime")
    if token is not None:
        signature = params.get("sign")
        if signature is None or stamp is None:
            return WebhookError(
                "the callback is not signed (no Sign or RequestTime) but a token is set",
                reason="signature",
            )
        if not _DECIMAL_RE.fullmatch(stamp):
            return WebhookError("RequestTime is not a decimal number", reason="signature")
        if not sign_matches(token, stamp, signature):
            return WebhookError("Sign does not match the token and RequestTime", reason="signature")
        skew = (time.time() if now is None else now) - int(stamp)
        if max_skew is not None and abs(skew) > max_skew:
            return WebhookError(
                f"RequestTime is {abs(skew):.0f} s {'old' if skew > 0 else 'ahead'}; "
                f"at most {max_skew:g} s is accepted",
                reason="stale",
            )
    return CallbackContext(
        sdkappid=sdkappid,
        command=params.get("callbackcommand"),
        client_ip=params.get("clientip"),
        opt_platform=params.get("optplatform"),
        content_type=params.get("contenttype"),
        request_time=int(stamp) if stamp is not None and _DECIMAL_RE.fullmatch(stamp) else None,
        authenticated=token is not None,
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_body(body: Any) -> dict[str, Any] | WebhookError:
    """The body as a dict, or the error (returned, not raised)."""
    if isinstance(body, Mapping):
        try:
            return dict(body)
        except Exception:  # an exotic mapping that cannot be read
            return WebhookError("malformed callback body: unreadable mapping", reason="body")
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            body = bytes(body).decode("utf-8-sig")
        except UnicodeDecodeError:
            return WebhookError("malformed callback body: not UTF-8", reason="body")
    if not isinstance(body, str):
        return WebhookError(
            f"malformed callback body: expected bytes, str or a mapping, not {type(body).__name__}",
            reason="body",
        )
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return WebhookError("malformed callback body: not JSON", reason="body")
    if not isinstance(data, dict):
        return WebhookError("malformed callback body: not a JSON object", reason="body")
    return data


def _command(body: Mapping[str, Any], context: CallbackContext, strict: bool) -> str:
    command = body.get("CallbackCommand")
    if command is not None and not isinstance(command, str):
        raise WebhookError(
            "malformed callback body: CallbackCommand must be a string", reason="body"
        )
    from_query = context.command
    if strict and (command is None or from_query != command):
        raise WebhookError(
            "strict: the query and the body must carry the same CallbackCommand", reason="command"
        )
    if command is None:
        command = from_query
    elif from_query is not None and from_query != command:
        logger.warning(
            "CallbackCommand of the query (%r) differs from the body's (%r); using the body's",
            from_query[:80],
            command[:80],
        )
    if command is None:
        raise WebhookError("the callback has no CallbackCommand", reason="command")
    return command


def parse(
    query: Any,
    body: Any,
    *,
    sdkappid: Any,
    token_box: list[Any],
    max_skew: Any = 60.0,
    now: Any = None,
    strict: bool = False,
) -> Event | RawCallback:
    """``parse_event`` that returns an unknown (but authenticated) command instead of raising.

    The token comes in a one-item list and is popped from it, so that neither the caller's frame
    nor this one holds it when an exception leaves (tracebacks keep their frames' locals).
    """
    token = token_box.pop()
    context = _authenticate(query, sdkappid, token, max_skew, now)
    del token
    if isinstance(context, TimOAError):
        raise context
    data = read_body(body)
    if isinstance(data, WebhookError):
        if not _is_empty(body) or context.command is None or context.command in EVENT_TYPES:
            raise data
        data = {}  # another product's callback (the console's URL test) may have no body
    command = _command(data, context, strict)
    cls = EVENT_TYPES.get(command)
    if cls is None:
        return RawCallback(command, data, context)
    return build_event(cls, data, context, strict=strict)


def authenticate(
    query: Any, *, sdkappid: Any, token_box: list[Any], max_skew: Any, now: Any = None
) -> None:
    """Raise ``WebhookError`` when the query does not authenticate (steps 1-4); read no body."""
    token = token_box.pop()
    context = _authenticate(query, sdkappid, token, max_skew, now)
    del token
    if isinstance(context, TimOAError):
        raise context


def _is_empty(body: Any) -> bool:
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        return not bytes(body if not isinstance(body, str) else body.encode()).strip()
    return False


@overload
def parse_event(
    query: QueryLike,
    body: BodyLike,
    *,
    sdkappid: int,
    token: str | None = None,
    max_skew: float | None = 60.0,
    now: float | None = None,
    strict: bool = False,
    allow_unknown_commands: Literal[False] = False,
) -> Event: ...


@overload
def parse_event(
    query: QueryLike,
    body: BodyLike,
    *,
    sdkappid: int,
    token: str | None = None,
    max_skew: float | None = 60.0,
    now: float | None = None,
    strict: bool = False,
    allow_unknown_commands: bool,
) -> Event | RawCallback: ...


def parse_event(
    query: QueryLike,
    body: BodyLike,
    *,
    sdkappid: int,
    token: str | None = None,
    max_skew: float | None = 60.0,
    now: float | None = None,
    strict: bool = False,
    allow_unknown_commands: bool = False,
) -> Event | RawCallback:
    """Check one callback request and return its typed event.

    Args:
        query: the callback URL's query parameters: a mapping (``request.query_params``,
            ``request.GET``, ``request.query``, a dict; values may be lists) or the raw query
            string (str or bytes).
        body: the request body: bytes (UTF-8 JSON), str, or an already-parsed dict.
        sdkappid: your app id; ``SdkAppid`` must equal it.
        token: the authentication token set in the console; when given, ``Sign`` and
            ``RequestTime`` are required and checked. ``None`` skips the check.
        max_skew: seconds ``RequestTime`` may differ from ``now``, either way (60 by default, as
            Tencent advises); ``None`` turns the freshness check off.
        now: the current Unix time in seconds (default ``time.time()``).
        strict: also require every documented body field and the same ``CallbackCommand`` in
            the query and the body (see the module docstring for the tolerant default).
        allow_unknown_commands: return a :class:`RawCallback` for an authenticated callback
            whose command is not an Official Account one, instead of raising (``command``).

    Raises:
        WebhookError: the request cannot be accepted; ``.reason`` is ``"query"``,
            ``"sdkappid"``, ``"signature"``, ``"stale"``, ``"body"`` or ``"command"``.
        ValidationError: ``sdkappid``, ``token``, ``max_skew`` or ``now`` is not valid.
    """
    box = [token]
    del token
    result = parse(
        query, body, sdkappid=sdkappid, token_box=box, max_skew=max_skew, now=now, strict=strict
    )
    if isinstance(result, RawCallback) and not allow_unknown_commands:
        raise WebhookError(
            f"{result.command[:80]!r} is not an Official Account callback", reason="command"
        )
    return result
