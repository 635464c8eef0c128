"""The one internal exception: a request that ends in an error envelope."""

from __future__ import annotations


class Failure(Exception):
    """A request failed with an API error code.

    Raised anywhere inside the emulator (protocol checks, UserSig verification, command handlers)
    and turned into a ``{"ActionStatus": "FAIL", ...}`` envelope at the edge. ``info`` is the
    ``ErrorInfo`` text; it never contains a UserSig or a secret.
    """

    def __init__(self, code: int, info: str) -> None:
        super().__init__(f"{code}: {info}")
        self.code = int(code)
        self.info = info
