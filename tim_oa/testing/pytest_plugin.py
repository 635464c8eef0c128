"""pytest fixtures for testing code that uses tim_oa against the emulator.

Registered as the ``tim_oa`` pytest plugin when tim_oa is installed; or enable it by hand with
``-p tim_oa.testing.pytest_plugin``.

Fixtures:
    tim_oa_emulator: a fresh ``Emulator()`` (default app, key and admin) for each test. Mark a
        test ``@pytest.mark.tim_oa_emulator(**options)`` to build it with ``Emulator(**options)``
        instead, e.g. ``@pytest.mark.tim_oa_emulator(clock=ManualClock(), seed=7)``, or wire it
        to your webhook ASGI app in one line:
        ``@pytest.mark.tim_oa_emulator(webhook_app=app, webhook_token="my-token")``.
    tim_oa_session: an async fixture yielding ``tim_oa_emulator.session()``, closed after the
        test; its teardown also lets after webhooks still queued be delivered.
    tim_oa_session_factory: an async fixture yielding a function ``(**options) -> Session`` that
        builds sessions bound to ``tim_oa_emulator`` with any ``Session`` option
        (``max_retries=0``, ``identifier=...``); every session it made is closed after the test.

The sessions go through httpx, or through httpx2 when the environment variable
``TIM_OA_TEST_BACKEND=httpx2`` is set (or a factory call says ``backend="httpx2"``), so one suite
runs on either HTTP stack.

The async fixtures are declared with ``pytest_asyncio.fixture`` when pytest-asyncio is installed.
An ``async def`` test that uses one of them is marked ``@pytest.mark.asyncio`` by this plugin
(unless it already carries an ``asyncio``, ``anyio`` or ``trio`` mark), so it runs as written in
pytest-asyncio's strict mode as well as in auto mode. Without pytest-asyncio they are plain async
fixtures that the AnyIO pytest plugin runs, for tests marked ``@pytest.mark.anyio``.

Loading the plugin costs almost nothing: the emulator (and with it httpx and anyio) is imported
only when a test asks for one of these fixtures.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tim_oa import Session

    from ._emulator import Emulator

__all__ = ["tim_oa_emulator", "tim_oa_session", "tim_oa_session_factory"]

ASYNC_FIXTURES = frozenset({"tim_oa_session", "tim_oa_session_factory"})
"""The plugin's async fixtures: a coroutine test using one is marked for pytest-asyncio."""
_RUNNER_MARKS = ("asyncio", "anyio", "trio")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``tim_oa_emulator`` mark."""
    config.addinivalue_line(
        "markers",
        "tim_oa_emulator(**options): build the tim_oa_emulator fixture as Emulator(**options)",
    )


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Generator[None, Any, None]:
    """Mark coroutine tests that use this plugin's async fixtures with ``pytest.mark.asyncio``.

    ``trylast`` makes this wrapper the innermost, so the mark is on the item before
    pytest-asyncio's own wrapper (around this one) decides whether the item is an asyncio test.
    """
    outcome = yield
    if not inspect.iscoroutinefunction(obj):
        return
    if not collector.config.pluginmanager.has_plugin("asyncio"):
        return  # no pytest-asyncio: the AnyIO plugin runs tests marked anyio
    result = outcome.get_result()
    items = result if isinstance(result, list) else [result]
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and ASYNC_FIXTURES.intersection(item.fixturenames)
            and not any(item.get_closest_marker(mark) for mark in _RUNNER_MARKS)
        ):
            item.add_marker(pytest.mark.asyncio)


@pytest.fixture
def tim_oa_emulator(request: pytest.FixtureRequest) -> Emulator:
    """A fresh emulator for one test (options from a ``tim_oa_emulator`` mark, if any)."""
    from ._emulator import Emulator  # lazy: the plugin costs nothing when unused

    marker = request.node.get_closest_marker("tim_oa_emulator")
    if marker is not None and marker.args:
        raise TypeError("pytest.mark.tim_oa_emulator takes keyword options only")
    return Emulator(**(marker.kwargs if marker is not None else {}))


async def _session(tim_oa_emulator: Emulator) -> AsyncIterator[Session]:
    """A ``tim_oa.Session`` bound to ``tim_oa_emulator``, closed after the test."""
    session = tim_oa_emulator.session()
    try:
        yield session
    finally:
        await session.aclose()
        await _webhooks_idle(tim_oa_emulator)


async def _session_factory(
    tim_oa_emulator: Emulator,
) -> AsyncIterator[Callable[..., Session]]:
    """Build sessions bound to ``tim_oa_emulator`` with any options; all closed after the test."""
    made: list[Session] = []

    def factory(**options: Any) -> Session:
        session = tim_oa_emulator.session(**options)
        made.append(session)
        return session

    try:
        yield factory
    finally:
        for session in made:
            await session.aclose()
        await _webhooks_idle(tim_oa_emulator)


async def _webhooks_idle(emulator: Emulator) -> None:
    """Let after callbacks still queued be delivered on the test's own event loop."""
    import anyio

    with anyio.move_on_after(_grace(emulator)):
        await emulator.webhooks_idle()


def _grace(emulator: Emulator) -> float:
    """How long teardown waits for queued after callbacks: a little over one delivery."""
    return 2 * emulator.webhook_timeout + 1


def _async_fixture() -> Callable[..., Any]:
    try:
        import pytest_asyncio
    except ImportError:
        return pytest.fixture
    return pytest_asyncio.fixture


tim_oa_session = _async_fixture()(_session, name="tim_oa_session")
tim_oa_session_factory = _async_fixture()(_session_factory, name="tim_oa_session_factory")
