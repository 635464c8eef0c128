"""The one bulk helper: invalid= on every bulk method, extra_body checked once per call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

import tim_oa
from tim_oa import _bulk, _validation

from .conftest import body_of, ok

SVC = "/v4/official_account_open_http_svc/"
ACCOUNT = "@TOA#_news"


def add_answer(request: httpx.Request) -> httpx.Response:
    body = body_of(type("Call", (), {"request": request})())
    return ok(SubscriberList=[{**i, "Result": 1} for i in body["SubscriberList"]])


async def test_invalid_raise_lists_every_bad_id_with_its_index(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(SVC + "add_subscriber").mock(side_effect=add_answer)
    ids = ["a", "", "b", "x" * 33, "c", "\ud800"]
    with pytest.raises(tim_oa.ValidationError) as info:
        await oa.add_subscribers(ACCOUNT, ids)
    text = str(info.value)
    assert text.startswith("3 invalid ids in user_ids")
    for index in (1, 3, 5):
        assert f"user_ids[{index}]" in text
    assert "user_ids[0]" not in text and info.value.field == "user_ids"
    assert route.call_count == 0


async def test_invalid_fail_sends_the_rest_and_fails_the_bad_ones_in_place(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(SVC + "add_subscriber").mock(side_effect=add_answer)
    ids = [f"u{i}" for i in range(150)]
    ids[3] = ""
    ids[120] = "y" * 40
    result = await oa.add_subscribers(ACCOUNT, ids, invalid="fail")
    sent = [i["Subscriber_Account"] for c in route.calls for i in body_of(c)["SubscriberList"]]
    assert sorted(sent) == sorted(u for u in ids if u and len(u) < 33)
    assert list(result.outcomes) == ids  # input order, the refused ones in place
    assert result.failed == ["", "y" * 40]
    assert len(result.succeeded) == 148 and result.outcomes["u0"].code == 1
    errors = result.errors()
    assert set(errors) == {"", "y" * 40}
    assert all(isinstance(e, tim_oa.ValidationError) for e in errors.values())
    assert "user_ids[120]" in str(errors["y" * 40])
    assert result.outcomes[""].code is None and not result.ok


async def test_invalid_fail_with_nothing_valid_sends_nothing(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post(SVC + "delete_subscriber").mock(return_value=ok(SubscriberList=[]))
    result = await oa.remove_subscribers(ACCOUNT, ["", ""], invalid="fail")
    assert route.call_count == 0 and result.failed == [""]


async def test_invalid_fail_still_raises_for_items_that_are_not_str(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    with pytest.raises(tim_oa.ValidationError, match=r"user_ids\[1\]"):
        await oa.add_subscribers(ACCOUNT, ["a", 5], invalid="fail")  # type: ignore[list-item]


@pytest.mark.parametrize("value", ["skip", None, True])
async def test_invalid_takes_raise_or_fail(oa: tim_oa.Session, value: Any) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        await oa.add_subscribers(ACCOUNT, ["a"], invalid=value)
    assert info.value.field == "invalid"


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("add_subscribers", (ACCOUNT,)),
        ("remove_subscribers", (ACCOUNT,)),
        ("recall_messages", (ACCOUNT,)),
        ("import_accounts", ()),
        ("delete_accounts", ()),
    ],
)
async def test_every_bulk_method_takes_invalid(
    api: respx.MockRouter, oa: tim_oa.Session, method: str, args: tuple[str, ...]
) -> None:
    api.route().mock(return_value=ok())
    result = await getattr(oa, method)(*args, [""], invalid="fail")
    assert result.failed == [""]
    assert isinstance(result.errors()[""], tim_oa.ValidationError)
    assert len(api.calls) == 0


async def test_extra_body_is_checked_once_per_call_not_per_chunk(
    api: respx.MockRouter, oa: tim_oa.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = api.post(SVC + "add_subscriber").mock(side_effect=add_answer)
    calls = []
    real = _validation.merge_extra

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(_bulk, "merge_extra", counting)
    ids = [f"u{i}" for i in range(250)]
    await oa.add_subscribers(ACCOUNT, ids, extra_body={"Tag": "x"})
    assert route.call_count == 3 and len(calls) == 1
    assert all(body_of(c)["Tag"] == "x" for c in route.calls)


def test_the_id_rules_are_public() -> None:
    assert tim_oa.check_user_id("alice") == "alice"
    with pytest.raises(tim_oa.ValidationError):
        tim_oa.check_user_id("x" * 33)
    assert tim_oa.check_account_id("@TOA#_news") == "@TOA#_news"
    with pytest.raises(tim_oa.ValidationError, match="ids"):
        tim_oa.check_account_id("news", "ids")
