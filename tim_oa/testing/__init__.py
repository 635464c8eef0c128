"""An in-memory Official Account service for tests: the tim_oa emulator.

``Emulator`` implements the twelve Official Account commands, statefully and in memory, with the
API's validation, error codes, limits, pagination and UserSig verification, seeded fault
injection, and the 11 webhook callbacks sent to a URL or an in-process ASGI app. Use it in-process::

    emulator = Emulator()
    async with emulator.session() as oa:          # a tim_oa.Session bound to it
        account_id = await oa.create_account(owner="107867", name="News")
    assert account_id in emulator.accounts

or over a loopback socket (needs the ``emulator`` extra, i.e. uvicorn)::

    with serve(emulator) as base_url:              # "http://127.0.0.1:PORT"
        ...

``python -m tim_oa.testing`` serves one from the command line. The pytest plugin
(``tim_oa.testing.pytest_plugin``) provides the ``tim_oa_emulator`` and ``tim_oa_session``
fixtures.

Module map (the way moto splits ``models.py`` from ``responses.py``):

- ``_records``: the records (``AccountRecord``, ``MessageRecord``, ``SubscriberRecord``) and the
  backend's mutable account;
- ``_backend``: ``Backend``, typed methods over the state (``create_account``,
  ``add_subscribers``, ``send``, ``history``, ...) that know nothing of JSON and raise only the
  service's domain errors;
- ``_readers``: body readers that read and shape-check one field each (20001 / 6017 / 130007);
- ``_handlers``: the table from command name to handler (``HANDLERS``); the handlers, one small
  function per command (read the body, call the backend, shape the answer), live by group in
  ``_handle_accounts``, ``_handle_subscribers`` and ``_handle_messages``, and share ``_call``
  (the request's ``Call`` and the ``Pending`` answer of a before webhook);
- ``_gateway``: the REST gateway every request goes through (route, query, UserSig via
  ``_usersig``, rate limit via ``_ratelimit``, service switch, body, faults via ``_faults``, the
  envelope and the request log);
- ``_webhooks``: sending the 11 Official Account callbacks (``Sign``/``RequestTime``), reading
  the answers of the three before callbacks, and delivering the after ones in the background;
- three thin adapters over the gateway: ``_asgi`` (the ASGI app), ``_transport`` (the in-process
  httpx transport) and ``_server`` (uvicorn on a loopback socket);
- ``_emulator`` (``Emulator``, which wires them), ``_clock`` (``ManualClock``), ``_failure``
  (the internal error that becomes a FAIL envelope), ``_cli`` and ``pytest_plugin``.

Behaviour the reference leaves open is chosen in the module that implements it and marked
INFERRED in its docstring: request stages and their codes in ``_gateway``, field rules in
``_readers``, answer shapes in the ``_handle_*`` modules, command semantics in ``_backend``,
UserSig rejections in ``_usersig``, fault timing in ``_faults``, webhook answers in
``_webhooks``.

Importing this package does not need uvicorn (only ``serve`` does) and costs almost nothing:
its names are imported on first use (PEP 562), so the pytest plugin stays cheap in test runs
that never touch the emulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._asgi import EmulatorApp
    from ._cli import main
    from ._clock import ManualClock, SessionClock
    from ._emulator import DEFAULT_ADMIN, DEFAULT_SDKAPPID, DEFAULT_SECRET_KEY, Emulator
    from ._faults import Faults
    from ._gateway import RequestRecord
    from ._records import AccountRecord, MessageRecord, SubscriberRecord
    from ._server import serve, serve_forever

_HOMES = {
    "DEFAULT_ADMIN": "._emulator",
    "DEFAULT_SDKAPPID": "._emulator",
    "DEFAULT_SECRET_KEY": "._emulator",
    "AccountRecord": "._records",
    "Emulator": "._emulator",
    "EmulatorApp": "._asgi",
    "Faults": "._faults",
    "ManualClock": "._clock",
    "MessageRecord": "._records",
    "RequestRecord": "._gateway",
    "SessionClock": "._clock",
    "SubscriberRecord": "._records",
    "main": "._cli",
    "serve": "._server",
    "serve_forever": "._server",
}

__all__ = [
    "DEFAULT_ADMIN",
    "DEFAULT_SDKAPPID",
    "DEFAULT_SECRET_KEY",
    "AccountRecord",
    "Emulator",
    "EmulatorApp",
    "Faults",
    "ManualClock",
    "MessageRecord",
    "RequestRecord",
    "SessionClock",
    "SubscriberRecord",
    "main",
    "serve",
    "serve_forever",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
