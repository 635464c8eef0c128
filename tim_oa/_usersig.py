"""UserSig (TLS signature v2) generation and the providers a Session accepts.

The algorithm: HMAC-SHA256 over four ``TLS.<name>:<value>`` lines, wrapped with the other claims
in a JSON document, zlib-compressed, then encoded in a URL-safe base64 variant (``+/=`` -> ``*-_``).
No I/O: signing is pure CPU and cheap, so a cache guarded by a thread lock is all the concurrency
control the signer needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeAlias

import anyio

from ._errors import TransportError, ValidationError
from ._validation import (
    check_identifier,
    check_sdkappid,
    check_secret_key,
    check_usersig_text,
    check_whole_seconds,
)

Clock: TypeAlias = Callable[[], float]

_URL_SAFE = bytes.maketrans(b"+/=", b"*-_")
_URL_SAFE_REVERSE = bytes.maketrans(b"*-_", b"+/=")


def _content_to_sign(
    identifier: str, sdkappid: int, time_: int, expire: int, userbuf_b64: str | None
) -> str:
    lines = [
        f"TLS.identifier:{identifier}\n",
        f"TLS.sdkappid:{sdkappid}\n",
        f"TLS.time:{time_}\n",
        f"TLS.expire:{expire}\n",
    ]
    if userbuf_b64 is not None:
        lines.append(f"TLS.userbuf:{userbuf_b64}\n")
    return "".join(lines)


def compute_sig(
    secret_key: str,
    identifier: str,
    sdkappid: int,
    time_: int,
    expire: int,
    userbuf: bytes | None = None,
) -> str:
    """Return ``TLS.sig``: standard base64 of the HMAC-SHA256 of the signed content.

    The key is used as its UTF-8 bytes (it is not hex-decoded).
    """
    userbuf_b64 = base64.b64encode(userbuf).decode("ascii") if userbuf is not None else None
    content = _content_to_sign(identifier, sdkappid, time_, expire, userbuf_b64)
    digest = hmac.new(secret_key.encode("utf-8"), content.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def decode_usersig(usersig: str) -> dict[str, Any]:
    """Decode a UserSig into its JSON claims, without verifying it.

    Useful to inspect ``TLS.identifier``, ``TLS.time`` and ``TLS.expire``. Raises
    :class:`ValidationError` (a ``ValueError``, ``field="usersig"``) when ``usersig`` is not a
    string or not a v2 UserSig.
    """
    if not isinstance(usersig, str):
        raise ValidationError(
            f"usersig must be a str, not {type(usersig).__name__}", field="usersig"
        )
    claims = None
    try:
        raw = base64.b64decode(usersig.encode("ascii").translate(_URL_SAFE_REVERSE), validate=True)
        claims = json.loads(zlib.decompressobj().decompress(raw, _MAX_CLAIMS_BYTES))
    except (ValueError, zlib.error, RecursionError):  # UnicodeError is a ValueError
        pass
    # Raised outside the ``except`` block: the exception would carry the signature's bytes.
    if not isinstance(claims, dict):
        raise ValidationError("usersig is not a v2 UserSig", field="usersig")
    return claims


_MAX_CLAIMS_BYTES = 1 << 20  # a signature's JSON is a few hundred bytes; don't inflate a bomb


_MAX_TIME = 2**62


class UserSigSigner:
    """Generates and caches TLS v2 UserSigs for one app; no network I/O.

    Args:
        sdkappid: The app's SDKAppID.
        secret_key: The app's SDKSecretKey (kept private; never shown in ``repr``).
        expire: Validity of each generated signature, in seconds (default one day).
        renew_before: A cached signature is replaced once it has less than this many seconds left.
        clock: Returns the current Unix time in seconds; inject one in tests.

    One signature is cached per identifier. :meth:`get` is safe to call from many tasks and
    threads at once: only one of them renews an expiring signature.
    """

    __slots__ = ("_cache", "_clock", "_expire", "_lock", "_renew_before", "_secret_key", "sdkappid")

    def __init__(
        self,
        sdkappid: int,
        secret_key: str,
        *,
        expire: int = 86_400,
        renew_before: int = 300,
        clock: Clock = time.time,
    ) -> None:
        check_sdkappid(sdkappid)
        check_secret_key(secret_key)
        expire = check_whole_seconds(expire, "expire", minimum=1)
        renew_before = check_whole_seconds(renew_before, "renew_before", minimum=0)
        if renew_before >= expire:
            raise ValidationError(
                "renew_before must be less than expire",
                field="renew_before",
                limit=f"0..{expire - 1}",
            )
        if not callable(clock):
            raise ValidationError("clock must be a callable returning Unix seconds", field="clock")
        self.sdkappid = sdkappid
        self._secret_key = secret_key
        self._expire = expire
        self._renew_before = renew_before
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[str, float]] = {}  # identifier -> (usersig, renew at)

    def __repr__(self) -> str:
        return (
            f"UserSigSigner(sdkappid={self.sdkappid}, secret_key=<hidden>, expire={self._expire})"
        )

    def generate(
        self,
        identifier: str,
        *,
        expire: int | None = None,
        now: int | None = None,
        userbuf: bytes | None = None,
    ) -> str:
        """Generate a new UserSig for ``identifier`` (uncached).

        ``expire`` overrides the signer's validity (whole seconds > 0). ``now`` pins the signing
        time (whole Unix seconds); by default the signer's clock is read. ``userbuf`` is only for
        TRTC private map keys and is never needed for the REST API.
        """
        check_identifier(identifier)
        expire = (
            self._expire if expire is None else check_whole_seconds(expire, "expire", minimum=1)
        )
        t = (
            int(self._clock())
            if now is None
            else check_whole_seconds(now, "now", minimum=0, maximum=_MAX_TIME)
        )
        if userbuf is not None and not isinstance(userbuf, bytes):
            raise ValidationError("userbuf must be bytes or None", field="userbuf")
        claims: dict[str, Any] = {
            "TLS.ver": "2.0",
            "TLS.identifier": identifier,
            "TLS.sdkappid": self.sdkappid,
            "TLS.expire": expire,
            "TLS.time": t,
            "TLS.sig": compute_sig(self._secret_key, identifier, self.sdkappid, t, expire, userbuf),
        }
        if userbuf is not None:
            claims["TLS.userbuf"] = base64.b64encode(userbuf).decode("ascii")
        packed = zlib.compress(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        return base64.b64encode(packed).translate(_URL_SAFE).decode("ascii")

    def get(self, identifier: str) -> str:
        """Return the cached UserSig for ``identifier``, generating a new one when due."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(identifier)
            if cached is not None and now < cached[1]:
                return cached[0]
            sig = self.generate(identifier, now=int(now))
            self._cache[identifier] = (sig, int(now) + self._expire - self._renew_before)
            return sig

    def renew(self, identifier: str, *, stale: str | None = None) -> str:
        """Replace the cached UserSig for ``identifier`` (after the server said it expired).

        With ``stale`` given, the signature is only regenerated if the cache still holds that
        stale value, so many tasks seeing the same 70001 answer cause one renewal.
        """
        now = int(self._clock())
        with self._lock:
            cached = self._cache.get(identifier)
            if stale is not None and cached is not None and cached[0] != stale:
                return cached[0]
            sig = self.generate(identifier, now=now)
            self._cache[identifier] = (sig, now + self._expire - self._renew_before)
            return sig


