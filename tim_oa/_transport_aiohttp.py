"""The aiohttp backend: ``Session(..., backend="aiohttp")`` (extra ``tim-oa[aiohttp]``).

Same API and promises as :class:`~tim_oa._transport.HttpTransport` (whole-attempt timeout,
decoded size cap, no redirects, proxies from the environment, no URL on exceptions,
``Retry-After``, event loops, ``User-Agent``), built on aiohttp directly.

Why aiohttp directly and not httpx-aiohttp (an httpx transport running on aiohttp): measured in
one loopback run (10 in flight, client CPU per call, bare aiohttp = 1.00x), httpx-aiohttp costs
about what httpx does, because httpx's request and URL models stay on the path; it saves the
connection pool's share only. Going to aiohttp directly keeps the cost near bare aiohttp. The
numbers are in the project's CHANGELOG and bench notes.

Choices that keep it on par with the httpx backend:

- aiohttp inflates on its own by default; here ``auto_decompress=False`` and the raw stream goes
  through the same bounded reader (``_transport_body``) as httpx's.
- ``trust_env=False``: the proxy is resolved once from the environment the way httpx does it
  (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``) and passed per request; aiohttp's
  own ``trust_env`` would also read ``~/.netrc`` credentials, which httpx does not.
- The URL is handed to yarl as already encoded, so the signed query is not re-quoted.
- asyncio only: aiohttp does not run under trio, and a call from trio raises ``EventLoopError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import anyio
import httpx
from yarl import URL

from ._errors import EventLoopError, SessionClosedError, TimOAError, ValidationError
from ._transport_body import ACCEPT_ENCODING, BodyError, BodyReader
from ._transport_common import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    BodyFailure,
    TransportBase,
    attempt_seconds,
    body_error,
    check_options,
    close_at_loop_end,
    default_user_agent,
    env_proxy,
    finish_response,
    install_log_redaction,
    resolve_timeout,
    timeout_error,
    transport_error,
)
from ._wire import RawResponse

# A failed connect (refused, DNS, TLS handshake, connect timeout): the request never left.
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)


def _client_timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
    # httpx's phases mapped onto aiohttp's; the whole attempt is bounded by our own deadline.
    return aiohttp.ClientTimeout(
        total=None, connect=timeout.pool, sock_connect=timeout.connect, sock_read=timeout.read
    )


class AiohttpTransport(TransportBase):
    """POSTs request bodies over a pooled ``aiohttp.ClientSession``; see ``HttpTransport``.

    Takes the same options as :class:`~tim_oa._transport.HttpTransport` except ``client`` and
    ``transport`` (httpx objects). ``timeout`` may still be seconds or an ``httpx.Timeout``.
    The ``aiohttp.ClientSession`` is created in the event loop of the first call, and again for
    each new loop (the previous one is closed when its loop shuts down).
    """

    backend = "aiohttp"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_connections: int = 10,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_agent: str | None = None,
    ) -> None:
        install_log_redaction()  # loggers created since import (see its docstring)
        self.base_url = check_options(base_url, max_connections, max_response_bytes, user_agent)
        self.owns_client = True
        self.max_response_bytes = max_response_bytes
        self._max_connections = max_connections
        self._user_agent = user_agent or default_user_agent("aiohttp", aiohttp.__version__)
        http_timeout = resolve_timeout(timeout) or DEFAULT_TIMEOUT
        self._timeout = http_timeout
        self._seconds = attempt_seconds(http_timeout)
        self._proxy = env_proxy(self.base_url)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keeper: AsyncGenerator[None, None] | None = None
        self._closed = False
        self._last_timeout: object = None
        self._last_resolved: tuple[float | None, aiohttp.ClientTimeout | None] = (None, None)

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` sent."""
        return self._user_agent

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0),
            headers={
                "User-Agent": self._user_agent,
                "Accept-Encoding": ACCEPT_ENCODING,
                "Content-Type": "application/json",
            },
            timeout=_client_timeout(self._timeout),
            auto_decompress=False,
            trust_env=False,
            raise_for_status=False,
        )

    async def _attempt(
        self,
        command: str,
        path: str,
        query: str,
        content: bytes,
        per_call: float | httpx.Timeout | None,
    ) -> RawResponse | TimOAError:
        session = self._session
        if session is None or self._closed or self._loop is not _running_loop():
            checked = await self._session_for_this_loop()
            if isinstance(checked, TimOAError):
                return checked
            session = checked
        if per_call is None:
            seconds, client_timeout = self._seconds, None
        elif per_call is self._last_timeout:
            seconds, client_timeout = self._last_resolved
        else:
            try:
                resolved = resolve_timeout(per_call)
            except ValidationError as exc:
                return exc
            assert resolved is not None
            seconds, client_timeout = attempt_seconds(resolved), _client_timeout(resolved)
            self._last_timeout, self._last_resolved = per_call, (seconds, client_timeout)
        try:
            url = URL(f"{self.base_url}{path}?{query}", encoded=True)
            if seconds is None:
                return await self._exchange(session, url, content, client_timeout)
            with anyio.move_on_after(seconds):
                return await self._exchange(session, url, content, client_timeout)
            return timeout_error(command, seconds)
        except _NOT_SENT as exc:
            return transport_error(
                command,
                exc,
                request_sent=False,
                is_timeout=isinstance(exc, aiohttp.ConnectionTimeoutError),
            )
        except aiohttp.SocketTimeoutError as exc:
            return transport_error(command, exc, request_sent=True, is_timeout=True)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return transport_error(command, exc, request_sent=True)
        except BodyFailure as failure:
            return body_error(command, failure.status_code, failure.error)
        except RuntimeError as exc:
            if session.closed:
                return SessionClosedError("the session's HTTP client was closed")
            return transport_error(command, exc, request_sent=True)

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        url: URL,
        content: bytes,
        client_timeout: aiohttp.ClientTimeout | None,
    ) -> RawResponse:
        extra: dict[str, Any] = {} if client_timeout is None else {"timeout": client_timeout}
        response = await session.post(
            url, data=content, allow_redirects=False, proxy=self._proxy, **extra
        )
        status_code = response.status
        try:
            reader = BodyReader(response.headers.get("Content-Encoding"), self.max_response_bytes)
            async for chunk in response.content.iter_any():
                reader.feed(chunk)
        except BaseException as exc:
            response.close()  # cancelled, over the cap, or failed: drop the connection
            if isinstance(exc, BodyError):
                raise BodyFailure(status_code, exc) from None
            raise
        response.release()
        return finish_response(status_code, reader, response.headers.get("Retry-After"))

    async def _session_for_this_loop(self) -> aiohttp.ClientSession | TimOAError:
        if self._closed:
            return SessionClosedError("the session is closed")
        loop = _running_loop()
        if loop is None:
            return EventLoopError(
                "the aiohttp backend runs on asyncio only; use backend='httpx' under trio"
            )
        if loop is not self._loop or self._session is None:
            # A new loop (or the first): the old session, if any, was closed by its loop's
            # shutdown through the keeper; it cannot be used or closed from here.
            self._session = self._new_session()
            self._loop = loop
            self._keeper = close_at_loop_end(self._session.close)
            await self._keeper.asend(None)
        if self._session.closed:
            return SessionClosedError("the session's HTTP client was closed")
        return self._session

    async def aclose(self) -> None:
        """Close the aiohttp session (if it belongs to the running loop)."""
        if self._closed:
            return
        self._closed = True
        keeper, self._keeper = self._keeper, None
        if keeper is not None and self._loop is _running_loop():
            await keeper.aclose()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
