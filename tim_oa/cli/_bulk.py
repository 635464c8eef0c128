"""Running a bulk command: records streamed as chunks finish, and no id left unaccounted for.

The library reports each finished chunk through ``on_progress`` (``BatchProgress.outcomes``).
:class:`BulkJob` writes those records to stdout at once, adds the failed ids to the
``--failed-ids`` file, and notes every settled id in an unnamed temporary file, not in memory.
So a job holds the input's ids once (the list handed to the library, as a script would) and
nothing that grows with the output. When a signal stops the job, the settled ids are read back
and every id of the input not among them goes to the ``--failed-ids`` file, so re-running with
that file finishes the job (repeating an add, a remove or a recall is harmless).

Records come in the order chunks finish, which with ``--concurrency`` above 1 is not quite the
input order.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import TracebackType

import tim_oa

from ._context import State, located_at_input
from ._exitcodes import FAILED, OK, InputError
from ._ids import IdList
from ._output import (
    OUTCOME_COLUMNS,
    FailedIdsFile,
    RecordWriter,
    format_seconds,
    note,
    outcome_record,
    plural,
)
from ._progress import BatchBar
from ._signals import Stopped, signal_name

BatchCall = Callable[[tim_oa.Session, list[str], "BulkJob"], Awaitable[tim_oa.BatchResult]]
"""Starts the library's bulk method with the ids and the job as ``on_progress``."""


class BulkJob:
    """Settles each id as its chunk finishes; see the module docstring.

    Pass the instance as ``on_progress``; use it as a context manager (it closes its log).
    """

    def __init__(
        self,
        writer: RecordWriter,
        failed_file: FailedIdsFile | None,
        redact: Callable[[str], str],
        bar: BatchBar,
    ) -> None:
        self.writer = writer
        self.failed_file = failed_file
        self.redact = redact
        self.bar = bar
        self.counts: dict[tim_oa.Status, int] = dict.fromkeys(tim_oa.Status, 0)
        self.first_error: str | None = None
        self.distinct: int | None = None
        """Distinct ids in the job, once the library has said (``BatchProgress.total``)."""
        # Ids cannot hold a newline (the reader refuses control characters): one per line.
        try:
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise InputError(f"cannot create a temporary file (TMPDIR): {reason}") from None

    def __enter__(self) -> BulkJob:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._log.close()

    @property
    def settled(self) -> int:
        """Ids with a final outcome so far."""
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        """Ids that failed."""
        return self.counts[tim_oa.Status.FAILED]

    def __call__(self, progress: tim_oa.BatchProgress) -> None:
        """Record one finished chunk (the library's ``on_progress``)."""
        self.distinct = progress.total
        self.settle(progress.outcomes)
        self.bar(progress)

    def settle(self, outcomes: Mapping[str, tim_oa.Outcome]) -> None:
        """Write the records of ``outcomes``, add the failed ids to the file, log them all."""
        failed: list[str] = []
        for key, outcome in outcomes.items():
            self.writer.write(outcome_record(outcome, self.redact))
            self.counts[outcome.status] += 1
            if not outcome.ok:
                failed.append(key)
                if self.first_error is None and outcome.error is not None:
                    self.first_error = _describe(outcome.error)
        self.writer.flush()
        if outcomes:
            self._log.write("".join(f"{key}\n" for key in outcomes).encode())
        if failed and self.failed_file is not None:
            self.failed_file.write(failed)

    def settled_ids(self) -> set[str]:
        """The ids settled so far, read back from the log."""
        self._log.flush()
        self._log.seek(0)
        found = {line.decode().rstrip("\n") for line in self._log}
        self._log.seek(0, 2)
        return found

    def unsettled(self, ids: Iterable[str]) -> Iterator[str]:
        """The distinct ids of ``ids`` (in first-seen order) that have no outcome yet."""
        seen = self.settled_ids()
        for key in ids:
            if key not in seen:
                seen.add(key)
                yield key

    def finish(self, result: tim_oa.BatchResult) -> None:
        """Write the outcomes of ``result`` no progress report carried (none, normally)."""
        self.distinct = len(result)
        if self.settled != len(result):
            seen = self.settled_ids()
            self.settle({k: o for k, o in result.outcomes.items() if k not in seen})


