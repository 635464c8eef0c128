"""Running a command over any number of ids: dedupe, chunk, bounded concurrency, every outcome kept.

The engine knows nothing about the wire: it is given a function that sends one chunk and returns
each answered id's raw code (``Result``, ``RetCode``), and a table from codes to statuses. A chunk
that raises (after the session's own retries) is recorded as a failure of each of its ids; the
other chunks carry on.

Outcomes are stored compactly (one byte of status per id, plus sparse tables for the codes that
differ from their status's usual code and for errors); :class:`Outcome` objects are built only
when a caller looks at them. A job of a million ids so holds a few bytes per id beyond the ids.

Workers run through :mod:`tim_oa._tasks`, whose task groups never surface an exception group.
"""

from __future__ import annotations

import enum
import functools
import itertools
from collections.abc import (
    Awaitable,
    Callable,
    ItemsView,
    Iterator,
    Mapping,
    Sequence,
    ValuesView,
)
from typing import Final, TypeVar

import attrs

from . import _answers
from ._errors import (
    AccountNotFoundError,
    AuthError,
    BatchAbortedError,
    BatchError,
    MissingResultError,
    PermissionDeniedError,
    ProgressCallbackError,
    ServiceNotEnabledError,
    SubscriberLimitError,
)
from ._observe import start_bulk
from ._tasks import SENT, Crew, run_workers

T = TypeVar("T")


class Status(enum.Enum):
    """What happened to one id of a batch."""

    SUCCEEDED = "succeeded"
    """Done (add/remove ``Result`` 1, recall ``RetCode`` 0)."""
    UNCHANGED = "unchanged"
    """Nothing to do: already subscribed / was not subscribed (``Result`` 2)."""
    FAILED = "failed"
    """Refused (``Result`` 0, a non-zero ``RetCode``) or its chunk failed as a whole."""


# One byte per id in a BatchResult.
_PENDING, _SUCCEEDED, _UNCHANGED, _FAILED = 0, 1, 2, 3
_STATE: Final = {Status.SUCCEEDED: _SUCCEEDED, Status.UNCHANGED: _UNCHANGED, Status.FAILED: _FAILED}
_STATUS: Final = (Status.FAILED, Status.SUCCEEDED, Status.UNCHANGED, Status.FAILED)
_MASKS: Final = {
    s: bytes(1 if i == s else 0 for i in range(256)) for s in (_SUCCEEDED, _UNCHANGED, _FAILED)
}


