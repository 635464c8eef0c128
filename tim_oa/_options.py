"""Checks of the session's own options, run when a session is made (or derived) and never later.

Each raises :class:`ValidationError` naming the argument. The request loop in ``_base.py`` can then
trust every value it reads.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import _limits as L
from ._clock import DEFAULT_CLOCK, Clock
from ._errors import ValidationError
from ._regions import Region
from ._retry import RetryPolicy
from ._transport_base import attempt_seconds
from ._transport_base import check_base_url as check_base_url_shape
from ._validation import check_bool, check_count, check_region, check_seconds
from ._validation import check_clock as check_clock_object
from .limiters import Limiter

UNSET: Any = object()
"""Marks an option a caller of ``with_options`` did not give."""

TENCENT_DOMAINS = (".qq.com", ".qcloud.com", ".my-imcloud.com")
"""Hosts under these domains are Tencent's: plain ``http://`` to them is refused by default."""

_REGION_HOSTS = frozenset(h for region in Region for h in (region.host, region.backup_host))


def is_tencent_host(host: str) -> bool:
    """Whether ``host`` is one of Tencent's API hosts (a region's, or under its domains)."""
    host = host.lower().rstrip(".")
    if host in _REGION_HOSTS:
        return True
    return any(host.endswith(suffix) or host == suffix[1:] for suffix in TENCENT_DOMAINS)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names a loopback interface (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: object, *, allow_insecure_http: bool) -> str:
    """An ``http(s)://host[:port][/prefix]`` URL; plain http to a Tencent host only if allowed."""
    url = check_base_url_shape(value)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "http" and is_tencent_host(host) and not allow_insecure_http:
        raise ValidationError(
            f"base_url sends the UserSig in clear text to Tencent's host {host!r}: use https, "
            "or pass allow_insecure_http=True",
            field="base_url",
        )
    return url


def resolve_base_url(
    region: object, base_url: object, *, use_backup_domain: object, allow_insecure_http: object
) -> str:
    """The session's base URL from exactly one of ``region=`` and ``base_url=``."""
    if (region is None) == (base_url is None):
        raise ValidationError(
            "give exactly one of region= (a tim_oa.Region) or base_url=", field="region"
        )
    if region is not None:
        region = check_region(region)
    backup = check_bool(use_backup_domain, "use_backup_domain")
    insecure = check_bool(allow_insecure_http, "allow_insecure_http")
    if isinstance(region, Region):
        base_url = region.base_url(backup=backup)
    return check_base_url(base_url, allow_insecure_http=insecure)


def check_clock(clock: object) -> Clock:
    """``clock=``: ``None`` (the event loop's) or an object with ``monotonic`` and ``sleep``."""
    checked = check_clock_object(clock)
    return DEFAULT_CLOCK if checked is None else checked


def check_limiter_options(limiter: object, rate_limit: object, send_rate: object) -> None:
    """A ``limiter=`` replaces ``rate_limit=``/``send_rate=``: they must keep their defaults."""
    if limiter is None:
        return
    if rate_limit != L.CALLS_PER_SECOND:
        raise ValidationError("give limiter= or rate_limit=, not both", field="rate_limit")
    if send_rate != L.SENDS_PER_SECOND_PER_ACCOUNT:
        raise ValidationError("give limiter= or send_rate=, not both", field="send_rate")


def check_derived_limiter(
    limiter: object, rate_limit: object, send_rate: object, *, has_limiter: bool
) -> None:
    """``with_options``: new rates exclude a new ``limiter=`` and the parent's own limiter.

    ``limiter=None`` together with new rates goes back to local pacing.
    """
    given = [
        name for name, v in (("rate_limit", rate_limit), ("send_rate", send_rate)) if v is not UNSET
    ]
    if not given:
        return
    if limiter is not UNSET and limiter is not None:
        raise ValidationError(f"give limiter= or {given[0]}=, not both", field=given[0])
    if limiter is UNSET and has_limiter:
        raise ValidationError(
            f"this session paces with its limiter=; pass limiter=None with {given[0]}=",
            field=given[0],
        )


def check_limiter(limiter: object) -> Limiter | None:
    """``limiter=``: ``None`` or an object with the :class:`~tim_oa.limiters.Limiter` methods."""
    if limiter is not None and not isinstance(limiter, Limiter):
        raise ValidationError(
            "limiter must have async acquire(command, *, app) and acquire_send(account_id, *, app)"
            " (see tim_oa.limiters)",
            field="limiter",
        )
    return limiter


def timeout_seconds(timeout: httpx.Timeout | None, default: float) -> float:
    """One number of seconds for a timeout setting: its bound on a whole attempt, else ``default``.

    The transport's rule (:func:`~tim_oa._transport_base.attempt_seconds`), so a usersig
    provider is bounded the way a request is.
    """
    seconds = attempt_seconds(timeout) if timeout is not None else None
    return default if seconds is None else seconds


def resolve_retry(
    retry: object, max_retries: object, retry_deadline: object, base: RetryPolicy
) -> RetryPolicy:
    """The retry policy from ``retry=`` and the shortcuts (``UNSET`` when not given).

    Without a policy, the shortcuts change ``base``. With one, a shortcut must agree with it.
    """
    if max_retries is not UNSET:
        check_count(max_retries, "max_retries", minimum=0)
    if retry_deadline is not UNSET:
        check_seconds(retry_deadline, "retry_deadline")
    if retry is UNSET or retry is None:
        changes: dict[str, Any] = {}
        if max_retries is not UNSET:
            changes["max_retries"] = max_retries
        if retry_deadline is not UNSET:
            changes["deadline"] = retry_deadline
        return base.replace(**changes) if changes else base
    if not isinstance(retry, RetryPolicy):
        raise ValidationError(
            f"retry must be a tim_oa.RetryPolicy, not {type(retry).__name__}", field="retry"
        )
    if max_retries is not UNSET and max_retries != retry.max_retries:
        raise ValidationError(
            f"max_retries={max_retries!r} disagrees with retry.max_retries={retry.max_retries!r}",
            field="max_retries",
        )
    if retry_deadline is not UNSET and retry_deadline != retry.deadline:
        raise ValidationError(
            f"retry_deadline={retry_deadline!r} disagrees with retry.deadline={retry.deadline!r}",
            field="retry_deadline",
        )
    return retry
