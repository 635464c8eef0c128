"""The dispatcher: one handler per event class, a deadline, and a safe default answer.

Tencent waits at most 2 s for an answer and then lets the action proceed (reference §1.5). So a
handler gets ``deadline`` seconds (1.5 by default). A "before" callback whose handler has not
answered by then (it is still running, or it never ran because every worker thread stayed busy)
is answered per ``on_timeout``: ``"refuse"`` by default (fail closed, ``Refuse()``), or
``"allow"``; an "after" callback ``Allow()``. A handler that raises or returns an answer its
event does not accept is answered ``Allow()``. The ``tim_oa.webhooks`` logger says why (WARNING
for the deadline, ERROR for the others).

A plain (sync) handler runs in one of the router's own worker threads (``max_threads``, 40 by
default, its own ``anyio.CapacityLimiter``, shared with nothing else), held until the handler
returns, even one abandoned at the deadline.

A callback without a handler (an Official Account one nobody registered, or another product's:
``C2C.CallbackBeforeSendMsg``, ``State.StateChange`` …, since one URL serves all of an app's
callbacks) goes to the :meth:`WebhookRouter.fallback` handler as a :class:`RawCallback`, or is
answered the OK envelope (``Allow()``). Bad requests (signature, app id, body …) raise
``WebhookError`` from :meth:`WebhookRouter.handle`; the ASGI app turns that into a 4xx answer.
"""

from __future__ import annotations

import collections.abc
import inspect
import logging
import math
import time
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, Literal, TypeAlias, TypeVar, Union

import anyio
import anyio.from_thread
import anyio.to_thread
import attrs
from anyio.lowlevel import RunVar

from .._errors import ValidationError, WebhookError
from .._observe import Observer, check_observers, make_hub, start_hook
from ._answers import Allow, Answer, Refuse
from ._asgi import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES, WebhookApp
from ._events import EVENT_TYPES, Event
from ._parse import BodyLike, QueryLike, RawCallback, _check_options, authenticate, parse
from ._threads import Borrower, soon_in_this_loop

logger = logging.getLogger("tim_oa.webhooks")

H = TypeVar("H", bound=Callable[..., Any])
#: What a handler may be: ``(event) -> Answer | None``, sync (run in a worker thread) or async.
Handler: TypeAlias = Callable[[Any], Answer | Awaitable[Answer | None] | None]

DEFAULT_DEADLINE: Final = 1.5
#: Worker threads a router runs sync handlers in at once (anyio's own default, but not shared).
DEFAULT_MAX_THREADS: Final = 40
OnTimeout: TypeAlias = Literal["refuse", "allow"]


@attrs.frozen
class _Registered:
    func: Callable[[Any], Any]
    is_async: bool
    name: str