def _describe(error: BaseException) -> str:
    if isinstance(error, tim_oa.BatchAbortedError):
        error = error.cause
    return f"{type(error).__name__}: {error}"


def run_batch_command(
    state: State,
    label: str,
    ids: IdList,
    call: BatchCall,
    *,
    noun: str,
    output: str,
    failed_file: FailedIdsFile | None,
    concurrency: int,
    with_unchanged: bool = True,
) -> int:
    """Run one bulk job and report it; returns the exit code.

    0 when every id succeeded (or was unchanged), 1 when any failed, 128 + N when signal N
    stopped it.
    """
    if not len(ids):
        note(f"warning: no {noun}s in {ids.source}; nothing to do")
    writer = RecordWriter(sys.stdout, output, columns=OUTCOME_COLUMNS)
    bar = BatchBar(label, total=len(ids))
    started = time.perf_counter()
    with BulkJob(writer, failed_file, state.redact, bar) as job:

        async def run() -> tim_oa.BatchResult:
            async with state.open_session(max_concurrency=concurrency) as oa:
                with bar, located_at_input(ids):
                    return await call(oa, ids.ids, job)

        stopped: Stopped | None = None
        unconfirmed = 0
        try:
            job.finish(state.run_async(run))
        except Stopped as exc:
            stopped = exc
            unconfirmed = _keep_unsettled(job, ids.ids, failed_file)
        except BaseException:
            if job.settled and failed_file is not None:
                # Chunks were sent: keep what failed and what was never confirmed.
                _keep_unsettled(job, ids.ids, failed_file)
                failed_file.commit()
            raise
        if failed_file is not None:
            failed_file.commit()
    if job.first_error is not None:
        note(f"error: {state.redact(job.first_error)}")
    note(
        _summary(label, noun, ids, job, stopped, unconfirmed, failed_file, with_unchanged, started)
    )
    if stopped is not None:
        return stopped.exit_code
    return FAILED if job.failed else OK


def _keep_unsettled(job: BulkJob, ids: Iterable[str], failed_file: FailedIdsFile | None) -> int:
    """Add the ids without an outcome to the failed-ids file (if any); return how many."""
    count = 0
    for key in job.unsettled(ids):
        if failed_file is not None:
            failed_file.write((key,))
        count += 1
    return count


def _summary(
    label: str,
    noun: str,
    ids: IdList,
    job: BulkJob,
    stopped: Stopped | None,
    unconfirmed: int,
    failed_file: FailedIdsFile | None,
    with_unchanged: bool,
    started: float,
) -> str:
    elapsed = format_seconds(time.perf_counter() - started)
    read = plural(ids.count, noun)
    distinct = job.distinct if job.distinct is not None else job.settled + unconfirmed
    if ids.count != distinct:
        read += f" ({distinct:,} distinct)"
    counts = [f"{job.counts[tim_oa.Status.SUCCEEDED]:,} succeeded"]
    if with_unchanged:
        counts.append(f"{job.counts[tim_oa.Status.UNCHANGED]:,} unchanged")
    counts.append(f"{job.failed:,} failed")
    if stopped is None:
        summary = f"{label}: {read}: {', '.join(counts)} in {elapsed}"
    else:
        summary = (
            f"{label}: interrupted by {signal_name(stopped.signum)} after {elapsed}; {read}: "
            f"{', '.join(counts)}; {plural(unconfirmed, noun)} not confirmed"
        )
    if failed_file is not None:
        kept = "the failed and unconfirmed" if unconfirmed else "the failed"
        if job.failed or unconfirmed:
            summary += f"; {kept} {noun}s written to {failed_file.path}"
        else:
            summary += f"; none failed ({failed_file.path} is empty)"
    elif unconfirmed:
        summary += " (--failed-ids PATH keeps them for a re-run)"
    if job.writer.closed:
        summary += f"; stdout closed after {plural(job.writer.count, 'record')}, the job went on"
    return summary


def failed_ids_file(path: Path | None) -> AbstractContextManager[FailedIdsFile | None]:
    """The ``--failed-ids`` file as a context manager, or None when no path is given.

    Created at once (an unwritable path is an :class:`InputError` before anything is read or
    sent); removed on exit unless committed, leaving the old file as it was.
    """
    return FailedIdsFile(path) if path is not None else nullcontext(None)