@attrs.frozen
class Outcome:
    """The outcome for one id.

    Attributes:
        id: The subscriber id or message key.
        status: :class:`Status` of the id.
        code: The raw per-item code from the API (``Result`` or ``RetCode``), or ``None`` when the
            chunk failed as a whole or the answer left the id out.
        error: The exception that sank the id's chunk (or :class:`MissingResultError`), if any.
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
        succeeded: Finished ids that succeeded, so far.
        unchanged: Finished ids that needed no change, so far.
        failed: Finished ids that failed, so far.
        chunks_done: Chunks finished.
        chunks_total: Chunks in the whole job.
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
    its :class:`Outcome` (built when looked at); ``ok`` is True when nothing failed.
    """

    __slots__ = (
        "_chunk_errors",
        "_chunk_size",
        "_codes",
        "_defaults",
        "_id_errors",
        "_ids",
        "_index",
        "_states",
    )

    def __init__(self, outcomes: Mapping[str, Outcome] | None = None) -> None:
        given = outcomes or {}
        items = list(given.values())
        self._ids: Sequence[str] = list(given)
        self._states = bytearray(_STATE[o.status] for o in items)
        self._defaults: tuple[int | None, ...] = (None, None, None, None)
        self._codes: dict[int, int | None] = {
            i: o.code for i, o in enumerate(items) if o.code is not None
        }
        self._chunk_size = max(1, len(items))
        self._chunk_errors: dict[int, BaseException] = {}
        self._id_errors: dict[int, BaseException] = {
            i: o.error for i, o in enumerate(items) if o.error is not None
        }
        self._index: dict[str, int] | None = None

    @classmethod
    def _empty(
        cls, ids: Sequence[str], chunk_size: int, defaults: tuple[int | None, ...]
    ) -> BatchResult:
        """A result for ``ids`` whose outcomes the engine fills in as chunks finish."""
        result = cls.__new__(cls)
        result._ids = ids
        result._states = bytearray(len(ids))
        result._defaults = defaults
        result._codes = {}
        result._chunk_size = chunk_size
        result._chunk_errors = {}
        result._id_errors = {}
        result._index = None
        return result

    # --- building outcomes on demand ------------------------------------------------------------

    def _error_at(self, i: int) -> BaseException | None:
        if self._id_errors:
            error = self._id_errors.get(i)
            if error is not None:
                return error
        if self._chunk_errors:
            return self._chunk_errors.get(i // self._chunk_size)
        return None

    def _outcome(self, i: int) -> Outcome:
        state = self._states[i]
        error = self._error_at(i)
        if i in self._codes:
            code = self._codes[i]
        else:
            code = None if error is not None else self._defaults[state]
        return Outcome(self._ids[i], _STATUS[state], code, error)

    def _position(self, key: str) -> int:
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self._ids)}
        return self._index[key]

    @property
    def outcomes(self) -> Mapping[str, Outcome]:
        """Each id's :class:`Outcome`, in input order (a read-only mapping)."""
        return _Outcomes(self, 0, len(self._ids))

    def _ids_with(self, state: int) -> list[str]:
        return list(itertools.compress(self._ids, self._states.translate(_MASKS[state])))

    @property
    def succeeded(self) -> list[str]:
        """Ids that were done."""
        return self._ids_with(_SUCCEEDED)

    @property
    def unchanged(self) -> list[str]:
        """Ids that needed nothing (already subscribed / not subscribed)."""
        return self._ids_with(_UNCHANGED)

    @property
    def failed(self) -> list[str]:
        """Ids that failed, individually or with their chunk (or never settled)."""
        failed = self._ids_with(_FAILED)
        if _PENDING in self._states:  # only if the job did not finish
            states = self._states
            return [k for k, s in zip(self._ids, states, strict=True) if s in (_FAILED, _PENDING)]
        return failed

    @property
    def ok(self) -> bool:
        """True when no id failed."""
        return _FAILED not in self._states and _PENDING not in self._states

    def errors(self) -> dict[str, BaseException]:
        """The exception of each failed id that has one (its chunk's error, or a missing result)."""
        found: dict[str, BaseException] = {}
        if not self._chunk_errors and not self._id_errors:
            return found
        for i, key in enumerate(self._ids):
            error = self._error_at(i)
            if error is not None:
                found[key] = error
        return found

    def raise_for_failures(self) -> None:
        """Raise :class:`BatchError` if any id failed."""
        if self.ok:
            return
        failed = self.failed
        shown = ", ".join(failed[:5]) + (", …" if len(failed) > 5 else "")
        raise BatchError(f"{len(failed)} of {len(self._ids)} ids failed: {shown}", self)

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        counts = [self._states.count(s) for s in (_SUCCEEDED, _UNCHANGED, _FAILED)]
        return (
            f"BatchResult(total={len(self._ids)}, succeeded={counts[0]}, "
            f"unchanged={counts[1]}, failed={counts[2] + self._states.count(_PENDING)})"
        )


class _Outcomes(Mapping[str, Outcome]):
    """A read-only view of positions ``start:stop`` of a :class:`BatchResult`, in input order."""

    __slots__ = ("_result", "_start", "_stop")

    def __init__(self, result: BatchResult, start: int, stop: int) -> None:
        self._result = result
        self._start = start
        self._stop = stop

    def __getitem__(self, key: str) -> Outcome:
        i = self._result._position(key)
        if not self._start <= i < self._stop:
            raise KeyError(key)
        return self._result._outcome(i)

    def __iter__(self) -> Iterator[str]:
        return itertools.islice(self._result._ids, self._start, self._stop)

    def __len__(self) -> int:
        return self._stop - self._start

    def values(self) -> ValuesView[Outcome]:
        """The outcomes in input order (built one by one, no lookup table needed)."""
        return _OutcomeValues(self)

    def items(self) -> ItemsView[str, Outcome]:
        """``(id, outcome)`` pairs in input order."""
        return _OutcomeItems(self)

    def _each(self) -> Iterator[Outcome]:
        outcome = self._result._outcome
        return (outcome(i) for i in range(self._start, self._stop))

    def __repr__(self) -> str:
        return f"<outcomes of {len(self)} ids>"


