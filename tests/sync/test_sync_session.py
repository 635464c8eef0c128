"""SyncSession: the methods of Session, blocking, against the emulator in-process."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import tim_oa
from tim_oa.testing import Emulator

OWNER = "107867"


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(send_per_second=None, broadcasts_per_hour=None)


@pytest.fixture
def oa(emulator: Emulator) -> Any:
    with emulator.sync_session() as session:
        yield session


def test_methods_return_values(oa: tim_oa.SyncSession, emulator: Emulator) -> None:
    account_id = oa.create_account(OWNER, "News", account_id="@TOA#_news")
    assert account_id == "@TOA#_news"
    assert emulator.accounts[account_id].name == "News"
    oa.modify_account(account_id, introduction="daily")
    (found,) = oa.get_accounts([account_id])
    assert found.ok and found.introduction == "daily"
    report = oa.add_subscribers(account_id, ["u1", "u2", "u1"])
    assert isinstance(report, tim_oa.BatchResult) and report.succeeded == ["u1", "u2"]
    oa.modify_subscriber(account_id, "u1", "vip")
    sent = oa.send_message(account_id, "hello")
    assert isinstance(sent, tim_oa.SentMessage)
    assert [m.msg_key for m in oa.messages(account_id)] == [sent.msg_key]
    assert oa.recall_messages(account_id, [sent.msg_key]).succeeded == [sent.msg_key]
    assert [a.official_account for a in oa.subscribed_accounts("u2")] == [account_id]
    assert oa.remove_subscribers(account_id, ["u2"]).succeeded == ["u2"]
    raw = oa.call(
        "get_official_account_info", {"OfficialAccountIdList": [{"Official_Account": account_id}]}
    )
    assert raw["ErrorCode"] == 0
    oa.destroy_account(account_id)
    assert account_id not in emulator.accounts


def test_errors_are_the_session_errors(oa: tim_oa.SyncSession, emulator: Emulator) -> None:
    with pytest.raises(tim_oa.AccountNotFoundError):
        oa.destroy_account("@TOA#_missing")
    before = len(emulator.requests)
    with pytest.raises(tim_oa.ValidationError):
        oa.add_subscribers("not an account id", ["u1"])
    with pytest.raises(tim_oa.ValidationError):
        oa.subscribers("@TOA#_news", page_size=0)  # checked when the pager is made
    assert len(emulator.requests) == before


def test_pagers_stream_page_by_page(oa: tim_oa.SyncSession, emulator: Emulator) -> None:
    account_id = oa.create_account(OWNER, "News")
    users = [f"user{i:03d}" for i in range(250)]
    for start in range(0, 250, 100):
        chunk = users[start : start + 100]
        answer = emulator.call(
            "add_subscriber",
            {
                "Official_Account": account_id,
                "SubscriberList": [{"Subscriber_Account": u} for u in chunk],
            },
        )
        assert answer["ErrorCode"] == 0
    pager = oa.subscribers(account_id, page_size=100)
    assert isinstance(pager, tim_oa.SyncPager)
    before = len(emulator.requests)
    iterator = iter(pager)
    first = next(iterator)
    assert len(emulator.requests) == before + 1  # one page fetched, not all three
    rest = list(iterator)
    assert sorted(s.user_id for s in [first, *rest]) == users
    pages = list(pager.pages())
    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert pages[-1].is_last and pages[0].total == 250
    assert len(pager.collect(limit=120)) == 120
    assert pages[0].next_cursor is not None
    resumed = oa.subscribers(account_id, page_size=100, cursor=pages[0].next_cursor)
    assert len(resumed.collect()) == 150
    for _ in oa.subscribers(account_id, page_size=10):
        break  # leaving a walk early closes it in the loop thread


def test_on_progress_runs_in_the_callers_thread(oa: tim_oa.SyncSession) -> None:
    account_id = oa.create_account(OWNER, "News")
    seen: list[tuple[int, str]] = []
    report = oa.add_subscribers(
        account_id,
        [f"u{i}" for i in range(250)],
        on_progress=lambda p: seen.append((p.done, threading.current_thread().name)),
    )
    assert report.ok
    me = threading.current_thread().name
    assert sorted(seen) == [(100, me), (200, me), (250, me)]


def test_a_failing_on_progress_still_finishes_the_job(oa: tim_oa.SyncSession) -> None:
    account_id = oa.create_account(OWNER, "News")

    def boom(progress: tim_oa.BatchProgress) -> None:
        raise ValueError("callback bug")

    with pytest.raises(tim_oa.ProgressCallbackError) as caught:
        oa.add_subscribers(account_id, [f"u{i}" for i in range(150)], on_progress=boom)
    assert len(caught.value.result.succeeded) == 150
    assert isinstance(caught.value.__cause__, ValueError)


def test_an_async_on_progress_runs_in_the_loop_thread(oa: tim_oa.SyncSession) -> None:
    account_id = oa.create_account(OWNER, "News")
    threads: list[str] = []

    async def progress(p: tim_oa.BatchProgress) -> None:
        threads.append(threading.current_thread().name)

    oa.add_subscribers(account_id, ["u1"], on_progress=progress)
    assert threads and threads[0] != threading.current_thread().name


def test_with_options_shares_the_pool_and_thread(oa: tim_oa.SyncSession) -> None:
    quick = oa.with_options(max_retries=0, rate_limit=50)
    assert isinstance(quick, tim_oa.SyncSession)
    assert (quick.max_retries, oa.max_retries) == (0, 3)
    assert quick.rate_limit == 50
    account_id = quick.create_account(OWNER, "News")
    assert oa.get_accounts([account_id])[0].ok
    assert quick._core is oa._core  # one loop thread, one Session's pool
    quick.close()  # a derived session's close leaves the parent's pool open
    assert not oa.closed and oa.get_accounts([account_id])[0].ok
    with pytest.raises(tim_oa.ValidationError):
        oa.with_options(max_retries=-1)


def test_close(emulator: Emulator) -> None:
    oa = emulator.sync_session()
    derived = oa.with_options(max_retries=0)
    oa.create_account(OWNER, "News")
    thread = oa._core.runner.thread  # type: ignore[union-attr]
    oa.close()
    assert oa.closed and derived.closed
    assert not thread.is_alive()
    for session in (oa, derived):
        with pytest.raises(tim_oa.SessionClosedError):
            session.get_accounts(["@TOA#_x"])
        with pytest.raises(tim_oa.SessionClosedError):
            list(session.subscribers("@TOA#_x"))
    oa.close()  # twice is harmless


def test_close_before_any_call(emulator: Emulator) -> None:
    oa = emulator.sync_session()
    oa.close()
    assert oa.closed and oa._core.runner is None
    with pytest.raises(tim_oa.SessionClosedError):
        oa.create_account(OWNER, "News")


def test_bad_options_raise_in_the_constructor() -> None:
    with pytest.raises(tim_oa.ValidationError):
        tim_oa.SyncSession(0, "admin", "sig", base_url="http://127.0.0.1:1")
    with pytest.raises(TypeError):
        tim_oa.SyncSession(1400000000, "admin", "sig", no_such_option=1)  # type: ignore[call-arg]


def test_repr_hides_the_usersig(emulator: Emulator) -> None:
    with emulator.sync_session(usersig="secret-usersig-value") as oa:
        text = repr(oa)
    assert text.startswith("SyncSession(") and "secret-usersig-value" not in text


async def test_a_call_inside_a_running_loop_is_refused(emulator: Emulator) -> None:
    oa = emulator.sync_session()
    try:
        with pytest.raises(tim_oa.SyncInAsyncError, match="Session"):
            oa.create_account(OWNER, "News")
        with pytest.raises(tim_oa.SyncInAsyncError):
            oa.subscribers("@TOA#_news")
        with pytest.raises(tim_oa.SyncInAsyncError):
            oa.close()
        assert isinstance(tim_oa.SyncInAsyncError("x"), tim_oa.EventLoopError)
        assert oa._core.runner is None  # refused before anything started
        # From a worker thread of this loop it works.
        account_id = await asyncio.to_thread(oa.create_account, OWNER, "News")
        assert account_id in emulator.accounts
    finally:
        await asyncio.to_thread(oa.close)


def test_a_call_from_the_sessions_own_loop_thread_is_refused(oa: tim_oa.SyncSession) -> None:
    account_id = oa.create_account(OWNER, "News")
    errors: list[BaseException] = []

    async def progress(p: tim_oa.BatchProgress) -> None:
        try:
            oa.get_accounts([account_id])  # would wait for itself forever
        except tim_oa.SyncInAsyncError as exc:
            errors.append(exc)

    oa.add_subscribers(account_id, ["u1"], on_progress=progress)
    assert len(errors) == 1
