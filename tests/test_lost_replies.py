"""Writes whose first answer was lost: destroy answered 130004 and create answered 130008 on retry.

The request loop marks an error raised after an attempt whose outcome was unknown
(``TimOAError.after_unknown_outcome``). The endpoint methods then read 130004/130008 as the
likely echo of their own earlier success, confirm where they can, and log the inference.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

import tim_oa
from tim_oa.testing import Emulator

from .conftest import body_of, fail, no_backoff, ok

SVC = "/v4/official_account_open_http_svc/"
ACCOUNT = "@TOA#_news"


def lost_then(error: tim_oa.ApiError) -> Callable[..., Any]:
    """A stand-in for ``_request`` whose first write raises ``error`` after a lost answer."""
    calls: list[tuple[str, dict[str, Any]]] = []

    async def request(spec: Any, body: dict[str, Any]) -> dict[str, Any]:
        command = getattr(spec, "name", spec)  # a registry record (or a command word)
        calls.append((command, dict(body)))
        if command == "get_official_account_info":
            return {
                "OfficialAccountInfoList": [
                    {"Official_Account": ACCOUNT, "Owner_Account": "107867", "Name": "News"}
                ]
            }
        error.after_unknown_outcome = True
        error.attempts = 2
        raise error

    request.calls = calls  # type: ignore[attr-defined]
    return request


def inferred_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "tim_oa_outcome", None) == "inferred"]


# --- the decision, given the request loop's flag -------------------------------------------


async def test_destroy_answered_not_found_after_a_lost_answer_is_done(
    oa: tim_oa.Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(oa, "_request", lost_then(tim_oa.AccountNotFoundError(130004, "gone")))
    with caplog.at_level(logging.INFO, logger="tim_oa"):
        assert await oa.destroy_account(ACCOUNT) is None  # type: ignore[func-returns-value]
    (record,) = inferred_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.tim_oa_command == "destroy_official_account"  # type: ignore[attr-defined]
    assert record.tim_oa_account == ACCOUNT  # type: ignore[attr-defined]


async def test_destroy_not_found_without_a_lost_answer_still_raises(
    api: respx.MockRouter, oa: tim_oa.Session, caplog: pytest.LogCaptureFixture
) -> None:
    api.post(SVC + "destroy_official_account").mock(return_value=fail(130004, "gone"))
    with pytest.raises(tim_oa.AccountNotFoundError):
        await oa.destroy_account(ACCOUNT)
    assert inferred_records(caplog) == []


async def test_create_in_use_after_a_lost_answer_is_confirmed_by_one_lookup(
    oa: tim_oa.Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    request = lost_then(tim_oa.AccountIdInUseError(130008, "in use"))
    monkeypatch.setattr(oa, "_request", request)
    with caplog.at_level(logging.INFO, logger="tim_oa"):
        created = await oa.create_account("107867", "News", account_id=ACCOUNT)
    assert created == ACCOUNT
    commands = [c for c, _ in request.calls]  # type: ignore[attr-defined]
    assert commands == ["create_official_account", "get_official_account_info"]
    (record,) = inferred_records(caplog)
    assert record.tim_oa_command == "create_official_account"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("owner", "name", "text"),
    [
        (
            "someone",
            "News",
            r"owner '107867' and name 'News' \(its owner differs\); asked for owner",
        ),
        ("107867", "Sports", "asked for owner '107867' and name 'Sports'"),
    ],
)
async def test_create_in_use_by_another_account_raises_with_both_facts(
    oa: tim_oa.Session, monkeypatch: pytest.MonkeyPatch, owner: str, name: str, text: str
) -> None:
    monkeypatch.setattr(oa, "_request", lost_then(tim_oa.AccountIdInUseError(130008, "in use")))
    with pytest.raises(tim_oa.AccountIdInUseError, match=text) as info:
        await oa.create_account(owner, name, account_id=ACCOUNT)
    assert info.value.code == 130008 and info.value.after_unknown_outcome
    assert info.value.attempts == 2


async def test_create_in_use_without_a_lost_answer_raises_at_once(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    create = api.post(SVC + "create_official_account").mock(return_value=fail(130008, "in use"))
    lookup = api.post(SVC + "get_official_account_info").mock(return_value=ok())
    with pytest.raises(tim_oa.AccountIdInUseError):
        await oa.create_account("107867", "News", account_id=ACCOUNT)
    assert create.call_count == 1 and lookup.call_count == 0


# --- end to end, once the request loop sets the flag (the pipeline branch) ------------------


@pytest.fixture
async def flags_lost_answers(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    """Skip unless the session's request loop sets ``after_unknown_outcome`` (the contract)."""
    route = api.post(SVC + "modify_official_account_base_info").mock(
        side_effect=[httpx.Response(502), fail(6017)]
    )
    async with make_session() as oa:
        with pytest.raises(tim_oa.ApiError) as info:
            await oa.modify_account(ACCOUNT, name="x")
    route.reset()
    if not info.value.after_unknown_outcome:
        pytest.skip("the request loop does not set after_unknown_outcome yet (pipeline branch)")


