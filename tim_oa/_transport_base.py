"""The transport base: one attempt of every HTTP backend, and the checks and errors they share.

The backends (``_transport`` for httpx and httpx2, ``_transport_aiohttp``) implement only their
I/O: open a client for the running loop, send one POST and stream its body, and one exception map
(``EXC_MAP``, as httpx's ``HTTPCORE_EXC_MAP``). :class:`TransportBase` holds the rest, so every
backend keeps the same promises, which the session's retry rules rely on:

- ``timeout`` bounds the whole attempt (connect, send, and reading the entire body), not each
  socket read; an attempt out of time raises ``TransportError(is_timeout=True)``.
- The wait for a free connection of our own pool is not part of the attempt: it is bounded on
  its own by the timeout's ``pool`` phase (seconds given as a number: that number), and running
  out of it raises ``TransportError(is_timeout=True, request_sent=False)``: nothing left the
  client. (A caller's ``http_client`` keeps its own pool, whose wait its own timeouts bound.)
- The body is streamed and decoded here, and reading stops at ``max_response_bytes`` decoded bytes
  (``_transport_body``).
- Redirects are never followed: a 3xx comes back as it is and ``decode_response`` raises.
- No raised exception keeps the signed URL: nothing is chained (``__context__`` is ``None``), the
  message is redacted, and the frames an exception leaves through hold no URL or query.
- A session used from a second event loop gets a fresh client of its own, or ``EventLoopError``
  for a caller's client (connections belong to the loop that opened them).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import urlsplit

import anyio
import httpx

from ._clock import loop_key
from ._errors import (
    EventLoopError,
    SessionClosedError,
    TimOAError,
    TransportError,
    ValidationError,
)
from ._ratelimit import Slots
from ._redaction import install_log_redaction
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


# --- options shared by the backends ------------------------------------------------------------


def _is_positive_seconds(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and 0 < value < float("inf")  # False for NaN too
    )


def _is_timeout_object(value: object) -> bool:
    """An ``httpx2.Timeout`` (same fields as httpx's), recognised without importing httpx2."""
    kind = type(value)
    return kind.__name__ == "Timeout" and kind.__module__.split(".", 1)[0] == "httpx2"


def resolve_timeout(value: object, field: str = "timeout") -> httpx.Timeout | None:
    """Check a ``timeout=`` value: seconds (a whole-attempt bound) or an ``httpx(2).Timeout``.

    ``None`` stays ``None`` (the default applies); an ``httpx2.Timeout`` comes back as the
    ``httpx.Timeout`` of the same phases. Raises :class:`ValidationError` for NaN, infinities,
    zero, negatives and other types.
    """
    if value is None:
        return None
    if _is_timeout_object(value):
        phases = value.as_dict()  # type: ignore[attr-defined]
        if isinstance(phases, dict) and set(phases) == {"connect", "read", "write", "pool"}:
            value = httpx.Timeout(**phases)
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


def pool_timeout_error(command: str, seconds: float) -> TransportError:
    """The error of an attempt that found no free pooled connection in time (nothing sent)."""
    return TransportError(
        f"{command}: no free connection in the pool within the {seconds:g} s pool timeout",
        command=command,
        request_sent=False,
        is_timeout=True,
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


ExceptionMap = tuple[tuple[type[BaseException], bool, bool], ...]
"""``(exception class, request_sent, is_timeout)`` rows; the first class that matches wins."""


class TransportBase:
    """One attempt of every backend: loop binding, timeouts, the pool wait and the errors.

    A backend sets ``backend`` and ``EXC_MAP`` and implements the I/O hooks: ``_open_client``,
    ``_client_closer``, ``_client_closed``, ``_native_timeout`` and ``_exchange`` (and
    ``_loop_problem`` if it runs on one event loop library only). ``_setup`` takes the options
    every backend shares.
    """

    backend: ClassVar[str] = ""
    """The backend's name, as ``Session(backend=...)`` spells it."""
    EXC_MAP: ClassVar[ExceptionMap] = ()
    """How the HTTP library's exceptions read: whether the request may have been sent, and
    whether it is a timeout. An exception in none of the rows propagates (a ``RuntimeError``
    aside, see :meth:`_error_for`)."""

    base_url: str
    owns_client: bool
    max_response_bytes: int

    def _setup(
        self,
        base_url: object,
        *,
        owns_client: bool,
        owns_pool: bool,
        timeout: httpx.Timeout | None,
        attempt_timeout: httpx.Timeout,
        max_connections: object,
        max_response_bytes: object,
        user_agent: object,
    ) -> None:
        """Check and keep the shared options (call first in a backend's ``__init__``).

        ``timeout``: the per-attempt timeout handed to the library (``None``: the client's own);
        ``attempt_timeout``: the one that bounds the attempt and the pool wait.
        ``owns_pool``: the connection pool is ours, so the pool wait is bounded here.
        """
        install_log_redaction()  # the stack's loggers exist once it is imported
        self.base_url = check_options(base_url, max_connections, max_response_bytes, user_agent)
        assert isinstance(max_connections, int) and isinstance(max_response_bytes, int)
        self.owns_client = owns_client
        self.max_response_bytes = max_response_bytes
        self._max_connections = max_connections
        self._timeout = timeout
        self._default = (
            attempt_seconds(attempt_timeout),
            attempt_timeout.pool,
            self._native_timeout(timeout),
        )
        # Requests of this transport holding or waiting for a pooled connection. The library's
        # pool has as many connections, so it never makes a request wait inside the attempt.
        self._gate = Slots(max_connections) if owns_pool else None
        self._loop: object = None
        self._keeper: AsyncGenerator[None, None] | None = None
        self._closed = False
        self._has_client = False  # a client was opened (before any loop, or for one)
        # The last per-call ``timeout`` and what it resolved to (the session passes the same one).
        self._last_timeout: object = None
        self._last_resolved: tuple[float | None, float | None, Any] = self._default

    # --- what a backend implements ----------------------------------------------------------

    def _open_client(self) -> None:
        """Open a client (or session) for the running loop and keep it."""
        raise NotImplementedError

    def _client_closer(self) -> Callable[[], Awaitable[None]]:
        """The close of the current client (bound to it: a later client is not closed by it)."""
        raise NotImplementedError

    def _client_closed(self) -> bool:
        """True when the current client was closed (by its owner, or by us)."""
        raise NotImplementedError

    def _native_timeout(self, timeout: httpx.Timeout | None) -> Any:
        """``timeout`` in the form ``_exchange`` takes (``None``: the client's own)."""
        raise NotImplementedError

    def _loop_problem(self, loop: object) -> TimOAError | None:
        """Why this backend cannot run in ``loop`` (``None``: it can)."""
        return None

    async def _exchange(self, path: str, query: str, content: bytes, native: Any) -> RawResponse:
        """POST ``content`` and read the answer; raise the library's exceptions or BodyFailure."""
        raise NotImplementedError

    def unseen(self) -> bool:
        """Whether no generic HTTP instrumentation could see the next request (see httpx's)."""
        return False

    async def _exchange_within(
        self, path: str, query: str, content: bytes, native: Any, seconds: float
    ) -> RawResponse | None:
        """``_exchange`` within ``seconds`` in all; ``None`` when they ran out."""
        with anyio.move_on_after(seconds):
            return await self._exchange(path, query, content, native)
        return None

    # --- the attempt ------------------------------------------------------------------------

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
        (network failures, the attempt or the pool wait out of time, an answer over
        ``max_response_bytes``), :class:`SessionClosedError`, :class:`EventLoopError` or
        :class:`ValidationError` (a bad ``timeout``). A non-200 status is not raised here:
        :func:`~tim_oa._wire.decode_response` does that.
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
        if self._loop is not loop_key() or self._closed or self._client_closed():
            problem = await self._bind_loop()
            if problem is not None:
                return problem
        if per_call is None:
            seconds, pool, native = self._default
        elif per_call is self._last_timeout:
            seconds, pool, native = self._last_resolved
        else:
            try:
                resolved = resolve_timeout(per_call)
            except ValidationError as exc:
                return exc
            assert resolved is not None
            seconds, pool, native = (
                attempt_seconds(resolved),
                resolved.pool,
                self._native_timeout(resolved),
            )
            self._last_timeout, self._last_resolved = per_call, (seconds, pool, native)
        gate = self._gate
        if gate is not None:
            if pool is None or gate.in_use < gate.limit:
                await gate.acquire()
            else:
                acquired = False
                with anyio.move_on_after(pool):
                    await gate.acquire()
                    acquired = True
                if not acquired:
                    return pool_timeout_error(command, pool)
        try:
            if seconds is None:
                return await self._exchange(path, query, content, native)
            answer = await self._exchange_within(path, query, content, native, seconds)
            if answer is None:
                # The deadline passed. Whether the request went out is unknown: say it may have.
                return timeout_error(command, seconds)
            return answer
        except BodyFailure as failure:
            return body_error(command, failure.status_code, failure.error)
        except Exception as exc:
            return self._error_for(command, exc)
        finally:
            if gate is not None:
                gate.release()

    def _error_for(self, command: str, exc: Exception) -> TimOAError:
        """The error of ``exc``, by ``EXC_MAP``; a ``RuntimeError`` is never left raw."""
        for kind, request_sent, is_timeout in self.EXC_MAP:
            if isinstance(exc, kind):
                return transport_error(
                    command, exc, request_sent=request_sent, is_timeout=is_timeout
                )
        if not isinstance(exc, RuntimeError):
            raise exc
        # The library's "client has been closed" or asyncio's "Event loop is closed".
        if self._client_closed():
            return SessionClosedError("the session's HTTP client was closed")
        if "loop" in str(exc).lower():
            return EventLoopError(
                f"the HTTP client belongs to another event loop: {FOREIGN_LOOP_ADVICE}"
            )
        return transport_error(command, exc, request_sent=True)

    async def _bind_loop(self) -> TimOAError | None:
        """Bind to the running loop on first use; on a loop change, reopen or refuse."""
        if self._closed:
            return SessionClosedError("the session is closed")
        loop = loop_key()
        if loop is not self._loop:
            if self._loop is not None and not self.owns_client:
                return EventLoopError(
                    "this session's http_client was first used in another event loop, and its "
                    f"connections belong to that loop: {FOREIGN_LOOP_ADVICE}"
                )
            problem = self._loop_problem(loop)
            if problem is not None:
                return problem
            if self._loop is not None or not self._has_client:
                # The old loop is over (or elsewhere): its connections cannot be closed from
                # here. Its keeper closed them if that loop shut down normally.
                self._open_client()
                self._has_client = True
            self._loop = loop
            if self.owns_client:
                self._keeper = close_at_loop_end(self._client_closer())
                await self._keeper.asend(None)
        if self._client_closed():
            if self.owns_client:
                return SessionClosedError("the session's HTTP client was closed")
            return SessionClosedError("the http_client given to the session was closed")
        return None

    async def aclose(self) -> None:
        """Close the client if we opened it (and it belongs to the running loop)."""
        if self._closed:
            return
        self._closed = True
        keeper, self._keeper = self._keeper, None
        if not self.owns_client:
            return
        if self._loop is None or self._loop is loop_key():
            if keeper is not None:
                await keeper.aclose()
            elif self._has_client:
                await self._client_closer()()
