"""The public :class:`Session`: the machinery of ``_base`` plus every endpoint group."""

from __future__ import annotations

from ._accounts import AccountsMixin
from ._messages import MessagesMixin
from ._subscribers import SubscribersMixin


class Session(AccountsMixin, SubscribersMixin, MessagesMixin):
    """An async client session for one app's Official Account API.

    Args:
        sdkappid: The app's SDKAppID.
        identifier: The app admin account the requests are made as.
        usersig: A :class:`UserSigSigner`, a fixed UserSig string, or a sync or async callable
            ``(identifier) -> str``. A signer renews itself; a callable is asked on every attempt.
        region: A :class:`Region`; or give ``base_url`` instead (an emulator, a proxy).
        base_url: Scheme and host to send requests to, instead of a region.
        use_backup_domain: Use the region's backup domain.
        http_client: Your own ``httpx.AsyncClient``; used as is and never closed by the session.
        transport: An ``httpx.AsyncBaseTransport`` for the session's own client (tests).
        timeout: Seconds, or an ``httpx.Timeout``; default 10 s (connect 5 s).
        max_retries: Retries after the first attempt (default 3); 0 disables retrying.
        retry_deadline: No retry starts later than this many seconds after the first attempt.
        rate_limit: Calls per second per command across all tasks of the session (default 200,
            the documented limit); ``None`` disables the limiter.
        max_concurrency: Requests in flight at once (default 10); also the pool size.
        send_rate: Broadcasts per second per account (default 1, the documented limit); ``None``
            disables pacing.

    Use it as ``async with Session(...) as oa:`` or call :meth:`aclose`. A session belongs to the
    event loop it is first used in.
    """
