"""The dispatcher: one handler per event class, a deadline, and a safe default answer.

Tencent waits at most 2 s for an answer and then lets the action proceed (reference §1.5). So a
handler gets ``deadline`` seconds (1.5 by default); one that runs longer, raises, or returns an
answer its event does not accept is answered ``Allow()`` at once, and the ``tim_oa.webhooks``
logger says why (WARNING for the deadline, ERROR for the others). An event without a handler is
answered ``Allow()`` too. Bad requests (signature, app id, body …) raise ``WebhookError`` from
:meth:`WebhookRouter.handle`; the ASGI app turns that into a 4xx answer.
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
from typing import Any, Final, TypeAlias, TypeVar, Union

import anyio
import anyio.to_thread
import attrs

from .._errors import ValidationError, WebhookError
from .._observe import Observer, check_observers, make_hub, start_hook
from ._answers import Allow, Answer
from ._asgi import DEFAULT_MAX_BODY_BYTES, WebhookApp
from ._events import EVENT_TYPES, Event
from ._parse import BodyLike, QueryLike, UnknownCommand, _check_options, parse

logger = logging.getLogger("tim_oa.webhooks")

H = TypeVar("H", bound=Callable[..., Any])
#: What a handler may be: ``(event) -> Answer | None``, sync (run in a worker thread) or async.
Handler: TypeAlias = Callable[[Any], Answer | Awaitable[Answer | None] | None]

DEFAULT_DEADLINE: Final = 1.5


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
        token: the callback authentication token from the console; ``None`` skips the check.
        deadline: seconds a handler may run before ``Allow()`` is answered for it (below
            Tencent's 2 s timeout, which leaves time for the network).
        max_skew: seconds ``RequestTime`` may be off, either way (``None``: no freshness check).
        strict: read callbacks strictly (see :func:`parse_event`).
        allow_unknown_commands: answer ``Allow()`` to an authenticated callback whose command
            is not an Official Account one (the callback URL is shared by every callback of the
            app: group, one-to-one …) instead of raising ``WebhookError(reason="command")``.
        clock: the wall clock for ``RequestTime`` (default ``time.time``).
        observers: :class:`tim_oa.Observer` instances told of each callback and its answer.
    """

    def __init__(
        self,
        sdkappid: int,
        token: str | None = None,
        *,
        deadline: float = DEFAULT_DEADLINE,
        max_skew: float | None = 60.0,
        strict: bool = False,
        allow_unknown_commands: bool = False,
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
        self.sdkappid = sdkappid
        self.deadline = float(deadline)
        self.max_skew = max_skew
        self.strict = strict
        self.allow_unknown_commands = allow_unknown_commands
        self._clock = clock or time.time
        self._handlers: dict[type[Event], _Registered] = {}
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
            ValidationError: not an event class, a second handler for the same event, or a
                return annotation the event cannot accept.
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
        if not callable(func):
            raise ValidationError("the handler must be callable", field="handler")
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
            if isinstance(event, UnknownCommand) and not self.allow_unknown_commands:
                raise WebhookError(
                    f"{event.command[:80]!r} is not an Official Account callback", reason="command"
                )
        except WebhookError as exc:
            if hook is not None:
                hook.answered("rejected", exc.reason, "")
            raise
        if isinstance(event, UnknownCommand):
            logger.debug("answered Allow to the callback %r (not ours)", event.command[:80])
            if hook is not None:
                hook.answered("Allow", "not_ours", event.command[:80])
            return Allow().to_wire()
        if hook is None:
            return (await self.dispatch(event)).to_wire()
        hook.received(event.command, type(event).__name__)
        answer, outcome = await self._dispatch(event)
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
        if registered is None:
            return Allow(), "no_handler"
        result: Any = None
        try:
            with anyio.move_on_after(self.deadline) as scope:
                result = await _run(registered, event)
        except Exception:
            logger.exception(
                "webhook handler %s raised on %s; answered Allow", registered.name, event.command
            )
            return Allow(), "error"
        if scope.cancelled_caught:
            logger.warning(
                "webhook handler %s ran past the %.2f s deadline on %s; answered Allow",
                registered.name,
                self.deadline,
                event.command,
            )
            return Allow(), "deadline"
        if result is None:
            return Allow(), "handler"
        if not isinstance(result, event.answers):
            accepted = ", ".join(a.__name__ for a in event.answers)
            logger.error(
                "webhook handler %s returned %s on %s, which accepts only %s; answered Allow",
                registered.name,
                type(result).__name__,
                event.command,
                accepted,
            )
            return Allow(), "bad_answer"
        return result, "handler"

    def asgi_app(self, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> WebhookApp:
        """An ASGI app that answers callbacks with this router (see :class:`WebhookApp`)."""
        return WebhookApp(self, max_body_bytes=max_body_bytes)


async def _run(registered: _Registered, event: Event) -> Any:
    if registered.is_async:
        return await registered.func(event)
    result = await anyio.to_thread.run_sync(registered.func, event, abandon_on_cancel=True)
    if inspect.isawaitable(result):  # a plain callable that hands back a coroutine
        result = await result
    return result


def _name(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__qualname__", None) or type(func).__qualname__)
