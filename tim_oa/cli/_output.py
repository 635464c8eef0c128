"""Writing results: one JSON object (or CSV row) per item on stdout, summaries on stderr.

stdout carries only data, so it can be piped into ``jq`` or another ``tim-oa`` command; every
message for people (summaries, resume cursors, warnings) goes to stderr.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import secrets
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
    """Writes records to a text stream as JSON lines or CSV, and survives a closed pipe.

    CSV columns are ``columns`` when given, else the (flattened) keys of the first record; nested
    objects become ``parent.child`` columns and lists are written as JSON.

    When the reader of the stream goes away (``tim-oa ... | head -1``), :meth:`write` returns
    False instead of raising, :attr:`closed` becomes True, and the stream's file descriptor is
    pointed at the null device so that nothing fails (or prints "Exception ignored") at exit.
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
        """Records accepted by the stream (flushed ones, for :meth:`write_flushed`)."""
        self.closed = False
        """True once the reader has gone away; later records are dropped."""

    def write(self, record: Mapping[str, Any]) -> bool:
        """Write one record (buffered); False when the reader has gone away."""
        if self.closed:
            return False
        try:
            self._write(record)
        except BrokenPipeError:
            self._reader_gone()
            return False
        self.count += 1
        return True

    def write_flushed(self, record: Mapping[str, Any]) -> bool:
        """Write one record and flush it; True only once the OS has it (exact resume points)."""
        if self.closed:
            return False
        try:
            self._write(record)
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()
            return False
        self.count += 1
        return True

    def flush(self) -> bool:
        """Flush the stream; False when the reader has gone away."""
        if self.closed:
            return False
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()
            return False
        return True

    def _write(self, record: Mapping[str, Any]) -> None:
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

    def _reader_gone(self) -> None:
        self.closed = True
        silence(self._stream)


def silence(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at the null device, after its reader went away.

    What is still buffered then drains into nothing, so the interpreter's final flush neither
    fails nor prints "Exception ignored ... BrokenPipeError" (the recipe of the ``signal`` docs).
    """
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # not a real file (a test's buffer)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


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


class FailedIdsFile:
    """The ``--failed-ids`` file: written to a temporary file beside it, renamed at the end.

    The temporary file is created at once, so an unwritable path fails before a long job starts.
    Until :meth:`commit`, the file at ``path`` keeps its old content: a run that stops on bad
    input, missing credentials or a refused account id leaves it as it was (it may be the very
    file the ids are read from). :meth:`discard` (or leaving the ``with`` block without a commit)
    removes the temporary file. The file ends up with the mode of the file it replaces, or the
    mode a new file gets (0666 less the umask).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        """Ids written so far."""
        target = Path(os.path.realpath(path))  # replace a symlink's target, not the link
        self._target = target
        self._temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {_reason(exc)}") from None
        self._file: TextIO | None = open(fd, "w", encoding="utf-8")  # noqa: SIM115

    def __enter__(self) -> FailedIdsFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()

    def write(self, ids: Iterable[str]) -> None:
        """Add ``ids``, one per line (raises :class:`InputError` when the disk refuses)."""
        if self._file is None:
            raise ValueError("the failed-ids file is already closed")
        try:
            for value in ids:
                self._file.write(f"{value}\n")
                self.count += 1
        except OSError as exc:
            raise InputError(f"cannot write {self.path}: {_reason(exc)}") from None

    def commit(self) -> None:
        """Close the temporary file and rename it to :attr:`path` (atomically)."""
        if self._file is None:
            raise ValueError("the failed-ids file is already closed")
        file, self._file = self._file, None
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            try:
                mode = self._target.stat().st_mode & 0o7777
            except FileNotFoundError:
                mode = None
            if mode is not None:
                os.chmod(self._temp, mode)
            os.replace(self._temp, self._target)
        except OSError as exc:
            file.close()
            self._remove_temp()
            raise InputError(f"cannot write {self.path}: {_reason(exc)}") from None

    def discard(self) -> None:
        """Drop what was written; :attr:`path` keeps its old content. Safe to call twice."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._remove_temp()

    def _remove_temp(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._temp)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def note(message: str) -> None:
    """Print a line for people on stderr (quietly nothing when stderr's reader has gone)."""
    try:
        print(message, file=sys.stderr, flush=True)
    except BrokenPipeError:
        silence(sys.stderr)


def plural(count: int, word: str) -> str:
    """``1 id`` / ``2 ids`` / ``1,000 ids``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def format_seconds(seconds: float) -> str:
    """``0.42 s`` / ``12.3 s``."""
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def stdin_bytes() -> BinaryIO:
    """The process's stdin as a binary stream (``-`` as an input file)."""
    return sys.stdin.buffer
