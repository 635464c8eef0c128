"""The public :class:`Session`: the machinery of ``_base`` plus every endpoint group."""

from __future__ import annotations

from ._accounts import AccountsMixin
from ._messages import MessagesMixin
from ._subscribers import SubscribersMixin


class Session(AccountsMixin, SubscribersMixin, MessagesMixin):
    """An async client session for one app's Official Account API.

    Args:
        sdkappid: The app's SDKAppID.
        identifier: The app admin account the requests are made as (no control characters).
        usersig: A :class:`UserSigSigner`, a fixed UserSig string, or a sync or async callable
            ``(identifier) -> str``. A signer renews itself; a callable is asked on every attempt
            (a 70001 answer asks it once more and resends with that answer). The UserSig is
            fetched before a concurrency slot is taken, bounded by the attempt's timeout.
        region: A :class:`Region`; or give ``base_url`` instead (an emulator, a proxy).
        base_url: Scheme and host to send requests to, instead of a region. Plain ``http://`` to
            a Tencent host (``*.qq.com``, ``*.qcloud.com``, ``*.my-imcloud.com``) is refused.
        use_backup_domain: Use the region's backup domain.
        http_client: Your own ``httpx.AsyncClient``; used as is and never closed by the session.
            Its own timeout stands unless ``timeout=`` is also given.
        transport: An ``httpx.AsyncBaseTransport`` for the session's own client (tests).
        timeout: Seconds, or an ``httpx.Timeout``, for one attempt; default 10 s (connect 5 s).
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
            httpx/<version>``).
        allow_insecure_http: Allow plain ``http://`` to a Tencent host (it carries the UserSig
            in clear text).
        backend: The HTTP stack; ``"httpx"``.

    Use it as ``async with Session(...) as oa:`` or call :meth:`aclose`; a call on a closed
    session (and a retry after it was closed) raises :class:`SessionClosedError`. A session
    belongs to the event loop it is first used in.
    """