def _is_async(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


def _members(hint: Any) -> list[Any]:
    """The classes a return annotation allows (unions and awaitables unpacked)."""
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return [m for arg in typing.get_args(hint) for m in _members(arg)]
    if origin in (collections.abc.Awaitable, collections.abc.Coroutine):
        args = typing.get_args(hint)
        return _members(args[-1]) if args else []
    return [hint]


def _arity_problem(func: Callable[..., Any]) -> str:
    """Why ``func`` cannot be called with the event alone ("" when it can, or cannot be told)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # a builtin without a signature: trusted
        return ""
    try:
        signature.bind(object())
    except TypeError:
        return f"cannot be called with one positional argument (the event): {signature}"
    return ""


def _annotation_problem(func: Callable[..., Any], event_types: tuple[type[Event], ...]) -> str:
    """Why the handler's return annotation cannot fit its events ("" when it can, or is absent)."""
    target = func if inspect.isroutine(func) else getattr(func, "__call__", func)  # noqa: B004
    try:
        hint = typing.get_type_hints(target).get("return", Any)
    except Exception:  # an unresolvable annotation: checked at return time instead
        return ""
    for member in _members(hint):
        member = typing.get_origin(member) or member  # dict[str, Any] -> dict
        if member in (type(None), Any, Answer) or not isinstance(member, type):
            continue
        if not issubclass(member, Answer):
            return f"is annotated to return {member.__name__}; handlers return an Answer or None"
        for event_type in event_types:
            if not issubclass(member, event_type.answers):
                accepted = ", ".join(a.__name__ for a in event_type.answers)
                return (
                    f"may return {member.__name__}, which {event_type.__name__} does not accept "
                    f"(it accepts {accepted})"
                )
    return ""


class WebhookRouter:
    """Receives callbacks for one app: checks them, runs your handler, returns the answer.

    Args:
        sdkappid: your app id (``SdkAppid`` must equal it).
        token: the callback authentication token from the console; ``None`` skips the check
            (a blank or whitespace token is refused).
        deadline: seconds a handler may take before ``on_timeout`` answers for it (below
            Tencent's 2 s timeout, which leaves time for the network).
        max_skew: seconds ``RequestTime`` may be off, either way (``None``: no freshness check).
        strict: read callbacks strictly (see :func:`parse_event`).
        allow_unknown_commands: answer the OK envelope (``Allow()``) to an authenticated
            callback whose command is not an Official Account one (the callback URL is shared
            by every callback of the app: group, one-to-one, state …); the default. ``False``
            raises ``WebhookError(reason="command")`` for them instead.
        on_timeout: what a "before" callback is answered when its handler has not answered
            within the deadline (still running, or never started because every worker thread
            was busy): ``"refuse"`` (default, fail closed: ``Refuse()``) or ``"allow"`` (fail
            open, what Tencent itself does when no answer comes).
        max_threads: worker threads for sync handlers (the router's own limiter).
        clock: the wall clock for ``RequestTime`` (default ``time.time``).
        observers: :class:`tim_oa.Observer` instances told of each callback and its answer.

    Raises:
        ValidationError: an option is not valid.
    """

    def __init__(
        self,
        sdkappid: int,
        token: str | None = None,
        *,
        deadline: float = DEFAULT_DEADLINE,
        max_skew: float | None = 60.0,
        strict: bool = False,
        allow_unknown_commands: bool = True,
        on_timeout: OnTimeout = "refuse",
        max_threads: int = DEFAULT_MAX_THREADS,
        clock: Callable[[], float] | None = None,
        observers: Iterable[Observer] | None = None,
    ) -> None:
        problem = _check_options(sdkappid, token, max_skew, None)
        self._token = token
        del token
        if problem is not None:
            raise problem
        if (
            isinstance(deadline, bool)
            or not isinstance(deadline, (int, float))
            or not math.isfinite(deadline)
            or deadline <= 0
        ):
            raise ValidationError("deadline must be a positive number of seconds", field="deadline")
        if on_timeout not in ("refuse", "allow"):
            raise ValidationError('on_timeout must be "refuse" or "allow"', field="on_timeout")
        if isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1:
            raise ValidationError("max_threads must be a positive int", field="max_threads")
        for name, flag in (("strict", strict), ("allow_unknown_commands", allow_unknown_commands)):
            if not isinstance(flag, bool):
                raise ValidationError(f"{name} must be a bool", field=name)
        if clock is not None and not callable(clock):
            raise ValidationError("clock must be callable", field="clock")
        self.sdkappid = sdkappid
        self.deadline = float(deadline)
        self.max_skew = max_skew
        self.strict = strict
        self.allow_unknown_commands = allow_unknown_commands
        self.on_timeout: OnTimeout = on_timeout
        self.max_threads = max_threads
        self._threads: RunVar[anyio.CapacityLimiter] = RunVar("tim_oa.webhooks.threads")
        self._clock = clock or time.time
        self._handlers: dict[type[Event], _Registered] = {}
        self._fallback: _Registered | None = None
        self._hub = make_hub(check_observers(observers))

    def __repr__(self) -> str:
        events = ", ".join(cls.__name__ for cls in self._handlers)
        token = "<set>" if self._token is not None else None
        return f"WebhookRouter(sdkappid={self.sdkappid}, token={token}, handlers=[{events}])"

    @property
    def handlers(self) -> Mapping[type[Event], Callable[[Any], Any]]:
        """The registered handlers by event class (a read-only view)."""
        return types.MappingProxyType({cls: r.func for cls, r in self._handlers.items()})

    def on(self, *event_types: type[Event]) -> Callable[[H], H]:
        """Register the decorated function as the handler of one or more event classes.

        The handler takes the event and returns an :class:`Answer` (or ``None`` for ``Allow()``);
        it may be ``async`` or plain (a plain one runs in a worker thread, abandoned at the
        deadline). Its return annotation, when present, is checked against what each event
        accepts (``Event.answers``), so ``Refuse`` on an "after" event fails here.

        Raises:
            ValidationError: not an event class, a second handler for the same event, a handler
                that cannot be called with the event alone, or a return annotation the event
                cannot accept.
        """
        for event_type in event_types:
            if not (isinstance(event_type, type) and event_type in EVENT_TYPES.values()):
                raise ValidationError(
                    f"{event_type!r} is not one of the webhook event classes", field="event_types"
                )
        if not event_types:
            raise ValidationError("name at least one event class", field="event_types")

        def register(func: H) -> H:
            self.add_handler(func, *event_types)
            return func

        return register

    def add_handler(self, func: Handler, *event_types: type[Event]) -> None:
        """Register ``func`` for ``event_types`` (what :meth:`on` does, without a decorator)."""
        _check_handler(func)
        problem = _annotation_problem(func, event_types)
        if problem:
            raise ValidationError(f"handler {_name(func)} {problem}", field="handler")
        for event_type in event_types:
            if event_type in self._handlers:
                raise ValidationError(
                    f"{event_type.__name__} already has a handler "
                    f"({self._handlers[event_type].name})",
                    field="handler",
                )
        registered = _Registered(func, _is_async(func), _name(func))
        for event_type in event_types:
            self._handlers[event_type] = registered

    def fallback(self, func: H) -> H:
        """Register ``func`` for every callback without a handler of its own (a decorator too).

        It gets a :class:`RawCallback` (``command``, ``body`` dict, ``context``), verified like
        any callback, for Official Account commands nobody registered and, unless
        ``allow_unknown_commands=False``, for other products' callbacks. It returns an
        :class:`Answer` or ``None`` (``Allow()``); for an Official Account command the answer
        must be one its event accepts. The deadline and ``on_timeout`` apply as for handlers.

        Raises:
            ValidationError: not callable with one argument, or a fallback is already set.
        """
        _check_handler(func)
        if self._fallback is not None:
            raise ValidationError(
                f"the router already has a fallback ({self._fallback.name})", field="handler"
            )
        self._fallback = _Registered(func, _is_async(func), _name(func))
        return func

    def check_query(self, query: QueryLike) -> None:
        """Authenticate a callback's query alone (app id, ``Sign``, ``RequestTime``).

        The ASGI app calls it before reading the body.

        Raises:
            WebhookError: reason ``"query"``, ``"sdkappid"``, ``"signature"`` or ``"stale"``.
        """
        authenticate(
            query,
            sdkappid=self.sdkappid,
            token_box=[self._token],
            max_skew=self.max_skew,
            now=self._clock(),
        )

    async def handle(self, query: QueryLike, body: BodyLike) -> dict[str, Any]:
        """Check one callback request, run its handler, and return the JSON answer to send.

        ``query`` and ``body`` are what :func:`parse_event` takes.

        Raises:
            WebhookError: the request cannot be accepted (no handler has run).
        """
        hook = start_hook(self._hub)  # tim_oa._observe: None unless someone listens
        try:
            event = parse(
                query,
                body,
                sdkappid=self.sdkappid,
                token_box=[self._token],
                max_skew=self.max_skew,
                now=self._clock(),
                strict=self.strict,
            )
            if isinstance(event, RawCallback) and not self.allow_unknown_commands:
                raise WebhookError(
                    f"{event.command[:80]!r} is not an Official Account callback", reason="command"
                )
        except WebhookError as exc:
            if hook is not None:
                hook.answered("rejected", exc.reason, "")
            raise
        if isinstance(event, RawCallback):
            if self._fallback is None:
                logger.debug("answered OK to the callback %r (no handler)", event.command[:80])
                if hook is not None:
                    hook.answered("Allow", "not_ours", event.command[:80])
                return Allow().to_wire()
            before = "before" in event.command.lower()
            answer, outcome = await self._call(
                self._fallback, event, event.command, (Answer,), before
            )
        else:
            if hook is not None:
                hook.received(event.command, type(event).__name__)
            answer, outcome = await self._dispatch(event)
        if hook is not None:
            hook.answered(type(answer).__name__, outcome)
        return answer.to_wire()

    async def dispatch(self, event: Event) -> Answer:
        """Run the event's handler under the deadline and return its answer (or ``Allow()``).

        Useful in tests: build an event by hand and see what your router answers.
        """
        return (await self._dispatch(event))[0]

    async def _dispatch(self, event: Event) -> tuple[Answer, str]:
        """:meth:`dispatch`, and which way the answer came (``WebhookAnswered.outcome``)."""
        registered = next(
            (self._handlers[c] for c in type(event).__mro__ if c in self._handlers), None
        )
        before = event.answers != (Allow,)
        if registered is not None:
            return await self._call(registered, event, event.command, event.answers, before)
        if self._fallback is not None:
            raw = RawCallback(event.command, dict(event.raw), event.context)
            return await self._call(self._fallback, raw, event.command, event.answers, before)
        return Allow(), "no_handler"

    async def _call(
        self,
        registered: _Registered,
        arg: Any,
        command: str,
        answers: tuple[type[Answer], ...],
        before: bool,
    ) -> tuple[Answer, str]:
        """Run one handler under the deadline; its answer and which way it came (an outcome)."""
        started: list[bool] = []
        result: Any = None
        try:
            with anyio.move_on_after(self.deadline) as scope:
                result = await self._run(registered, arg, started)
        except Exception:
            logger.exception(
                "webhook handler %s raised on %s; answered Allow", registered.name, command
            )
            return Allow(), "error"
        if scope.cancelled_caught:
            answer: Answer = Refuse() if before and self.on_timeout == "refuse" else Allow()
            why = (
                f"never ran: all {self.max_threads} worker threads stayed busy for"
                if not started
                else "ran past"
            )
            logger.warning(
                "webhook handler %s %s the %.2f s deadline on %s; answered %s (on_timeout=%r)",
                registered.name,
                why,
                self.deadline,
                command,
                type(answer).__name__,
                self.on_timeout,
            )
            return answer, "deadline"
        if result is None:
            return Allow(), "handler"
        if not isinstance(result, answers):
            accepted = ", ".join(a.__name__ for a in answers)
            logger.error(
                "webhook handler %s returned %s on %s, which accepts only %s; answered Allow",
                registered.name,
                type(result).__name__,
                command,
                accepted,
            )
            return Allow(), "bad_answer"
        return result, "handler"

    async def _run(self, registered: _Registered, arg: Any, started: list[bool]) -> Any:
        if registered.is_async:
            started.append(True)
            return await registered.func(arg)
        result = await self._in_thread(registered.func, arg, started)
        if inspect.isawaitable(result):  # a plain callable that hands back a coroutine
            result = await result
        return result

    async def _in_thread(self, func: Callable[[Any], Any], arg: Any, started: list[bool]) -> Any:
        """Run ``func(arg)`` in a worker thread that holds one of ``max_threads`` slots.

        The slot is taken before the thread starts (waiting for it is cancellable: the handler
        then never runs, not even later) and given back when the handler returns, even one
        abandoned at the deadline, so ``max_threads`` bounds the threads really running.
        """
        try:
            slots = self._threads.get()
        except LookupError:  # the first sync handler in this event loop
            slots = anyio.CapacityLimiter(self.max_threads)
            self._threads.set(slots)
        borrower = Borrower()
        await slots.acquire_on_behalf_of(borrower)
        soon = soon_in_this_loop()

        def in_thread() -> Any:
            with borrower.lock:
                if borrower.state == "abandoned":
                    return None  # answered already: a late start would act on nothing
                borrower.state = "running"
            started.append(True)  # from here on the handler has run, whatever the deadline
            try:
                return func(arg)
            finally:
                # Not waited for: a handler abandoned at the deadline may end after its event
                # loop did, and waiting for a loop that no longer runs would hang this thread
                # (and the interpreter's exit with it).
                soon(lambda: slots.release_on_behalf_of(borrower))

        try:
            return await anyio.to_thread.run_sync(
                in_thread, abandon_on_cancel=True, limiter=anyio.CapacityLimiter(math.inf)
            )
        except BaseException:
            with borrower.lock:
                never_started = borrower.state == "pending"
                borrower.state = "abandoned"
            if never_started:
                slots.release_on_behalf_of(borrower)
            raise

    def asgi_app(
        self,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> WebhookApp:
        """An ASGI app that answers callbacks with this router (see :class:`WebhookApp`)."""
        return WebhookApp(self, max_body_bytes=max_body_bytes, body_timeout=body_timeout)


def _check_handler(func: Any) -> None:
    if not callable(func):
        raise ValidationError("the handler must be callable", field="handler")
    problem = _arity_problem(func)
    if problem:
        raise ValidationError(f"handler {_name(func)} {problem}", field="handler")


def _name(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__qualname__", None) or type(func).__qualname__)
