"""The batch engine: progress callbacks, compact outcomes, inline single chunks, stopping rules."""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx

import tim_oa
from tim_oa import Outcome, Status, _batch, _tasks

from .conftest import fail, ok

SVC = "/v4/official_account_open_http_svc/"
ACCOUNT = "@TOA#_news"


def answer_all(result: int = 1) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        ids = [i["Subscriber_Account"] for i in body.get("SubscriberList", [])] or body.get(
            "SubscriberToDel_Account", []
        )
        return ok(SubscriberList=[{"Subscriber_Account": u, "Result": result} for u in ids])

    return respond


# --- on_progress ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["add_subscribers", "remove_subscribers", "recall_messages"])
@pytest.mark.parametrize("callback", [5, "print", object()])
async def test_a_non_callable_on_progress_is_refused_before_sending(
    api: respx.MockRouter, oa: tim_oa.Session, method: str, callback: Any
) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        await getattr(oa, method)(ACCOUNT, ["1_1_1", "2_1_2"], on_progress=callback)
    assert info.value.field == "on_progress"
    assert api.calls.call_count == 0


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_raising_callback_keeps_every_outcome(
    api: respx.MockRouter, make_session: Any, is_async: bool
) -> None:
    route = api.post(SVC + "add_subscriber").mock(side_effect=answer_all())
    calls: list[tim_oa.BatchProgress] = []
    boom = RuntimeError("disk full")

    def sync_callback(progress: tim_oa.BatchProgress) -> None:
        calls.append(progress)
        raise boom

    async def async_callback(progress: tim_oa.BatchProgress) -> None:
        sync_callback(progress)

    ids = [f"u{i}" for i in range(450)]
    async with make_session(max_concurrency=3) as oa:
        with pytest.raises(tim_oa.ProgressCallbackError) as info:
            await oa.add_subscribers(
                ACCOUNT, ids, on_progress=async_callback if is_async else sync_callback
            )
    error = info.value
    assert isinstance(error, tim_oa.BatchError) and isinstance(error, tim_oa.TimOAError)
    assert error.__cause__ is boom
    assert "disk full" in str(error)
    assert route.call_count == 5  # the job ran every chunk
    assert list(error.result.outcomes) == ids and error.result.succeeded == ids
    assert len(calls) == 1  # later callbacks are skipped once one raised


