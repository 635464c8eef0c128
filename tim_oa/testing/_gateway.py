"""The REST gateway: signature check, rate limit, faults, routing, the envelope, the request log.

The in-process transport, the ASGI app and the socket server are thin adapters over one
``Gateway``: each hands it the raw method, path, query and body, and sends back its ``Reply``.

Every request goes through these stages, in order; the first failure answers (always HTTP 200 with
a ``FAIL`` envelope, as the real gateway does; never an HTTP 500):

0. body size: a body over ``max_body_bytes`` (``MAX_BODY_BYTES``, 1 MiB, by default) is refused
   with 60002 before anything else, without reading the rest of it (INFERRED code: the reference
   names no size limit; 60002 is "HTTP parse error");
1. path ``/v4/official_account_open_http_svc/{command}``, ``/v4/im_open_login_svc/{command}``
   for the four account commands (import, check, delete), or ``/v4/ConfigSvc/GetIPList`` → else
   60009;
2. method POST → else 60002 (INFERRED; the reference allows 60002 or 60008);
3. query: ``sdkappid`` missing or empty → 60012, not this app (or not a decimal number) → 60006;
   ``identifier`` not an admin → 60010; ``usersig`` missing or empty → 70002, then the UserSig
   checks (70003/70013/70014/70001/70009); ``random`` not a u32 in decimal → 60002;
   ``contenttype`` other than ``json`` → 60002. Parameter names and values are case-sensitive;
4. command not one of the service's (the twelve, or the four account commands) → 10003
   (INFERRED: checked after authentication, as a backend service would);
5. per-command rate limit → 60007 (the account commands: their own documented rates, capped by
   the emulator's ``rate_limit``);
6. Official Accounts disabled → 131000 (not for the account commands, which are not theirs);
7. body: empty, not JSON, nested too deeply to parse, holding a lone surrogate (not encodable
   as UTF-8), or not a JSON object → 60003 (INFERRED for the empty body: it is not valid JSON and
   the docs require ``{}``);
8. faults (see ``_faults``), then the command itself, with its webhooks (see ``_webhooks``):
   a before callback is awaited with the lock released, after callbacks are queued once the
   request is answered.

An unexpected exception inside the emulator answers 10002 (internal error) and is logged on the
``tim_oa.testing`` logger, rather than an HTTP 500 with a traceback.

``MAX_BODY_BYTES`` is 1 MiB, about 14 times the largest legal request: a ``MsgBody`` at its 12 KB
limit (12,288 bytes of compact UTF-8 JSON) can grow at most six-fold when a client escapes every
byte as a six-character escape, i.e. 72 KiB, and no other command comes close (100 subscriber ids
of 32 bytes are about 22 KB even fully escaped; a profile's five texts 4,550 bytes unescaped).
"""

from __future__ import annotations

import collections
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .. import _limits as L
from .._codes import ErrorCode as C
from ._backend import Backend
from ._failure import Failure
from ._faults import FaultAction, FaultInjector
from ._handlers import OA_SERVICE, SERVICES, Call, Pending, Result, execute, is_valid_msg_body
from ._ratelimit import CommandRateLimiter
from ._usersig import UserSigVerifier
from ._webhooks import WebhookSender

