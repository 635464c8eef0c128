"""A create told 130008, a destroy told 130004 after a failed attempt (issue 17, defect 1).

A retry may take "in use" / "not found" as its own earlier success only when an earlier attempt
may have reached the server, and (create) only when the account found holds every field the call
set and was not created before the call began. Otherwise the call raises, and
``after_unknown_outcome`` says which case it was.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

import tim_oa
from tim_oa.testing import Emulator, ManualClock

from .support import count, emulator_session

SVC = "/v4/official_account_open_http_svc/"
ACCOUNT = "@TOA#_claimed"
BASE = "https://rel.test"


def emulator(**options: Any) -> Emulator:
    return Emulator(send_per_second=None, broadcasts_per_hour=None, **options)


FIELDS: dict[str, Any] = {"introduction": "ours", "custom_string": "k=1", "max_subscribers": 500}


@pytest.mark.parametrize(
    "fault",
    [{"http_status": 502}, {"drop": True}, {"code": 20005}, {"code": 10002}],
    ids=["http-502", "dropped", "20005", "10002"],
)
async def test_a_create_never_claims_someone_elses_account(fault: dict[str, Any]) -> None:
    count("round-three cases")
    emu = emulator()
    async with emulator_session(emu, max_retries=2) as oa:
        # someone else holds the id, with the same owner and name but none of our fields
        await oa.create_account("owner", "News", account_id=ACCOUNT)
        emu.fail_next("create_official_account", after_commit=False, **fault)
        with pytest.raises(tim_oa.AccountIdInUseError, match="introduction") as info:
            await oa.create_account("owner", "News", account_id=ACCOUNT, **FIELDS)
    assert info.value.after_unknown_outcome is True
    assert emu.accounts[ACCOUNT].introduction == ""  # untouched, and not reported as ours


async def test_a_create_never_claims_an_older_identical_account() -> None:
    count("round-three cases")
    clock = ManualClock()
    emu = emulator(clock=clock)
    async with emulator_session(emu, max_retries=2) as oa:
        await oa.create_account("owner", "News", account_id=ACCOUNT, **FIELDS)
        clock.advance(3600)  # an hour later, the same create again, its first attempt lost
        emu.fail_next("create_official_account", http_status=502, after_commit=False)
        with pytest.raises(tim_oa.AccountIdInUseError, match="s before this call began") as info:
            await oa.create_account("owner", "News", account_id=ACCOUNT, **FIELDS)
    assert info.value.after_unknown_outcome is True


@pytest.mark.parametrize("manual", [False, True], ids=["real-clock", "manual-clock"])
async def test_a_create_lost_after_commit_is_still_its_own(manual: bool) -> None:
    count("round-three cases")
    emu = emulator(clock=ManualClock()) if manual else emulator()
    async with emulator_session(emu, max_retries=2) as oa:
        emu.fail_next("create_official_account", http_status=502, after_commit=True)
        assert await oa.create_account("owner", "News", account_id=ACCOUNT, **FIELDS) == ACCOUNT
    assert emu.accounts[ACCOUNT].custom_string == "k=1"


def _profile(**fields: Any) -> httpx.Response:
    entry = {"Official_Account": ACCOUNT, "Owner_Account": "owner", "Name": "News", **fields}
    return httpx.Response(
        200,
        json={
            "ActionStatus": "OK",
            "ErrorCode": 0,
            "ErrorInfo": "",
            "OfficialAccountInfoList": [entry],
        },
    )


IN_USE = httpx.Response(
    200, json={"ActionStatus": "FAIL", "ErrorCode": 130008, "ErrorInfo": "in use"}
)


@pytest.mark.parametrize(
    ("profile", "taken"),
    [
        ({"Introduction": "ours", "CustomString": "k=1"}, True),
        ({"Introduction": "ours", "CustomString": "k=1", "MaxSubscriberNum": 500}, True),
        ({"Introduction": "theirs", "CustomString": "k=1"}, False),
        ({"Introduction": "ours"}, False),
        ({"Introduction": "ours", "CustomString": "k=1", "FaceUrl": "https://x/y.png"}, False),
        ({"Introduction": "ours", "CustomString": "k=1", "MaxSubscriberNum": 100}, False),
        ({"Introduction": "ours", "CustomString": "k=1", "CreateTime": 1_000_000_000}, False),
    ],
    ids=["same", "same-max", "other-intro", "no-custom", "extra-face", "other-max", "old"],
)
async def test_a_scripted_create_after_a_502(profile: dict[str, Any], taken: bool) -> None:
    count("round-three cases")
    with respx.mock(base_url=BASE, assert_all_called=False) as api:
        create = api.post(SVC + "create_official_account").mock(
            side_effect=[httpx.Response(502), IN_USE]
        )
        api.post(SVC + "get_official_account_info").mock(return_value=_profile(**profile))
        async with tim_oa.Session(
            1400000000,
            "admin",
            usersig="sig",
            base_url=BASE,
            rate_limit=None,
            send_rate=None,
            retry=tim_oa.RetryPolicy(base_delay=0, max_retries=1),
        ) as oa:
            call = oa.create_account("owner", "News", account_id=ACCOUNT, **FIELDS)
            if taken:
                assert await call == ACCOUNT
            else:
                with pytest.raises(tim_oa.AccountIdInUseError) as info:
                    await call
                assert info.value.after_unknown_outcome is True
    assert create.call_count == 2


async def test_a_first_attempt_that_never_left_proves_nothing() -> None:
    count("round-three cases")
    with respx.mock(base_url=BASE, assert_all_called=False) as api:
        api.post(SVC + "create_official_account").mock(
            side_effect=[httpx.ConnectError("refused"), IN_USE]
        )
        lookup = api.post(SVC + "get_official_account_info").mock(return_value=_profile())
        destroy = api.post(SVC + "destroy_official_account").mock(
            side_effect=[
                httpx.ConnectError("refused"),
                httpx.Response(
                    200,
                    json={"ActionStatus": "FAIL", "ErrorCode": 130004, "ErrorInfo": "not found"},
                ),
            ]
        )
        async with tim_oa.Session(
            1400000000,
            "admin",
            usersig="sig",
            base_url=BASE,
            rate_limit=None,
            retry=tim_oa.RetryPolicy(base_delay=0, max_retries=1),
        ) as oa:
            with pytest.raises(tim_oa.AccountIdInUseError) as info:
                await oa.create_account("owner", "News", account_id=ACCOUNT)
            assert info.value.after_unknown_outcome is False
            with pytest.raises(tim_oa.AccountNotFoundError) as gone:
                await oa.destroy_account(ACCOUNT)
            assert gone.value.after_unknown_outcome is False
    assert lookup.call_count == 0 and destroy.call_count == 2


async def test_a_destroy_of_a_missing_account_after_a_refused_attempt_raises() -> None:
    count("round-three cases")
    emu = emulator()
    async with emulator_session(emu, max_retries=2) as oa:
        emu.fail_next("destroy_official_account", code=20005, after_commit=False)
        # 20005 (internal error) may have taken effect: the retry's 130004 is taken as ours
        await oa.destroy_account("@TOA#_never")
        emu.fail_next("destroy_official_account", http_status=429, after_commit=False)
        with pytest.raises(tim_oa.AccountNotFoundError) as info:
            await oa.destroy_account("@TOA#_never")
    assert info.value.after_unknown_outcome is False
