"""Reading the ids of a bulk job from a file or stdin: plain lines, CSV or JSON lines.

Each id remembers the line it came from, so a malformed line, or an id the library rejects, is
reported by line number. Nothing here knows the API's limits: the library checks the ids and the
command line maps its complaint back to the line.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from ._exitcodes import InputError

FORMATS: Final = ("auto", "lines", "csv", "jsonl")
"""Values of ``--format``; ``auto`` picks by file suffix (``.csv``, ``.jsonl``/``.ndjson``)."""

DEFAULT_JSON_KEY: Final = "id"
"""Key read from JSON objects when no ``--column`` is given (the key of the CLI's own output)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INNER_SPACE = re.compile(r"\s")


@dataclass
class IdList:
    """Ids in input order, each with where it came from (for error messages)."""

    source: str
    ids: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)

    def add(self, value: str, origin: str) -> None:
        """Append one id."""
        self.ids.append(value)
        self.origins.append(origin)

    def where(self, index: int) -> str:
        """``"FILE line N"`` (or ``"--id #N"``) for the id at ``index``."""
        return f"{self.source} {self.origins[index]}"


def from_options(values: Sequence[str]) -> IdList:
    """Ids given with ``--id``, checked like file lines."""
    ids = IdList("--id")
    for number, value in enumerate(values, 1):
        origin = f"#{number}"
        ids.add(_check_token(value.strip(), f"--id {origin}"), origin)
    return ids


def read_ids(
    path: str,
    stdin: BinaryIO,
    *,
    fmt: str = "auto",
    column: str | None = None,
    header: bool | None = None,
) -> IdList:
    """Read ids from ``path`` (``-`` reads ``stdin``).

    Args:
        path: A file path, or ``-``.
        stdin: The binary stream read for ``-``.
        fmt: One of :data:`FORMATS`.
        column: The CSV column (by header name) or JSON object key holding the id.
        header: Whether a CSV file starts with a header row; by default only when ``column`` is
            given. Without ``column`` the first column is read.

    Raises:
        InputError: The file cannot be read, or a line is malformed (the message names the line).
    """
    source = "stdin" if path == "-" else path
    fmt = _resolve_format(fmt, path, column)
    data = _read_bytes(path, stdin, source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{source} line {line}: not valid UTF-8") from None
    if fmt == "lines":
        if column is not None:
            raise InputError("--column needs --format csv or jsonl")
        return _read_lines(text, source)
    if fmt == "csv":
        if column is not None and header is False:
            raise InputError("--column NAME reads a header row; drop --no-header")
        return _read_csv(text, source, column, column is not None if header is None else header)
    return _read_jsonl(text, source, column or DEFAULT_JSON_KEY)


def _resolve_format(fmt: str, path: str, column: str | None) -> str:
    if fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt != "auto":
        return fmt
    suffix = Path(path).suffix.lower() if path != "-" else ""
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv" or column is not None:
        return "csv"
    return "lines"


def _read_bytes(path: str, stdin: BinaryIO, source: str) -> bytes:
    try:
        if path == "-":
            return stdin.read()
        return Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"cannot read {source}: {reason}") from None


def _check_token(value: str, where: str) -> str:
    """An id must be non-empty, without control characters or inner whitespace."""
    if not value:
        raise InputError(f"{where}: empty id")
    if _CONTROL.search(value):
        raise InputError(f"{where}: the id contains a control character")
    if _INNER_SPACE.search(value):
        raise InputError(
            f"{where}: the id contains whitespace ({value!r}); for several columns use --format csv"
        )
    return value


def _read_lines(text: str, source: str) -> IdList:
    ids = IdList(source)
    for number, raw in enumerate(text.splitlines(), 1):
        value = raw.strip()
        if not value or value.startswith("#"):
            continue
        ids.add(_check_token(value, f"{source} line {number}"), f"line {number}")
    return ids


def _read_csv(text: str, source: str, column: str | None, header: bool) -> IdList:
    ids = IdList(source)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    index = 0  # the first column unless a header names another
    try:
        for row in reader:
            number = reader.line_num
            if all(not cell.strip() for cell in row):
                continue
            if header:
                header = False
                if column is not None:
                    names = [cell.strip() for cell in row]
                    if column not in names:
                        raise InputError(
                            f"{source} line {number}: no column {column!r} in the header "
                            f"(columns: {', '.join(names)})"
                        )
                    index = names.index(column)
                continue
            if index >= len(row):
                raise InputError(f"{source} line {number}: the row has no column {index + 1}")
            ids.add(_check_token(row[index].strip(), f"{source} line {number}"), f"line {number}")
    except csv.Error as exc:
        raise InputError(f"{source} line {reader.line_num}: malformed CSV ({exc})") from None
    return ids


def _read_jsonl(text: str, source: str, key: str) -> IdList:
    ids = IdList(source)
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        where = f"{source} line {number}"
        try:
            item = json.loads(raw)
        except ValueError as exc:
            reason = getattr(exc, "msg", None) or str(exc)
            raise InputError(f"{where}: not valid JSON ({reason})") from None
        if isinstance(item, dict):
            if key not in item:
                raise InputError(f"{where}: the object has no key {key!r}")
            item = item[key]
        if not isinstance(item, str):
            raise InputError(
                f"{where}: expected a JSON string or an object with a string {key!r}, "
                f"got {type(item).__name__}"
            )
        ids.add(_check_token(item.strip(), where), f"line {number}")
    return ids
