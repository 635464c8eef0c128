"""Webhooks, emulator side: sending the 11 Official Account callbacks and reading the answers.

Written from the webhook reference, independently of the client's ``tim_oa.webhooks`` package.

Each callback is one POST of a JSON body to the configured URL (or in-process ASGI app) with the
query parameters ``SdkAppid``, ``CallbackCommand``, ``contenttype=json``, ``ClientIP``
(``127.0.0.1``) and ``OptPlatform`` (``RESTAPI``), plus ``RequestTime`` (Unix seconds) and
``Sign = sha256(token + RequestTime)`` in lowercase hex when a token is configured (reference
§1.2, §1.6). ``EventTime`` (milliseconds) and ``RequestTime`` come from the emulator's clock, so
with a ``ManualClock`` a receiver checking freshness must be given the same clock.

"Before" callbacks (create, add subscribers, send) are awaited while the request waits, with the
emulator's lock released. Their answers decide (reference §3.1, §3.5, §3.9):

- create: ``ErrorCode`` 0 allows; 1 refuses with 20006; 120001..130000 refuses with that code and
  the answer's ``ErrorInfo``; any other non-zero code refuses with 20006 (INFERRED);
- add subscribers: 0 allows everyone except the users in ``RefusedSubscribers_Account``; any
  non-zero code refuses every user. Refused users get ``Result`` 0 and are not added, the request
  itself succeeds (INFERRED: the reference leaves the requester's view open). Only the documented
  key ``RefusedSubscribers_Account`` is read, not the ``RefusedMembers_Account`` of one prose
  sentence, so a receiver that sends the wrong key finds out here;
- send: 0 delivers, with the answer's ``MsgBody`` and/or ``CloudCustomData`` replacing the
  message's when present (an absent ``CloudCustomData`` keeps the original, INFERRED; an invalid
  ``MsgBody`` is ignored and logged); 1 refuses with 10016; 2 discards silently (the sender is
  told it succeeded and gets a ``MsgKey``; nothing is stored, the after-send callback does not
  fire); 120001..130000 refuses with that code and info; any other non-zero code refuses with
  10016 (INFERRED).

A timeout (``webhook_timeout``, 2 s as Tencent's), a transport failure, an HTTP status other than
200, or an answer that is not a JSON object lets the action proceed, as Tencent does on a
timeout (reference §1.5; for the non-200 and non-JSON cases this is UNCERTAIN there, and the
tolerant reading). ``ActionStatus`` is not read: the decision is carried by ``ErrorCode``.

"After" callbacks never block or fail the API call: they are queued when the action has
happened and delivered in the background, one at a time and in order, by a task on the event
loop that served the request. ``Emulator.webhooks_idle()`` waits until the queue is empty.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import httpx
import sniffio

from .._codes import ErrorCode as C

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]

_PREFIX: Final = "OfficialAccount.Callback"
BEFORE_CREATE: Final = _PREFIX + "BeforeCreateOfficialAccount"
AFTER_CREATE: Final = _PREFIX + "AfterCreateOfficialAccount"
AFTER_INFO_CHANGED: Final = _PREFIX + "AfterOfficialAccountInfoChanged"
AFTER_DESTROYED: Final = _PREFIX + "AfterOfficialAccountDestroyed"
BEFORE_ADD_SUBSCRIBER: Final = _PREFIX + "BeforeAddSubscriber"
AFTER_ADD_SUBSCRIBER: Final = _PREFIX + "AfterAddSubscriber"
AFTER_FULL: Final = _PREFIX + "AfterOfficialAccountFull"
AFTER_DELETE_SUBSCRIBER: Final = _PREFIX + "AfterDeleteSubscriber"
BEFORE_SEND: Final = _PREFIX + "BeforeSendMsg"
AFTER_SEND: Final = _PREFIX + "AfterSendMsg"
AFTER_RECALL: Final = _PREFIX + "AfterMsgWithDraw"

DEFAULT_TIMEOUT: Final = 2.0
"""Tencent's callback timeout (reference §1.5)."""
DEFAULT_APP_URL: Final = "http://webhooks.emulator/"
"""The URL an in-process ``webhook_app`` is called at when no ``webhook_url`` is given."""
CUSTOM_CODES: Final = range(120001, 130001)
"""App-defined refusal codes a before-create or before-send answer may pass through."""
DROP_CODE: Final = 2
"""A before-send ``ErrorCode`` that discards the message silently."""


