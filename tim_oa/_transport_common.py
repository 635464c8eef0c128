"""What every HTTP backend shares: option checks, the event-loop guard, errors without secrets.

The backends (``_transport`` for httpx, ``_transport_aiohttp``) differ only in how they send and
stream; these helpers keep their promises identical (see ``_transport``'s docstring).
"""

from __future__ import annotations

import logging
import sys
import urllib.request
from collections.abc import AsyncGenerator, Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from ._errors import TimOAError, TransportError, ValidationError
from ._transport_body import BodyError, BodyReader
from ._version import __version__
from ._wire import RawResponse, parse_retry_after, redact

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
"""10 s for a whole attempt, of which at most 5 s to connect. The backend gives up after 3 s."""

DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""The largest answer read, in decoded bytes (8 MiB; real answers are a few hundred KB at most)."""

RETRY_AFTER_STATUSES = frozenset((429, 503))
"""The statuses whose ``Retry-After`` is read."""


def default_user_agent(library: str = "httpx", version: str = httpx.__version__) -> str:
    """``tim-oa/<version> python/<x.y.z> <library>/<version>``."""
    python = "{}.{}.{}".format(*sys.version_info[:3])
    return f"tim-oa/{__version__} python/{python} {library}/{version}"


class _RedactingFilter(logging.Filter):
    """Rewrites log records so no UserSig reaches a handler.

    httpx logs every request with its full URL at INFO level; the URL carries the UserSig.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


REDACTING_FILTER = _RedactingFilter()


_REDACTED_LOGGERS = ("httpx", "httpcore", "aiohttp")


def install_log_redaction() -> None:
    """Attach the redacting filter to the loggers of the HTTP stacks (idempotent).

    A logger's filters only see records made on that very logger, not those its children
    propagate (``httpcore.http11`` logs request lines and headers at DEBUG), so the filter goes on
    every logger of those libraries that exists. Transports call this again when they are built,
    for loggers created since (a backend imported later).
    """
    existing = [n for n in list(logging.Logger.manager.loggerDict) if isinstance(n, str)]
    for name in {*_REDACTED_LOGGERS, *existing}:
        if name.split(".", 1)[0] not in _REDACTED_LOGGERS:
            continue
        logger = logging.getLogger(name)
        if REDACTING_FILTER not in logger.filters:
            logger.addFilter(REDACTING_FILTER)


install_log_redaction()


# --- options shared by the backends ------------------------------------------------------------


def _is_positive_seconds(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and 0 < value < float("inf")  # False for NaN too
    )


def resolve_timeout(value: object, field: str = "timeout") -> httpx.Timeout | None:
    """Check a ``timeout=`` value: seconds (a whole-attempt bound) or an ``httpx.Timeout``.

    ``None`` stays ``None`` (the default applies). Raises :class:`ValidationError` for NaN,
    infinities, zero, negatives and other types.
    """
    if value is None:
        return None
    if isinstance(value, httpx.Timeout):
        phases = (value.connect, value.read, value.write, value.pool)
        if not all(p is None or _is_positive_seconds(p) for p in phases):
            raise ValidationError(
                f"every phase of the {field} must be positive seconds or None", field=field
            )
        return value
    if not _is_positive_seconds(value):
        raise ValidationError(f"{field} must be a positive number of seconds", field=field)
    return httpx.Timeout(float(value))  # type: ignore[arg-type]


def attempt_seconds(timeout: httpx.Timeout) -> float | None:
    """The bound on a whole attempt: the largest phase of ``timeout`` (``None``: unbounded).

    Seconds given as a number set every phase to that number, so they bound the attempt. An
    ``httpx.Timeout`` keeps its phases for httpx, and its largest one bounds the whole attempt.
    """
    phases = [p for p in (timeout.connect, timeout.read, timeout.write, timeout.pool) if p]
    return max(phases) if phases else None


