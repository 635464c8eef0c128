"""Message commands: broadcast, history, recall."""

from __future__ import annotations

from ._base import BaseSession


class MessagesMixin(BaseSession):
    """Session methods for an account's messages."""
