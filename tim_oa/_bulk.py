"""The one bulk helper: ids checked, chunked by the registry, sent, parsed, every outcome kept.

A bulk method (add/remove subscribers, recall, the account imports and deletes) gives
:func:`run_bulk` its command's registry record, how to build one chunk's body and how to read
one chunk's answer; the helper does the rest the same way for all of them: the ``invalid=``
policy, ``extra_body`` checked once per call (not once per chunk), the chunk size and per-item
codes from the registry, and the batch engine of :mod:`tim_oa._batch`. :func:`chunk_sender` is
the part :meth:`Session.get_accounts` shares (it gathers profiles, not outcomes).

Loaded on first use (it loads the batch engine, and with it attrs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from . import _limits as L
from ._batch import (
    _FAILED,
    BatchResult,
    ProgressCallback,
    Status,
    run_batch,
    stops_batch,
)
from ._errors import ValidationError
from ._registry import Repeat
from ._validation import (
    check_callback,
    check_concurrency,
    check_iterable,
    check_user_id,
    merge_extra,
)

if TYPE_CHECKING:
    from ._base import BaseSession
    from ._registry import Command

Invalid = Literal["raise", "fail"]
"""What a bulk method does with ids that break the id rules: raise one ValidationError naming
every one with its index (``"raise"``), or give each a failed outcome carrying its
ValidationError and send the others (``"fail"``)."""

Check = Callable[[Any, str], str]
Build = Callable[[Sequence[str]], dict[str, Any]]
Encode = Callable[[Sequence[str]], bytes]
_ENCODED: Mapping[str, Any] = MappingProxyType({})
"""The body handed to the request loop with a chunk already encoded (``payload``)."""
Parse = Callable[[Mapping[str, Any], Sequence[str]], Mapping[str, int]]


def check_invalid(value: Any) -> Invalid:
    """``invalid=``: ``"raise"`` or ``"fail"``."""
    if value == "raise" and isinstance(value, str):
        return "raise"
    if value == "fail" and isinstance(value, str):
        return "fail"
    raise ValidationError(
        f"invalid must be 'raise' or 'fail', got {value!r}",
        field="invalid",
        limit=("raise", "fail"),
    )


class CheckedIds:
    """The ids of one bulk call after the id rules: what to send and what was refused.

    ``order`` is every distinct str id in first-seen order; ``valid`` the ones to send (the same
    list when nothing was refused); ``rejected`` maps each refused id to its ValidationError.
    """

    __slots__ = ("order", "rejected", "valid")

    def __init__(
        self, order: list[str], valid: list[str], rejected: dict[str, ValidationError]
    ) -> None:
        self.order = order
        self.valid = valid
        self.rejected = rejected


def check_ids(
    values: Any, arg: str, check: Check = check_user_id, *, invalid: Invalid
) -> CheckedIds:
    """Check every id of ``values`` (not a lone str) with ``check`` under the ``invalid`` policy.

    With ``"raise"``, one :class:`ValidationError` lists every bad id with its index. With
    ``"fail"``, a str that breaks the rules is refused (kept in ``rejected``); an item that is
    not a str at all is a programming error and still raises.
    """
    items = check_iterable(values, arg)
    if check is check_user_id:
        if not isinstance(items, (list, tuple)):
            items = list(items)  # read once: the slow path may have to look again
        order = _plain_user_ids(items)
        if order is not None:
            return CheckedIds(order, order, {})
    distinct: dict[str, None] = {}
    rejected: dict[str, ValidationError] = {}
    problems: list[ValidationError] = []
    for index, value in enumerate(items):
        # The common case (a valid id) costs one call; the index is formatted only on failure.
        try:
            check(value, arg)
        except ValidationError:
            try:
                check(value, f"{arg}[{index}]")
            except ValidationError as exc:
                if invalid == "fail" and isinstance(value, str):
                    rejected.setdefault(value, exc)
                else:
                    problems.append(exc)
                    continue
        distinct[value] = None
    if len(problems) == 1:
        raise problems[0] from None
    if problems:
        listed = "\n  ".join(str(p) for p in problems)
        raise ValidationError(f"{len(problems)} invalid ids in {arg}:\n  {listed}", field=arg)
    order = list(distinct)
    if not rejected:
        return CheckedIds(order, order, rejected)
    return CheckedIds(order, [i for i in order if i not in rejected], rejected)


def _plain_user_ids(items: list[Any] | tuple[Any, ...]) -> list[str] | None:
    """The distinct ids in first-seen order if all are plain ASCII str of 1 to 32 characters.

    That is 1 to 32 UTF-8 bytes, what :func:`check_user_id` asks; ``None`` otherwise. The whole
    test runs in C (``set``, ``map``), a fraction of calling :func:`check_user_id` per
    id, which made 100,000 ids cost 0.15-0.3 s before the first request. Anything else (a
    non-str, a non-ASCII or empty or long id) goes to the per-id check, which names each bad one.
    """
    try:
        distinct = len(set(items)) == len(items)  # a set: half the cost of an ordered dict
        order = list(items) if distinct else list(dict.fromkeys(items))
    except TypeError:  # an unhashable item: not an id
        return None
    if not order:
        return order
    try:
        joined = "".join(order)  # TypeError for any item that is not a str
    except TypeError:
        return None
    if not joined.isascii():
        return None
    lengths = set(map(len, order))
    if min(lengths) < 1 or max(lengths) > L.USER_ID_MAX_BYTES:
        return None
    return order


def batch_workers(session: BaseSession, concurrency: Any) -> int:
    """Chunks in flight for a bulk job: ``concurrency``, else the session's ``max_concurrency``.

    With the adaptive bound that is its ceiling: the session's own slots still decide how many
    requests are on the wire at once.
    """
    if concurrency is not None:
        return check_concurrency(concurrency)
    return session.max_concurrency


def chunk_sender(
    session: BaseSession,
    spec: Command,
    build: Build,
    extra_body: Mapping[str, Any] | None,
    encode: Encode | None = None,
) -> Callable[[Sequence[str]], Awaitable[dict[str, Any]]]:
    """A function sending one chunk's body (``build`` plus ``extra_body``) to ``spec``.

    ``extra_body`` is checked here, once: its keys against ``spec.modelled``, its values as JSON.
    ``encode``, if given, writes the JSON of ``build(chunk)`` faster than ``json.dumps`` (used
    when there is no ``extra_body`` to merge).
    """
    merge_extra({}, extra_body, spec.modelled)
    extra = dict(extra_body) if extra_body else None
    if spec.repeat is not Repeat.SAFE:
        encode = None  # whether a repeat is safe is read from the body, which must then exist

    async def send(chunk: Sequence[str]) -> dict[str, Any]:
        if extra is not None:
            return await session._request(spec, {**build(chunk), **extra})
        if encode is None:
            return await session._request(spec, build(chunk))
        # The request loop reads the body only to encode it and to judge a repeat, and neither
        # is needed here: the chunk's dict of 100 objects is never built.
        return await session._request(spec, _ENCODED, payload=encode(chunk))

    return send


async def run_bulk(
    session: BaseSession,
    spec: Command,
    ids: Any,
    *,
    arg: str,
    build: Build,
    parse: Parse,
    encode: Encode | None = None,
    check: Check = check_user_id,
    invalid: Any = "raise",
    extra_body: Mapping[str, Any] | None = None,
    concurrency: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> BatchResult:
    """Run one bulk call of ``spec`` over ``ids`` and return every id's outcome, in input order.

    Input is checked before any request: the ids (under ``invalid``), ``concurrency``,
    ``on_progress`` and ``extra_body``. Chunks of ``spec.chunk_size`` are built by ``build``,
    answered codes read by ``parse`` and mapped by ``spec.codes``; an error every later chunk
    would hit stops the job (see :func:`tim_oa._batch.stops_batch`).
    """
    assert spec.chunk_size is not None, f"{spec.name} is not a bulk command"
    policy = check_invalid(invalid)
    checked = check_ids(ids, arg, check, invalid=policy)
    workers = batch_workers(session, concurrency)
    check_callback(on_progress, "on_progress")
    send = chunk_sender(session, spec, build, extra_body, encode)
    session._check_open()  # a closed session raises, not a result with every id failed

    async def send_chunk(chunk: Sequence[str]) -> Mapping[str, int]:
        return parse(await send(chunk), chunk)

    result = await run_batch(
        checked.valid,
        chunk_size=spec.chunk_size,
        concurrency=workers,
        send_chunk=send_chunk,
        code_status={code: Status(status) for code, status in spec.codes.items()},
        on_progress=on_progress,
        stop_on=stops_batch,
        observe=(session, spec.name),
        grow=True,
    )
    if checked.rejected:
        return _with_rejected(result, checked)
    return result


def _with_rejected(result: BatchResult, checked: CheckedIds) -> BatchResult:
    """``result`` with the refused ids put back in input order, each failed with its error."""
    merged = BatchResult._empty(checked.order, max(1, len(checked.order)), result._defaults)
    sent = iter(range(len(result)))
    for position, key in enumerate(checked.order):
        error = checked.rejected.get(key)
        if error is not None:
            merged._states[position] = _FAILED
            merged._id_errors[position] = error
            continue
        i = next(sent)
        merged._states[position] = result._states[i]
        if i in result._codes:
            merged._codes[position] = result._codes[i]
        found = result._error_at(i)
        if found is not None:
            merged._id_errors[position] = found
    return merged