UserSigCallable: TypeAlias = Callable[[str], "str | Awaitable[str]"]
UserSigProvider: TypeAlias = "str | UserSigSigner | UserSigCallable"
"""What ``Session(usersig=...)`` accepts: a fixed string, a signer, or a callable of the identifier
returning a string (sync) or an awaitable string (async)."""


class UserSigSource(Protocol):
    """The session's view of a provider: get a current UserSig, or a renewed one after 70001.

    ``timeout`` bounds a provider that may block or wait (a callable); past it the call raises
    :class:`TransportError` with ``is_timeout=True`` and ``request_sent=False`` (nothing was
    sent, so any command may be retried). ``None``: no bound.
    """

    can_renew: bool

    async def get(self, identifier: str, *, timeout: float | None = None) -> str:
        """Return a UserSig to use for the next attempt."""
        ...

    async def renew(self, identifier: str, stale: str, *, timeout: float | None = None) -> str:
        """Return a fresh UserSig replacing ``stale``; the next :meth:`get` returns it too."""
        ...


class _FixedSource:
    can_renew = False

    def __init__(self, usersig: str) -> None:
        self._usersig = usersig

    async def get(self, identifier: str, *, timeout: float | None = None) -> str:
        return self._usersig

    async def renew(self, identifier: str, stale: str, *, timeout: float | None = None) -> str:
        return self._usersig


