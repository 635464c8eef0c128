"""tim_oa.SyncSession: every method of :class:`Session`, blocking, for code that is not async.

One private event-loop thread per session (an anyio :class:`BlockingPortal` on a daemon thread,
started on the first call) holds the session's :class:`Session`: its connection pool, limiter,
in-flight bound and UserSig cache. Every thread's call is a coroutine of that one Session handed
to the loop (``asyncio.run_coroutine_threadsafe``: one hand-off each way, the cheapest there is),
so a thousand calls from fifty threads share one pool and one rate budget.

- The methods are made from :class:`Session`'s own: each explicit twin below is typed from the
  async method's parameters (a ``ParamSpec`` taken from it), and at class creation every public
  member of ``Session`` without an explicit twin gets a generated one, so a method added to
  ``Session`` works here at once (``tests/sync/test_twins.py`` asks for its typed line).
- Fork: the process id is noted; a call in a forked child builds a new Session (from the same
  constructor arguments), thread and loop, and never touches the parent's.
- A call inside a running event loop raises :class:`SyncInAsyncError` before anything runs.
- KeyboardInterrupt while waiting cancels the call in the loop thread; ``close()`` ends calls in
  flight with :class:`SessionClosedError`; the thread is a daemon, and a finalizer closes the pool
  (bounded) when the session is collected or the interpreter exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, Concatenate, ParamSpec, TypeVar, cast

from . import _sync_loop as loop
from ._errors import SessionClosedError, SyncInAsyncError
from ._pagination import AsyncPager
from ._session import Session
from ._sync_pager import SyncPager

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - exercised on 3.10
    from typing_extensions import Self

if TYPE_CHECKING:
    from types import TracebackType

P = ParamSpec("P")
T = TypeVar("T")

_IN_LOOP = (
    "a SyncSession cannot be called inside a running event loop: it would block the loop. Use "
    "tim_oa.Session and await its methods (a notebook cell may await directly), or call the "
    "SyncSession from a worker thread (anyio.to_thread.run_sync, asyncio.to_thread)"
)

# --- making the twins ----------------------------------------------------------------------------


class _Names:
    """At run time, ``_S.name`` is the name of a member of Session (see ``_S`` below)."""

    def __getattr__(self, name: str) -> str:
        return name


# For the type checkers ``_S`` is a Session, so ``_S.create_account`` is that bound method and its
# parameters become the twin's (a ParamSpec); at run time it is only the member's name.
_S: Session = cast("Session", _Names())


def _name(member: object) -> str:
    return member if isinstance(member, str) else getattr(member, "__name__", "")


_ATTRIBUTE_DOCS = {
    "sdkappid": "The app's SDKAppID.",
    "identifier": "The admin account the requests are made as.",
    "region": "The :class:`Region`, or None when ``base_url`` was given.",
    "base_url": "Scheme and host the requests go to.",
    "retry": "The :class:`RetryPolicy`.",
    "rate_limit": "Calls per second per command (None: no limiter).",
    "send_rate": "Broadcasts per second per account (None: no pacing).",
}


def _doc(name: str, cls: type = Session) -> str | None:
    doc = getattr(inspect.getattr_static(cls, name, None), "__doc__", None)
    return _ATTRIBUTE_DOCS.get(name) if doc is None or name in _ATTRIBUTE_DOCS else doc


def _describe(function: Any, name: str) -> None:
    """Name a twin and give it the Session member's docstring and parameters (``__wrapped__``)."""
    function.__name__ = function.__qualname__ = name
    function.__doc__ = _doc(name)
    wrapped = inspect.getattr_static(Session, name, None)
    # A classmethod's own function keeps ``cls`` in its signature, which binding drops again.
    wrapped = wrapped.__func__ if isinstance(wrapped, classmethod) else getattr(Session, name, None)
    if wrapped is not None and callable(wrapped):
        function.__wrapped__ = wrapped


