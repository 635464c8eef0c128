"""The one module that talks to httpx.

It owns (or borrows) a pooled ``httpx.AsyncClient``, posts bytes, and turns httpx's exceptions
into :class:`TransportError` with secrets removed. Another HTTP stack means rewriting this file.
"""

from __future__ import annotations

import logging
import platform

import attrs
import httpx

from ._errors import TransportError
from ._version import __version__
from ._wire import redact

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
"""Read/write/pool 10 s, connect 5 s. The backend gives up after 3 s, so 10 s leaves room."""

DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""[pipeline shim of the transport contract] the cap on an answer's decoded bytes."""


@attrs.frozen(repr=False)
class RawResponse:
    """[pipeline shim of the transport contract] one HTTP answer."""

    status_code: int
    content: bytes
    retry_after: float | None = None


def _retry_after(value: str | None) -> float | None:
    # [pipeline shim] seconds only; HTTP dates are the transport branch's.
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class _RedactingFilter(logging.Filter):
    """Rewrites log records so no query-string UserSig reaches a handler.

    httpx logs every request with its full URL at INFO level; the URL carries the UserSig.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


REDACTING_FILTER = _RedactingFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to the ``httpx`` and ``httpcore`` loggers (idempotent)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if REDACTING_FILTER not in logger.filters:
            logger.addFilter(REDACTING_FILTER)


install_log_redaction()


class HttpTransport:
    """POSTs request bodies over a pooled client and reports (status, body).

    Args:
        base_url: Scheme and host (and optional path prefix) of the API.
        client: A caller's client, used as is and never closed here.
        transport: An ``httpx.AsyncBaseTransport`` to build our own client on (tests, emulator).
        timeout: Default timeout of our own client.
        max_connections: Pool size of our own client; matched to the session's concurrency bound.
    """

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
        self.base_url = base_url.rstrip("/")
        self.owns_client = client is None
        self.user_agent = user_agent or (
            f"tim-oa/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"
        )
        if client is None:
            client = httpx.AsyncClient(
                transport=transport,
                timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
                limits=httpx.Limits(
                    max_connections=max_connections,
                    max_keepalive_connections=max_connections,
                ),
                http1=True,
                http2=False,
                follow_redirects=False,
                trust_env=transport is None,
            )
        self.client = client

    async def post(
        self,
        command: str,
        path: str,
        query: str,
        content: bytes,
        *,
        timeout: float | httpx.Timeout | None = None,
    ) -> RawResponse:
        """Send one POST; return the HTTP status and body, or raise :class:`TransportError`."""
        extra = {} if timeout is None else {"timeout": timeout}
        try:
            # One pre-encoded URL: passing ``params=`` makes httpx parse and merge the long signed
            # query again on every request (measurably slower).
            response = await self.client.post(
                f"{self.base_url}{path}?{query}",
                content=content,
                headers={"content-type": "application/json", "user-agent": self.user_agent},
                **extra,  # type: ignore[arg-type]
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _transport_error(command, exc, request_sent=False) from None
        except httpx.TimeoutException as exc:
            raise _transport_error(command, exc, request_sent=True) from None
        except httpx.HTTPError as exc:
            raise _transport_error(command, exc, request_sent=True) from None
        return RawResponse(
            response.status_code,
            response.content,
            _retry_after(response.headers.get("retry-after")),
        )

    async def aclose(self) -> None:
        """Close the client if we created it."""
        if self.owns_client:
            await self.client.aclose()


def _transport_error(command: str, exc: httpx.HTTPError, *, request_sent: bool) -> TransportError:
    # Chaining is cut (``from None``) because httpx errors keep the request, whose URL carries the
    # UserSig; the type name and a redacted message keep the diagnosis.
    detail = redact(str(exc)) or "no detail"
    return TransportError(
        f"{command}: {type(exc).__name__}: {detail}",
        command=command,
        request_sent=request_sent,
        is_timeout=isinstance(exc, httpx.TimeoutException),
    )
