"""The session's machinery: configuration, the request loop, and state shared by derived sessions.

Every request goes through :meth:`BaseSession._request`, in this order:

1. the body is encoded (bad input raises before any wait);
2. the UserSig is fetched, before a slot is taken, so a slow provider holds none;
3. a slot of the in-flight bound is taken (``max_concurrency``, or the adaptive bound);
4. the limiter gives this command its turn (the last wait before sending, so the limiter's
   count matches the times requests actually leave);
5. one POST with a fresh ``random``, then the envelope check;
6. on failure, :meth:`RetryPolicy.next_delay` decides (the 70001 renewal aside) and the loop
   sleeps outside the slot.

Secrets: no exception leaves the loop while one of its locals holds the UserSig, the signed query
or the raw answer, and errors of ours leave without the frames below the loop (the transport's),
which held the signed URL.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ._adaptive import INITIAL_RTT, adaptive_ceiling, adaptive_limit, next_rtt
from ._clock import Clock
from ._errors import SessionClosedError, TimOAError, UserSigExpiredError, ValidationError
from ._observe import NO_CALL, Hub, Observer, check_observers, make_hub
from ._options import (
    UNSET,
    check_derived_limiter,
    check_limiter,
    resolve_retry,
    timeout_seconds,
)
from ._ratelimit import Slots
from ._regions import Region
from ._registry import COMMANDS, Command, is_safe_to_repeat, lookup, pace_account
from ._retry import RetryPolicy, may_have_taken_effect
from ._tasks import SENT
from ._transport_base import TransportBase, resolve_timeout
from ._usersig import UserSigProvider, UserSigSource, as_usersig_source
from ._validation import (
    check_count,
    check_identifier,
    check_rate,
)
from ._wire import decode_response, encode_body, new_random, signed_query
from .limiters import Limiter, LocalLimiter

if TYPE_CHECKING:
    pass

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - exercised on 3.10
    from typing_extensions import Self

logger = logging.getLogger("tim_oa")

_COMMAND_NAME = re.compile(r"[a-z][a-z0-9_]*")
_CLOSED = "the session is closed"

USERSIG_TIMEOUT = 10.0
"""Seconds a usersig provider may take, unless ``timeout=`` says otherwise."""


class _Shared:
    """State shared by a session and every session derived from it with ``with_options``."""

    def __init__(self, transport: TransportBase) -> None:
        self.transport = transport
        self.closed = False
        self.local_limiters: dict[tuple[float | None, float | None], LocalLimiter] = {}
        self.slots: dict[int | None, Slots] = {}  # by max_concurrency (None: adaptive)
        self.rtt = INITIAL_RTT  # moving average of successful attempts' round trips


class BaseSession:
    """Configuration and the request loop; ``Session.__init__`` (in ``_session``) builds it.

    The endpoint mixins and ``Session`` share these attributes, which ``Session.__init__`` sets
    beside the docstring that documents its arguments.
    """

    sdkappid: int
    identifier: str
    region: Region | None
    base_url: str
    _owner: bool
    _usersig: UserSigProvider
    _source: UserSigSource
    _clock: Clock
    _default_attempt: float
    _hub: Hub | None

    def _configure(
        self,
        *,
        timeout: object,
        retry: RetryPolicy,
        rate_limit: object,
        send_rate: object,
        limiter: object,
        max_concurrency: object,
        shared: _Shared | None,
    ) -> None:
        """Check and apply the options ``with_options`` may change."""
        self._timeout = resolve_timeout(timeout)
        self._usersig_timeout = timeout_seconds(self._timeout, self._default_attempt)
        self.retry = retry
        self.rate_limit = check_rate(rate_limit, "rate_limit")
        self.send_rate = check_rate(send_rate, "send_rate")
        self._custom_limiter = check_limiter(limiter)
        if max_concurrency is not None:
            check_count(max_concurrency, "max_concurrency", minimum=1)
        self._concurrency: int | None = max_concurrency  # type: ignore[assignment]
        custom = self._custom_limiter
        rate = self.rate_limit if custom is None else getattr(custom, "rate", None)
        self._sizing_rate: float | None = rate if isinstance(rate, (int, float)) else None
        self._ceiling = adaptive_ceiling(self._sizing_rate)  # read on every answer
        if shared is not None:
            self._bind(shared)

    def _bind(self, shared: _Shared) -> None:
        """Pick the limiter and the slots this session uses from the shared state."""
        self._shared = shared
        if self._custom_limiter is not None:
            self._limiter: Limiter | None = self._custom_limiter
        elif self.rate_limit is None and self.send_rate is None:
            self._limiter = None
        else:
            key = (self.rate_limit, self.send_rate)
            local = shared.local_limiters.get(key)
            if local is None:
                local = shared.local_limiters[key] = LocalLimiter(
                    self.rate_limit, self.send_rate, clock=self._clock
                )
            self._limiter = local
        slots = shared.slots.get(self._concurrency)
        if slots is None:
            limit = self._concurrency or adaptive_limit(self._sizing_rate, shared.rtt)
            slots = shared.slots[self._concurrency] = Slots(limit)
        self._slots = slots

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless it is a caller's ``http_client``).

        A session made by :meth:`with_options` shares its parent's pool; closing it does nothing,
        and closing the parent closes the pool for both. Calls still running then raise
        :class:`SessionClosedError` instead of retrying.
        """
        if self._owner and not self._shared.closed:
            self._shared.closed = True
            await self._shared.transport.aclose()

    @property
    def closed(self) -> bool:
        """True once the session's pool is closed."""
        return self._shared.closed

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt (``retry.max_retries``)."""
        return self.retry.max_retries

    @property
    def retry_deadline(self) -> float | None:
        """Seconds after the first attempt at which no retry starts (``retry.deadline``)."""
        return self.retry.deadline

    @property
    def max_concurrency(self) -> int:
        """Most requests in flight: the fixed bound, or the adaptive ceiling."""
        return self._concurrency or self._ceiling

    @property
    def in_flight_limit(self) -> int:
        """The bound on requests in flight now (it follows the round trip when adaptive)."""
        return self._slots.limit

    def with_options(
        self,
        *,
        identifier: str = UNSET,
        usersig: UserSigProvider = UNSET,
        timeout: float | httpx.Timeout | None = UNSET,
        max_retries: int = UNSET,
        retry_deadline: float | None = UNSET,
        retry: RetryPolicy | None = UNSET,
        rate_limit: float | None = UNSET,
        max_concurrency: int | None = UNSET,
        send_rate: float | None = UNSET,
        limiter: Limiter | None = UNSET,
        observers: Iterable[Observer] | None = UNSET,
    ) -> Self:
        """Return a session with some options changed that shares this one's connection pool.

        Limiters and concurrency bounds are shared too while their settings are equal, so a
        derived session cannot double the app's call rate.
        """

        def pick(new: Any, old: Any) -> Any:
            return old if new is UNSET else new

        check_derived_limiter(
            limiter, rate_limit, send_rate, has_limiter=self._custom_limiter is not None
        )
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._owner = False
        if identifier is not UNSET:
            clone.identifier = check_identifier(identifier)
        if usersig is not UNSET:
            clone._source = as_usersig_source(usersig, sdkappid=self.sdkappid)
            clone._usersig = usersig
        clone._configure(
            timeout=pick(timeout, self._timeout),
            retry=resolve_retry(retry, max_retries, retry_deadline, self.retry),
            rate_limit=pick(rate_limit, self.rate_limit),
            send_rate=pick(send_rate, self.send_rate),
            limiter=pick(limiter, self._custom_limiter),
            max_concurrency=pick(max_concurrency, self._concurrency),
            shared=self._shared,
        )
        if observers is not UNSET:
            clone._hub = make_hub(check_observers(observers), self.base_url, self._clock)
        return clone

    def __repr__(self) -> str:
        # getattr: a repr must work on a session whose __init__ failed half-way (tracebacks
        # rendered with locals show it).
        region = getattr(self, "region", None)
        target = region.name if region is not None else getattr(self, "base_url", None)
        return (
            f"{type(self).__name__}(sdkappid={getattr(self, 'sdkappid', None)}, "
            f"identifier={getattr(self, 'identifier', None)!r}, target={target!r}, "
            "usersig=<hidden>)"
        )

    # --- pacing ------------------------------------------------------------------------------

    async def _wait_send_slot(self, account_id: str) -> None:
        """Pace broadcasts of one account (the limiter's ``acquire_send``)."""
        if self._limiter is not None:
            await self._limiter.acquire_send(account_id, app=self.sdkappid)

    def _observe_round_trip(self, seconds: float) -> None:
        shared = self._shared
        shared.rtt = next_rtt(shared.rtt, seconds)
        limit = adaptive_limit(self._sizing_rate, shared.rtt, self._ceiling)
        if limit != self._slots.limit:
            self._slots.limit = limit

    # --- the request loop --------------------------------------------------------------------

    async def call(self, command: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Send any command of the Official Account service and return the decoded answer.

        The raw escape hatch: signing, the envelope check, error classes, retries and rate
        limiting (and, for ``send_official_account_msg``, the per-account send pacing) all apply.
        A command of another service that tim_oa knows (``account_check``, ``GetIPList``, …)
        goes to its own service path. A command not known to tim_oa is sent to the Official
        Account service and never retried after an unknown outcome (only when the request
        provably did not reach the server).
        """
        if not isinstance(command, str):
            raise ValidationError(
                f"command must be a str, not {type(command).__name__}", field="command"
            )
        if command not in COMMANDS and not _COMMAND_NAME.fullmatch(command):
            raise ValidationError(
                f"command must be a lowercase command name, got {command!r}", field="command"
            )
        if not isinstance(body, Mapping):
            raise ValidationError("body must be a mapping (a JSON object)", field="body")
        spec = lookup(command)
        return await self._request(spec, body, pace_account=pace_account(spec, body))

    def _check_open(self) -> None:
        """Raise :class:`SessionClosedError` when the session is closed (bulk jobs, up front)."""
        if self._shared.closed:
            raise SessionClosedError(_CLOSED)

    async def _request(
        self,
        spec: Command | str,
        body: Mapping[str, Any],
        *,
        pace_account: str | None = None,
        extra_query: str = "",
        payload: bytes | None = None,
    ) -> dict[str, Any]:
        """Send ``body`` to the command ``spec`` (a registry record, or a command word), retrying.

        ``pace_account``: the account a broadcast is paced by (the caller knows it).
        ``extra_query``: ``&name=value`` pairs a command takes in its URL (``GetIPList``).
        ``payload``: ``body`` already encoded, exactly as :func:`encode_body` would (a bulk
        chunk's fast encoder).
        """
        if isinstance(spec, str):
            spec = lookup(spec)
        shared = self._shared
        if shared.closed:
            raise SessionClosedError(_CLOSED)
        if payload is None:
            payload = encode_body(body)  # ValidationError before any wait
        safe_to_repeat = is_safe_to_repeat(spec, body)
        command = spec.name
        path = spec.path
        transport = shared.transport
        hub = self._hub  # tim_oa._observe
        call = NO_CALL if hub is None else hub.call(command, path, transport.unseen())
        source = self._source
        limiter = self._limiter
        slots = self._slots
        clock = self._clock
        app = self.sdkappid
        identifier = self.identifier
        adaptive = self._concurrency is None
        attempts = retries = 0
        started = 0.0
        unknown = renewed = False
        usersig: str | None = None
        renewal: str | None = None  # the UserSig a 70001 renewal gave, for the resend
        query: str | None = None
        raw: Any = None
        try:
            if pace_account is not None:
                await call.waiting(self._wait_send_slot(pace_account), "send")
            while True:
                if shared.closed:
                    raise SessionClosedError(_CLOSED)
                if renewal is None:
                    usersig = await source.get(identifier, timeout=self._usersig_timeout)
                else:
                    usersig, renewal = renewal, None
                error: TimOAError | None = None
                closed_race = False
                await slots.acquire()
                try:
                    if limiter is not None:
                        await call.waiting(limiter.acquire(command, app=app))
                    if shared.closed:
                        raise SessionClosedError(_CLOSED)
                    leaving = SENT.get()
                    if leaving is not None:
                        leaving()  # a bulk job's worker: its crew may start another (_tasks)
                    query = signed_query(app, identifier, usersig, new_random()) + extra_query
                    t0 = clock.monotonic()
                    if not attempts:
                        started = t0
                    attempts += 1
                    call.attempt_started(attempts)
                    try:
                        raw = await transport.post(
                            command, path, query, payload, timeout=self._timeout
                        )
                        query = None
                        data = decode_response(command, raw, usersig=usersig)
                    except TimOAError as exc:  # the decision below: final unless retryable
                        error = exc
                    except RuntimeError:
                        if not shared.closed:
                            raise
                        closed_race = True  # the pool was closed under this attempt
                    else:
                        if adaptive:
                            self._observe_round_trip(clock.monotonic() - t0)
                        if logger.isEnabledFor(logging.DEBUG):
                            logger.debug(
                                "%s: attempt %d ok in %.0f ms",
                                command,
                                attempts,
                                (clock.monotonic() - t0) * 1000,
                            )
                        call.succeeded()
                        return data
                finally:
                    slots.release()
                    query = raw = None
                if closed_race or shared.closed:
                    raise SessionClosedError(_CLOSED)
                assert error is not None
                error.attempts = attempts
                call.attempt_finished(error)
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug(
                        "%s: attempt %d failed in %.0f ms: %s",
                        command,
                        attempts,
                        (clock.monotonic() - t0) * 1000,
                        error,
                    )
                if isinstance(error, UserSigExpiredError) and not renewed and source.can_renew:
                    # The server says the signature expired: renew once and send again with it.
                    renewed = True
                    logger.info("%s: UserSig expired (70001); renewing and resending", command)
                    renewal = await source.renew(identifier, usersig)
                    continue
                delay = self.retry.next_delay(
                    error,
                    retries=retries,
                    elapsed=clock.monotonic() - started,
                    safe_to_repeat=safe_to_repeat,
                )
                error.after_unknown_outcome = unknown
                if delay is None:
                    if unknown:
                        logger.info(
                            "%s: failed after an earlier attempt whose outcome is unknown "
                            "(it may have taken effect): %s",
                            command,
                            error,
                        )
                    if error.__suppress_context__:
                        error.__context__ = None  # hidden anyway; it may hold the signed URL
                    raise error.with_traceback(None)
                unknown = unknown or may_have_taken_effect(error)
                retries += 1
                logger.info(
                    "%s: retry %d of %d in %.2f s after: %s",
                    command,
                    retries,
                    self.retry.max_retries,
                    delay,
                    error,
                )
                call.retry_scheduled(retries, delay, error)
                error = None
                await clock.sleep(delay)
        except BaseException as exc:
            call.finished(exc)
            raise
        finally:
            # Nothing that leaves this frame may find the UserSig in its locals.
            usersig = renewal = query = raw = None