def _blocking(member: Callable[P, Coroutine[Any, Any, T]]) -> Callable[Concatenate[Any, P], T]:
    """The twin of an ``async def`` method: run it in the loop thread, return its value."""
    name = _name(member)

    def method(self: SyncSession, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return cast("T", self._call(name, args, kwargs))

    _describe(method, name)
    return method


def _iterating(member: Callable[P, AsyncPager[T]]) -> Callable[Concatenate[Any, P], SyncPager[T]]:
    """The twin of a method returning an :class:`AsyncPager`: a :class:`SyncPager`."""
    name = _name(member)

    def method(self: SyncSession, /, *args: P.args, **kwargs: P.kwargs) -> SyncPager[T]:
        return SyncPager(self, lambda session: getattr(session, name)(*args, **kwargs))

    _describe(method, name)
    return method


def _deriving(member: Callable[P, Session]) -> Callable[Concatenate[Any, P], SyncSession]:
    """The twin of ``with_options``: a SyncSession sharing this one's pool and loop thread."""
    name = _name(member)

    def method(self: SyncSession, /, *args: P.args, **kwargs: P.kwargs) -> SyncSession:
        if args:
            raise TypeError(f"{name}() takes keyword arguments only")
        return self._derive(kwargs)

    _describe(method, name)
    return method


def _classmethod(member: Callable[P, Session]) -> classmethod[SyncSession, P, SyncSession]:
    """The twin of a classmethod returning a Session: a SyncSession built the same way."""
    name = _name(member)

    def make(cls: type[SyncSession], /, *args: P.args, **kwargs: P.kwargs) -> Any:
        factory = getattr(cls._session_class, name)
        value = factory(*args, **kwargs)
        if not isinstance(value, Session):
            return value
        return cls._adopt(value, functools.partial(factory, *args, **kwargs))

    _describe(make, name)
    return classmethod(make)


def _attribute(member: T) -> T:
    """A read-only property reading the Session's attribute (or property) of that name."""
    name = _name(member)

    def read(self: SyncSession) -> Any:
        return getattr(self._session(), name)

    read.__name__ = name
    read.__doc__ = _doc(name)
    return cast("T", property(read))


def _same_parameters(
    init: Callable[Concatenate[Session, P], None],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, P], None]]:
    """Type a ``(*args, **kwargs)`` constructor with the parameters of ``Session.__init__``."""

    def same(function: Callable[..., None]) -> Callable[Concatenate[Any, P], None]:
        function.__wrapped__ = init  # type: ignore[attr-defined]  # inspect.signature shows them
        return function

    return same


# Session members whose twin has another name; and members that are no method to copy.
_RENAMED = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}


def _public_members(cls: type) -> list[str]:
    return [n for n in dir(cls) if not n.startswith("_")]


def _generated_twin(cls: type[SyncSession], name: str) -> Any:
    """A twin for a public member of the Session class with no explicit twin on ``cls``."""
    member = inspect.getattr_static(cls._session_class, name)
    if isinstance(member, classmethod):
        twin: Any = _classmethod(name)  # type: ignore[arg-type]
    elif isinstance(member, (property, functools.cached_property)):
        twin = _attribute(name)
    elif isinstance(member, staticmethod) or not callable(member):
        return member
    elif inspect.iscoroutinefunction(member):
        twin = _blocking(name)  # type: ignore[arg-type]
    else:

        def twin(self: SyncSession, /, *args: Any, **kwargs: Any) -> Any:
            value = getattr(self._target(), name)(*args, **kwargs)
            if isinstance(value, AsyncPager):
                return SyncPager(self, lambda session: getattr(session, name)(*args, **kwargs))
            return value

        twin.__name__ = twin.__qualname__ = name
    target: Any = twin.fget if isinstance(twin, property) else getattr(twin, "__func__", twin)
    target.__doc__ = _doc(name, cls._session_class)
    target._tim_oa_generated = (
        True  # no explicit (typed) twin: tests/sync/test_twins.py asks for one
    )
    if not isinstance(twin, property):
        target.__wrapped__ = getattr(cls._session_class, name)
    return twin


# --- the class -----------------------------------------------------------------------------------


