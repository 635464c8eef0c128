"""The session's machinery: configuration, the request loop, and shared per-app state.

Every request goes through :meth:`BaseSession._request`: rate limiter, concurrency slot, a current
UserSig and a fresh ``random`` for each attempt, the envelope check, and the retry decision. The
endpoint groups (``_accounts``, ``_subscribers``, ``_messages``) only build bodies and read answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import anyio
import httpx

from . import _limits as L
from ._commands import is_safe_to_repeat
from ._errors import ApiError, TimOAError, TransportError, UserSigExpiredError, ValidationError
from ._ratelimit import KeyedRateLimiter, RateLimiter
from ._regions import Region
from ._retry import RetryPolicy, is_retryable
from ._transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    AnyTransport,
    make_transport,
)
from ._usersig import UserSigProvider, as_usersig_source
from ._validation import check_int, check_str
from ._wire import command_path, decode_response, encode_body, new_random, signed_query

logger = logging.getLogger("tim_oa")

_COMMAND_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_UNSET: Any = object()

DEFAULT_MAX_CONCURRENCY = 10
"""Requests in flight per session. httpx's cost per request rises steeply past ~15 pooled
connections, and 10 in flight already reach the 200 calls/s limit at 50 ms latency."""


def _as_timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValidationError("timeout must be a positive number of seconds", field="timeout")
    return httpx.Timeout(float(value))


class _Shared:
    """State shared by a session and every session derived from it with ``with_options``."""

    def __init__(self, transport: AnyTransport) -> None:
        self.transport = transport
        self.rate_limiters: dict[tuple[str, float], RateLimiter] = {}
        self.send_pacers: dict[float, KeyedRateLimiter] = {}
        self.slots: dict[int, anyio.CapacityLimiter] = {}
        self.closed = False


class BaseSession:
    """Configuration and the request loop; see :class:`tim_oa.Session` for the documentation."""

    def __init__(
        self,
        sdkappid: int,
        identifier: str,
        usersig: UserSigProvider,
        region: Region | None = None,
        *,
        base_url: str | None = None,
        use_backup_domain: bool = False,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 3,
        retry_deadline: float | None = 60.0,
        rate_limit: float | None = L.CALLS_PER_SECOND,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        send_rate: float | None = L.SENDS_PER_SECOND_PER_ACCOUNT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_agent: str | None = None,
        backend: str = "httpx",
    ) -> None:
        check_int(sdkappid, "sdkappid", minimum=1)
        check_str(identifier, "identifier")
        if not identifier:
            raise ValidationError("identifier must not be empty", field="identifier")
        source = as_usersig_source(usersig)
        if (region is None) == (base_url is None):
            raise ValidationError(
                "give exactly one of region= (a tim_oa.Region) or base_url=", field="region"
            )
        if region is not None and not isinstance(region, Region):
            raise ValidationError("region must be a tim_oa.Region", field="region")
        if base_url is not None and not re.match(r"^https?://[^/?#]+", base_url):
            raise ValidationError("base_url must be an http(s) URL", field="base_url")
        if http_client is not None and transport is not None:
            raise ValidationError("give http_client= or transport=, not both", field="transport")
        self._configure(
            timeout=timeout,
            max_retries=max_retries,
            retry_deadline=retry_deadline,
            rate_limit=rate_limit,
            max_concurrency=max_concurrency,
            send_rate=send_rate,
        )
        self.sdkappid = sdkappid
        self.identifier = identifier
        self._usersig = usersig
        self._source = source
        self.region = region
        resolved = base_url if base_url is not None else region.base_url(backup=use_backup_domain)  # type: ignore[union-attr]
        self.base_url = resolved.rstrip("/")
        self._shared = _Shared(
            make_transport(
                backend,
                self.base_url,
                client=http_client,
                transport=transport,
                timeout=self._timeout,
                max_connections=self.max_concurrency,
                max_response_bytes=max_response_bytes,
                user_agent=user_agent,
            )
        )
        self._owner = True

    def _configure(
        self,
        *,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        retry_deadline: float | None,
        rate_limit: float | None,
        max_concurrency: int,
        send_rate: float | None,
    ) -> None:
        self._timeout = _as_timeout(timeout)
        self.max_retries = check_int(max_retries, "max_retries", minimum=0)
        if retry_deadline is not None and retry_deadline <= 0:
            raise ValidationError("retry_deadline must be positive or None", field="retry_deadline")
        self.retry_deadline = retry_deadline
        for name, rate in (("rate_limit", rate_limit), ("send_rate", send_rate)):
            if rate is not None and (isinstance(rate, bool) or not rate > 0):
                raise ValidationError(f"{name} must be a positive number or None", field=name)
        self.rate_limit = rate_limit
        self.send_rate = send_rate
        self.max_concurrency = check_int(max_concurrency, "max_concurrency", minimum=1)
        self._retry = RetryPolicy(max_retries=self.max_retries, deadline=retry_deadline)

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless it is a caller's ``http_client``).

        A session made by :meth:`with_options` shares its parent's pool; closing it does nothing,
        and closing the parent closes the pool for both.
        """
        if self._owner and not self._shared.closed:
            self._shared.closed = True
            await self._shared.transport.aclose()

    @property
    def closed(self) -> bool:
        """True once the session's pool is closed."""
        return self._shared.closed

    def with_options(
        self,
        *,
        identifier: str = _UNSET,
        usersig: UserSigProvider = _UNSET,
        timeout: float | httpx.Timeout | None = _UNSET,
        max_retries: int = _UNSET,
        retry_deadline: float | None = _UNSET,
        rate_limit: float | None = _UNSET,
        max_concurrency: int = _UNSET,
        send_rate: float | None = _UNSET,
    ) -> Any:
        """Return a session with some options changed that shares this one's connection pool.

        Rate limiters and concurrency bounds are shared too while their settings are equal, so a
        derived session cannot double the app's call rate.
        """
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._owner = False

        def pick(new: Any, old: Any) -> Any:
            return old if new is _UNSET else new

        clone._configure(
            timeout=pick(timeout, self._timeout),
            max_retries=pick(max_retries, self.max_retries),
            retry_deadline=pick(retry_deadline, self.retry_deadline),
            rate_limit=pick(rate_limit, self.rate_limit),
            max_concurrency=pick(max_concurrency, self.max_concurrency),
            send_rate=pick(send_rate, self.send_rate),
        )
        if identifier is not _UNSET:
            check_str(identifier, "identifier")
            clone.identifier = identifier
        if usersig is not _UNSET:
            clone._usersig = usersig
            clone._source = as_usersig_source(usersig)
        return clone

    def __repr__(self) -> str:
        target = self.region.name if self.region is not None else self.base_url
        return (
            f"{type(self).__name__}(sdkappid={self.sdkappid}, identifier={self.identifier!r}, "
            f"target={target!r}, usersig=<hidden>)"
        )

    # --- shared limiters (created lazily: anyio primitives need a running loop) ---------------

    def _slot(self) -> anyio.CapacityLimiter:
        slots = self._shared.slots
        slot = slots.get(self.max_concurrency)
        if slot is None:
            slot = slots[self.max_concurrency] = anyio.CapacityLimiter(self.max_concurrency)
        return slot

    async def _wait_rate(self, command: str) -> None:
        if self.rate_limit is None:
            return
        key = (command, self.rate_limit)
        limiter = self._shared.rate_limiters.get(key)
        if limiter is None:
            limiter = self._shared.rate_limiters[key] = RateLimiter(self.rate_limit)
        await limiter.acquire()

    async def _wait_send_slot(self, account_id: str) -> None:
        """Pace broadcasts of one account to ``send_rate`` per second."""
        if self.send_rate is None:
            return
        pacer = self._shared.send_pacers.get(self.send_rate)
        if pacer is None:
            pacer = self._shared.send_pacers[self.send_rate] = KeyedRateLimiter(self.send_rate)
        await pacer.acquire(account_id)

    # --- the request loop --------------------------------------------------------------------

    async def call(self, command: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Send any command of the Official Account service and return the decoded answer.

        The raw escape hatch: signing, the envelope check, error classes, retries and rate
        limiting all apply. A command not known to tim_oa is never retried after an unknown
        outcome (only when the request provably did not reach the server).
        """
        check_str(command, "command")
        if not _COMMAND_NAME.match(command):
            raise ValidationError(
                f"command must be a lowercase command name, got {command!r}", field="command"
            )
        if not isinstance(body, Mapping):
            raise ValidationError("body must be a mapping (a JSON object)", field="body")
        return await self._request(command, body)

    async def _request(self, command: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if self._shared.closed:
            raise TimOAError("the session is closed")
        safe_to_repeat = is_safe_to_repeat(command, body)
        payload = encode_body(body)
        path = command_path(command)
        transport = self._shared.transport
        started = anyio.current_time()
        retries = 0
        renewed = False
        while True:
            await self._wait_rate(command)
            async with self._slot():
                usersig = await self._source.get(self.identifier)
                t0 = anyio.current_time()
                try:
                    response = await transport.post(
                        command,
                        path,
                        signed_query(self.sdkappid, self.identifier, usersig, new_random()),
                        payload,
                        timeout=self._timeout,
                    )
                    data = decode_response(command, response, usersig=usersig)
                except UserSigExpiredError as exc:
                    exc.attempts = retries + 1
                    if renewed or not self._source.can_renew:
                        raise
                    # The server says the signature expired: renew once and send again.
                    renewed = True
                    logger.info("%s: UserSig expired (70001); renewing and resending", command)
                    await self._source.renew(self.identifier, usersig)
                    continue
                except (TransportError, ApiError) as exc:
                    exc.attempts = retries + 1
                    logger.debug(
                        "%s: attempt %d failed in %.0f ms: %s",
                        command,
                        retries + 1,
                        (anyio.current_time() - t0) * 1000,
                        exc,
                    )
                    delay = self._retry_delay(exc, retries, started, safe_to_repeat)
                    if delay is None:
                        raise
                    last_error: Exception = exc
                else:
                    logger.debug(
                        "%s: attempt %d ok in %.0f ms",
                        command,
                        retries + 1,
                        (anyio.current_time() - t0) * 1000,
                    )
                    return data
            retries += 1
            logger.info(
                "%s: retry %d of %d in %.2f s after: %s",
                command,
                retries,
                self.max_retries,
                delay,
                last_error,
            )
            await anyio.sleep(delay)

    def _retry_delay(
        self, exc: Exception, retries: int, started: float, safe_to_repeat: bool
    ) -> float | None:
        """The wait before the next retry, or ``None`` when the error is final."""
        if retries >= self._retry.max_retries:
            return None
        if not is_retryable(exc, safe_to_repeat=safe_to_repeat):
            return None
        delay = self._retry.delay(retries)
        deadline = self._retry.deadline
        if deadline is not None and anyio.current_time() - started + delay > deadline:
            return None
        return delay
