"""What a command handler works with besides the body: the ``Call``, and a ``Pending`` answer.

A handler records the "after" callbacks of what happened on its ``Call``. The three commands with
a "before" callback (create, add subscribers, send), when webhooks are on, first check what would
fail anyway (so a doomed request never reaches the webhook), then return a ``Pending``: the
callback to send and a ``finish`` function that applies the webhook's ``Decision``. The gateway
sends the callback with its lock released and calls ``finish`` under the lock again; ``finish``
goes through the backend's checks once more, so state that changed meanwhile is seen. When
webhooks are off (and always for ``Emulator.call``), ``finish`` runs at once with ``ALLOW``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._backend import Backend
from ._readers import Body
from ._webhooks import ALLOW, Decision


@dataclass
class Call:
    """What a handler knows of the request besides its body, and the after callbacks it causes."""

    operator: str
    """The admin identifier that made the request (``Operator_Account``)."""
    webhooks: bool = False
    """Whether before callbacks are sent (False: ``finish`` runs at once with ``ALLOW``)."""
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """After callbacks to send once the request is answered: ``(command, fields)``."""

    def notify(self, command: str, **fields: Any) -> None:
        """Record an after callback."""
        self.events.append((command, fields))


@dataclass(frozen=True)
class Pending:
    """A before callback to send, and how to finish the request with its decision."""

    command: str
    fields: dict[str, Any]
    finish: Callable[[Decision], Body]


Result = Body | Pending
Handler = Callable[[Backend, Body, Call], Result]


def before(
    call: Call, command: str, fields: dict[str, Any], finish: Callable[[Decision], Body]
) -> Result:
    """A ``Pending`` for the before callback, or, with webhooks off, ``finish(ALLOW)`` at once."""
    return Pending(command, fields, finish) if call.webhooks else finish(ALLOW)