class SyncSession:
    """A blocking client session: every method of :class:`Session`, returning values.

    Takes exactly what :class:`Session` takes, and has each of its public methods with the same
    parameters: ``oa.create_account(...)`` returns the id, ``oa.add_subscribers(...)`` the
    :class:`BatchResult`, and the paged methods return a :class:`SyncPager`, a plain iterator
    (``for s in oa.subscribers(account_id)``, ``.pages()``, ``.collect()``). Use it as
    ``with SyncSession(...) as oa:`` or call :meth:`close`.

    One private event-loop thread per session, started on the first call, runs an async
    :class:`Session` holding the pool, the limiter, the in-flight bound and the UserSig cache.
    Calls from any number of threads share them: one session per process is the rule.

    - **Threads**: safe to share; every thread's calls pass the one limiter and in-flight bound.
    - **Fork**: a session made before a fork (Celery's prefork pool, gunicorn's ``--preload``)
      builds a new thread and pool in the child on its first call there, from the same
      arguments (a caller's ``http_client=`` would be shared with the parent: build the session
      after the fork then).
    - **Event loops**: a call inside a running event loop raises :class:`SyncInAsyncError` at
      once; async code uses :class:`Session`.
    - **Interrupts**: Ctrl-C (KeyboardInterrupt) while a call waits cancels it in the loop
      thread; :meth:`close` ends calls still in flight with :class:`SessionClosedError`; an
      unclosed session never holds up interpreter exit.
    - **Bulk jobs**: a sync ``on_progress`` runs in the thread that called the method (the job
      waits for it, as it awaits it in :class:`Session`); an ``async def`` one runs in the loop
      thread.

    The methods are those of :class:`Session` (listed below, each linking to its async twin,
    which says what it does); properties such as ``sdkappid``, ``max_retries`` and
    ``in_flight_limit`` read the same values.
    """

    _session_class: ClassVar[type[Session]] = Session
    """The async class whose members this class mirrors (a subclass may name another)."""

    _core: loop.Core
    _parent: SyncSession | None
    _options: dict[str, Any]
    _derived: Session
    _seen_generation: int

    @_same_parameters(Session.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._core = loop.Core(functools.partial(self._session_class, *args, **kwargs))
        self._parent = None

    @classmethod
    def _adopt(cls, session: Session, factory: Callable[[], Session]) -> Self:
        """A SyncSession around a Session built by ``factory`` (a classmethod of Session)."""
        self = object.__new__(cls)
        self._core = loop.Core(lambda: session)
        self._core.factory = factory  # a forked child calls it again
        self._parent = None
        return self

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _add_generated_twins(cls)

    # --- the machinery ----------------------------------------------------------------------

    @property
    def _generation(self) -> int:
        return self._core.generation

    def _session(self) -> Session:
        """The Session behind this one (the root's, or one made by ``with_options``), fork-aware."""
        core = self._core
        if core.pid != loop.current_pid():
            core.after_fork()
        parent = self._parent
        if parent is None:
            return core.session
        if self._seen_generation != core.generation:
            self._derived = parent._session().with_options(**self._options)
            self._seen_generation = core.generation
        return self._derived

    def _target(self) -> Session:
        """The Session to call, after the checks every call makes first."""
        if loop.in_event_loop():
            raise SyncInAsyncError(_IN_LOOP)
        session = self._session()
        if self._core.closed:
            raise SessionClosedError(loop.CLOSED)
        return session

    def _run(self, make: Callable[[Session], Coroutine[Any, Any, T]]) -> T:
        """Run ``make(session)`` in the loop thread and return its result."""
        session = self._target()
        core = self._core
        runner = core.runner or core.start()
        return runner.wait(make(session))

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call the async method ``name`` of the Session in the loop thread."""
        session = self._target()
        core = self._core
        runner = core.runner or core.start()
        relay = None
        callback = kwargs.get("on_progress")
        if callback is not None and callable(callback):
            relay = loop.Relay(callback, runner.loop)
            kwargs = {**kwargs, "on_progress": relay}
        return runner.wait(getattr(session, name)(*args, **kwargs), relay)

    def _close_soon(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Start ``make()`` in the loop thread without waiting (closing a pager's walk)."""
        runner = self._core.runner
        if runner is None or runner.pid != loop.current_pid() or runner.stopped:
            return
        if threading.get_ident() == runner.ident:
            return  # the loop finalizes its own async generators
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            asyncio.run_coroutine_threadsafe(make(), runner.loop)

    # --- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pool and end the loop thread (the blocking twin of :meth:`Session.aclose`).

        Calls still in flight raise :class:`SessionClosedError`. A session made by
        :meth:`with_options` shares its parent's pool and thread: closing it does nothing, and
        closing the parent closes both. Closing twice is harmless.
        """
        if loop.in_event_loop():
            raise SyncInAsyncError(_IN_LOOP)
        if self._parent is None:
            self._core.close()

    @property
    def closed(self) -> bool:
        """True once the session is closed."""
        return self._core.closed or self._session().closed

    def _derive(self, options: dict[str, Any]) -> SyncSession:
        session = self._target().with_options(**options)  # bad options raise here
        clone = object.__new__(type(self))
        clone._core = self._core
        clone._parent = self
        clone._options = options
        clone._derived = session
        clone._seen_generation = self._core.generation
        return clone

    def __repr__(self) -> str:
        core = getattr(self, "_core", None)
        return "SyncSession()" if core is None else f"Sync{core.session!r}"

    # --- the twins of Session's members (typed from them) -----------------------------------

    with_options = _deriving(_S.with_options)
    """A SyncSession with options changed, sharing this pool (:meth:`Session.with_options`)."""
    call = _blocking(_S.call)
    """Send any command and return the decoded answer (:meth:`Session.call`)."""
    create_account = _blocking(_S.create_account)
    """Create an account and return its id (:meth:`Session.create_account`)."""
    destroy_account = _blocking(_S.destroy_account)
    """Destroy an account (:meth:`Session.destroy_account`)."""
    modify_account = _blocking(_S.modify_account)
    """Change an account's profile (:meth:`Session.modify_account`)."""
    get_accounts = _blocking(_S.get_accounts)
    """Profiles of any number of accounts, in input order (:meth:`Session.get_accounts`)."""
    subscribed_accounts = _iterating(_S.subscribed_accounts)
    """A :class:`SyncPager` over a user's accounts (:meth:`Session.subscribed_accounts`)."""
    subscribers = _iterating(_S.subscribers)
    """A :class:`SyncPager` over an account's subscribers (:meth:`Session.subscribers`)."""
    add_subscribers = _blocking(_S.add_subscribers)
    """Subscribe any number of users; a :class:`BatchResult` (:meth:`Session.add_subscribers`)."""
    remove_subscribers = _blocking(_S.remove_subscribers)
    """Unsubscribe users; a :class:`BatchResult` (:meth:`Session.remove_subscribers`)."""
    modify_subscriber = _blocking(_S.modify_subscriber)
    """Set one subscription's custom string (:meth:`Session.modify_subscriber`)."""
    send_message = _blocking(_S.send_message)
    """Broadcast a message; a :class:`SentMessage` (:meth:`Session.send_message`)."""
    messages = _iterating(_S.messages)
    """A :class:`SyncPager` over an account's message history (:meth:`Session.messages`)."""
    recall_messages = _blocking(_S.recall_messages)
    """Recall any number of messages; a :class:`BatchResult` (:meth:`Session.recall_messages`)."""
    import_accounts = _blocking(_S.import_accounts)
    """Import IM accounts; a :class:`BatchResult` (:meth:`Session.import_accounts`)."""
    import_account = _blocking(_S.import_account)
    """Import one IM account with a profile (:meth:`Session.import_account`)."""
    check_accounts = _blocking(_S.check_accounts)
    """Which users are imported: ``{user_id: imported}`` (:meth:`Session.check_accounts`)."""
    delete_accounts = _blocking(_S.delete_accounts)
    """Delete IM accounts; a :class:`BatchResult` (:meth:`Session.delete_accounts`)."""
    get_callback_ips = _blocking(_S.get_callback_ips)
    """Tencent's callback source addresses (:meth:`Session.get_callback_ips`)."""
    from_env = _classmethod(_S.from_env)
    """A SyncSession from the command line's settings (:meth:`Session.from_env`)."""

    sdkappid = _attribute(_S.sdkappid)
    identifier = _attribute(_S.identifier)
    region = _attribute(_S.region)
    base_url = _attribute(_S.base_url)
    retry = _attribute(_S.retry)
    rate_limit = _attribute(_S.rate_limit)
    send_rate = _attribute(_S.send_rate)
    max_retries = _attribute(_S.max_retries)
    retry_deadline = _attribute(_S.retry_deadline)
    max_concurrency = _attribute(_S.max_concurrency)
    in_flight_limit = _attribute(_S.in_flight_limit)


def _add_generated_twins(cls: type[SyncSession]) -> None:
    """Give ``cls`` a twin of every public member of its Session class that has none yet."""
    for name in _public_members(cls._session_class):
        if name in _RENAMED or hasattr(cls, name):
            continue
        setattr(cls, name, _generated_twin(cls, name))


_add_generated_twins(SyncSession)
