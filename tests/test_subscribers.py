"""Subscriber commands: the string-cursor pager and the add/remove batch helpers."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
import respx

import tim_oa

from .conftest import body_of, fail, ok

SVC = "/v4/official_account_open_http_svc/"


def results_for(body: dict[str, Any], result: Any = 1) -> list[dict[str, Any]]:
    ids = [i["Subscriber_Account"] for i in body.get("SubscriberList", [])] or body.get(
        "SubscriberToDel_Account", []
    )
    return [
        {"Subscriber_Account": u, "Result": result(u) if callable(result) else result} for u in ids
    ]


def request_body(request: httpx.Request) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request.content)
    return data


async def test_add_golden_chunks_dedupes_and_keeps_order(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(SVC + "add_subscriber").mock(
        side_effect=lambda r: ok(
            SubscriberList=results_for(request_body(r), lambda u: 2 if u == "u3" else 1)
        )
    )
    ids = [f"u{i}" for i in range(250)] + ["u3", "u0"]
    report = await oa.add_subscribers("@TOA#_news", ids)
    assert route.call_count == 3
    sizes = sorted(len(body_of(c)["SubscriberList"]) for c in route.calls)
    assert sizes == [50, 100, 100]
    assert body_of(route.calls[0])["SubscriberList"][0] == {"Subscriber_Account": "u0"}
    assert body_of(route.calls[0])["Official_Account"] == "@TOA#_news"
    assert list(report.outcomes) == [f"u{i}" for i in range(250)]
    assert report.unchanged == ["u3"]
    assert len(report.succeeded) == 249 and report.failed == [] and report.ok
    assert report.outcomes["u3"].code == 2
    report.raise_for_failures()  # nothing failed: no error


async def test_remove_uses_subscriber_to_del_account(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(SVC + "delete_subscriber").mock(
        side_effect=lambda r: ok(
            SubscriberList=results_for(request_body(r), lambda u: 2 if u == "b" else 1)
        )
    )
    report = await oa.remove_subscribers("@TOA#_news", ["a", "b"])
    assert body_of(route.calls.last) == {
        "Official_Account": "@TOA#_news",
        "SubscriberToDel_Account": ["a", "b"],
    }
    assert report.succeeded == ["a"] and report.unchanged == ["b"]


async def test_partial_failure_loses_nothing(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = request_body(request)
        first = body["SubscriberList"][0]["Subscriber_Account"]
        if first == "u100":  # the second chunk fails as a whole, every retry
            return fail(6017, "bad chunk")
        if first == "u200":  # the third chunk's answer leaves one id out
            return ok(SubscriberList=results_for(body)[1:])
        return ok(SubscriberList=results_for(body, lambda u: 0 if u == "u7" else 1))

    api.post(SVC + "add_subscriber").mock(side_effect=answer)
    ids = [f"u{i}" for i in range(300)]
    report = await oa.add_subscribers("@TOA#_news", ids, concurrency=2)
    assert list(report.outcomes) == ids
    failed = set(report.failed)
    assert failed == {"u7", "u200"} | {f"u{i}" for i in range(100, 200)}
    assert report.outcomes["u7"].code == 0 and report.outcomes["u7"].error is None
    chunk_error = report.outcomes["u150"].error
    assert isinstance(chunk_error, tim_oa.InvalidRequestError) and chunk_error.code == 6017
    assert isinstance(report.outcomes["u200"].error, tim_oa.MissingResultError)
    assert "left out 1 id" in str(report.outcomes["u200"].error)
    assert len(report.succeeded) == 300 - len(failed)
    with pytest.raises(tim_oa.BatchError) as info:
        report.raise_for_failures()
    assert info.value.result is report
    assert "102 of 300" in str(info.value)


async def test_transient_chunk_failure_is_retried(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    answers = iter([fail(20005), httpx.Response(502)])

    def answer(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or ok(SubscriberList=results_for(request_body(request)))

    route = api.post(SVC + "add_subscriber").mock(side_effect=answer)
    report = await oa.add_subscribers("@TOA#_news", ["a", "b"])
    assert report.succeeded == ["a", "b"]
    assert route.call_count == 3


async def test_missing_account_stops_the_job(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(SVC + "add_subscriber").mock(return_value=fail(130004, "no such account"))
    report = await oa.add_subscribers("@TOA#_gone", [f"u{i}" for i in range(1000)], concurrency=1)
    assert route.call_count == 1  # not 10 requests that would all fail the same way
    assert len(report.failed) == 1000
    assert isinstance(report.outcomes["u0"].error, tim_oa.AccountNotFoundError)
    aborted = report.outcomes["u999"].error
    assert isinstance(aborted, tim_oa.BatchAbortedError)
    assert isinstance(aborted.cause, tim_oa.AccountNotFoundError)


async def test_progress_is_reported_per_chunk(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    api.post(SVC + "add_subscriber").mock(
        side_effect=lambda r: ok(SubscriberList=results_for(request_body(r)))
    )
    seen: list[tim_oa.BatchProgress] = []

    async def on_progress(progress: tim_oa.BatchProgress) -> None:
        seen.append(progress)

    await oa.add_subscribers("@TOA#_news", [f"u{i}" for i in range(350)], on_progress=on_progress)
    assert [p.done for p in seen] == [100, 200, 300, 350]
    assert list(seen[0].outcomes) == [f"u{i}" for i in range(100)]
    assert list(seen[-1].outcomes) == [f"u{i}" for i in range(300, 350)]
    assert all(o.status is tim_oa.Status.SUCCEEDED for o in seen[-1].outcomes.values())
    assert seen[-1] == tim_oa.BatchProgress(
        done=350, total=350, succeeded=350, unchanged=0, failed=0, chunks_done=4, chunks_total=4
    )
    sync_seen: list[int] = []
    await oa.add_subscribers("@TOA#_news", ["a"], on_progress=lambda p: sync_seen.append(p.done))
    assert sync_seen == [1]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ("u1", "not a single str"),
        (["ok", ""], r"user_ids\[1\]"),
        (["ok", "x" * 33], "1 to 32 bytes"),
        (["ok", 5], "must be a str"),
    ],
)
async def test_bad_ids_fail_before_any_request(
    api: respx.MockRouter, oa: tim_oa.Session, ids: Any, message: str
) -> None:
    with pytest.raises(tim_oa.ValidationError, match=message):
        await oa.add_subscribers("@TOA#_news", ids)
    with pytest.raises(tim_oa.ValidationError):
        await oa.add_subscribers("news", ["a"])
    with pytest.raises(tim_oa.ValidationError, match="concurrency"):
        await oa.add_subscribers("@TOA#_news", ["a"], concurrency=0)
    assert api.calls.call_count == 0


async def test_empty_input_sends_nothing(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    report = await oa.add_subscribers("@TOA#_news", [])
    assert len(report) == 0 and report.ok
    assert api.calls.call_count == 0


async def test_cancelling_a_bulk_job_leaves_no_tasks_and_a_usable_session(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    started = anyio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        started.set()
        await anyio.sleep(10)
        return ok(SubscriberList=results_for(request_body(request)))

    route = api.post(SVC + "add_subscriber").mock(side_effect=slow)
    before = asyncio.all_tasks()
    with anyio.move_on_after(5) as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(oa.add_subscribers, "@TOA#_news", [f"u{i}" for i in range(10_000)])
            await started.wait()
            tg.cancel_scope.cancel()
    assert not scope.cancelled_caught  # cancelled by us, promptly
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == before, "no stray tasks after cancellation"
    assert route.call_count <= oa.max_concurrency
    route.mock(side_effect=lambda r: ok(SubscriberList=results_for(request_body(r))))
    report = await oa.add_subscribers("@TOA#_news", ["a", "b"])
    assert report.succeeded == ["a", "b"]


async def test_subscribers_walks_string_cursor(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    pages = {
        "": ok(
            Next="c1",
            SubscriberNum=5,
            SubscriberList=[
                {
                    "Subscriber_Account": "u1",
                    "SubscribeTime": 1,
                    "CustomString": "",
                    "MsgFlag": "AcceptAndNotify",
                    "LastSendMsgTime": 0,
                },
                {"Subscriber_Account": "u2"},
            ],
        ),
        "c1": ok(Next="c2", SubscriberNum=5, SubscriberList=[{"Subscriber_Account": "u3"}]),
        "c2": ok(
            Next="",
            SubscriberNum=5,
            SubscriberList=[{"Subscriber_Account": "u4"}, {"Subscriber_Account": "u5", "New": 1}],
        ),
    }
    route = api.post(SVC + "get_subscriber_info").mock(
        side_effect=lambda r: pages[request_body(r)["Next"]]
    )
    subs = await oa.subscribers("@TOA#_news", page_size=2).collect()
    assert [s.user_id for s in subs] == ["u1", "u2", "u3", "u4", "u5"]
    assert subs[0].msg_flag == "AcceptAndNotify" and subs[0].subscribe_time == 1
    assert [body_of(c) for c in route.calls] == [
        {"Official_Account": "@TOA#_news", "Limit": 2, "Next": n} for n in ("", "c1", "c2")
    ]
    page_list = [p async for p in oa.subscribers("@TOA#_news", cursor="c1").pages()]
    assert [(p.cursor, p.next_cursor, p.total) for p in page_list] == [
        ("c1", "c2", 5),
        ("c2", None, 5),
    ]
    assert await oa.subscribers("@TOA#_news").collect(limit=3) == subs[:3]


async def test_subscribers_loop_guard(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    answers = {"": "c1", "c1": "c2", "c2": "c1"}
    api.post(SVC + "get_subscriber_info").mock(
        side_effect=lambda r: ok(
            Next=answers[request_body(r)["Next"]],
            SubscriberList=[{"Subscriber_Account": "u"}],
        )
    )
    with pytest.raises(tim_oa.PaginationError, match="'c1' again"):
        await oa.subscribers("@TOA#_news").collect()


async def test_modify_subscriber_golden(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    route = api.post(SVC + "modify_subscriber_info").mock(return_value=ok())
    await oa.modify_subscriber("@TOA#_news", "107867", "vip")
    assert body_of(route.calls.last) == {
        "Official_Account": "@TOA#_news",
        "Subscriber_Account": "107867",
        "CustomString": "vip",
    }
    with pytest.raises(tim_oa.ValidationError, match="3000"):
        await oa.modify_subscriber("@TOA#_news", "107867", "x" * 3001)
    assert route.call_count == 1


# --- answers of the wrong shape (issue 8, item 9) ---------------------------------------------


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({}, "SubscriberList is missing"),
        ({"SubscriberList": "ab"}, "SubscriberList must be a list, got str"),
        ({"SubscriberList": {"Subscriber_Account": "a"}}, "must be a list, got dict"),
        ({"SubscriberList": ["a", "b"]}, r"SubscriberList\[0\] is not an object"),
        ({"SubscriberList": [{"Subscriber_Account": 1, "Result": 1}]}, "is not a str"),
        ({"SubscriberList": [{"Subscriber_Account": "a", "Result": True}]}, "got True"),
        ({"SubscriberList": [{"Subscriber_Account": "a", "Result": "1"}]}, "got '1'"),
        ({"SubscriberList": [{"Subscriber_Account": "a", "Result": 3}]}, "0, 1 or 2, got 3"),
        ({"SubscriberList": [{"Subscriber_Account": "a"}]}, "0, 1 or 2, got None"),
        (
            {
                "SubscriberList": [
                    {"Subscriber_Account": "a", "Result": 1},
                    {"Subscriber_Account": "a", "Result": 0},
                ]
            },
            "'a' is answered twice with different results",
        ),
    ],
)
@pytest.mark.parametrize("method", ["add_subscribers", "remove_subscribers"])
async def test_malformed_add_and_remove_answers_fail_their_chunk(
    api: respx.MockRouter, oa: tim_oa.Session, answer: dict[str, Any], text: str, method: str
) -> None:
    api.post(SVC + "add_subscriber").mock(return_value=ok(**answer))
    api.post(SVC + "delete_subscriber").mock(return_value=ok(**answer))
    report = await getattr(oa, method)("@TOA#_news", ["a", "b"])
    assert report.failed == ["a", "b"] and report.succeeded == []
    error = report.outcomes["a"].error
    assert isinstance(error, tim_oa.MalformedResponseError), error
    assert re.search(text, str(error))
    assert error.may_have_taken_effect is True


async def test_the_same_result_twice_is_not_malformed(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    api.post(SVC + "add_subscriber").mock(
        return_value=ok(
            SubscriberList=[
                {"Subscriber_Account": "a", "Result": 1},
                {"Subscriber_Account": "a", "Result": 1},
                {"Subscriber_Account": "zzz", "Result": 0},  # not asked: ignored
            ]
        )
    )
    report = await oa.add_subscribers("@TOA#_news", ["a", "b"])
    assert report.succeeded == ["a"]
    assert isinstance(report.outcomes["b"].error, tim_oa.MissingResultError)


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({"SubscriberList": "u1", "Next": ""}, "SubscriberList must be a list, got str"),
        ({"SubscriberList": [{"Subscriber_Account": "u1"}], "Next": 5}, "Next must be a str"),
        ({"SubscriberList": [{"SubscribeTime": 1}], "Next": ""}, "Subscriber_Account is missing"),
        (
            {"SubscriberList": [{"Subscriber_Account": "u1", "SubscribeTime": "1"}], "Next": ""},
            r"SubscriberList\[0\]\.SubscribeTime must be an int, got str",
        ),
        (
            {
                "SubscriberList": [{"Subscriber_Account": "u1"}, {"Subscriber_Account": ["u2"]}],
                "Next": "",
            },
            r"SubscriberList\[1\]\.Subscriber_Account must be a str, got list",
        ),
        ({"SubscriberList": [], "SubscriberNum": "9", "Next": ""}, "SubscriberNum must be an int"),
        # No Next: a cut-short answer must not end an export as if it were complete.
        ({"SubscriberList": [{"Subscriber_Account": "u1"}]}, "Next is missing"),
        ({}, "Next is missing"),
    ],
)
async def test_malformed_subscriber_pages(
    api: respx.MockRouter, oa: tim_oa.Session, answer: dict[str, Any], text: str
) -> None:
    api.post(SVC + "get_subscriber_info").mock(return_value=ok(**answer))
    with pytest.raises(tim_oa.MalformedResponseError, match=text) as info:
        await oa.subscribers("@TOA#_news").collect()
    assert info.value.may_have_taken_effect is False


async def test_endless_empty_pages_end_the_walk(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    counter = iter(range(1_000))
    route = api.post(SVC + "get_subscriber_info").mock(
        side_effect=lambda r: ok(Next=f"c{next(counter)}", SubscriberList=[])
    )
    with pytest.raises(tim_oa.PaginationError, match="empty pages in a row"):
        await oa.subscribers("@TOA#_news").collect()
    assert route.call_count == 3


async def test_a_few_empty_pages_are_tolerated(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    pages = {
        "": ok(Next="c1", SubscriberList=[]),
        "c1": ok(Next="c2", SubscriberList=[]),
        "c2": ok(Next="", SubscriberList=[{"Subscriber_Account": "u1"}]),
    }
    api.post(SVC + "get_subscriber_info").mock(side_effect=lambda r: pages[request_body(r)["Next"]])
    assert [s.user_id for s in await oa.subscribers("@TOA#_news").collect()] == ["u1"]


async def test_extra_body_on_subscriber_commands(api: respx.MockRouter, oa: tim_oa.Session) -> None:
    add = api.post(SVC + "add_subscriber").mock(
        side_effect=lambda r: ok(SubscriberList=results_for(request_body(r)))
    )
    listing = api.post(SVC + "get_subscriber_info").mock(return_value=ok(Next=""))
    modify = api.post(SVC + "modify_subscriber_info").mock(return_value=ok())
    await oa.add_subscribers("@TOA#_news", [f"u{i}" for i in range(150)], extra_body={"X": 1})
    assert all(body_of(c)["X"] == 1 for c in add.calls) and add.call_count == 2
    await oa.subscribers("@TOA#_news", extra_body={"Y": "z"}).collect()
    assert body_of(listing.calls.last)["Y"] == "z"
    await oa.modify_subscriber("@TOA#_news", "u1", "vip", extra_body={"Z": None})
    assert body_of(modify.calls.last)["Z"] is None
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: oa.add_subscribers("@TOA#_news", ["a"], extra_body={"SubscriberList": []}),
        lambda: oa.remove_subscribers("@TOA#_news", ["a"], extra_body={"Official_Account": "x"}),
        lambda: oa.modify_subscriber("@TOA#_news", "u1", "v", extra_body={"CustomString": "w"}),
    ]
    for call in calls:
        with pytest.raises(tim_oa.ValidationError, match="sets '"):
            await call()
    with pytest.raises(tim_oa.ValidationError, match="sets 'Next'"):
        oa.subscribers("@TOA#_news", extra_body={"Next": "c9"})
    assert add.call_count == 2 and modify.call_count == 1


@pytest.mark.parametrize(
    ("ids", "field"),
    [
        (None, "user_ids"),
        (5, "user_ids"),
        (["ok", "\ud800"], "user_ids[1]"),
        ({"a": 1}, "user_ids"),
    ],
)
async def test_id_lists_name_the_argument(
    api: respx.MockRouter, oa: tim_oa.Session, ids: Any, field: str
) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        await oa.add_subscribers("@TOA#_news", ids)
    assert info.value.field == field
    assert api.calls.call_count == 0
