"""The HTTP layer: post one signed request, hand back a :class:`RawResponse` or raise.

:class:`HttpTransport` is the httpx backend (the default); ``_transport_aiohttp`` holds the aiohttp
twin with the same API, and :func:`make_transport` picks one. Every backend keeps the same
promises, which the session's retry rules rely on:

- ``timeout`` bounds the whole attempt (connect, send, and reading the entire body), not each
  socket read; an attempt out of time raises ``TransportError(is_timeout=True)``.
- The body is streamed and decoded here, and reading stops at ``max_response_bytes`` decoded bytes
  (``_transport_body``).
- Redirects are never followed: a 3xx comes back as it is and ``decode_response`` raises.
- No raised exception keeps the signed URL: nothing is chained (``__context__`` is ``None``), the
  message is redacted, and the frames an exception leaves through hold no URL or query.
- A session used from a second event loop gets a fresh client of its own, or ``EventLoopError``
  for a caller's client (connections belong to the loop that opened them).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import anyio
import httpx

from ._clock import loop_key
from ._errors import EventLoopError, SessionClosedError, TimOAError, ValidationError
from ._pool import shard_pool
from ._transport_body import ACCEPT_ENCODING, BodyError, BodyReader
from ._transport_common import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    FOREIGN_LOOP_ADVICE,
    BodyFailure,
    TransportBase,
    attempt_seconds,
    body_error,
    check_options,
    close_at_loop_end,
    default_user_agent,
    finish_response,
    install_log_redaction,
    resolve_timeout,
    timeout_error,
    transport_error,
)
from ._wire import RawResponse

if TYPE_CHECKING:
    from ._transport_aiohttp import AiohttpTransport

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "AnyTransport",
    "HttpTransport",
    "RawResponse",
    "make_transport",
]

Backend = Literal["httpx", "aiohttp"]

AnyTransport: TypeAlias = "HttpTransport | AiohttpTransport"
"""What :func:`make_transport` returns: one of the backends, all with the same API."""


# --- the httpx backend -------------------------------------------------------------------------

_CONNECT_FAILURES = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


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

    backend: Backend = "httpx"

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
        install_log_redaction()  # loggers created since import (see its docstring)
        self.base_url = check_options(base_url, max_connections, max_response_bytes, user_agent)
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise ValidationError("http_client must be an httpx.AsyncClient", field="http_client")
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise ValidationError(
                "transport must be an httpx.AsyncBaseTransport", field="transport"
            )
        if client is not None and transport is not None:
            raise ValidationError("give http_client= or transport=, not both", field="transport")
        http_timeout = resolve_timeout(timeout)
        self.owns_client = client is None
        self.max_response_bytes = max_response_bytes
        self._transport = transport
        self._max_connections = max_connections
        headers = {"Content-Type": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
        if client is None:
            if http_timeout is None:
                http_timeout = DEFAULT_TIMEOUT
            self._user_agent = user_agent or default_user_agent()
            headers = {"User-Agent": self._user_agent, "Accept": "*/*", **headers}
            client = self._new_client(http_timeout)
        else:
            if user_agent is not None:
                headers["User-Agent"] = user_agent
            self._user_agent = user_agent or client.headers.get("user-agent", "")
        self._headers = httpx.Headers(headers)
        self._client = client
        self._route = self._route_of(client)
        # The per-attempt timeout given to httpx (None: the client's own) and the attempt bound.
        self._timeout = http_timeout
        self._seconds = attempt_seconds(http_timeout or client.timeout)
        self._extensions = {"timeout": (http_timeout or client.timeout).as_dict()}
        self._loop: object = None
        self._keeper: AsyncGenerator[None, None] | None = None
        self._closed = False
        # The last per-call ``timeout`` and what it resolved to (the session passes the same one).
        self._last_timeout: object = None
        self._last_resolved: tuple[httpx.Timeout | None, float | None, dict[str, Any]] = (
            None,
            None,
            {},
        )

    def _new_client(self, timeout: httpx.Timeout) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=self._transport,
            timeout=timeout,
            limits=httpx.Limits(
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
        # Small pools in shards: httpcore's cost per request grows with its pool (_pool.py).
        return client if self._transport is not None else shard_pool(client, self._max_connections)

    def _route_of(self, client: httpx.AsyncClient) -> httpx.AsyncBaseTransport | None:
        """The pool (or proxy) our own client would send ``base_url`` requests through.

        httpx has no public name for it; without ``_transport_for_url`` (a later httpx) requests
        simply go through ``client.send()``.
        """
        pick = getattr(client, "_transport_for_url", None)
        if not self.owns_client or pick is None:
            return None
        route = pick(httpx.URL(self.base_url))
        return route if isinstance(route, httpx.AsyncBaseTransport) else None

    @property
    def client(self) -> httpx.AsyncClient:
        """The client requests go through (ours for the current loop, or the caller's)."""
        return self._client

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` sent (the caller's client's own when none was given)."""
        return self._user_agent

    async def _attempt(
        self,
        command: str,
        path: str,
        query: str,
        content: bytes,
        per_call: float | httpx.Timeout | None,
    ) -> RawResponse | TimOAError:
        client = self._client
        if self._loop is not loop_key() or self._closed or client.is_closed:
            checked = await self._client_for_this_loop()
            if isinstance(checked, TimOAError):
                return checked
            client = checked
        if per_call is None:
            http_timeout, seconds, extensions = self._timeout, self._seconds, self._extensions
        elif per_call is self._last_timeout:
            http_timeout, seconds, extensions = self._last_resolved
        else:
            try:
                http_timeout = resolve_timeout(per_call)
            except ValidationError as exc:
                return exc
            assert http_timeout is not None
            seconds = attempt_seconds(http_timeout)
            extensions = {"timeout": http_timeout.as_dict()}
            self._last_timeout, self._last_resolved = per_call, (http_timeout, seconds, extensions)
        try:
            url = f"{self.base_url}{path}?{query}"
            route = self._route
            if route is not None:
                request = httpx.Request(
                    "POST", url, content=content, headers=self._headers, extensions=extensions
                )
            else:
                request = client.build_request(
                    "POST",
                    url,
                    content=content,
                    headers=self._headers,
                    timeout=http_timeout if http_timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            del url
            if seconds is None:
                return await self._exchange(client, route, request)
            with anyio.move_on_after(seconds):
                return await self._exchange(client, route, request)
            # The deadline passed. Whether the request went out is unknown, so say it may have.
            return timeout_error(command, seconds)
        except _CONNECT_FAILURES as exc:
            return transport_error(
                command,
                exc,
                request_sent=False,
                is_timeout=isinstance(exc, httpx.TimeoutException),
            )
        except httpx.TimeoutException as exc:
            return transport_error(command, exc, request_sent=True, is_timeout=True)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return transport_error(command, exc, request_sent=False)
        except httpx.HTTPError as exc:
            return transport_error(command, exc, request_sent=True)
        except BodyFailure as failure:
            return body_error(command, failure.status_code, failure.error)
        except RuntimeError as exc:
            # httpx's "client has been closed" or asyncio's "Event loop is closed": never raw.
            if client.is_closed:
                return SessionClosedError("the session's HTTP client was closed")
            if "loop" in str(exc).lower():
                return EventLoopError(
                    f"the HTTP client belongs to another event loop: {FOREIGN_LOOP_ADVICE}"
                )
            return transport_error(command, exc, request_sent=True)

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        route: httpx.AsyncBaseTransport | None,
        request: httpx.Request,
    ) -> RawResponse:
        if route is not None:
            response = await route.handle_async_request(request)
        else:
            response = await client.send(request, stream=True, follow_redirects=False)
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

    async def _client_for_this_loop(self) -> httpx.AsyncClient | TimOAError:
        """Bind to the running loop on first use; on a loop change, rebuild or refuse."""
        if self._closed:
            return SessionClosedError("the session is closed")
        loop = loop_key()
        if loop is not self._loop:
            if self._loop is not None and not self.owns_client:
                return EventLoopError(
                    "this session's http_client was first used in another event loop, and its "
                    f"connections belong to that loop: {FOREIGN_LOOP_ADVICE}"
                )
            if self._loop is not None:
                # The old loop is over (or elsewhere): its connections cannot be closed from
                # here. Its keeper closed them if that loop shut down normally.
                self._client = self._new_client(self._client.timeout)
                self._route = self._route_of(self._client)
            self._loop = loop
            if self.owns_client:
                self._keeper = close_at_loop_end(self._client.aclose)
                await self._keeper.asend(None)
        if self._client.is_closed:
            if self.owns_client:
                return SessionClosedError("the session's HTTP client was closed")
            return SessionClosedError("the http_client given to the session was closed")
        return self._client

    async def aclose(self) -> None:
        """Close the client if we created it (and it belongs to the running loop)."""
        if self._closed:
            return
        self._closed = True
        keeper, self._keeper = self._keeper, None
        if not self.owns_client:
            return
        if self._loop is None or self._loop is loop_key():
            if keeper is not None:
                await keeper.aclose()
            else:
                await self._client.aclose()


def make_transport(
    backend: str = "httpx",
    base_url: str = "",
    *,
    client: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float | httpx.Timeout | None = None,
    max_connections: int = 10,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    user_agent: str | None = None,
) -> AnyTransport:
    """Build the transport of ``backend`` (``"httpx"`` or ``"aiohttp"``) with these options.

    ``client`` and ``transport`` are httpx objects: with ``backend="aiohttp"`` they are a
    :class:`ValidationError`. The aiohttp backend needs the ``tim-oa[aiohttp]`` extra.
    """
    if backend == "httpx":
        return HttpTransport(
            base_url,
            client=client,
            transport=transport,
            timeout=timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            user_agent=user_agent,
        )
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
        return AiohttpTransport(
            base_url,
            timeout=timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            user_agent=user_agent,
        )
    raise ValidationError(f"backend must be 'httpx' or 'aiohttp', got {backend!r}", field="backend")
