"""Writing results: one JSON object (or CSV row) per item on stdout, summaries on stderr.

stdout carries only data, so it can be piped into ``jq`` or another ``tim-oa`` command; every
message for people (summaries, resume cursors, warnings) goes to stderr.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Final, TextIO

import attrs

import tim_oa

from ._exitcodes import InputError

OUTPUT_FORMATS: Final = ("jsonl", "csv")
"""Values of ``--output``."""

OUTCOME_COLUMNS: Final = ("id", "status", "code", "error")
"""Fields of one bulk-job outcome record."""


def model_record(model: Any) -> dict[str, Any]:
    """A JSON-ready dict of a tim_oa model (snake_case field names)."""
    record: dict[str, Any] = attrs.asdict(model)
    return record


def outcome_record(outcome: tim_oa.Outcome, redact: Any = None) -> dict[str, Any]:
    """``{"id", "status", "code"}`` plus ``"error"`` when the id failed with an exception."""
    record: dict[str, Any] = {
        "id": outcome.id,
        "status": outcome.status.value,
        "code": outcome.code,
    }
    if outcome.error is not None:
        text = f"{type(outcome.error).__name__}: {outcome.error}"
        record["error"] = redact(text) if redact is not None else text
    return record


class RecordWriter:
    """Writes records to a text stream as JSON lines or CSV.

    CSV columns are ``columns`` when given, else the (flattened) keys of the first record; nested
    objects become ``parent.child`` columns and lists are written as JSON.
    """

    def __init__(
        self, stream: TextIO, fmt: str = "jsonl", *, columns: Sequence[str] | None = None
    ) -> None:
        if fmt not in OUTPUT_FORMATS:
            raise InputError(f"unknown output format {fmt!r}; use one of {OUTPUT_FORMATS}")
        self._stream = stream
        self._fmt = fmt
        self._columns = list(columns) if columns is not None else None
        self._csv: Any = None
        self.count = 0

    def write(self, record: Mapping[str, Any]) -> None:
        """Write one record."""
        self.count += 1
        if self._fmt == "jsonl":
            self._stream.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            return
        flat = _flatten(record)
        if self._csv is None:
            columns = self._columns if self._columns is not None else list(flat)
            self._csv = csv.DictWriter(
                self._stream, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
            )
            self._csv.writeheader()
        self._csv.writerow(flat)

    def write_all(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Write each record of ``records``."""
        for record in records:
            self.write(record)

    def flush(self) -> None:
        """Flush the stream."""
        self._stream.flush()


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            flat[name] = json.dumps(value, ensure_ascii=False, default=str)
        else:
            flat[name] = "" if value is None else value
    return flat


class IdFile:
    """A file of ids, one per line, for ``--failed-ids``.

    It is opened (and truncated) when created, so an unwritable path fails before a long job
    starts rather than after it; :meth:`write` fills it and closes it, leaving an empty file when
    nothing failed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file: TextIO | None = path.open("w", encoding="utf-8")
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise InputError(f"cannot write {path}: {reason}") from None

    def write(self, ids: Iterable[str]) -> int:
        """Write ``ids`` one per line, close the file, and return how many were written."""
        count = 0
        if self._file is None:
            raise ValueError("the id file is already written")
        with self._file:
            for value in ids:
                self._file.write(f"{value}\n")
                count += 1
        self._file = None
        return count

    def close(self) -> None:
        """Close the file if :meth:`write` was never called (it stays as written so far)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def note(message: str) -> None:
    """Print a line for people on stderr."""
    print(message, file=sys.stderr, flush=True)


def format_seconds(seconds: float) -> str:
    """``0.42 s`` / ``12.3 s``."""
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def stdin_bytes() -> BinaryIO:
    """The process's stdin as a binary stream (``-`` as an input file)."""
    return sys.stdin.buffer