class _SignerSource:
    can_renew = True

    def __init__(self, signer: UserSigSigner) -> None:
        self._signer = signer

    async def get(self, identifier: str, *, timeout: float | None = None) -> str:
        return self._signer.get(identifier)  # pure CPU, microseconds: no bound needed

    async def renew(self, identifier: str, stale: str, *, timeout: float | None = None) -> str:
        return self._signer.renew(identifier, stale=stale)


class _CallableSource:
    """Calls the user's function on every attempt; caching is then the function's business.

    A sync function runs in a worker thread (it may block on a vault), which is abandoned when the
    call is cancelled or out of time: the thread finishes on its own and its answer is dropped.
    A renewal asks the function once: its answer also serves the next :meth:`get`.
    """

    can_renew = True

    def __init__(self, func: UserSigCallable) -> None:
        self._func = func
        self._is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            getattr(func, "__call__", None)  # noqa: B004 - callable objects with async __call__
        )
        self._renewed: dict[str, str] = {}  # identifier -> a renewed UserSig not yet handed out

    async def get(self, identifier: str, *, timeout: float | None = None) -> str:
        renewed = self._renewed.pop(identifier, None)
        if renewed is not None:
            return renewed
        return await self._ask(identifier, timeout)

    async def renew(self, identifier: str, stale: str, *, timeout: float | None = None) -> str:
        pending = self._renewed.get(identifier)
        shared = pending is not None and pending != stale
        del stale  # no UserSig in this frame's locals if the provider raises below
        if shared:
            return pending  # type: ignore[return-value]  # another task's renewal: share it
        fresh = await self._ask(identifier, timeout)
        self._renewed[identifier] = fresh
        return fresh

    async def _ask(self, identifier: str, timeout: float | None) -> str:
        value: object = None
        with anyio.move_on_after(timeout) as scope:
            if self._is_async:
                value = await self._func(identifier)  # type: ignore[misc]
            else:
                value = await anyio.to_thread.run_sync(
                    self._func, identifier, abandon_on_cancel=True
                )
                if inspect.isawaitable(value):
                    value = await value
        if scope.cancelled_caught:
            raise TransportError(
                f"the usersig provider gave no UserSig within {timeout:g} s",
                request_sent=False,
                is_timeout=True,
            )
        if not isinstance(value, str) or not value:
            raise ValidationError(
                "the usersig provider must return a non-empty string", field="usersig"
            )
        return value


def _check_fixed_sdkappid(usersig: str, sdkappid: int) -> None:
    """Refuse a fixed UserSig made for another SDKAppID; one that does not decode is left alone."""
    try:
        claims = decode_usersig(usersig)
    except ValidationError:
        return
    claimed = claims.get("TLS.sdkappid")
    if isinstance(claimed, int) and not isinstance(claimed, bool) and claimed != sdkappid:
        raise ValidationError(
            f"usersig was made for SDKAppID {claimed}, but the session is for SDKAppID {sdkappid}",
            field="usersig",
        )


def as_usersig_source(provider: object, *, sdkappid: int | None = None) -> UserSigSource:
    """Turn what the user passed as ``usersig=`` into a :class:`UserSigSource`.

    With ``sdkappid`` (the session's), a signer for another app, or a fixed v2 UserSig made for
    another app, is refused here rather than by the server's 70014 on the first call.
    """
    if isinstance(provider, UserSigSigner):
        if sdkappid is not None and provider.sdkappid != sdkappid:
            raise ValidationError(
                f"usersig is a UserSigSigner for SDKAppID {provider.sdkappid}, but the session "
                f"is for SDKAppID {sdkappid}",
                field="usersig",
            )
        return _SignerSource(provider)
    if isinstance(provider, str):
        # A UserSig is URL-safe base64; anything else cannot go into the query string.
        check_usersig_text(provider)
        if sdkappid is not None:
            _check_fixed_sdkappid(provider, sdkappid)
        return _FixedSource(provider)
    if callable(provider):
        return _CallableSource(provider)
    raise ValidationError(
        "usersig must be a str, a UserSigSigner, or a callable(identifier) -> str",
        field="usersig",
    )