def sign(token: str, request_time: str) -> str:
    """``Sign`` for ``RequestTime``: lowercase hex SHA-256 of the token followed by the time."""
    return hashlib.sha256((token + request_time).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WebhookRecord:
    """One callback the emulator sent, and what came back (``Emulator.webhook_log``).

    Attributes:
        command: the ``CallbackCommand``.
        query: the query parameters sent (``Sign`` included: it only proves the token).
        body: the JSON body sent.
        status: the HTTP status of the answer, or None when none came (timeout, failure).
        answer: the answer parsed as JSON, or None (no answer, or not JSON).
        elapsed: seconds between sending and the answer (or giving up), by the wall clock.
        error: why the answer was not used: ``"timeout"``, ``"transport: ..."``, ``"HTTP 500"``,
            ``"not a JSON object"``; None when it was.
        decision: what the emulator made of it: ``"allow"``, ``"refuse"``, ``"refuse some"``,
            ``"drop"`` or ``"replace"`` for a before callback; ``"notified"`` for an after one.
    """

    command: str
    query: Mapping[str, str]
    body: Mapping[str, Any]
    status: int | None
    answer: Any
    elapsed: float
    error: str | None
    decision: str


@dataclass(frozen=True)
class Decision:
    """A before callback's verdict, as the handler applies it."""

    error: tuple[int, str] | None = None
    """Refuse the request with this ``(ErrorCode, ErrorInfo)``."""
    drop: bool = False
    """Send: tell the sender it worked, deliver and store nothing."""
    refuse_all: bool = False
    """Add subscribers: every user is refused."""
    refused: frozenset[str] = frozenset()
    """Add subscribers: the users refused."""
    msg_body: list[Any] | None = None
    """Send: the replacement ``MsgBody``."""
    cloud_custom_data: str | None = None
    """Send: the replacement ``CloudCustomData``."""

    @property
    def name(self) -> str:
        """A word for the log."""
        if self.error is not None or self.refuse_all:
            return "refuse"
        if self.drop:
            return "drop"
        if self.refused:
            return "refuse some"
        if self.msg_body is not None or self.cloud_custom_data is not None:
            return "replace"
        return "allow"


ALLOW: Final = Decision()


def _int_code(answer: Mapping[str, Any]) -> int:
    code = answer.get("ErrorCode", 0)
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def decide(
    command: str, answer: Mapping[str, Any], check_msg_body: Callable[[Any], bool]
) -> Decision:
    """Interpret a before callback's JSON answer (see the module docstring)."""
    code = _int_code(answer)
    info = answer.get("ErrorInfo")
    info = info if isinstance(info, str) else ""
    if command == BEFORE_ADD_SUBSCRIBER:
        if code != 0:
            return Decision(refuse_all=True)
        refused = answer.get("RefusedSubscribers_Account")
        if isinstance(refused, list):
            return Decision(refused=frozenset(u for u in refused if isinstance(u, str)))
        return ALLOW
    if code == 0:
        if command != BEFORE_SEND:
            return ALLOW
        msg_body = answer.get("MsgBody")
        custom = answer.get("CloudCustomData")
        return Decision(
            msg_body=msg_body if msg_body is not None and check_msg_body(msg_body) else None,
            cloud_custom_data=custom if isinstance(custom, str) else None,
        )
    if code in CUSTOM_CODES:
        return Decision(error=(code, info))
    if command == BEFORE_SEND:
        if code == DROP_CODE:
            return Decision(drop=True)
        return Decision(
            error=(int(C.MESSAGE_REFUSED_BY_WEBHOOK), "refused by the before-send webhook")
        )
    return Decision(
        error=(int(C.CREATE_REFUSED_BY_WEBHOOK), "refused by the before-create webhook")
    )


@dataclass
class _Outbox:
    events: collections.deque[tuple[str, dict[str, Any]]] = field(default_factory=collections.deque)
    draining: bool = False
    worker: asyncio.Task[None] | None = None
    token: object = None


class WebhookSender:
    """Sends callbacks to one URL or in-process ASGI app and keeps ``log``. Thread-safe."""

    def __init__(
        self,
        *,
        sdkappid: int,
        url: str | None,
        app: ASGIApp | None,
        token: str | None,
        timeout: float,
        clock: Callable[[], float],
        log_size: int | None,
    ) -> None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must start with http:// or https://")
        if timeout <= 0:
            raise ValueError("webhook_timeout must be positive")
        self.sdkappid = sdkappid
        self.url = url if url is not None else DEFAULT_APP_URL
        self.app = app
        self.token = token
        self.timeout = float(timeout)
        self.clock = clock
        self.log: collections.deque[WebhookRecord] = collections.deque(maxlen=log_size)
        self._lock = threading.Lock()
        self._outbox = _Outbox()
        self._ssl: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        return f"WebhookSender(url={self.url!r}, token={'<set>' if self.token else None})"

    def records(self) -> list[WebhookRecord]:
        """A copy of the log, oldest first."""
        with self._lock:
            return list(self.log)

    def reset(self) -> None:
        """Forget the log and any callback not delivered yet."""
        with self._lock:
            self.log.clear()
            self._outbox.events.clear()

    # -- sending --

    def body(self, command: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A callback body: ``CallbackCommand``, the fields, ``EventTime`` in milliseconds now."""
        return {"CallbackCommand": command, **fields, "EventTime": int(self.clock() * 1000)}

    async def before(
        self, command: str, body: dict[str, Any], check_msg_body: Callable[[Any], bool]
    ) -> Decision:
        """Send a before callback, wait for the answer (at most ``timeout``) and decide."""
        return await self._post(command, body, lambda a: decide(command, a, check_msg_body))

    def enqueue(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Queue after callbacks and make sure a task on this event loop delivers them."""
        if not events:
            return
        token = object()
        with self._lock:
            outbox = self._outbox
            outbox.events.extend(events)
            worker = outbox.worker
            stale = worker is not None and (worker.done() or worker.get_loop().is_closed())
            if outbox.draining and not stale:
                return  # the running worker will deliver these too
            outbox.draining, outbox.token, outbox.worker = True, token, None
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            library = ""
        if library == "trio":
            import trio

            trio.lowlevel.spawn_system_task(self._drain, token)
        else:
            task = asyncio.get_running_loop().create_task(self._drain(token))
            with self._lock:
                if outbox.token is token:
                    outbox.worker = task

    async def idle(self) -> None:
        """Wait until every queued after callback was delivered (or given up on)."""
        while True:
            with self._lock:
                if not self._outbox.events and not self._outbox.draining:
                    return
            await anyio.sleep(0.002)

    async def _drain(self, token: object) -> None:
        outbox = self._outbox
        try:
            while True:
                with self._lock:
                    if outbox.token is not token:
                        return  # replaced by a newer worker (this one's loop went away)
                    if not outbox.events:
                        # Stop in the same locked step that saw the queue empty, so an event
                        # queued right after starts a new worker instead of being stranded.
                        outbox.draining, outbox.worker = False, None
                        return
                    command, body = outbox.events.popleft()
                await self._post(command, body, None)
        except BaseException:
            with self._lock:
                if outbox.token is token:
                    outbox.draining, outbox.worker = False, None
            raise

    async def _post(
        self,
        command: str,
        body: dict[str, Any],
        interpret: Callable[[Mapping[str, Any]], Decision] | None,
    ) -> Decision:
        query = {
            "SdkAppid": str(self.sdkappid),
            "CallbackCommand": command,
            "contenttype": "json",
            "ClientIP": "127.0.0.1",
            "OptPlatform": "RESTAPI",
        }
        if self.token is not None:
            request_time = str(int(self.clock()))
            query.update(Sign=sign(self.token, request_time), RequestTime=request_time)
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        status: int | None = None
        answer: Any = None
        error: str | None = None
        decision = ALLOW
        started = time.perf_counter()
        with anyio.move_on_after(self.timeout) as scope:
            try:
                async with self._client() as client:
                    response = await client.post(
                        self.url,
                        params=query,
                        content=content,
                        headers={"content-type": "application/json"},
                    )
                status = response.status_code
            except (httpx.HTTPError, OSError) as exc:
                error = f"transport: {type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        if scope.cancelled_caught:
            error = "timeout"
        elif status is not None:
            try:
                answer = json.loads(response.content)
            except ValueError:
                answer = None
            if status != 200:
                error = f"HTTP {status}"
            elif not isinstance(answer, dict):
                error = "not a JSON object"
            elif interpret is not None:
                decision = interpret(answer)
        record = WebhookRecord(
            command=command,
            query=query,
            body=body,
            status=status,
            answer=answer,
            elapsed=elapsed,
            error=error,
            decision=decision.name if interpret is not None else "notified",
        )
        with self._lock:
            self.log.append(record)
        return decision

    def _client(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(self.timeout)
        if self.app is not None:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            return httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False)
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return httpx.AsyncClient(verify=self._ssl, timeout=timeout, trust_env=False)
