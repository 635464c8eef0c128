"""Reading the ids of a bulk job from a file or stdin: plain lines, CSV or JSON lines.

The input is read line by line (never whole), and only the ids are kept, in one list: the list
handed to the library, which removes duplicates itself. Each id still knows the line it came from,
through a compact table of the places where "line minus index" changes (a few entries for a real
file, not one per id), so a malformed line, or an id the library rejects, is reported by line
number. Nothing here knows the API's limits: the library checks the ids and the
command line maps its complaint back to the line.
"""

from __future__ import annotations

import bisect
import csv
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Final

from ._exitcodes import InputError

FORMATS: Final = ("auto", "lines", "csv", "jsonl")
"""Values of ``--format``; ``auto`` picks by file suffix (``.csv``, ``.jsonl``/``.ndjson``)."""

DEFAULT_JSON_KEY: Final = "id"
"""Key read from JSON objects when no ``--column`` is given (the key of the CLI's own output)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INNER_SPACE = re.compile(r"\s")
_BOM: Final = "\ufeff"


class IdList:
    """Ids in input order, duplicates included, each with the line it came from.

    Args:
        source: How the input is named in messages (a path, ``stdin`` or ``--id``).
        unit: What precedes a position in messages: ``"line "`` for files, ``"#"`` for ``--id``.
    """

    def __init__(self, source: str, *, unit: str = "line ") -> None:
        self.source = source
        self.unit = unit
        self.ids: list[str] = []
        """Every id read, in input order."""
        # Position (line) of the id at index i is i + _shifts[k] for the last k with
        # _starts[k] <= i: one entry per blank line, comment or duplicate, not one per id.
        self._starts: list[int] = []
        self._shifts: list[int] = []

    @property
    def count(self) -> int:
        """Ids read, duplicates included."""
        return len(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, value: str, position: int) -> None:
        """Append one id read at ``position`` (a line number, or the ``--id`` number)."""
        index = len(self.ids)
        self.ids.append(value)
        shift = position - index
        if not self._shifts or self._shifts[-1] != shift:
            self._starts.append(index)
            self._shifts.append(shift)

    def position(self, index: int) -> int:
        """The line (or ``--id`` number) of the id at ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        k = bisect.bisect_right(self._starts, index) - 1
        return index + self._shifts[k]

    def where(self, index: int) -> str:
        """``"FILE line N"`` (or ``"--id #N"``) for the id at ``index``."""
        return f"{self.source} {self.unit}{self.position(index)}"


def from_options(values: Sequence[str]) -> IdList:
    """Ids given with ``--id``, checked like file lines."""
    ids = IdList("--id", unit="#")
    for number, value in enumerate(values, 1):
        ids.add(_check_token(value.strip(), f"--id #{number}"), number)
    return ids


def read_ids(
    path: str,
    stdin: BinaryIO,
    *,
    fmt: str = "auto",
    column: str | None = None,
    header: bool | None = None,
) -> IdList:
    """Read ids from ``path`` (``-`` reads ``stdin``), one line at a time.

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
    if fmt == "lines" and column is not None:
        raise InputError("--column needs --format csv or jsonl")
    if fmt == "csv" and column is not None and header is False:
        raise InputError("--column NAME reads a header row; drop --no-header")
    ids = IdList(source)
    try:
        stream = stdin if path == "-" else Path(path).open("rb")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"cannot read {source}: {_reason(exc)}") from None
    try:
        lines = _decoded_lines(stream, source)
        if fmt == "lines":
            _read_lines(lines, ids)
        elif fmt == "csv":
            _read_csv(lines, ids, column, column is not None if header is None else header)
        else:
            _read_jsonl(lines, ids, column or DEFAULT_JSON_KEY)
    except OSError as exc:
        raise InputError(f"cannot read {source}: {_reason(exc)}") from None
    finally:
        if stream is not stdin:
            stream.close()
    return ids


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


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


def _decoded_lines(stream: BinaryIO, source: str) -> Iterator[str]:
    """The stream's lines as text (line endings kept), naming the line of any bad UTF-8."""
    for number, raw in enumerate(stream, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{source} line {number}: not valid UTF-8") from None
        if number == 1 and text.startswith(_BOM):
            text = text[1:]
        yield text


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


def _read_lines(lines: Iterator[str], ids: IdList) -> None:
    for number, raw in enumerate(lines, 1):
        value = raw.strip()
        if not value or value.startswith("#"):
            continue
        ids.add(_check_token(value, f"{ids.source} line {number}"), number)


def _read_csv(lines: Iterator[str], ids: IdList, column: str | None, header: bool) -> None:
    source = ids.source
    reader = csv.reader(lines, strict=True)
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
            ids.add(_check_token(row[index].strip(), f"{source} line {number}"), number)
    except csv.Error as exc:
        raise InputError(f"{source} line {reader.line_num}: malformed CSV ({exc})") from None


def _read_jsonl(lines: Iterator[str], ids: IdList, key: str) -> None:
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        where = f"{ids.source} line {number}"
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
        ids.add(_check_token(item.strip(), where), number)