class _OutcomeValues(ValuesView[Outcome]):
    _mapping: _Outcomes

    def __iter__(self) -> Iterator[Outcome]:
        return self._mapping._each()


class _OutcomeItems(ItemsView[str, Outcome]):
    _mapping: _Outcomes

    def __iter__(self) -> Iterator[tuple[str, Outcome]]:
        return ((o.id, o) for o in self._mapping._each())


ChunkSender = Callable[[Sequence[str]], Awaitable[Mapping[str, int]]]
"""Sends one chunk; returns each answered id's raw code (ids left out are missing results)."""
ProgressCallback = Callable[[BatchProgress], "Awaitable[None] | None"]


def chunked(ids: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` ids."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --- the engine ----------------------------------------------------------------------------------


async def run_batch(
    ids: Sequence[str],
    *,
    chunk_size: int,
    concurrency: int,
    send_chunk: ChunkSender,
    code_status: Mapping[int, Status],
    on_progress: ProgressCallback | None = None,
    stop_on: Callable[[BaseException], bool] | None = None,
    observe: tuple[object, str] | None = None,
    grow: bool = False,
) -> BatchResult:
    """Send ``ids`` (already distinct and validated) in chunks and gather every outcome.

    At most ``concurrency`` chunks are in flight; workers pull chunks from one iterator so a job of
    millions of ids holds only ``concurrency`` tasks (a single chunk runs inline). ``code_status``
    maps the raw codes to statuses; any other code is a failure. When a chunk fails with an error
    for which ``stop_on`` is true (one that every later chunk would hit too, such as a missing
    account), no further chunks are sent and the unsent ids fail with :class:`BatchAbortedError`.

    ``on_progress`` runs after each chunk. If it raises, the job still runs every chunk, later
    calls of the callback are skipped, and :class:`ProgressCallbackError` is raised at the end
    with the complete result (``__cause__`` is the callback's exception). Cancelling the caller
    cancels the workers. ``observe``: ``(session, command)``, for the session's observers.
    ``grow``: ``send_chunk`` goes through the session's request loop, so the workers can be
    started as requests leave (:class:`tim_oa._tasks.Crew`) rather than all at once.
    """
    code_state, defaults, plain_codes = _code_tables(tuple(code_status.items()))
    result = BatchResult._empty(ids, chunk_size, defaults)
    states, sparse_codes, default_codes = result._states, result._codes, result._defaults
    chunks = enumerate(chunked(ids, chunk_size))
    chunks_total = -(-len(ids) // chunk_size)
    counts = [0, 0, 0, 0]
    done = 0
    chunks_done = 0
    fatal: list[BatchAbortedError] = []
    callback_failed: list[Exception] = []
    bulk = None if observe is None else start_bulk(*observe, len(ids), chunk_size)
    crew = Crew() if grow else None

    async def worker() -> None:
        nonlocal done, chunks_done
        for number, chunk in chunks:
            base = number * chunk_size
            size = len(chunk)
            error: BaseException | None = None
            answer: Mapping[str, int] = {}
            started = None
            if fatal:
                error = fatal[0]
            else:
                if bulk is not None:
                    started = bulk.chunk_started(number, size)
                ticket = None if crew is None else crew.ticket()
                token = SENT.set(ticket)
                try:
                    answer = await send_chunk(chunk)
                except Exception as exc:  # one chunk's failure must not cancel or hide the others
                    error = exc
                    if stop_on is not None and stop_on(exc) and not fatal:
                        fatal.append(BatchAbortedError(exc))
                finally:
                    SENT.reset(token)
                    if ticket is not None:
                        ticket.close()
            if error is not None:
                result._chunk_errors[number] = error
                states[base : base + size] = bytes((_FAILED,)) * size
                counts[_FAILED] += size
            elif not _answers.record_plain(chunk, base, answer, plain_codes, states, counts):
                missing: list[int] = []
                for position, key in enumerate(chunk, base):
                    code = answer.get(key)
                    if code is None:
                        missing.append(position)
                        state = _FAILED
                    else:
                        state = code_state.get(code, _FAILED)
                        if code != default_codes[state]:
                            sparse_codes[position] = code
                    states[position] = state
                    counts[state] += 1
                if missing:  # ids the server left out of its answer fail too: none go missing
                    lost = MissingResultError(len(missing))
                    for position in missing:
                        result._id_errors[position] = lost
            if bulk is not None:
                mine = states[base : base + size]
                outcome = (mine.count(_SUCCEEDED), mine.count(_UNCHANGED), mine.count(_FAILED))
                bulk.chunk_finished(started, number, size, outcome, error)
            done += size
            chunks_done += 1
            if on_progress is not None and not callback_failed:
                progress = BatchProgress(
                    done=done,
                    total=len(ids),
                    succeeded=counts[_SUCCEEDED],
                    unchanged=counts[_UNCHANGED],
                    failed=counts[_FAILED],
                    chunks_done=chunks_done,
                    chunks_total=chunks_total,
                    outcomes=_Outcomes(result, base, base + size),
                )
                try:
                    maybe = on_progress(progress)
                    if maybe is not None and hasattr(maybe, "__await__"):
                        await maybe
                except Exception as exc:  # the caller's bug must not lose the job's outcomes
                    callback_failed.append(exc)

    try:
        await run_workers(min(concurrency, chunks_total), worker, crew)
    except BaseException as exc:
        if bulk is not None:
            bulk.finished(counts[_SUCCEEDED:], exc)
        raise
    if bulk is not None:
        bulk.finished(counts[_SUCCEEDED:], callback_failed[0] if callback_failed else None)
    if callback_failed:
        cause = callback_failed[0]
        raise ProgressCallbackError(
            f"on_progress raised {type(cause).__name__}: {cause}; the job ran to the end "
            f"without it and .result holds every outcome ({result!r})",
            result,
        ) from cause
    return result


@functools.lru_cache(maxsize=32)
def _code_tables(
    code_status: tuple[tuple[int, Status], ...],
) -> tuple[dict[int, int], tuple[int | None, ...], dict[int, int]]:
    """A job's code tables (worked out once per table of codes, not once per job).

    Each code's state; each state's default code (its only code, if it has one); and the codes
    that are their state's default, with their states: a chunk answered with these only is
    recorded without looking at its ids one by one (``_answers.record_plain``).
    """
    code_state = {code: _STATE[status] for code, status in code_status}
    defaults: list[int | None] = [None, None, None, None]
    for state in (_SUCCEEDED, _UNCHANGED, _FAILED):
        codes = [code for code, s in code_state.items() if s == state]
        defaults[state] = codes[0] if len(codes) == 1 else None
    plain_codes = {code: s for code, s in code_state.items() if defaults[s] == code}
    return code_state, tuple(defaults), plain_codes


ADD_REMOVE_CODES: Final = {1: Status.SUCCEEDED, 2: Status.UNCHANGED, 0: Status.FAILED}
"""add/remove ``Result``: 1 done, 2 nothing to do, 0 failed."""
RECALL_CODES: Final = {0: Status.SUCCEEDED}
"""recall ``RetCode``: 0 recalled; any other code is a failure."""

# Errors that every later chunk of the same bulk job would hit too (the account is gone, the app or
# admin is refused, the account is full): a batch stops sending on the first. An invalid-request
# error may belong to one chunk's ids only, so it does not stop a job; nor does 130002, which the
# reference describes as "insufficient permission (check the parameters per ErrorInfo)": it can
# be about one chunk's parameters rather than the caller's rights.
_JOB_STOPPING: Final = (
    AccountNotFoundError,
    AuthError,
    PermissionDeniedError,
    ServiceNotEnabledError,
    SubscriberLimitError,
)
_PER_CHUNK_CODES: Final = frozenset({130002})


def stops_batch(error: BaseException) -> bool:
    """Whether ``error`` on one chunk means the remaining chunks of the job should not be sent."""
    if getattr(error, "code", None) in _PER_CHUNK_CODES:
        return False
    return isinstance(error, _JOB_STOPPING)
