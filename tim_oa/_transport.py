"""The httpx and httpx2 backends, and :func:`make_transport`, which picks a backend.

:class:`HttpTransport` posts over an ``httpx.AsyncClient`` (the default backend);
:class:`Httpx2Transport` is the same code over Pydantic's ``httpx2`` (same API, other package,
Python 3.11+; imported only when asked for). ``_transport_aiohttp`` holds the aiohttp backend.
What they promise, and the attempt they share, is in ``_transport_base``.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import anyio
import httpx

from ._errors import ValidationError
from ._pool import direct_pool_settings, shard_pool
from ._transport_base import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    BodyFailure,
    ExceptionMap,
    TransportBase,
    default_user_agent,
    finish_response,
    resolve_timeout,
)
from ._transport_body import ACCEPT_ENCODING, BodyError, BodyReader
from ._wire import RawResponse

if TYPE_CHECKING:
    import httpx2

    from ._lean_pool import LeanPool

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "HttpTransport",
    "Httpx2Transport",
    "RawResponse",
    "TransportBase",
    "client_timeout",
    "make_transport",
]

Backend = Literal["httpx", "httpx2", "aiohttp"]
BACKENDS: tuple[Backend, ...] = ("httpx", "httpx2", "aiohttp")


def exception_map(lib: Any) -> ExceptionMap:
    """The exception map of httpx or httpx2 (``lib``), which share their exception tree."""
    return (
        # A failed connect, or no connection from the pool in time: the request never left.
        (lib.ConnectTimeout, False, True),
        (lib.PoolTimeout, False, True),
        (lib.ConnectError, False, False),
        (lib.UnsupportedProtocol, False, False),
        (lib.InvalidURL, False, False),
        # Past the connect, an error leaves the outcome unknown.
        (lib.TimeoutException, True, True),
        (lib.HTTPError, True, False),
    )


class HttpTransport(TransportBase):
    """POSTs request bodies over a pooled ``httpx.AsyncClient`` and returns :class:`RawResponse`.

    Args:
        base_url: Scheme and host (and optional path prefix) of the API.
        client: A caller's client, used as is (its timeout, headers, proxies, event hooks) and
            never closed here. It is bound to the event loop it is first used in: a call from
            another loop raises :class:`EventLoopError`.
        transport: An ``httpx.AsyncBaseTransport`` to build our own client on (tests, emulator).
        timeout: Seconds for a whole attempt, or an ``httpx.Timeout`` (its phases go to httpx;
            its largest phase bounds the whole attempt). ``None``: :data:`DEFAULT_TIMEOUT` for our
            own client, the client's own timeout for a caller's client.
        max_connections: Pool size of our own client; matched to the session's concurrency bound.
        max_response_bytes: The largest answer read, counted in decoded bytes.
        user_agent: The ``User-Agent`` header; by default ``tim-oa/<v> python/<v> httpx/<v>`` on our
            own client, and the caller's client's own header on theirs.

    Our own client honours the proxy environment variables (``HTTPS_PROXY``, ``NO_PROXY``, ...)
    and ``SSL_CERT_FILE``, as httpx does by default, and never follows redirects. Having no auth,
    cookies, event hooks or redirects to run, it hands each request straight to the connection
    pool (or proxy) that the client chose for ``base_url``: a quarter less CPU per call than
    ``client.send()``. A caller's client always goes through ``client.send()``, hooks and all.
    """

    backend = "httpx"
    EXC_MAP = exception_map(httpx)
    _lib: ModuleType = httpx

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_connections: int = 10,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_agent: str | None = None,
    ) -> None:
        lib = self._lib
        if client is not None and not isinstance(client, lib.AsyncClient):
            raise ValidationError(
                f"http_client must be an {lib.__name__}.AsyncClient", field="http_client"
            )
        if transport is not None and not isinstance(transport, lib.AsyncBaseTransport):
            raise ValidationError(
                f"transport must be an {lib.__name__}.AsyncBaseTransport", field="transport"
            )
        if client is not None and transport is not None:
            raise ValidationError("give http_client= or transport=, not both", field="transport")
        http_timeout = resolve_timeout(timeout)
        if client is None and http_timeout is None:
            http_timeout = DEFAULT_TIMEOUT
        own_timeout = None if client is None else _as_httpx_timeout(client.timeout)
        attempt = http_timeout or own_timeout or DEFAULT_TIMEOUT
        self._setup(
            base_url,
            owns_client=client is None,
            owns_pool=client is None and transport is None,
            timeout=http_timeout,
            attempt_timeout=attempt,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            user_agent=user_agent,
        )
        self._transport = transport
        self._lean: LeanPool | None = None
        headers = {"Content-Type": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
        if client is None:
            self._user_agent = user_agent or default_user_agent(lib.__name__, lib.__version__)
            headers = {"User-Agent": self._user_agent, "Accept": "*/*", **headers}
            self._headers = lib.Headers(headers)
            assert http_timeout is not None
            client = self._new_client(http_timeout)
        else:
            if user_agent is not None:
                headers["User-Agent"] = user_agent
            self._user_agent = user_agent or client.headers.get("user-agent", "")
            self._headers = lib.Headers(headers)
        self._client = client
        self._route = self._route_of(client)
        self._has_client = True

    def _new_client(self, timeout: httpx.Timeout) -> Any:
        lib = self._lib
        client = lib.AsyncClient(
            transport=self._transport,
            timeout=lib.Timeout(**timeout.as_dict()),
            limits=lib.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
            ),
            headers={"User-Agent": self._user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            http1=True,
            http2=False,
            follow_redirects=False,
            # Proxy variables and SSL_CERT_FILE are honoured, as users behind a proxy expect.
            trust_env=True,
        )
        self._lean = None if self._transport is not None else self._lean_pool(client)
        # Small pools in shards: httpcore's cost per request grows with its pool (_pool.py).
        return client if self._transport is not None else shard_pool(client, self._max_connections)

    def _lean_pool(self, client: Any) -> LeanPool | None:
        """Our own connections for the direct route to ``base_url`` (``_lean_pool.py``).

        ``None`` (httpx's pool serves every request) when a proxy applies to ``base_url`` or the
        client is not built the way this code knows (its pool's TLS settings are reused).
        """
        lib = self._lib
        settings = direct_pool_settings(client, lib)
        pick = getattr(client, "_transport_for_url", None)
        if settings is None or pick is None:
            return None
        if pick(lib.URL(self.base_url)) is not client._transport:
            return None  # a proxy (from the environment) takes base_url
        try:  # asyncio is loaded with it: not on ``import tim_oa``
            from ._lean_pool import LeanPool
        except ImportError:  # httptools (its parser) not installed: httpx's pool serves
            return None

        context, expiry = settings
        return LeanPool(
            self.base_url,
            ssl_context=context,
            keepalive_expiry=expiry,
            headers=dict(self._headers.items()),
            lib=lib,
        )

    def _route_of(self, client: Any) -> Any:
        """The pool (or proxy) our own client would send ``base_url`` requests through.

        httpx has no public name for it; without ``_transport_for_url`` (a later httpx) requests
        simply go through ``client.send()`` (``tests/test_transport.py`` fails if it is gone).
        """
        pick = getattr(client, "_transport_for_url", None)
        if not self.owns_client or pick is None:
            return None
        route = pick(self._lib.URL(self.base_url))
        return route if isinstance(route, self._lib.AsyncBaseTransport) else None

    @property
    def client(self) -> httpx.AsyncClient:
        """The client requests go through (ours for the current loop, or the caller's)."""
        client: httpx.AsyncClient = self._client
        return client

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` sent (the caller's client's own when none was given)."""
        return self._user_agent

    # --- the I/O hooks of TransportBase ------------------------------------------------------

    def _open_client(self) -> None:
        self._client = self._new_client(_as_httpx_timeout(self._client.timeout))
        self._route = self._route_of(self._client)

    def _client_closer(self) -> Any:
        client, lean = self._client, self._lean
        if lean is None:
            return client.aclose

        async def close() -> None:
            await lean.aclose()
            await client.aclose()

        return close

    def _client_closed(self) -> bool:
        closed: bool = self._client.is_closed
        return closed

    def _native_timeout(self, timeout: httpx.Timeout | None) -> Any:
        if timeout is None:
            return None, None  # the caller's client's own
        phases = timeout.as_dict()
        return self._lib.Timeout(**phases), {"timeout": phases}

    def unseen(self) -> bool:
        """True while requests go over our own connections.

        OpenTelemetry's (or any) httpx instrumentation patches httpx, and requests then go
        through httpx, where it sees them (and the session suppresses it).
        """
        lean = self._lean
        return lean is not None and lean.serves(self._loop)

    async def _exchange_within(
        self, path: str, query: str, content: bytes, native: Any, seconds: float
    ) -> RawResponse | None:
        lean = self._lean
        if lean is None or not lean.serves(self._loop):
            return await super()._exchange_within(path, query, content, native, seconds)
        from ._lean_pool import AttemptTimeout

        try:
            return await self._post_lean(lean, path, query, content, native, seconds)
        except AttemptTimeout:
            return None

    async def _post_lean(
        self,
        lean: LeanPool,
        path: str,
        query: str,
        content: bytes,
        native: Any,
        seconds: float | None = None,
    ) -> RawResponse:
        """The exchange on our own connections (``seconds``: the whole attempt's bound)."""
        status_code, reader, retry_after = await lean.post(
            f"{path}?{query}", content, native[1]["timeout"], self.max_response_bytes, seconds
        )
        return finish_response(status_code, reader, retry_after)

    async def _exchange(self, path: str, query: str, content: bytes, native: Any) -> RawResponse:
        lean = self._lean
        if lean is not None and lean.serves(self._loop):
            return await self._post_lean(lean, path, query, content, native)
        lib = self._lib
        route = self._route
        url = f"{self.base_url}{path}?{query}"
        if route is not None:
            request = lib.Request(
                "POST", url, content=content, headers=self._headers, extensions=native[1]
            )
            del url
            response = await route.handle_async_request(request)
        else:
            timeout = native[0]
            request = self._client.build_request(
                "POST",
                url,
                content=content,
                headers=self._headers,
                timeout=lib.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
            del url
            response = await self._client.send(request, stream=True, follow_redirects=False)
        status_code = response.status_code
        try:
            if response.is_stream_consumed:
                # An in-process transport (a mock, the emulator) built the response from bytes it
                # already holds, decoded: only the cap is left to check.
                reader = BodyReader(None, self.max_response_bytes)
                reader.feed(response.content)
            else:
                encoding = response.headers.get("content-encoding")
                reader = BodyReader(encoding, self.max_response_bytes)
                async for chunk in response.aiter_raw():
                    reader.feed(chunk)
        except BaseException as exc:
            # Cancelled, over the cap, or failed: drop the connection (its state is unknown).
            with anyio.CancelScope(shield=True):
                await response.aclose()
            if isinstance(exc, BodyError):
                raise BodyFailure(status_code, exc) from None
            raise
        return finish_response(status_code, reader, response.headers.get("retry-after"))


class Httpx2Transport(HttpTransport):
    """:class:`HttpTransport` over ``httpx2`` (``backend="httpx2"``, extra ``tim-oa[httpx2]``).

    ``client`` is an ``httpx2.AsyncClient`` and ``transport`` an ``httpx2.AsyncBaseTransport``;
    ``timeout`` may be seconds, an ``httpx.Timeout`` or an ``httpx2.Timeout``.
    """

    backend = "httpx2"
    EXC_MAP: ClassVar[
        ExceptionMap
    ] = ()  # filled from httpx2 by the first instance (httpx2 is imported then)

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx2.AsyncClient | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | httpx2.Timeout | None = None,
        max_connections: int = 10,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_agent: str | None = None,
    ) -> None:
        self._lib = lib = _import_httpx2()
        if not Httpx2Transport.EXC_MAP:
            Httpx2Transport.EXC_MAP = exception_map(lib)
        super().__init__(
            base_url,
            client=client,  # type: ignore[arg-type]
            transport=transport,  # type: ignore[arg-type]
            timeout=timeout,  # type: ignore[arg-type]
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            user_agent=user_agent,
        )


def _import_httpx2() -> ModuleType:
    try:
        import httpx2
    except ImportError:
        raise ValidationError(
            "backend='httpx2' needs httpx2 (Python 3.11+): pip install 'tim-oa[httpx2]'",
            field="backend",
        ) from None
    return httpx2


def _stack_of(obj: object) -> str | None:
    """``"httpx2"`` for an httpx2 client or transport (httpx2 is loaded if one exists)."""
    httpx2 = sys.modules.get("httpx2")
    if (
        httpx2 is not None
        and httpx2 is not httpx
        and isinstance(obj, (httpx2.AsyncClient, httpx2.AsyncBaseTransport))
    ):
        return "httpx2"
    return None


def _as_httpx_timeout(timeout: Any) -> httpx.Timeout:
    """A client's ``httpx.Timeout`` as it is, or an ``httpx2.Timeout`` as the same phases."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(**timeout.as_dict())


def client_timeout(client: object) -> httpx.Timeout | None:
    """The timeout of a caller's httpx or httpx2 client (``None`` for anything else)."""
    if isinstance(client, httpx.AsyncClient) or _stack_of(client) == "httpx2":
        return _as_httpx_timeout(client.timeout)  # type: ignore[attr-defined]
    return None


def make_transport(
    backend: str = "httpx",
    base_url: str = "",
    *,
    client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | httpx2.AsyncBaseTransport | None = None,
    timeout: float | httpx.Timeout | httpx2.Timeout | None = None,
    max_connections: int = 10,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    user_agent: str | None = None,
) -> TransportBase:
    """Build the transport of ``backend`` (``"httpx"``, ``"httpx2"`` or ``"aiohttp"``).

    A ``client`` or ``transport`` of httpx2 brings its own stack: with the default
    ``backend="httpx"`` it selects httpx2. With ``backend="aiohttp"`` either is a
    :class:`ValidationError`. The aiohttp backend needs the ``tim-oa[aiohttp]`` extra, httpx2
    ``tim-oa[httpx2]``.
    """
    if backend not in BACKENDS:
        raise ValidationError(
            f"backend must be 'httpx', 'httpx2' or 'aiohttp', got {backend!r}", field="backend"
        )
    if backend == "httpx" and "httpx2" in (_stack_of(client), _stack_of(transport)):
        backend = "httpx2"
    options: dict[str, Any] = {
        "timeout": timeout,
        "max_connections": max_connections,
        "max_response_bytes": max_response_bytes,
        "user_agent": user_agent,
    }
    if backend == "aiohttp":
        if client is not None or transport is not None:
            raise ValidationError(
                "http_client= and transport= are httpx objects: not with backend='aiohttp'",
                field="http_client" if client is not None else "transport",
            )
        try:
            from ._transport_aiohttp import AiohttpTransport
        except ImportError:
            raise ValidationError(
                "backend='aiohttp' needs aiohttp: pip install 'tim-oa[aiohttp]'", field="backend"
            ) from None
        return AiohttpTransport(base_url, **options)
    kind = HttpTransport if backend == "httpx" else Httpx2Transport
    return kind(base_url, client=client, transport=transport, **options)  # type: ignore[arg-type]