PATH_PREFIX: Final = f"/v4/{OA_SERVICE}/"
_PATH_RE: Final = re.compile(r"/v4/([A-Za-z0-9_]+)/([A-Za-z0-9_]+)")
_DECIMAL_RE: Final = re.compile(r"[0-9]{1,20}")
_JSON_HEADERS: Final = ((b"content-type", b"application/json"),)
MAX_BODY_BYTES: Final = 1024 * 1024
"""The default cap on a request body (see the module docstring for how it was sized)."""
STAT_NAMES: Final = ("requests", "rate_limited", "send_paced", "hourly_cap", "faults")
"""The counters of ``Emulator.stats``."""
_STAT_OF_CODE: Final = {
    int(C.REST_RATE_LIMITED): "rate_limited",
    int(C.TOO_MANY_REQUESTS): "send_paced",
    int(C.TOO_MANY_REQUESTS_2): "hourly_cap",
}
_logger = logging.getLogger("tim_oa.testing")


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator answered over HTTP (``Emulator.call`` is not logged).

    Attributes:
        time: arrival time by the emulator's clock.
        method: the HTTP method.
        path: the URL path.
        command: the command named by the path, or None when the path is not an OA URL.
        query: the query parameters (first value of each); the ``usersig`` value is replaced by
            ``"<redacted>"``.
        body: the parsed JSON body, or None when it was not valid JSON (or not read).
        http_status: the HTTP status sent (200 for every envelope).
        error_code: the ``ErrorCode`` of the envelope sent, or None when none was sent (an HTTP
            fault or a dropped connection).
        request_id: the envelope's ``RequestId``.
        executed: whether the command ran (its effects, if any, are kept).
        fault: ``"error"``, ``"http"`` or ``"drop"`` when a fault was injected, else None.
    """

    time: float
    method: str
    path: str
    command: str | None
    query: Mapping[str, str]
    body: Any
    http_status: int
    error_code: int | None
    request_id: str | None
    executed: bool
    fault: str | None

    @property
    def dropped(self) -> bool:
        """Whether the connection was dropped instead of answering."""
        return self.fault == "drop"


@dataclass(frozen=True)
class Reply:
    """What to send back: status, headers, body, and how."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    drop: bool = False
    delay: float = 0.0


def _encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _envelope(request_id: str, code: int, info: str, fields: Mapping[str, Any]) -> bytes:
    document: dict[str, Any] = {
        "ActionStatus": "OK" if code == 0 else "FAIL",
        "ErrorInfo": info,
        "ErrorCode": code,
        "RequestId": request_id,
    }
    document.update(fields)
    return _encode(document)


@dataclass
class _Exchange:
    """One request on its way through the gateway."""

    method: str
    path: str
    now: float
    request_id: str
    command: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    executed: bool = False
    fault: FaultAction | None = None
    after_fault: FaultAction | None = None
    delay: float = 0.0
    call: Call = field(default_factory=lambda: Call(""))
    pending: Pending | None = None
    code: int = 0
    info: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)