@pytest.mark.parametrize(
    "first",
    [httpx.Response(502), httpx.ConnectError, httpx.ReadTimeout],
    ids=["http-502", "dropped", "timeout"],
)
async def test_destroy_over_the_wire_after_a_lost_answer(
    flags_lost_answers: None,
    api: respx.MockRouter,
    oa: tim_oa.Session,
    first: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if first is httpx.ConnectError:
        first = httpx.RemoteProtocolError("peer closed connection")
    elif first is httpx.ReadTimeout:
        first = httpx.ReadTimeout("read timed out")
    route = api.post(SVC + "destroy_official_account").mock(
        side_effect=[first, fail(130004, "gone")]
    )
    with caplog.at_level(logging.INFO, logger="tim_oa"):
        await oa.destroy_account(ACCOUNT)
    assert route.call_count == 2
    assert len(inferred_records(caplog)) == 1


async def test_create_over_the_wire_after_a_lost_answer(
    flags_lost_answers: None, api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    create = api.post(SVC + "create_official_account").mock(
        side_effect=[httpx.Response(502), fail(130008, "in use")]
    )
    api.post(SVC + "get_official_account_info").mock(
        return_value=ok(
            OfficialAccountInfoList=[
                {"Official_Account": ACCOUNT, "Owner_Account": "107867", "Name": "News"}
            ]
        )
    )
    assert await oa.create_account("107867", "News", account_id=ACCOUNT) == ACCOUNT
    assert create.call_count == 2
    assert body_of(create.calls[1])["OfficialAccountUserID"] == ACCOUNT


async def test_against_the_emulator_after_commit(
    flags_lost_answers: None, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = Emulator(send_per_second=None, broadcasts_per_hour=None)
    async with emulator.session(**no_backoff({})) as oa:
        emulator.fail_next("create_official_account", http_status=502, after_commit=True)
        created = await oa.create_account("owner", "News", account_id=ACCOUNT)
        assert created == ACCOUNT and ACCOUNT in emulator.accounts
        emulator.fail_next("destroy_official_account", drop=True, after_commit=True)
        with caplog.at_level(logging.INFO, logger="tim_oa"):
            await oa.destroy_account(ACCOUNT)
        assert ACCOUNT not in emulator.accounts
        # An id someone else holds is still refused, with what that account holds.
        await oa.create_account("other", "Other", account_id="@TOA#_taken")
        emulator.fail_next("create_official_account", http_status=502, after_commit=False)
        with pytest.raises(
            tim_oa.AccountIdInUseError, match="owner 'other' and name 'Other' \\(its owner differs"
        ):
            await oa.create_account("owner", "News", account_id="@TOA#_taken")
    assert [getattr(r, "tim_oa_command", None) for r in inferred_records(caplog)] == [
        "create_official_account",
        "destroy_official_account",
    ]