async def test_a_raising_callback_on_a_single_chunk_is_not_a_group(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(SVC + "official_account_msg_recall").mock(
        return_value=ok(RecallRetList=[{"MsgKey": "1_1_1", "RetCode": 0}])
    )

    def callback(progress: tim_oa.BatchProgress) -> None:
        raise KeyError("x")

    with pytest.raises(tim_oa.ProgressCallbackError) as info:
        await oa.recall_messages(ACCOUNT, ["1_1_1"], on_progress=callback)
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.result.succeeded == ["1_1_1"]


async def test_progress_outcomes_are_the_chunk_just_finished(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(SVC + "add_subscriber").mock(side_effect=answer_all(2))
    seen: list[dict[str, Outcome]] = []
    await oa.add_subscribers(
        ACCOUNT, [f"u{i}" for i in range(150)], on_progress=lambda p: seen.append(dict(p.outcomes))
    )
    assert sorted(len(s) for s in seen) == [50, 100]
    assert all(o.status is Status.UNCHANGED and o.code == 2 for s in seen for o in s.values())


# --- compact outcomes ----------------------------------------------------------------------


async def _fake_job(ids: Sequence[str], answer: Any, **options: Any) -> tim_oa.BatchResult:
    async def send_chunk(chunk: Sequence[str]) -> dict[str, int]:
        return answer(chunk)  # type: ignore[no-any-return]

    return await _batch.run_batch(
        ids,
        chunk_size=options.pop("chunk_size", 100),
        concurrency=options.pop("concurrency", 4),
        send_chunk=send_chunk,
        code_status=options.pop("code_status", _batch.ADD_REMOVE_CODES),
        **options,
    )


async def test_outcomes_are_a_mapping_in_input_order() -> None:
    ids = [f"u{i}" for i in range(250)]

    def answer(chunk: Sequence[str]) -> dict[str, int]:
        if chunk[0] == "u100":
            raise tim_oa.InvalidRequestError(6017, "bad chunk")
        return {u: (0 if u == "u7" else 2 if u == "u8" else 1) for u in chunk if u != "u210"}

    result = await _fake_job(ids, answer)
    outcomes = result.outcomes
    assert list(outcomes) == ids and len(outcomes) == 250 and len(result) == 250
    assert outcomes["u7"] == Outcome("u7", Status.FAILED, 0)
    assert outcomes["u8"] == Outcome("u8", Status.UNCHANGED, 2)
    assert outcomes["u9"] == Outcome("u9", Status.SUCCEEDED, 1)
    chunk_error = outcomes["u150"].error
    assert isinstance(chunk_error, tim_oa.InvalidRequestError) and outcomes["u150"].code is None
    missing = outcomes["u210"]
    assert isinstance(missing.error, tim_oa.MissingResultError) and missing.code is None
    assert "u999" not in outcomes and "u9" in outcomes
    with pytest.raises(KeyError):
        outcomes["u999"]
    assert [o.id for o in outcomes.values()] == ids
    assert dict(outcomes.items()) == {o.id: o for o in outcomes.values()}
    assert outcomes == dict(outcomes)
    assert result.failed == ["u7", *[f"u{i}" for i in range(100, 200)], "u210"]
    assert result.unchanged == ["u8"]
    assert len(result.succeeded) == 250 - 102 - 1
    assert set(result.errors()) == {*(f"u{i}" for i in range(100, 200)), "u210"}
    assert not result.ok
    assert repr(result) == "BatchResult(total=250, succeeded=147, unchanged=1, failed=102)"


async def test_recall_codes_other_than_zero_are_kept_per_key() -> None:
    keys = [f"{n}_1_1" for n in range(25)]
    result = await _fake_job(
        keys,
        lambda chunk: {k: (10030 if k == "3_1_1" else 0) for k in chunk},
        chunk_size=10,
        code_status=_batch.RECALL_CODES,
    )
    assert result.outcomes["3_1_1"] == Outcome("3_1_1", Status.FAILED, 10030)
    assert result.outcomes["4_1_1"] == Outcome("4_1_1", Status.SUCCEEDED, 0)


def test_batch_result_still_builds_from_outcomes() -> None:
    error = tim_oa.MissingResultError(1)
    given = {
        "a": Outcome("a", Status.SUCCEEDED, 1),
        "b": Outcome("b", Status.FAILED, None, error),
        "c": Outcome("c", Status.UNCHANGED, 2),
    }
    result = tim_oa.BatchResult(given)
    assert result.outcomes == given and result.errors() == {"b": error}
    assert (result.succeeded, result.unchanged, result.failed) == (["a"], ["c"], ["b"])
    with pytest.raises(tim_oa.BatchError, match="1 of 3 ids failed: b"):
        result.raise_for_failures()
    assert tim_oa.BatchResult().ok and len(tim_oa.BatchResult()) == 0


async def test_a_result_holds_a_few_bytes_per_id() -> None:
    ids = [f"user{i:08d}" for i in range(50_000)]  # the caller's own list, not counted
    gc.collect()
    tracemalloc.start()
    try:
        result = await _fake_job(ids, lambda chunk: dict.fromkeys(chunk, 1))
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.succeeded) == 50_000
    assert retained / len(ids) < 40  # ~290 B/id with an Outcome object per id


# --- single chunks and task groups -----------------------------------------------------------


async def test_a_single_chunk_runs_without_a_task_group(
    api: respx.MockRouter, oa: tim_oa.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_task_groups() -> Any:
        raise AssertionError("a task group was opened for one chunk")

    monkeypatch.setattr(anyio, "create_task_group", no_task_groups)  # _tasks uses anyio's
    api.post(SVC + "add_subscriber").mock(side_effect=answer_all())
    report = await oa.add_subscribers(ACCOUNT, [f"u{i}" for i in range(100)])
    assert report.ok and len(report.succeeded) == 100


class Stop(BaseException):
    pass


async def test_run_workers_never_raises_a_group() -> None:
    async def worker() -> None:
        await anyio.lowlevel.checkpoint()
        raise Stop  # a BaseException escaping a worker is raised alone

    with pytest.raises(Stop):
        await _tasks.run_workers(3, worker)


# --- which errors stop a job -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "stops"),
    [(130002, False), (130004, True), (60010, True), (10007, True), (6017, False)],
)
async def test_job_stopping_errors(
    api: respx.MockRouter, make_session: Any, code: int, stops: bool
) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["SubscriberList"][0]["Subscriber_Account"] == "u0":
            return fail(code, "refused")
        return answer_all()(request)

    route = api.post(SVC + "add_subscriber").mock(side_effect=respond)
    async with make_session(max_concurrency=1, max_retries=0) as oa:
        report = await oa.add_subscribers(ACCOUNT, [f"u{i}" for i in range(300)])
    assert route.call_count == (1 if stops else 3)
    assert report.outcomes["u0"].error is not None
    later = report.outcomes["u250"]
    if stops:
        assert isinstance(later.error, tim_oa.BatchAbortedError)
    else:
        assert later.ok
