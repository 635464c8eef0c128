"""A bulk chunk's answer that names the chunk's ids in the order they were sent, and its record.

Tencent answers a bulk chunk with one item per id. When the items name exactly the chunk's ids,
in order, the answer is kept as the chunk and a list of codes: the parser checks it with a few
calls done in C, and the batch engine records it without looking an id up. The mapping (id to
code) is built only if something asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any


class InOrder(Mapping[str, int]):
    """``{ids[i]: codes[i]}``, for ``ids`` that are distinct (a chunk of a bulk job)."""

    __slots__ = ("_mapping", "codes", "ids")

    def __init__(self, ids: Sequence[str], codes: list[int]) -> None:
        self.ids = ids
        self.codes = codes
        self._mapping: dict[str, int] | None = None

    def _dict(self) -> dict[str, int]:
        mapping = self._mapping
        if mapping is None:
            mapping = self._mapping = dict(zip(self.ids, self.codes, strict=True))
        return mapping

    def __getitem__(self, key: str) -> int:
        return self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"InOrder({self._dict()!r})"


def record_plain(
    chunk: Sequence[str],
    base: int,
    answer: Mapping[str, int],
    plain_codes: Mapping[int, int],
    states: bytearray,
    counts: list[int],
) -> bool:
    """Record a chunk whose ids were all answered with default codes, in C; else ``False``."""
    if type(answer) is InOrder and answer.ids is chunk:
        codes: list[Any] = answer.codes  # the chunk's codes in its order: nothing to look up
    else:
        codes = list(map(answer.get, chunk))
    try:
        found = bytes(map(plain_codes.get, codes))  # type: ignore[arg-type]
    except TypeError:  # None: an id missing, or a code for the sparse table: the caller's loop
        return False
    if not found:
        return False
    states[base : base + len(found)] = found
    for state in set(found):
        counts[state] += found.count(state)
    return True
