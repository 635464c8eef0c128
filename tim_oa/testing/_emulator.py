"""The ``Emulator``: one emulated app, its state, and the ways to reach it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import httpx

from .. import _limits as L
from . import _handle_imports
from ._asgi import EmulatorApp
from ._backend import Backend
from ._clock import ManualClock, SessionClock
from ._failure import Failure
from ._faults import FaultInjector, Faults
from ._gateway import MAX_BODY_BYTES, Gateway, RequestRecord
from ._handlers import HANDLERS, Call, Pending, execute
from ._ratelimit import CommandRateLimiter
from ._records import AccountRecord
from ._transport import default_backend, emulator_transport
from ._usersig import UserSigVerifier
from ._webhooks import DEFAULT_TIMEOUT as WEBHOOK_TIMEOUT
from ._webhooks import ASGIApp, WebhookRecord, WebhookSender

if TYPE_CHECKING:
    from tim_oa import Session, SyncSession

DEFAULT_SDKAPPID: Final = 1400000000
DEFAULT_SECRET_KEY: Final = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
"""The sample key published in Tencent's signer repositories; a test key, never a real one."""
DEFAULT_ADMIN: Final = "administrator"
SESSION_BASE_URL: Final = "http://tim-oa-emulator"
"""The base URL of sessions bound in-process (``Emulator.session``); it never resolves."""


