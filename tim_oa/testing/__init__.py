"""An in-memory Official Account service for tests: the tim_oa emulator.

``Emulator`` implements the twelve Official Account commands, statefully and in memory, with the
API's validation, error codes, limits, pagination and UserSig verification, plus seeded fault
injection. Use it in-process::

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

Behaviour the reference leaves open is chosen in the module that implements it and marked
INFERRED in its docstring: request stages and their codes in ``_asgi``, command semantics in
``_state``, UserSig rejections in ``_usersig``, fault timing in ``_faults``.

Importing this package does not need uvicorn; only ``serve`` does.
"""

from __future__ import annotations

from ._asgi import EmulatorApp, RequestRecord
from ._cli import main
from ._clock import ManualClock
from ._emulator import DEFAULT_ADMIN, DEFAULT_SDKAPPID, DEFAULT_SECRET_KEY, Emulator
from ._faults import Faults
from ._server import serve, serve_forever
from ._state import AccountRecord, MessageRecord, SubscriberRecord

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
    "SubscriberRecord",
    "main",
    "serve",
    "serve_forever",
]