class Gateway:
    """Turns one raw HTTP request into a ``Reply``, under the emulator's lock."""

    def __init__(
        self,
        *,
        sdkappid: int,
        admins: Collection[str],
        verifier: UserSigVerifier,
        backend: Backend,
        injector: FaultInjector,
        limiter: CommandRateLimiter | None,
        lock: threading.Lock,
        log_size: int | None,
        service_enabled: bool = True,
        max_body_bytes: int = MAX_BODY_BYTES,
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.sdkappid = sdkappid
        self.admins = frozenset(admins)
        self.verifier = verifier
        self.backend = backend
        self.injector = injector
        self.limiter = limiter
        self.service_enabled = service_enabled
        self.lock = lock
        self.max_body_bytes = max_body_bytes
        self.webhooks = webhooks
        self.requests: collections.deque[RequestRecord] = collections.deque(maxlen=log_size)
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        self._request_count = 0

    def reset(self) -> None:
        """Forget the request log, the counters and the rate-limit buckets."""
        self.requests.clear()
        self.stats = dict.fromkeys(STAT_NAMES, 0)
        self._request_count = 0
        if self.limiter is not None:
            self.limiter.reset()

    async def handle(
        self, method: str, path: str, raw_query: bytes, raw_body: bytes | None
    ) -> Reply:
        """Answer one request; ``raw_body`` None means the body was over ``max_body_bytes``.

        Runs under the emulator's lock, except while a before callback is awaited: the request
        is checked and planned (locked), the webhook answers (unlocked), and the command is
        applied (locked again, re-checking the state).
        """
        with self.lock:
            exchange = self._start(method, path, raw_query, raw_body)
        pending = exchange.pending
        if pending is not None and self.webhooks is not None:
            body = self.webhooks.body(pending.command, pending.fields)
            decision = await self.webhooks.before(pending.command, body, is_valid_msg_body)
            with self.lock:
                self._run(exchange, lambda: pending.finish(decision))
        with self.lock:
            reply = self._end(exchange)
        if self.webhooks is not None and exchange.call.events:
            self.webhooks.enqueue(
                [(cmd, self.webhooks.body(cmd, fields)) for cmd, fields in exchange.call.events]
            )
        return reply

    def _start(self, method: str, path: str, raw_query: bytes, raw_body: bytes | None) -> _Exchange:
        """Every stage up to the command, and the command itself unless it awaits a webhook."""
        self.stats["requests"] += 1
        self._request_count += 1
        exchange = _Exchange(
            method=method,
            path=path,
            now=self.backend.clock(),
            request_id=f"Id-{self._request_count:032x}-O-Seq-{self._request_count}",
        )

        def stages() -> Result:
            if raw_body is None:
                raise Failure(
                    C.HTTP_PARSE_ERROR,
                    f"the request body is over the {self.max_body_bytes}-byte limit",
                )
            service, command = self._route(path)
            exchange.command = command
            if method != "POST":
                raise Failure(C.HTTP_PARSE_ERROR, f"method {method} not allowed; use POST")
            query = exchange.query = self._parse_query(raw_query)
            self._check_query(query, exchange.now)
            if command not in SERVICES[service]:
                raise Failure(C.INVALID_COMMAND, f"unknown command {command!r}")
            if self.limiter is not None and not self.limiter.try_acquire(command, exchange.now):
                raise Failure(C.REST_RATE_LIMITED, f"{command} call frequency over limit")
            if service == OA_SERVICE and not self.service_enabled:
                raise Failure(
                    C.OA_SERVICE_NOT_ENABLED, "Official Accounts are not enabled for this app"
                )
            body = exchange.body = self._parse_body(raw_body)
            plan = self.injector.plan(command)
            exchange.delay, exchange.fault = plan.latency, plan.before
            if exchange.fault is not None:
                return {}
            exchange.executed = True
            exchange.after_fault = plan.after
            exchange.call = Call(query["identifier"], webhooks=self.webhooks is not None)
            return execute(self.backend, command, body, exchange.call)

        self._run(exchange, stages)
        return exchange

    def _run(self, exchange: _Exchange, step: Callable[[], Result]) -> None:
        """Run a step; keep its answer, its ``Pending`` or its error code on the exchange."""
        exchange.pending = None
        try:
            result = step()
        except Failure as failure:
            exchange.code, exchange.info, exchange.fields = failure.code, failure.info, {}
        except Exception as exc:  # an emulator bug must still get an envelope
            _logger.exception("emulator internal error on %s", exchange.command)
            exchange.code, exchange.fields = int(C.INTERNAL_ERROR), {}
            exchange.info = f"emulator internal error: {exc!r}"
        else:
            if isinstance(result, Pending):
                exchange.pending = result
            else:
                exchange.code, exchange.info, exchange.fields = 0, "", result
        if exchange.code != 0:
            exchange.call.events.clear()  # a failed request causes no callback

    def _end(self, exchange: _Exchange) -> Reply:
        """Build the reply, count it and log it."""
        fault = exchange.fault or (exchange.after_fault if exchange.executed else None)
        code = exchange.code
        reply = self._reply(
            exchange.request_id, code, exchange.info, exchange.fields, fault, exchange.delay
        )
        if fault is not None:
            self.stats["faults"] += 1
        if fault is not None and fault.kind == "error":
            code = fault.code
        elif fault is None and code in _STAT_OF_CODE:
            self.stats[_STAT_OF_CODE[code]] += 1
        self.requests.append(
            RequestRecord(
                time=exchange.now,
                method=exchange.method,
                path=exchange.path,
                command=exchange.command,
                query={
                    k: ("<redacted>" if k == "usersig" else v) for k, v in exchange.query.items()
                },
                body=exchange.body,
                http_status=reply.status,
                error_code=None if fault is not None and fault.kind != "error" else code,
                request_id=None if reply.drop or reply.status != 200 else exchange.request_id,
                executed=exchange.executed,
                fault=None if fault is None else fault.kind,
            )
        )
        return reply

    @staticmethod
    def _reply(
        request_id: str,
        code: int,
        info: str,
        fields: Mapping[str, Any],
        fault: FaultAction | None,
        delay: float,
    ) -> Reply:
        if fault is not None and fault.kind == "http":
            headers = ((b"content-type", b"text/html"),) if fault.body else ()
            return Reply(fault.http_status, headers, fault.body, delay=delay)
        if fault is not None and fault.kind == "error":
            code, info, fields = fault.code, "injected fault", {}
        payload = _envelope(request_id, code, info, fields)
        if fault is not None and fault.kind == "drop":
            # Declare the full length but send only half: the server must abort the connection
            # and the client sees a truncated response (see EmulatorApp).
            return Reply(200, _JSON_HEADERS, payload, drop=True, delay=delay)
        return Reply(200, _JSON_HEADERS, payload, delay=delay)

    @staticmethod
    def _route(path: str) -> tuple[str, str]:
        """The ``(service, command)`` a path names; 60009 for any other path."""
        match = _PATH_RE.fullmatch(path)
        if match is None or match.group(1) not in SERVICES:
            raise Failure(C.BAD_RESOURCE, "request resource error: not an Official Account URL")
        return match.group(1), match.group(2)

    @staticmethod
    def _parse_query(raw_query: bytes) -> dict[str, str]:
        try:
            pairs = urllib.parse.parse_qsl(
                raw_query.decode("ascii"), keep_blank_values=True, errors="strict"
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise Failure(C.HTTP_PARSE_ERROR, "the query string cannot be parsed") from exc
        query: dict[str, str] = {}
        for key, value in pairs:
            query.setdefault(key, value)  # the first occurrence wins (INFERRED)
        return query

    def _check_query(self, query: Mapping[str, str], now: float) -> None:
        raw_appid = query.get("sdkappid", "")
        if not raw_appid:
            raise Failure(C.SDKAPPID_MISSING, "sdkappid is missing from the URL")
        if not _DECIMAL_RE.fullmatch(raw_appid) or int(raw_appid) != self.sdkappid:
            raise Failure(C.SDKAPPID_INVALID, "sdkappid is not valid for this service")
        identifier = query.get("identifier", "")
        if identifier not in self.admins:
            raise Failure(C.ADMIN_REQUIRED, "identifier must be an App admin account")
        usersig = query.get("usersig", "")
        if not usersig:
            raise Failure(C.USERSIG_EMPTY, "usersig is missing or empty")
        self.verifier.verify(usersig, identifier=identifier, sdkappid=self.sdkappid, now=now)
        raw_random = query.get("random", "")
        if not _DECIMAL_RE.fullmatch(raw_random) or int(raw_random) > L.U32_MAX:
            raise Failure(C.HTTP_PARSE_ERROR, "random must be an unsigned 32-bit integer")
        if query.get("contenttype") != "json":
            raise Failure(C.HTTP_PARSE_ERROR, "contenttype must be json")

    @staticmethod
    def _parse_body(raw_body: bytes) -> dict[str, Any]:
        if not raw_body.strip():
            raise Failure(C.JSON_PARSE_ERROR, "the request body is empty; send {} at least")
        try:
            body = json.loads(raw_body)
        except ValueError as exc:  # also covers UnicodeDecodeError
            raise Failure(C.JSON_PARSE_ERROR, "the request body is not valid JSON") from exc
        except RecursionError as exc:
            raise Failure(C.JSON_PARSE_ERROR, "the request body is nested too deeply") from exc
        if not isinstance(body, dict):
            raise Failure(C.JSON_PARSE_ERROR, "the request body must be a JSON object")
        try:
            # JSON may spell a lone surrogate (an escaped D800) that no UTF-8 text can hold;
            # every later stage encodes strings as UTF-8, so refuse it here.
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Failure(C.JSON_PARSE_ERROR, "the request body holds a lone surrogate") from exc
        except RecursionError as exc:
            raise Failure(C.JSON_PARSE_ERROR, "the request body is nested too deeply") from exc
        return body