class Emulator:
    """A stateful, in-memory Official Account service for tests, demos and benchmarks.

    It implements the twelve commands with their validation, error codes, limits and pagination
    (and the four account commands that import, check and delete the app's users),
    verifies each request's UserSig with ``secret_key``, and can inject faults. Reach it in-process
    through ``transport()`` or ``session()``, or over a loopback socket with ``serve()``.

    Args:
        sdkappid: the app id requests must carry.
        secret_key: the key UserSigs are verified with. Defaults to Tencent's published sample key.
        admins: the identifiers allowed to call (the App admin accounts).
        clock: returns Unix seconds; drives UserSig expiry, timestamps, rate limits, send pacing
            and deduplication. Pass a ``ManualClock`` to control time (see ``advance``).
        seed: seeds generated account ids and random faults, so runs are reproducible.
        rate_limit: calls per second allowed per command (60007 beyond it); None disables.
        faults: random faults to inject; None for none. Targeted faults: ``fail_next``.
        known_users: the imported user accounts. None (the default) accepts any user id;
            otherwise only these users, the admins and the users the import commands add exist:
            an owner that does not exist fails creation with 70107, and such a subscriber gets
            Result 0. The account commands of ``im_open_login_svc`` (``multiaccount_import``,
            ``account_import``, ``account_check``, ``account_delete``) work either way.
        max_accounts_per_subscriber: how many accounts one user may subscribe to; None is
            unlimited (the real limit is not published).
        send_per_second: per-account broadcast rate (60018 beyond it); None disables.
        broadcasts_per_hour: per-account broadcasts in a rolling hour (60019 beyond it); None
            disables.
        service_enabled: False makes every command fail with 131000 (service not enabled).
        request_log_size: how many requests ``requests`` keeps (the most recent); None keeps all.
        max_body_bytes: the largest request body read (default 1 MiB, far above any legal
            request); a larger one is answered 60002 without being read.
        webhook_url: send the 11 Official Account callbacks to this http(s) URL (see
            ``tim_oa.testing._webhooks`` for when each fires and how answers are honoured).
        webhook_app: send them to this ASGI app in-process instead (at ``webhook_url``'s path
            when both are given). Either one turns webhooks on.
        webhook_token: the callback authentication token: each callback then carries
            ``RequestTime`` and ``Sign``.
        webhook_timeout: how long a callback may take before it counts as unanswered (Tencent's
            2 s); a before callback left unanswered lets the action proceed.
    """

    def __init__(
        self,
        sdkappid: int = DEFAULT_SDKAPPID,
        secret_key: str = DEFAULT_SECRET_KEY,
        admins: Sequence[str] = (DEFAULT_ADMIN,),
        *,
        clock: Callable[[], float] = time.time,
        seed: int = 0,
        rate_limit: float | None = L.CALLS_PER_SECOND,
        faults: Faults | None = None,
        known_users: Collection[str] | None = None,
        max_accounts_per_subscriber: int | None = None,
        send_per_second: float | None = L.SENDS_PER_SECOND_PER_ACCOUNT,
        broadcasts_per_hour: int | None = L.BROADCASTS_PER_HOUR_PER_ACCOUNT,
        service_enabled: bool = True,
        request_log_size: int | None = 10_000,
        max_body_bytes: int = MAX_BODY_BYTES,
        webhook_url: str | None = None,
        webhook_app: ASGIApp | None = None,
        webhook_token: str | None = None,
        webhook_timeout: float = WEBHOOK_TIMEOUT,
    ) -> None:
        if isinstance(admins, str):
            raise TypeError("admins must be a sequence of identifiers, not one string")
        if not admins:
            raise ValueError("at least one admin identifier is required")
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        self.sdkappid = int(sdkappid)
        self._secret_key = secret_key
        self.admins: tuple[str, ...] = tuple(admins)
        self.clock = clock
        self.seed = seed
        self._lock = threading.Lock()
        self._backend = Backend(
            clock=clock,
            seed=seed,
            known_users=None if known_users is None else frozenset(known_users),
            admins=self.admins,
            max_accounts_per_subscriber=max_accounts_per_subscriber,
            send_per_second=send_per_second,
            broadcasts_per_hour=broadcasts_per_hour,
        )
        self._injector = FaultInjector(faults, seed)
        self._webhooks = (
            None
            if webhook_url is None and webhook_app is None
            else WebhookSender(
                sdkappid=self.sdkappid,
                url=webhook_url,
                app=webhook_app,
                token=webhook_token,
                timeout=webhook_timeout,
                clock=clock,
                log_size=request_log_size,
            )
        )
        self._gateway = Gateway(
            sdkappid=self.sdkappid,
            admins=self.admins,
            verifier=UserSigVerifier(secret_key),
            backend=self._backend,
            injector=self._injector,
            limiter=(
                None
                if rate_limit is None
                else CommandRateLimiter(rate_limit, _handle_imports.CALLS_PER_SECOND)
            ),
            lock=self._lock,
            log_size=request_log_size,
            service_enabled=service_enabled,
            max_body_bytes=max_body_bytes,
            webhooks=self._webhooks,
        )
        self._app = EmulatorApp(self._gateway)

    def __repr__(self) -> str:
        return f"Emulator(sdkappid={self.sdkappid}, admins={self.admins!r}, seed={self.seed})"

    @property
    def secret_key(self) -> str:
        """The key UserSigs are verified with (kept out of ``repr``)."""
        return self._secret_key

    @property
    def app(self) -> EmulatorApp:
        """The ASGI 3 application (HTTP and lifespan)."""
        return self._app

    # -- switches that may change between requests --

    @property
    def service_enabled(self) -> bool:
        """Whether the Official Account service is on; when off every command fails (131000)."""
        return self._gateway.service_enabled

    @service_enabled.setter
    def service_enabled(self, value: bool) -> None:
        with self._lock:
            self._gateway.service_enabled = value

    @property
    def faults(self) -> Faults | None:
        """The random faults in effect (None for none); assignable."""
        return self._injector.faults

    @faults.setter
    def faults(self, value: Faults | None) -> None:
        with self._lock:
            self._injector.faults = value

    @property
    def known_users(self) -> frozenset[str] | None:
        """The users given as imported (None: any user id is accepted); assignable.

        Users added by the import commands, the admins and deletions are not part of it: ask
        ``is_imported`` for the state now.
        """
        users = self._backend.known_users
        return None if users is None else frozenset(users)

    @known_users.setter
    def known_users(self, value: Collection[str] | None) -> None:
        with self._lock:
            self._backend.known_users = None if value is None else frozenset(value)

    def is_imported(self, user_id: str) -> bool:
        """Whether ``user_id`` exists as an imported account now (see ``known_users``)."""
        with self._lock:
            return self._backend.is_known(user_id)

    # -- clients --

    def transport(self, backend: str = "httpx") -> httpx.AsyncBaseTransport:
        """A new in-process transport to this emulator, for ``httpx.AsyncClient(transport=...)``.

        Dropped connections injected by faults raise ``httpx.RemoteProtocolError``, as they would
        over a socket. ``backend="httpx2"`` gives the same transport for httpx2
        (``httpx2.AsyncClient(transport=...)``, raising ``httpx2.RemoteProtocolError``).
        """
        transport: httpx.AsyncBaseTransport = emulator_transport(self._app, backend)
        return transport

    def session(self, **options: Any) -> Session:
        """A ``tim_oa.Session`` bound to this emulator in-process.

        It signs with a real ``tim_oa.UserSigSigner`` for this emulator's app and key, as the first
        admin. With ``Emulator(clock=ManualClock())`` the session also waits in that manual time
        (``clock=self.clock_for_session()``), so its backoff, pacing and rate-limit waits cost no
        real time. Any keyword overrides the defaults or adds a Session option, e.g.
        ``usersig="..."``, ``identifier="bob"``, ``max_retries=0`` or ``clock=...``.

        ``backend="httpx2"`` binds it through httpx2 instead of httpx. Without ``backend=``, the
        environment variable ``TIM_OA_TEST_BACKEND`` (``httpx`` or ``httpx2``) chooses, so a
        test suite can run all its emulator sessions on either stack.
        """
        import tim_oa  # lazy: the emulator shares no code path with the client otherwise

        return tim_oa.Session(**self._session_settings(options))

    def sync_session(self, **options: Any) -> SyncSession:
        """A ``tim_oa.SyncSession`` bound to this emulator in-process, as :meth:`session` is.

        Its loop thread runs the emulator's in-process transport, so blocking code (a Django
        view, a Celery task, a script) can be tested without a socket. Takes the same keywords
        as :meth:`session`.
        """
        import tim_oa

        return tim_oa.SyncSession(**self._session_settings(options))

    def _session_settings(self, options: Mapping[str, Any]) -> dict[str, Any]:
        import tim_oa

        settings: dict[str, Any] = {
            "sdkappid": self.sdkappid,
            "identifier": self.admins[0],
            "base_url": SESSION_BASE_URL,
        }
        settings.update(options)
        if "usersig" not in settings:
            settings["usersig"] = tim_oa.UserSigSigner(
                sdkappid=self.sdkappid, secret_key=self._secret_key
            )
        if "transport" not in settings and "http_client" not in settings:
            backend = settings.setdefault("backend", default_backend())
            # (aiohttp has no in-process transport: Session then refuses transport=.)
            settings["transport"] = self.transport("httpx2" if backend == "httpx2" else "httpx")
        if "clock" not in settings and isinstance(self.clock, ManualClock):
            settings["clock"] = self.clock_for_session()
        return settings

    # -- direct access for tests --

    def call(self, command: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Run a command directly against the state and return the response envelope.

        Skips HTTP, authentication, rate limiting, the service switch, faults and webhooks (no
        callback is sent, before or after), and is not logged in ``requests``: it is meant for
        arranging state quickly (for example subscribing 100 000 users before a test pages
        through them).
        """
        with self._lock:
            try:
                call = Call(self.admins[0])  # webhooks off: the result is never Pending
                fields = execute(self._backend, command, dict(body), call)
                assert not isinstance(fields, Pending)
            except Failure as failure:
                return {
                    "ActionStatus": "FAIL",
                    "ErrorCode": failure.code,
                    "ErrorInfo": failure.info,
                }
        return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", **fields}

    def fail_next(
        self,
        command: str | None = None,
        *,
        code: int | None = None,
        http_status: int | None = None,
        drop: bool = False,
        body: bytes | str | None = None,
        after_commit: bool = False,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` requests for ``command`` (any command when None) fail.

        Give exactly one of: ``code`` (a ``FAIL`` envelope with that ErrorCode), ``http_status``
        (that status with ``body``, by default a small HTML page; ``b""`` for an empty body) or
        ``drop=True`` (the connection breaks mid-response). With ``after_commit=True`` the command
        runs and keeps its effect, and only the answer is lost or replaced, which is how to test
        that a retry is safe. Targeted faults fire in the order they were queued, before any
        random fault, and only on requests that pass authentication (see ``tim_oa.testing``).
        """
        if command is not None and command not in HANDLERS:
            raise ValueError(f"unknown command {command!r}")
        with self._lock:
            self._injector.add_rule(
                command,
                code=code,
                http_status=http_status,
                drop=drop,
                body=body,
                after_commit=after_commit,
                times=times,
            )

    @property
    def pending_faults(self) -> int:
        """How many ``fail_next`` faults have not fired yet."""
        with self._lock:
            return self._injector.pending

    @property
    def requests(self) -> list[RequestRecord]:
        """The logged HTTP requests, oldest first (a copy)."""
        with self._lock:
            return list(self._gateway.requests)

    @property
    def webhook_log(self) -> list[WebhookRecord]:
        """The callbacks sent, oldest first (a copy): what was sent and what came back.

        Empty when webhooks are off; keeps the most recent ``request_log_size`` records. After
        callbacks appear once delivered; ``await webhooks_idle()`` first to see them all.
        """
        return [] if self._webhooks is None else self._webhooks.records()

    @property
    def webhook_timeout(self) -> float:
        """How long one callback may take (``webhook_timeout``; 2 s by default)."""
        return self._webhooks.timeout if self._webhooks is not None else WEBHOOK_TIMEOUT

    async def webhooks_idle(self) -> None:
        """Wait until every after callback queued so far has been delivered (or given up on).

        Each delivery takes at most ``webhook_timeout``; wrap the call in ``anyio.fail_after``
        to bound the wait. Returns at once when webhooks are off.
        """
        if self._webhooks is not None:
            await self._webhooks.idle()

    @property
    def stats(self) -> Mapping[str, int]:
        """Counters of what the emulator answered over HTTP since creation or ``reset()``.

        A read-only snapshot with these keys: ``"requests"`` (every HTTP request, answered or
        dropped), ``"rate_limited"`` (60007 answers for the per-command rate limit),
        ``"send_paced"`` (60018: a send within a second of the account's last one),
        ``"hourly_cap"`` (60019: the account's broadcasts per hour), ``"faults"`` (injected
        faults that fired, targeted or random). ``call()`` is not counted.
        """
        with self._lock:
            return MappingProxyType(dict(self._gateway.stats))

    @property
    def accounts(self) -> dict[str, AccountRecord]:
        """A snapshot of every live account, keyed by id (destroyed ones are gone)."""
        with self._lock:
            return self._backend.snapshot()

    def account(self, account_id: str) -> AccountRecord:
        """A snapshot of one live account; ``KeyError`` if it does not exist."""
        with self._lock:
            return self._backend.accounts[account_id].snapshot()

    def subscriptions(self, user_id: str) -> frozenset[str]:
        """The ids of the accounts ``user_id`` subscribes to."""
        with self._lock:
            return frozenset(self._backend.user_index.get(user_id, ()))

    def reset(self) -> None:
        """Forget the state: accounts, requests, stats, limits, faults, webhook log and queue.

        That is: all accounts, logged requests, ``stats``, rate-limit state, pending faults, the
        webhook log and after callbacks not delivered yet. Configuration (app, key, admins, limits,
        random faults, seed) is kept; id generation and
        the random fault stream restart from the seed.
        """
        with self._lock:
            self._backend.reset()
            self._gateway.reset()
            self._injector.reset()
        if self._webhooks is not None:
            self._webhooks.reset()

    def clock_for_session(self) -> SessionClock:
        """A clock for ``Session(clock=...)`` that waits in this emulator's manual time.

        The session's backoff, pacing and rate-limit waits then advance the ``ManualClock``
        instead of sleeping (see ``SessionClock``). Raises ``TypeError`` when the emulator was
        built with another clock.
        """
        if not isinstance(self.clock, ManualClock):
            raise TypeError("clock_for_session() needs Emulator(clock=ManualClock())")
        return SessionClock(self.clock)

    def advance(self, seconds: float) -> float:
        """Move a ``ManualClock`` forward and return the new time.

        Raises ``TypeError`` when the emulator was built with another clock.
        """
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs Emulator(clock=ManualClock())")
        return self.clock.advance(seconds)
