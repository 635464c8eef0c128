"""One handler per command (read the body, call the backend, shape the answer), and the table.

Each handler reads and checks every field of the body first (``_readers``), and only then calls
the backend, so a malformed request never reports a lookup error such as 130004. The handlers
live by command group in ``_handle_accounts``, ``_handle_subscribers`` and ``_handle_messages``;
``_call`` has what they share (the ``Call`` and the ``Pending`` of a before webhook).
``HANDLERS`` maps each command name to its handler: the twelve Official Account commands and the
four account commands of ``im_open_login_svc`` and ``GetIPList`` of ``ConfigSvc``
(``_handle_imports``); ``SERVICES`` says which
service path serves which commands. No callback fires for a failed request. Choices the
reference leaves open (all INFERRED) are noted where they are made.
"""

from __future__ import annotations

from typing import Final

from .._codes import ErrorCode as C
from . import _handle_imports
from ._backend import Backend
from ._call import Call, Handler, Pending, Result
from ._failure import Failure
from ._handle_accounts import create_account, destroy_account, get_account_info, modify_account
from ._handle_messages import get_history, is_valid_msg_body, recall_messages, send_message
from ._handle_subscribers import (
    add_subscribers,
    delete_subscribers,
    get_subscribed,
    get_subscribers,
    modify_subscriber,
)
from ._readers import Body

__all__ = [
    "HANDLERS",
    "OA_SERVICE",
    "SERVICES",
    "Call",
    "Pending",
    "Result",
    "execute",
    "is_valid_msg_body",
]

OA_SERVICE: Final = "official_account_open_http_svc"
"""The REST service of the twelve Official Account commands."""

OA_HANDLERS: Final[dict[str, Handler]] = {
    "create_official_account": create_account,
    "destroy_official_account": destroy_account,
    "modify_official_account_base_info": modify_account,
    "get_official_account_info": get_account_info,
    "get_subscriber_info": get_subscribers,
    "add_subscriber": add_subscribers,
    "delete_subscriber": delete_subscribers,
    "modify_subscriber_info": modify_subscriber,
    "get_subscribed_official_account_list": get_subscribed,
    "send_official_account_msg": send_message,
    "official_account_msg_get_simple": get_history,
    "official_account_msg_recall": recall_messages,
}
"""Command name -> handler of the twelve Official Account commands."""

HANDLERS: Final[dict[str, Handler]] = {
    **OA_HANDLERS,
    **_handle_imports.HANDLERS,
    **_handle_imports.CONFIG_HANDLERS,
}
"""Command name -> handler, every service's."""

SERVICES: Final[dict[str, frozenset[str]]] = {
    OA_SERVICE: frozenset(OA_HANDLERS),
    _handle_imports.SERVICE: frozenset(_handle_imports.HANDLERS),
    _handle_imports.CONFIG_SERVICE: frozenset(_handle_imports.CONFIG_HANDLERS),
}
"""Service (the path's ``/v4/{service}/``) -> the commands it serves."""


def execute(backend: Backend, command: str, body: Body, call: Call) -> Result:
    """Run one command: the answer's fields (no envelope), a ``Pending``, or ``Failure``."""
    handler = HANDLERS.get(command)
    if handler is None:
        raise Failure(C.INVALID_COMMAND, f"unknown command {command!r}")
    return handler(backend, body, call)
