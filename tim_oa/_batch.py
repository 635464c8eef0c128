"""Running a command over any number of ids: dedupe, chunk, bounded concurrency, every outcome kept.

The engine knows nothing about the wire: it is given a function that sends one chunk and returns
one :class:`Outcome` per id. A chunk that raises (after the session's own retries) is recorded as a
failure of each of its ids; the other chunks carry on.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

import anyio
import attrs

from ._errors import (
    AccountNotFoundError,
    AuthError,
    BatchAbortedError,
    BatchError,
    MissingResultError,
    PermissionDeniedError,
    ServiceNotEnabledError,
    SubscriberLimitError,
)


class Status(enum.Enum):
    """What happened to one id of a batch."""

    SUCCEEDED = "succeeded"
    """Done (add/remove ``Result`` 1, recall ``RetCode`` 0)."""
    UNCHANGED = "unchanged"
    """Nothing to do: already subscribed / was not subscribed (``Result`` 2)."""
    FAILED = "failed"
    """Refused (``Result`` 0, a non-zero ``RetCode``) or its chunk failed as a whole."""


@attrs.frozen
class Outcome:
    """The outcome for one id.

    Attributes:
        id: The subscriber id or message key.
        status: :class:`Status` of the id.
        code: The raw per-item code from the API (``Result`` or ``RetCode``), or ``None`` when the
            chunk failed as a whole.
        error: The exception that sank the id's chunk, if any.
    """

    id: str
    status: Status
    code: int | None = None
    error: BaseException | None = attrs.field(default=None, eq=False)

    @property
    def ok(self) -> bool:
        """True unless the id failed."""
        return self.status is not Status.FAILED


@attrs.frozen
class BatchProgress:
    """Passed to ``on_progress`` after every chunk.

    Attributes:
        done: Distinct ids whose chunk has finished.
        total: Distinct ids in the whole job.
        succeeded / unchanged / failed: Running counts over the finished ids.
        chunks_done / chunks_total: Chunks finished, and in the whole job.
        outcomes: The outcomes of the chunk that just finished, so a caller can stream results
            or checkpoint which ids are settled before the whole job ends.
    """

    done: int
    total: int
    succeeded: int
    unchanged: int
    failed: int
    chunks_done: int
    chunks_total: int
    outcomes: Mapping[str, Outcome] = attrs.field(factory=dict, eq=False, repr=False)


class BatchResult:
    """One outcome per distinct input id, in input order.

    ``succeeded``, ``unchanged`` and ``failed`` list the ids by status; ``outcomes`` maps each id to
    its :class:`Outcome`; ``ok`` is True when nothing failed.
    """

    __slots__ = ("outcomes",)

    def __init__(self, outcomes: dict[str, Outcome]) -> None:
        self.outcomes = outcomes

    def _ids(self, status: Status) -> list[str]:
        return [i for i, o in self.outcomes.items() if o.status is status]

    @property
    def succeeded(self) -> list[str]:
        """Ids that were done."""
        return self._ids(Status.SUCCEEDED)

    @property
    def unchanged(self) -> list[str]:
        """Ids that needed nothing (already subscribed / not subscribed)."""
        return self._ids(Status.UNCHANGED)

    @property
    def failed(self) -> list[str]:
        """Ids that failed, individually or with their chunk."""
        return self._ids(Status.FAILED)

    @property
    def ok(self) -> bool:
        """True when no id failed."""
        return all(o.status is not Status.FAILED for o in self.outcomes.values())

    def errors(self) -> dict[str, BaseException]:
        """The chunk-level exception of each failed id that has one."""
        return {i: o.error for i, o in self.outcomes.items() if o.error is not None}

    def raise_for_failures(self) -> None:
        """Raise :class:`BatchError` if any id failed."""
        failed = self.failed
        if failed:
            shown = ", ".join(failed[:5]) + (", …" if len(failed) > 5 else "")
            raise BatchError(f"{len(failed)} of {len(self.outcomes)} ids failed: {shown}", self)

    def __len__(self) -> int:
        return len(self.outcomes)

    def __repr__(self) -> str:
        return (
            f"BatchResult(total={len(self.outcomes)}, succeeded={len(self.succeeded)}, "
            f"unchanged={len(self.unchanged)}, failed={len(self.failed)})"
        )


ChunkSender = Callable[[Sequence[str]], Awaitable[dict[str, Outcome]]]
ProgressCallback = Callable[[BatchProgress], "Awaitable[None] | None"]


def dedupe(ids: Iterable[str]) -> list[str]:
    """Distinct ids in first-seen order."""
    return list(dict.fromkeys(ids))


def chunked(ids: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most ``size`` ids."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


async def run_batch(
    ids: Sequence[str],
    *,
    chunk_size: int,
    concurrency: int,
    send_chunk: ChunkSender,
    on_progress: ProgressCallback | None = None,
    stop_on: Callable[[BaseException], bool] | None = None,
) -> BatchResult:
    """Send ``ids`` (already distinct and validated) in chunks and gather every outcome.

    At most ``concurrency`` chunks are in flight; workers pull chunks from one iterator so a job of
    millions of ids holds only ``concurrency`` tasks. Cancelling the caller cancels the workers.
    When a chunk fails with an error for which ``stop_on`` is true (one that every later chunk
    would hit too, such as a missing account), no further chunks are sent and the unsent ids fail
    with :class:`BatchAbortedError`.
    """
    results: dict[str, Outcome] = {}
    chunks = chunked(ids, chunk_size)
    chunks_total = -(-len(ids) // chunk_size)
    counts = {Status.SUCCEEDED: 0, Status.UNCHANGED: 0, Status.FAILED: 0}
    chunks_done = 0
    fatal: list[BaseException] = []

    async def worker() -> None:
        nonlocal chunks_done
        for chunk in chunks:
            if fatal:
                outcomes = {
                    i: Outcome(i, Status.FAILED, None, BatchAbortedError(fatal[0])) for i in chunk
                }
            else:
                outcomes = await _send_one(chunk, send_chunk)
                first = next(iter(outcomes.values()), None)
                error = first.error if first is not None else None
                if error is not None and stop_on is not None and stop_on(error) and not fatal:
                    fatal.append(error)
            results.update(outcomes)
            for outcome in outcomes.values():
                counts[outcome.status] += 1
            chunks_done += 1
            if on_progress is not None:
                progress = BatchProgress(
                    done=len(results),
                    total=len(ids),
                    succeeded=counts[Status.SUCCEEDED],
                    unchanged=counts[Status.UNCHANGED],
                    failed=counts[Status.FAILED],
                    chunks_done=chunks_done,
                    chunks_total=chunks_total,
                    outcomes=outcomes,
                )
                maybe = on_progress(progress)
                if inspect.isawaitable(maybe):
                    await maybe

    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, chunks_total)):
            tg.start_soon(worker)
    return BatchResult({i: results[i] for i in ids})


async def _send_one(chunk: Sequence[str], send_chunk: ChunkSender) -> dict[str, Outcome]:
    try:
        outcomes = await send_chunk(chunk)
    except Exception as exc:  # one chunk's failure must not cancel or hide the others
        return {i: Outcome(i, Status.FAILED, None, exc) for i in chunk}
    # Ids the server left out of its answer are failures too: none may go missing.
    missing = MissingResultError(len(chunk) - sum(1 for i in chunk if i in outcomes))
    return {i: outcomes.get(i) or Outcome(i, Status.FAILED, None, missing) for i in chunk}


def status_from_result(result: Any) -> Status:
    """Map an add/remove ``Result`` code (1 done, 2 nothing to do, else failed) to a status."""
    if result == 1:
        return Status.SUCCEEDED
    if result == 2:
        return Status.UNCHANGED
    return Status.FAILED


# Errors that every later chunk of the same bulk job would hit too (the account is gone, the app or
# admin is refused, the account is full): a batch stops sending on the first. An invalid-request
# error may belong to one chunk's ids only, so it does not stop a job.
_JOB_STOPPING: Final = (
    AccountNotFoundError,
    AuthError,
    PermissionDeniedError,
    ServiceNotEnabledError,
    SubscriberLimitError,
)


def stops_batch(error: BaseException) -> bool:
    """Whether ``error`` on one chunk means the remaining chunks of the job should not be sent."""
    return isinstance(error, _JOB_STOPPING)
