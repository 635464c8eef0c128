"""Running a bulk command: records streamed as chunks finish, and no id left unaccounted for.

The library reports each finished chunk through ``on_progress`` (``BatchProgress.outcomes``).
:class:`BulkJob` writes those records to stdout at once, adds the failed ids to the
``--failed-ids`` file, and forgets the ids it has settled: what it keeps is only the ids not yet
confirmed, which shrinks as the job runs. So the job's memory is the library's, plus nothing that
grows with the output. When a signal stops the job, every id not confirmed goes to the
``--failed-ids`` file, so re-running with that file finishes the job (repeating an add, a remove or
a recall is harmless).

Records come in the order chunks finish, which with ``--concurrency`` above 1 is not quite the
input order.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import tim_oa

from ._context import State, located_at_input
from ._exitcodes import FAILED, OK
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

_COMPACT_BELOW = 4096
"""Below this many ids the table of unconfirmed ids is never rebuilt (not worth it)."""


class BulkJob:
    """Settles each id as its chunk finishes; see the module docstring.

    Pass the instance as ``on_progress``. ``pending`` holds the ids not yet confirmed, in input
    order; it is rebuilt smaller as it empties (a dict never gives memory back by itself).
    """

    def __init__(
        self,
        pending: dict[str, None],
        writer: RecordWriter,
        failed_file: FailedIdsFile | None,
        redact: Callable[[str], str],
        bar: BatchBar,
    ) -> None:
        self.pending = pending
        self._high = len(pending)
        self.writer = writer
        self.failed_file = failed_file
        self.redact = redact
        self.bar = bar
        self.counts: dict[tim_oa.Status, int] = dict.fromkeys(tim_oa.Status, 0)
        self.first_error: str | None = None
        self.progressed = False

    @property
    def settled(self) -> int:
        """Ids with a final outcome."""
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        """Ids that failed."""
        return self.counts[tim_oa.Status.FAILED]

    def __call__(self, progress: tim_oa.BatchProgress) -> None:
        """Record one finished chunk (the library's ``on_progress``)."""
        self.progressed = True
        self.settle(progress.outcomes)
        self.bar(progress)

    def settle(self, outcomes: Mapping[str, tim_oa.Outcome]) -> None:
        """Write the records of ``outcomes`` and forget their ids; ids seen before are skipped."""
        failed: list[str] = []
        for key, outcome in outcomes.items():
            if key not in self.pending:
                continue  # not one of ours, or already settled
            del self.pending[key]
            self.writer.write(outcome_record(outcome, self.redact))
            self.counts[outcome.status] += 1
            if not outcome.ok:
                failed.append(key)
                if self.first_error is None and outcome.error is not None:
                    self.first_error = _describe(outcome.error)
        self.writer.flush()
        if failed and self.failed_file is not None:
            self.failed_file.write(failed)
        if self._high > _COMPACT_BELOW and len(self.pending) * 2 < self._high:
            self.pending = dict(self.pending)
            self._high = len(self.pending)


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
    stopped it. ``ids`` must hold the distinct ids; the job takes them over.
    """
    assert ids.distinct is not None
    pending, ids.distinct = ids.distinct, None
    total = len(pending)
    if not total:
        note(f"warning: no {noun}s in {ids.source}; nothing to do")
    writer = RecordWriter(sys.stdout, output, columns=OUTCOME_COLUMNS)
    bar = BatchBar(label, total=total)
    job = BulkJob(pending, writer, failed_file, state.redact, bar)
    started = time.perf_counter()

    async def run() -> tim_oa.BatchResult:
        async with state.open_session(max_concurrency=concurrency) as oa:
            with bar, located_at_input(ids):
                return await call(oa, list(job.pending), job)

    stopped: Stopped | None = None
    try:
        result = state.run_async(run)
    except Stopped as exc:
        stopped = exc
    except BaseException:
        if job.progressed and failed_file is not None:
            # Chunks were sent: keep what failed and what was never confirmed.
            failed_file.write(job.pending)
            failed_file.commit()
        raise
    else:
        # Every id has an outcome in the result; any the progress reports missed are written now.
        job.settle({key: result.outcomes[key] for key in job.pending if key in result.outcomes})
    unconfirmed = len(job.pending)
    if failed_file is not None:
        failed_file.write(job.pending)
        failed_file.commit()
    if job.first_error is not None:
        note(f"error: {state.redact(job.first_error)}")
    elapsed = format_seconds(time.perf_counter() - started)
    read = plural(ids.count, noun)
    if ids.count != total:
        read += f" ({total:,} distinct)"
    counts = [f"{job.counts[tim_oa.Status.SUCCEEDED]:,} succeeded"]
    if with_unchanged:
        counts.append(f"{job.counts[tim_oa.Status.UNCHANGED]:,} unchanged")
    counts.append(f"{job.failed:,} failed")
    if stopped is not None:
        summary = (
            f"{label}: interrupted by {signal_name(stopped.signum)} after {elapsed}; {read}: "
            f"{', '.join(counts)}; {plural(unconfirmed, noun)} not confirmed"
        )
    elif unconfirmed:
        summary = (
            f"{label}: {read}: {', '.join(counts)}; {plural(unconfirmed, noun)} without an "
            f"outcome, in {elapsed}"
        )
    else:
        summary = f"{label}: {read}: {', '.join(counts)} in {elapsed}"
    if failed_file is not None:
        summary += f"; {_kept(job.failed, unconfirmed, noun)} written to {failed_file.path}"
    elif unconfirmed:
        summary += " (--failed-ids PATH keeps them for a re-run)"
    if writer.closed:
        summary += f"; stdout closed after {plural(writer.count, 'record')}, the job went on"
    note(summary)
    if stopped is not None:
        return stopped.exit_code
    return FAILED if job.failed or unconfirmed else OK


def _kept(failed: int, unconfirmed: int, noun: str) -> str:
    if unconfirmed:
        return f"the failed and unconfirmed {noun}s"
    return f"the failed {noun}s" if failed else f"no {noun}s (none failed)"


def failed_ids_file(path: Path | None) -> AbstractContextManager[FailedIdsFile | None]:
    """The ``--failed-ids`` file as a context manager, or None when no path is given.

    Created at once (an unwritable path is an :class:`InputError` before anything is read or
    sent); removed on exit unless committed, leaving the old file as it was.
    """
    return FailedIdsFile(path) if path is not None else nullcontext(None)
