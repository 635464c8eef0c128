"""End to end over a real loopback socket: the client against the emulator served by uvicorn.

The emulator shares facts with the client but none of its code paths, so these tests catch a wire
mistake on either side. Every command is exercised, both pager styles over thousands of items,
a 10,000-subscriber bulk add, error codes mapped to the right exception classes, and UserSig
rejection for a wrong key and an expired signature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

import tim_oa
from tim_oa.testing import Emulator, Faults, serve

from ..conftest import no_backoff

pytestmark = pytest.mark.loopback

SDKAPPID = 1400000000
KEY = "e2e-secret-key"


@pytest.fixture(scope="module")
def emulator() -> Emulator:
    return Emulator(
        SDKAPPID,
        KEY,
        rate_limit=None,
        send_per_second=None,
        broadcasts_per_hour=None,
        request_log_size=1000,
    )


@pytest.fixture(scope="module")
def base_url(emulator: Emulator) -> Iterator[str]:
    with serve(emulator) as url:
        assert url.startswith("http://127.0.0.1:")
        yield url


def make_session(base_url: str, **options: Any) -> tim_oa.Session:
    options.setdefault("usersig", tim_oa.UserSigSigner(SDKAPPID, KEY))
    options.setdefault("send_rate", None)
    return tim_oa.Session(SDKAPPID, "administrator", base_url=base_url, **no_backoff(options))


@pytest.fixture
async def oa(base_url: str) -> AsyncIterator[tim_oa.Session]:
    async with make_session(base_url) as session:
        yield session


async def test_account_lifecycle(oa: tim_oa.Session, emulator: Emulator) -> None:
    account_id = await oa.create_account("owner1", "News", introduction="hello")
    assert account_id.startswith("@TOA#_@TOA#")
    custom = await oa.create_account("owner1", "Sport", account_id="@TOA#_e2e_sport")
    assert custom == "@TOA#_e2e_sport"
    with pytest.raises(tim_oa.AccountIdInUseError) as info:
        await oa.create_account("owner1", "Again", account_id="@TOA#_e2e_sport")
    assert info.value.code == 130008 and info.value.command == "create_official_account"

    await oa.modify_account(account_id, name="Daily News", max_subscribers=5000, custom_string="c")
    record = emulator.account(account_id)
    assert (record.name, record.introduction, record.max_subscribers) == (
        "Daily News",
        "hello",
        5000,
    )

    found = await oa.get_accounts([account_id, "@TOA#_e2e_missing", custom])
    assert [a.official_account for a in found] == [account_id, "@TOA#_e2e_missing", custom]
    assert found[0].name == "Daily News" and found[0].owner == "owner1"
    assert found[0].custom_string == "c" and found[0].subscriber_num == 0
    assert isinstance(found[1].error, tim_oa.AccountNotFoundError)
    filtered = await oa.get_accounts([account_id], fields=["name"])
    assert filtered[0].name == "Daily News" and filtered[0].introduction is None

    await oa.destroy_account(custom)
    with pytest.raises(tim_oa.AccountNotFoundError):
        await oa.destroy_account(custom)
    with pytest.raises(tim_oa.AccountNotFoundError):
        await oa.modify_account(custom, name="x")


async def test_bulk_add_of_ten_thousand_and_string_cursor_paging(
    oa: tim_oa.Session, emulator: Emulator
) -> None:
    account_id = await oa.create_account("owner2", "Big")
    ids = [f"bulk{i}" for i in range(10_000)]
    progress: list[int] = []
    report = await oa.add_subscribers(
        account_id, ids, on_progress=lambda p: progress.append(p.done)
    )
    assert report.ok and len(report.succeeded) == 10_000
    assert progress[-1] == 10_000 and len(progress) == 100
    assert emulator.account(account_id).subscriber_num == 10_000

    again = await oa.add_subscribers(account_id, [*ids[:150], "bulk_new"])
    assert len(again.unchanged) == 150 and again.succeeded == ["bulk_new"]

    seen = [s.user_id async for s in oa.subscribers(account_id)]
    # Every subscriber exactly once (chunks run concurrently, so server order is arrival order).
    assert len(seen) == 10_001 and set(seen) == {*ids, "bulk_new"}
    assert seen[-1] == "bulk_new"

    # Resume from a saved cursor after removing subscribers between pages: no gaps, no repeats.
    pager = oa.subscribers(account_id, page_size=200).pages()
    first = await pager.__anext__()
    await pager.aclose()  # type: ignore[attr-defined]  # typed as an iterator; an async generator
    assert [s.user_id for s in first.items] == seen[:200]
    gone = seen[100:300]  # half already read, half not yet
    removed = await oa.remove_subscribers(account_id, [*gone, "never_subscribed"])
    assert len(removed.succeeded) == 200 and removed.unchanged == ["never_subscribed"]
    assert first.next_cursor is not None
    rest = await oa.subscribers(account_id, cursor=first.next_cursor).collect()
    assert [s.user_id for s in rest] == seen[300:]
    assert first.total == 10_001


async def test_offset_paging_over_thousands(oa: tim_oa.Session, emulator: Emulator) -> None:
    # Seed 2,100 subscriptions straight into the emulator's state (no HTTP: set-up is not what
    # is under test here); the paging below goes over the socket.
    created = []
    for i in range(2_100):
        answer = emulator.call("create_official_account", {"Owner_Account": "o3", "Name": f"A{i}"})
        created.append(answer["OfficialAccountUserID"])
        emulator.call(
            "add_subscriber",
            {"Official_Account": created[-1], "SubscriberList": [{"Subscriber_Account": "reader"}]},
        )

    pages = [p async for p in oa.subscribed_accounts("reader").pages()]
    assert [len(p.items) for p in pages] == [200] * 10 + [100]
    assert pages[0].total == 2_100 and pages[-1].next_cursor is None
    listed = [a.official_account for p in pages for a in p.items]
    assert sorted(listed) == sorted(created)
    assert all(a.self_info.subscribe_time for p in pages for a in p.items)

    resumed = await oa.subscribed_accounts(
        "reader", page_size=150, offset=2_000, self_fields=["custom_string"]
    ).collect()
    assert [a.official_account for a in resumed] == listed[2_000:]


async def test_subscriber_custom_string(oa: tim_oa.Session, emulator: Emulator) -> None:
    account_id = await oa.create_account("owner4", "Custom")
    await oa.add_subscribers(account_id, ["u1"])
    await oa.modify_subscriber(account_id, "u1", "vip")
    [sub] = await oa.subscribers(account_id).collect()
    assert sub.custom_string == "vip" and sub.msg_flag == "AcceptAndNotify"
    assert emulator.account(account_id).subscribers["u1"].custom_string == "vip"
    subscribed = await oa.subscribed_accounts("u1").collect()
    assert [(a.official_account, a.self_info.custom_string) for a in subscribed] == [
        (account_id, "vip")
    ]


async def test_messages_send_history_recall(oa: tim_oa.Session) -> None:
    account_id = await oa.create_account("owner5", "Broadcasts")
    sent = [await oa.send_message(account_id, f"message {i}") for i in range(45)]
    assert all(s.msg_key for s in sent)
    assert len({s.msg_key for s in sent}) == 45

    history = await oa.messages(account_id).collect()
    assert [m.msg_key for m in history] == [s.msg_key for s in reversed(sent)]  # newest first
    assert history[0].body[0]["MsgContent"]["Text"] == "message 44"

    keys = [sent[0].msg_key, sent[1].msg_key, "999_1_1700000000"]
    report = await oa.recall_messages(account_id, keys, reason="mistake")
    assert report.succeeded == keys[:2]
    assert report.failed == ["999_1_1700000000"] and report.outcomes[keys[2]].code != 0

    visible = await oa.messages(account_id).collect()
    assert len(visible) == 43
    with_recalled = await oa.messages(account_id, with_recalled=True).collect()
    assert len(with_recalled) == 45
    assert sum(m.is_recalled for m in with_recalled) == 2

    resumed = await oa.messages(account_id, last_msg_key=history[19].msg_key).collect()
    assert [m.msg_key for m in resumed] == [
        m.msg_key for m in history[20:] if m.msg_key not in keys
    ]


async def test_raw_call(oa: tim_oa.Session) -> None:
    account_id = await oa.create_account("owner6", "Raw")
    answer = await oa.call(
        "get_official_account_info", {"OfficialAccountIdList": [{"Official_Account": account_id}]}
    )
    assert answer["ActionStatus"] == "OK"
    assert answer["OfficialAccountInfoList"][0]["Name"] == "Raw"
    with pytest.raises(tim_oa.InvalidRequestError):
        await oa.call("no_such_command", {})


async def test_usersig_signed_with_the_wrong_key_is_rejected(base_url: str) -> None:
    wrong = tim_oa.UserSigSigner(SDKAPPID, "not-the-key")
    async with make_session(base_url, usersig=wrong) as oa:
        with pytest.raises(tim_oa.AuthError) as info:
            await oa.create_account("owner", "Nope")
    assert info.value.code == 70009
    assert info.value.attempts == 1  # an auth error is final


async def test_expired_usersig_is_rejected_and_renewed(base_url: str) -> None:
    now = [0.0]
    signer = tim_oa.UserSigSigner(SDKAPPID, KEY, expire=60, renew_before=0, clock=lambda: now[0])
    # A fixed, long-expired signature cannot be renewed: the 70001 reaches the caller.
    stale = signer.generate("administrator", now=1_600_000_000)
    async with make_session(base_url, usersig=stale) as oa:
        with pytest.raises(tim_oa.UserSigExpiredError) as info:
            await oa.create_account("owner", "Nope")
    assert info.value.code == 70001
    # A signer whose cached signature expired on the server's clock renews once and succeeds.
    import time

    now[0] = time.time() - 3600  # cached signature made an hour ago, valid 60 s
    async with make_session(base_url, usersig=signer) as oa:
        signer.get("administrator")
        now[0] = time.time() - 30  # the signer still believes it fresh
        account_id = await oa.create_account("owner", "Renewed")
    assert account_id


async def test_non_admin_and_wrong_app(base_url: str) -> None:
    signer = tim_oa.UserSigSigner(SDKAPPID, KEY)
    async with tim_oa.Session(SDKAPPID, "not_admin", signer, base_url=base_url) as oa:
        with pytest.raises(tim_oa.PermissionDeniedError) as info:
            await oa.create_account("owner", "Nope")
    assert info.value.code == 60010
    other = tim_oa.UserSigSigner(1400000001, KEY)
    async with tim_oa.Session(1400000001, "administrator", other, base_url=base_url) as oa:
        with pytest.raises(tim_oa.AuthError):
            await oa.create_account("owner", "Nope")


async def test_subscriber_cap_and_subscription_cap(oa: tim_oa.Session) -> None:
    account_id = await oa.create_account("owner7", "Small", max_subscribers=150)
    report = await oa.add_subscribers(account_id, [f"cap{i}" for i in range(300)], concurrency=1)
    assert len(report.succeeded) == 150
    assert len(report.failed) == 150
    # The first chunk beyond the cap comes back Result 0 or 130006; either way nothing is lost.
    assert all(not report.outcomes[f"cap{i}"].ok for i in range(150, 300))
    with pytest.raises(tim_oa.SubscriberLimitError):
        await oa.call(
            "add_subscriber",
            {"Official_Account": account_id, "SubscriberList": [{"Subscriber_Account": "late"}]},
        )


async def test_retries_survive_seeded_faults(base_url: str, emulator: Emulator) -> None:
    async with make_session(base_url, max_retries=8) as oa:
        account_id = await oa.create_account("owner8", "Flaky", account_id="@TOA#_e2e_flaky")
        emulator.faults = Faults(error_rate=0.15, http_502_rate=0.1, drop_rate=0.1)
        try:
            report = await oa.add_subscribers(account_id, [f"f{i}" for i in range(3000)])
            sent = await oa.send_message(account_id, "once")
        finally:
            emulator.faults = None
    assert report.ok, report.errors()
    assert len(report.succeeded) + len(report.unchanged) == 3000
    record = emulator.account(account_id)
    assert record.subscriber_num == 3000
    assert [m.key for m in record.messages] == [sent.msg_key]  # delivered exactly once


async def test_lost_answer_after_commit(base_url: str, emulator: Emulator) -> None:
    async with make_session(base_url) as oa:
        account_id = await oa.create_account("owner9", "Lost")
        # The add is applied but its answer is lost: the retry sees Result 2, nothing is doubled.
        emulator.fail_next("add_subscriber", drop=True, after_commit=True)
        report = await oa.add_subscribers(account_id, ["a", "b"])
        assert report.ok and set(report.unchanged) == {"a", "b"}
        # The send is applied but its answer is lost: the retry reuses Random and is deduplicated.
        emulator.fail_next("send_official_account_msg", drop=True, after_commit=True)
        sent = await oa.send_message(account_id, "exactly once")
        assert [m.key for m in emulator.account(account_id).messages] == [sent.msg_key]
        # A create without custom id is not repeated: one account, and the caller is told.
        before = len(emulator.accounts)
        emulator.fail_next("create_official_account", http_status=502, after_commit=True)
        with pytest.raises(tim_oa.TransportError):
            await oa.create_account("owner9", "Maybe")
        assert len(emulator.accounts) == before + 1


async def test_server_rate_limit_surfaces_as_rate_limited() -> None:
    limited = Emulator(SDKAPPID, KEY, rate_limit=5.0)
    errors: list[Exception] = []

    async def create(oa: tim_oa.Session, i: int) -> None:
        try:
            await oa.create_account("o", f"n{i}")
        except tim_oa.TimOAError as exc:
            errors.append(exc)

    with serve(limited) as url:
        # Client limiter off and no retries, so the server's limit is what the caller meets.
        async with make_session(url, rate_limit=None, max_retries=0) as oa:
            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(create, oa, i)
            assert errors and all(isinstance(e, tim_oa.RateLimitedError) for e in errors)
            assert {e.code for e in errors if isinstance(e, tim_oa.ApiError)} == {60007}
        # With the client's own limiter at the documented rate, the same burst goes through.
        errors.clear()
        async with make_session(url, rate_limit=4.0) as oa, anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(create, oa, i)
        assert errors == []
