"""Each answer's JSON (reference §1.4, §3) and its argument checks."""

from __future__ import annotations

from typing import Any

import pytest

from tim_oa import CustomElem, TextElem, ValidationError, webhooks


def ok(code: int = 0, info: str = "", **extra: Any) -> dict[str, Any]:
    return {"ActionStatus": "OK", "ErrorCode": code, "ErrorInfo": info, **extra}


TEXT = {"MsgType": "TIMTextElem", "MsgContent": {"Text": "Top stories"}}
BADGE = {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "badge:verified", "Desc": "meta"}}


@pytest.mark.parametrize(
    ("answer", "wire"),
    [
        (webhooks.Allow(), ok()),
        (webhooks.Refuse(), ok(1)),
        (webhooks.Refuse(120050, "name not allowed"), ok(120050, "name not allowed")),
        (webhooks.Refuse(code=130000), ok(130000)),
        (webhooks.Refuse(code=120001), ok(120001)),
        (webhooks.Drop(), ok(2)),
        (webhooks.RefuseSubscribers(["bob"]), ok(RefusedSubscribers_Account=["bob"])),
        (
            webhooks.RefuseSubscribers(("bob", "eve"), legacy_key=True),
            ok(RefusedSubscribers_Account=["bob", "eve"], RefusedMembers_Account=["bob", "eve"]),
        ),
        (
            webhooks.ReplaceMessage([TEXT, CustomElem(data="badge:verified", desc="meta")]),
            ok(MsgBody=[TEXT, BADGE]),
        ),
        (
            webhooks.ReplaceMessage("clean text", cloud_custom_data='{"checked":1}'),
            ok(
                MsgBody=[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "clean text"}}],
                CloudCustomData='{"checked":1}',
            ),
        ),
        (webhooks.ReplaceMessage(None, cloud_custom_data=""), ok(CloudCustomData="")),
    ],
)
def test_answer_json(answer: webhooks.Answer, wire: dict[str, Any]) -> None:
    assert answer.to_wire() == wire


def test_replace_message_takes_library_elements() -> None:
    answer = webhooks.ReplaceMessage(TextElem("hi"))
    assert answer.msg_body == ({"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}},)


def test_to_wire_returns_a_fresh_dict() -> None:
    answer = webhooks.RefuseSubscribers(["bob"])
    answer.to_wire()["RefusedSubscribers_Account"].append("eve")
    assert answer.to_wire()["RefusedSubscribers_Account"] == ["bob"]
    replace = webhooks.ReplaceMessage(TextElem("hi"))
    replace.to_wire()["MsgBody"][0]["MsgContent"]["Text"] = "changed"
    assert replace.to_wire()["MsgBody"][0]["MsgContent"]["Text"] == "hi"
    hash(replace)


@pytest.mark.parametrize("code", [0, 2, 3, 120000, 130001, -1, 10016])
def test_refuse_codes_are_one_or_the_custom_range(code: int) -> None:
    with pytest.raises(ValidationError) as info:
        webhooks.Refuse(code)
    assert info.value.field == "code"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: webhooks.Refuse(True), "code"),
        (lambda: webhooks.Refuse("1"), "code"),  # type: ignore[arg-type]
        (lambda: webhooks.Refuse(1, info=None), "info"),  # type: ignore[arg-type]
        (lambda: webhooks.Allow(info=3), "info"),  # type: ignore[arg-type]
        (lambda: webhooks.Drop(info=b""), "info"),  # type: ignore[arg-type]
        (lambda: webhooks.RefuseSubscribers("bob"), "user_ids"),
        (lambda: webhooks.RefuseSubscribers(None), "user_ids"),  # type: ignore[arg-type]
        (lambda: webhooks.RefuseSubscribers(["bob", ""]), "user_ids[1]"),
        (lambda: webhooks.RefuseSubscribers(["bob", 7]), "user_ids[1]"),  # type: ignore[list-item]
        (lambda: webhooks.ReplaceMessage(None), "msg_body"),
        (lambda: webhooks.ReplaceMessage([]), "msg_body"),
        (lambda: webhooks.ReplaceMessage(""), "msg_body"),
        (lambda: webhooks.ReplaceMessage(42), "msg_body"),  # type: ignore[arg-type]
        (lambda: webhooks.ReplaceMessage({"MsgType": "TIMTextElem"}), "msg_body"),
        (
            lambda: webhooks.ReplaceMessage({"MsgType": "X", "MsgContent": {"v": float("nan")}}),
            "msg_body",
        ),
        (
            lambda: webhooks.ReplaceMessage({"MsgType": "X", "MsgContent": {"v": object()}}),
            "msg_body",
        ),
        (lambda: webhooks.ReplaceMessage("ok", cloud_custom_data=1), "cloud_custom_data"),  # type: ignore[arg-type]
    ],
)
def test_bad_answer_arguments_raise_validation_error(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        build()
    assert info.value.field == field


def test_which_answers_each_event_accepts() -> None:
    accepts = {
        cls.__name__: {a.__name__ for a in cls.answers} for cls in webhooks.EVENT_TYPES.values()
    }
    assert accepts.pop("BeforeCreateAccount") == {"Allow", "Refuse"}
    assert accepts.pop("BeforeAddSubscriber") == {"Allow", "Refuse", "RefuseSubscribers"}
    assert accepts.pop("BeforeSendMessage") == {"Allow", "Refuse", "Drop", "ReplaceMessage"}
    assert len(accepts) == 8 and all(a == {"Allow"} for a in accepts.values())
