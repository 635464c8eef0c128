"""The aiohttp backend: ``Session(..., backend="aiohttp")`` (extra ``tim-oa[aiohttp]``).

Same API and promises as :class:`~tim_oa._transport.HttpTransport` (whole-attempt timeout,
decoded size cap, no redirects, proxies from the environment, no URL on exceptions,
``Retry-After``, event loops, ``User-Agent``), built on aiohttp directly. The attempt (timeouts,
the pool wait, loops, errors) is ``_transport_base.TransportBase``'s; this module is the I/O.

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
import math
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx
from yarl import URL

from ._errors import EventLoopError, TimOAError
from ._transport_base import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    BodyFailure,
    ExceptionMap,
    TransportBase,
    attempt_seconds,
    default_user_agent,
    finish_response,
    resolve_timeout,
)
from ._transport_body import ACCEPT_ENCODING, BodyError, BodyReader
from ._wire import RawResponse

EXC_MAP: ExceptionMap = (
    # A failed connect (refused, DNS, TLS handshake, connect timeout): the request never left.
    (aiohttp.ConnectionTimeoutError, False, True),
    (aiohttp.ClientConnectorError, False, False),
    (aiohttp.InvalidURL, False, False),
    # Past the connect, an error leaves the outcome unknown.
    (aiohttp.SocketTimeoutError, True, True),
    (aiohttp.ClientError, True, False),
    (asyncio.TimeoutError, True, False),
    (OSError, True, False),
)
"""aiohttp's exceptions, as httpx's are read (``_transport.exception_map``)."""


def _client_timeout(timeout: httpx.Timeout, total: float | None = None) -> aiohttp.ClientTimeout:
    # httpx's phases mapped onto aiohttp's, to the millisecond (never rounded up to the second);
    # ``total``: the whole attempt's bound, kept by aiohttp's own timer (see _exchange_within).
    return aiohttp.ClientTimeout(
        total=total,
        connect=timeout.pool,
        sock_connect=timeout.connect,
        sock_read=timeout.read,
        ceil_threshold=math.inf,
    )


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


class AiohttpTransport(TransportBase):
    """POSTs request bodies over a pooled ``aiohttp.ClientSession``; see ``HttpTransport``.

    Takes the same options as :class:`~tim_oa._transport.HttpTransport` except ``client`` and
    ``transport`` (httpx objects). ``timeout`` may still be seconds or an ``httpx.Timeout``.
    The ``aiohttp.ClientSession`` is created in the event loop of the first call, and again for
    each new loop (the previous one is closed when its loop shuts down).
    """

    backend = "aiohttp"
    EXC_MAP = EXC_MAP

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_connections: int = 10,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_agent: str | None = None,
    ) -> None:
        http_timeout = resolve_timeout(timeout) or DEFAULT_TIMEOUT
        self._setup(
            base_url,
            owns_client=True,
            owns_pool=True,
            timeout=http_timeout,
            attempt_timeout=http_timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            user_agent=user_agent,
        )
        self._user_agent = user_agent or default_user_agent("aiohttp", aiohttp.__version__)
        self._session_timeout = _client_timeout(http_timeout)
        self._proxy = env_proxy(self.base_url)
        self._session: aiohttp.ClientSession | None = None

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` sent."""
        return self._user_agent

    # --- the I/O hooks of TransportBase ------------------------------------------------------

    def _loop_problem(self, loop: object) -> TimOAError | None:
        if isinstance(loop, asyncio.AbstractEventLoop):
            return None
        return EventLoopError(
            "the aiohttp backend runs on asyncio only; use backend='httpx' under trio"
        )

    def _open_client(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0),
            headers={
                "User-Agent": self._user_agent,
                "Accept-Encoding": ACCEPT_ENCODING,
                "Content-Type": "application/json",
            },
            timeout=self._session_timeout,
            auto_decompress=False,
            trust_env=False,
            raise_for_status=False,
        )

    def _client_closer(self) -> Callable[[], Awaitable[None]]:
        assert self._session is not None
        return self._session.close

    def _client_closed(self) -> bool:
        return self._session is None or self._session.closed

    def _native_timeout(self, timeout: httpx.Timeout | None) -> Any:
        # Worked out once per timeout (the attempt caches it): the phases and the whole bound.
        if timeout is None:
            return None
        return _client_timeout(timeout, attempt_seconds(timeout))

    async def _exchange_within(
        self, path: str, query: str, content: bytes, native: Any, seconds: float
    ) -> RawResponse | None:
        # ``native`` carries the attempt's ``seconds`` as aiohttp's own ``total``: it bounds the
        # whole request, the body's reading included, on the timer aiohttp runs for every request
        # anyway, with no cancel scope to enter and leave per request (~20 µs of CPU each). It
        # raises a plain ``TimeoutError``; the phases raise subclasses of ``ClientError``, which
        # the exception map reads.
        try:
            return await self._exchange(path, query, content, native)
        except asyncio.TimeoutError as exc:
            if isinstance(exc, aiohttp.ClientError):
                raise
            return None

    async def _exchange(self, path: str, query: str, content: bytes, native: Any) -> RawResponse:
        assert self._session is not None
        url = URL(f"{self.base_url}{path}?{query}", encoded=True)
        extra: dict[str, Any] = {} if native is None else {"timeout": native}
        response = await self._session.post(
            url, data=content, allow_redirects=False, proxy=self._proxy, **extra
        )
        del url
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
