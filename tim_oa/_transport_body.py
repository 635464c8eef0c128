"""Reading an answer's body within a size cap counted on decoded bytes (shared by every backend).

The transports read the raw (still compressed) stream and feed it here. Decompression is ours, not
the HTTP library's, because theirs inflates each network chunk whole: one 64 KiB chunk of a gzip
bomb is 64 MiB in memory before any cap could look at it. Here ``zlib``'s ``max_length`` keeps
every step within the cap, so a 1 MB bomb stops at the cap, not at its 1 GB.

We ask for ``gzip, deflate`` only (``ACCEPT_ENCODING``); an answer in another coding is refused.
"""

from __future__ import annotations

import zlib

ACCEPT_ENCODING = "gzip, deflate"
"""The codings we can inflate within a bound; sent as ``Accept-Encoding`` on every request."""


class BodyError(Exception):
    """The body cannot be read: too large once decoded, corrupt, or in a coding we don't speak.

    Internal: the transports turn it into a :class:`~tim_oa.TransportError`.
    """


class _Inflater:
    """One bounded zlib stage (gzip or deflate)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        # gzip: header required. deflate: RFC 9110 says zlib-wrapped, but some servers send raw
        # deflate; which one it is shows on the first bytes.
        wbits = zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflate ``data`` into at most ``room`` bytes; more means the cap is broken."""
        out: list[bytes] = []
        size = 0
        while data and not self._inflate.eof:
            try:
                piece = self._inflate.decompress(data, room - size)
            except zlib.error:
                if self.coding == "deflate" and not self._started:
                    self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise BodyError(f"the answer's {self.coding} encoding is corrupt") from None
            self._started = True
            out.append(piece)
            size += len(piece)
            if size >= room:
                break  # the caller sees the cap reached
            data = self._inflate.unconsumed_tail
        return b"".join(out)


class BodyReader:
    """Accumulates a body from raw chunks, decoded, up to ``limit`` bytes.

    Args:
        content_encoding: The answer's ``Content-Encoding`` header (``None``: identity).
        limit: The most decoded bytes accepted; one more raises :class:`BodyError`.
    """

    __slots__ = ("_chunks", "_limit", "_size", "_stages")

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self._limit = limit
        self._size = 0
        self._chunks: list[bytes] = []
        self._stages: list[_Inflater] = []
        if content_encoding:
            for coding in content_encoding.lower().split(","):
                coding = coding.strip()
                if coding in ("gzip", "x-gzip"):
                    self._stages.append(_Inflater("gzip"))
                elif coding == "deflate":
                    self._stages.append(_Inflater("deflate"))
                elif coding not in ("identity", ""):
                    raise BodyError(f"the answer uses Content-Encoding {coding!r}, not asked for")
            self._stages.reverse()  # the coding applied last is undone first

    def feed(self, chunk: bytes) -> None:
        """Add one raw chunk; raises :class:`BodyError` once the decoded size passes the cap."""
        room = self._limit - self._size + 1
        for stage in self._stages:
            # Every stage is bounded by what is left of the cap (an inner coding as well).
            chunk = stage.feed(chunk, room)
            if len(chunk) >= room:
                break
        if len(chunk) >= room:
            raise BodyError(f"the answer is larger than max_response_bytes ({self._limit} bytes)")
        self._size += len(chunk)
        if chunk:
            self._chunks.append(chunk)

    def finish(self) -> bytes:
        """The whole decoded body."""
        chunks = self._chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
