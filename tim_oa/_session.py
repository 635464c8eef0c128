"""The public :class:`Session`: the machinery of ``_base`` plus every endpoint group."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any

import httpx

from . import _limits as L
from ._accounts import AccountsMixin
from ._base import USERSIG_TIMEOUT, _Shared
from ._clock import Clock
from ._login import ImportsMixin
from ._messages import MessagesMixin
from ._observe import Observer, check_observers, make_hub
from ._options import (
    UNSET,
    check_clock,
    check_limiter_options,
    resolve_base_url,
    resolve_retry,
    timeout_seconds,
)
from ._regions import Region
from ._retry import RetryPolicy
from ._subscribers import SubscribersMixin
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, client_timeout, make_transport
from ._usersig import UserSigProvider, as_usersig_source
from ._validation import check_count, check_identifier, check_region, check_sdkappid
from .limiters import Limiter

if TYPE_CHECKING:
    import httpx2

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - exercised on 3.10
    from typing_extensions import Self


class Session(AccountsMixin, SubscribersMixin, MessagesMixin, ImportsMixin):
    """An async client session for one app's Official Account API.

    Args:
        sdkappid: The app's SDKAppID.
        identifier: The app admin account the requests are made as (no control characters).
        usersig: A :class:`UserSigSigner`, a fixed UserSig string, or a sync or async callable
            ``(identifier) -> str``. A signer (or a fixed v2 UserSig) for another SDKAppID is
            refused here. A signer renews itself; a callable is asked on every attempt
            (a 70001 answer asks it once more and resends with that answer). The UserSig is
            fetched before a concurrency slot is taken, bounded by the attempt's timeout.
        region: A :class:`Region`, or the name ``Region(...)`` takes (``"singapore"``,
            ``"silicon-valley"``; case-insensitive); or give ``base_url`` instead (an emulator, a
            proxy).
        base_url: Scheme and host to send requests to, instead of a region. Plain ``http://`` to
            a Tencent host (``*.qq.com``, ``*.qcloud.com``, ``*.my-imcloud.com``) is refused.
        use_backup_domain: Use the region's backup domain.
        http_client: Your own ``httpx.AsyncClient`` or ``httpx2.AsyncClient``; used as is and
            never closed by the session. Its own timeout stands unless ``timeout=`` is also given.
        transport: An ``httpx.AsyncBaseTransport`` (or an httpx2 one) for the session's own
            client (tests).
        timeout: Seconds, or an ``httpx.Timeout`` (or ``httpx2.Timeout``), for one attempt;
            default 10 s (connect 5 s). The wait for a free pooled connection is bounded apart,
            by its ``pool`` phase (seconds: the same number).
        max_retries: Retries after the first attempt (default 3); 0 disables retrying. A
            shortcut for ``retry.max_retries``.
        retry_deadline: No retry starts this many seconds after the first attempt (default 60;
            ``None``: no deadline). A shortcut for ``retry.deadline``.
        retry: A :class:`RetryPolicy` (backoff, jitter, deadline, retries) instead of the two
            shortcuts; a shortcut given with it must agree with it.
        rate_limit: Calls per second per command across all tasks of the session (default 200,
            the documented limit); ``None`` disables the limiter.
        max_concurrency: Requests in flight at once. ``None`` (default) follows the measured
            round trip: about ``rate_limit`` x round trip x 1.25, at least 4, at most enough for
            a 2 s round trip at the rate (500 at 200/s; 16 when ``rate_limit`` is ``None``), and
            that ceiling until the first answer is timed. An int fixes it. Also the most
            connections the session's own pool opens.
        send_rate: Broadcasts per second per account (default 1, the documented limit); ``None``
            disables pacing.
        limiter: A :class:`tim_oa.limiters.Limiter` that paces calls and broadcasts instead of
            the in-process one built from ``rate_limit`` and ``send_rate`` (which must then keep
            their defaults), e.g. one shared by many processes.
        clock: A :class:`tim_oa.limiters.Clock` for every wait of the session (backoff, pacing,
            rate limiting); default: the event loop's clock. For tests on virtual time.
        max_response_bytes: The largest answer read, in decoded bytes (default 8 MiB).
        user_agent: The ``User-Agent`` header (default ``tim-oa/<version> python/<x.y.z>
            httpx/<version>``, with the backend's own name and version).
        allow_insecure_http: Allow plain ``http://`` to a Tencent host (it carries the UserSig
            in clear text).
        backend: The HTTP stack of the session's own client: ``"httpx"`` (default),
            ``"httpx2"`` (extra ``tim-oa[httpx2]``, Python 3.11+) or ``"aiohttp"`` (extra
            ``tim-oa[aiohttp]``, asyncio only). An httpx2 ``http_client`` or ``transport``
            selects ``"httpx2"`` by itself.
        observers: :class:`tim_oa.Observer` instances told of every call, attempt, retry,
            limiter wait and bulk chunk (see :mod:`tim_oa.observers`); ``with_options`` may
            replace them. OpenTelemetry spans and metrics need no option: they follow the
            providers your app sets, when ``opentelemetry-api`` is installed.

    Use it as ``async with Session(...) as oa:`` or call :meth:`aclose`; a call on a closed
    session (and a retry after it was closed) raises :class:`SessionClosedError`. A session
    belongs to the event loop it is first used in.
    """

    def __init__(
        self,
        sdkappid: int,
        identifier: str,
        usersig: UserSigProvider,
        region: Region | str | None = None,
        *,
        base_url: str | None = None,
        use_backup_domain: bool = False,
        http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | httpx2.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | httpx2.Timeout | None = None,
        max_retries: int = 3,
        retry_deadline: float | None = 60.0,
        retry: RetryPolicy | None = None,
        rate_limit: float | None = L.CALLS_PER_SECOND,
        max_concurrency: int | None = None,
        send_rate: float | None = L.SENDS_PER_SECOND_PER_ACCOUNT,
        limiter: Limiter | None = None,
        clock: Clock | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_agent: str | None = None,
        allow_insecure_http: bool = False,
        backend: str = "httpx",
        observers: Iterable[Observer] | None = None,
    ) -> None:
        check_sdkappid(sdkappid)
        self.sdkappid = sdkappid
        self.identifier = check_identifier(identifier)
        self._usersig = usersig
        self._source = as_usersig_source(usersig, sdkappid=sdkappid)
        self.region = None if region is None else check_region(region)
        self.base_url = resolve_base_url(
            self.region,
            base_url,
            use_backup_domain=use_backup_domain,
            allow_insecure_http=allow_insecure_http,
        )
        check_count(max_response_bytes, "max_response_bytes", minimum=1)
        self._clock = check_clock(clock)
        # A caller's client keeps its own timeout unless timeout= is given (the transport is
        # told None); the usersig provider is then bounded by that client's timeout.
        # (http_client=, transport=, backend= and user_agent= are checked by make_transport.)
        own_timeout = client_timeout(http_client)
        self._default_attempt = timeout_seconds(own_timeout, USERSIG_TIMEOUT)
        check_limiter_options(limiter, rate_limit, send_rate)
        given_policy = retry is not None
        self._configure(
            timeout=timeout,
            retry=resolve_retry(
                retry,
                UNSET if given_policy and max_retries == 3 else max_retries,
                UNSET if given_policy and retry_deadline == 60.0 else retry_deadline,
                RetryPolicy(),
            ),
            rate_limit=rate_limit,
            send_rate=send_rate,
            limiter=limiter,
            max_concurrency=max_concurrency,
            shared=None,
        )
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
        self._bind(self._shared)
        self._owner = True
        self._hub = make_hub(check_observers(observers), self.base_url, self._clock)

    @classmethod
    def from_env(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        profile: str | None = None,
        config: str | PathLike[str] | None = None,
        **overrides: Any,
    ) -> Self:
        """A session for the app the environment describes, as the ``tim-oa`` command line reads it.

        The variables: ``TIM_OA_SDKAPPID``; ``TIM_OA_SECRET_KEY`` (the session signs its own
        UserSigs) or a ready ``TIM_OA_USERSIG``; ``TIM_OA_IDENTIFIER`` (default
        ``administrator``); ``TIM_OA_REGION`` (a name ``Region(...)`` takes) or
        ``TIM_OA_BASE_URL``. The same keys, lower case without ``TIM_OA_``, may live in the
        config file ``TIM_OA_CONFIG`` names (TOML, or JSON for a ``.json`` name; default
        ``~/.config/tim-oa/config.toml``), at its top level or in the table
        ``TIM_OA_PROFILE`` names. The environment wins over the file.

        Args:
            environ: The variables to read (default ``os.environ``).
            profile: The profile to use instead of ``TIM_OA_PROFILE``.
            config: The config file to read instead of ``TIM_OA_CONFIG``'s.
            **overrides: Any argument of ``Session(...)``; each wins over the settings
                (``region=`` or ``base_url=`` replaces both settings).

        Raises:
            ValidationError: a setting is missing or malformed; the message names the variable
                to set, never a secret's value.
        """
        from ._from_env import session_options

        options = session_options(overrides, environ=environ, profile=profile, config=config)
        return cls(**options)