def check_base_url(value: object) -> str:
    """An ``http(s)://host[:port][/prefix]`` URL without query, fragment or control characters.

    Returns it without a trailing ``/``. The one shape check of a base URL: the session adds its
    own rule (no plain http to Tencent) on top.
    """
    if not isinstance(value, str):
        raise ValidationError(
            f"base_url must be a str, not {type(value).__name__}", field="base_url"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValidationError(f"base_url is not a valid URL: {value!r}", field="base_url") from None
    if (
        parts.scheme not in ("http", "https")
        or not host
        or parts.query
        or parts.fragment
        or any(ch <= " " or ch == "\x7f" or "\ud800" <= ch <= "\udfff" for ch in value)
    ):
        raise ValidationError(
            f"base_url must be an http(s) URL without query or fragment, got {value!r}",
            field="base_url",
        )
    return value.rstrip("/")


def check_options(
    base_url: object, max_connections: object, max_response_bytes: object, user_agent: object
) -> str:
    """Validate the options every backend takes; return the base URL without a trailing '/'."""
    url = check_base_url(base_url)
    for name, number in (
        ("max_connections", max_connections),
        ("max_response_bytes", max_response_bytes),
    ):
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValidationError(f"{name} must be a positive int", field=name)
    if user_agent is not None and (
        not isinstance(user_agent, str)
        or not user_agent
        or not all(" " <= c <= "~" for c in user_agent)
    ):
        raise ValidationError(
            "user_agent must be a non-empty string of printable ASCII", field="user_agent"
        )
    return url


FOREIGN_LOOP_ADVICE = (
    "use one session per event loop, or let the session create its client (no http_client=)"
)


async def close_at_loop_end(close: Callable[[], Awaitable[None]]) -> AsyncGenerator[None, None]:
    """An async generator that calls ``await close()`` when the event loop finalizes it.

    Started once per loop, it is finalized by the loop's own shutdown (``asyncio.run`` and trio
    both close the async generators still alive), so the connections a session opened in that
    loop are closed inside it, rather than left for a later loop that cannot close them.
    """
    try:
        yield
    finally:
        await close()


def transport_error(
    command: str,
    exc: BaseException,
    *,
    request_sent: bool,
    is_timeout: bool = False,
) -> TransportError:
    """A :class:`TransportError` describing ``exc`` without chaining it.

    The HTTP library's exception keeps the request and its URL (with the UserSig), so only its
    type name and redacted text are kept.
    """
    detail = redact(str(exc)) or "no detail"
    return TransportError(
        f"{command}: {type(exc).__name__}: {detail}",
        command=command,
        request_sent=request_sent,
        is_timeout=is_timeout,
    )


def timeout_error(command: str, seconds: float, *, request_sent: bool = True) -> TransportError:
    """The error of an attempt that ran out of its whole-attempt time."""
    return TransportError(
        f"{command}: no complete answer within the {seconds:g} s timeout",
        command=command,
        request_sent=request_sent,
        is_timeout=True,
    )


def body_error(command: str, status_code: int, exc: BodyError) -> TransportError:
    """The error of an answer whose body could not be read (too large, corrupt)."""
    return TransportError(f"{command}: {exc}", command=command, status_code=status_code)


def env_proxy(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url``, as httpx reads it (``trust_env``).

    ``<SCHEME>_PROXY`` or ``ALL_PROXY``, unless ``NO_PROXY`` covers the host. Used by backends
    that do not read the environment the way httpx does.
    """
    url = httpx.URL(base_url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy:
        return None
    host = url.host if url.port is None else f"{url.host}:{url.port}"
    if urllib.request.proxy_bypass(host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


# --- what both backends share ---------------------------------------------------------------


class BodyFailure(Exception):
    """Carries a :class:`BodyError` with the status it came with, out of a backend's exchange."""

    def __init__(self, status_code: int, error: BodyError) -> None:
        super().__init__(str(error))
        self.status_code = status_code
        self.error = error


def finish_response(status_code: int, reader: BodyReader, retry_after: str | None) -> RawResponse:
    """The :class:`RawResponse` of a body read to its end (``Retry-After`` kept on 429/503)."""
    wait = parse_retry_after(retry_after) if status_code in RETRY_AFTER_STATUSES else None
    return RawResponse(status_code, reader.finish(), wait)


class TransportBase:
    """The public ``post`` of every backend over its ``_attempt``, which returns its error."""

    async def post(
        self,
        command: str,
        path: str,
        query: str,
        content: bytes,
        *,
        timeout: float | httpx.Timeout | None = None,
    ) -> RawResponse:
        """Send one POST to ``base_url + path + "?" + query``; return the answer.

        ``timeout`` overrides the transport's for this attempt. Raises :class:`TransportError`
        (network failures, the attempt out of time, an answer over ``max_response_bytes``),
        :class:`SessionClosedError`, :class:`EventLoopError` or :class:`ValidationError` (a bad
        ``timeout``). A non-200 status is not raised here: :func:`~tim_oa._wire.decode_response`
        does that.
        """
        outcome = await self._attempt(command, path, query, content, timeout)
        # The query (with the UserSig) must not stay in this frame, which a raised exception's
        # traceback keeps; the error was built in another frame, outside any ``except`` block.
        del query
        if isinstance(outcome, RawResponse):
            return outcome
        try:
            raise outcome
        except TimOAError as error:
            # ``raise`` chains whatever exception the task is handling; an event loop runner may
            # leak one (the backported runner pytest-asyncio uses on Python 3.10 does).
            error.__context__ = None
            raise

    async def _attempt(
        self,
        command: str,
        path: str,
        query: str,
        content: bytes,
        per_call: float | httpx.Timeout | None,
    ) -> RawResponse | TimOAError:
        """One attempt: the answer, or the error to raise (built outside any ``except``)."""
        raise NotImplementedError
