"""parse_event: the query's forms, the app id, the body's forms, the command, bad options."""

from __future__ import annotations

import json
import logging
import traceback
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tim_oa import ValidationError, webhooks
from tim_oa.webhooks import WebhookError

from .samples import NOW, SDKAPPID, TOKEN, body_of, query_for

EVENT = webhooks.BeforeAddSubscriber
BODY = body_of(EVENT)


def parse(query: Any, body: Any = BODY, **options: Any) -> Any:
    options.setdefault("token", TOKEN)
    return webhooks.parse_event(query, body, sdkappid=SDKAPPID, now=NOW, **options)


def reason_of(query: Any, body: Any = BODY, **options: Any) -> str:
    with pytest.raises(WebhookError) as info:
        parse(query, body, **options)
    assert str(info.value)
    return info.value.reason


# --- the query ---------------------------------------------------------------------------------


def test_query_as_a_mapping_a_string_bytes_or_lists() -> None:
    query = query_for(EVENT)
    text = urllib.parse.urlencode(query)
    forms = [
        query,
        text,
        text.encode(),
        urllib.parse.parse_qs(text),
        {k: (v,) for k, v in query.items()},
    ]
    events = [parse(form) for form in forms]
    assert all(event == events[0] for event in events)
    assert events[0].user_ids == ("alice", "bob")


def test_query_names_are_matched_case_insensitively() -> None:
    query = {k.upper(): v for k, v in query_for(EVENT).items()}
    event = parse(query)
    assert event.context.client_ip == "127.0.0.1" and event.context.authenticated


def test_a_repeated_parameter_is_fine_when_equal_and_refused_when_not() -> None:
    text = urllib.parse.urlencode(query_for(EVENT))
    assert parse(text + f"&SdkAppid={SDKAPPID}").official_account == "@TOA#_daily_news"
    assert reason_of(text + "&SdkAppid=1400000001") == "query"
    assert reason_of(text + "&sdkappid=1400000001") == "query"  # the same name in another case
    assert reason_of({**query_for(EVENT), "Sign": ["a", "b"]}) == "query"


@pytest.mark.parametrize(
    "query",
    [None, 42, ["SdkAppid"], {"SdkAppid": 1400000000}, {1: "x"}, {"SdkAppid": [None]},
     b"SdkAppid=%ff\xff", "&".join(f"p{i}=1" for i in range(101))],
)  # fmt: skip
def test_a_malformed_query_is_refused(query: Any) -> None:
    assert reason_of(query) == "query"


def test_sdkappid_must_be_present_and_ours() -> None:
    query = query_for(EVENT)
    assert reason_of({k: v for k, v in query.items() if k != "SdkAppid"}) == "sdkappid"
    for foreign in ["1400000001", "", "0x536f5a00", "1400000000 ", "+1400000000"]:
        assert reason_of({**query, "SdkAppid": foreign}) == "sdkappid", foreign
    # the app id is checked even without a token
    assert reason_of({**query, "SdkAppid": "1"}, token=None) == "sdkappid"


def test_the_app_id_is_checked_before_the_signature() -> None:
    assert reason_of({**query_for(EVENT), "SdkAppid": "1", "Sign": "bad"}) == "sdkappid"


def test_context_keeps_an_unknown_platform_as_given() -> None:
    query = {**query_for(EVENT), "OptPlatform": "VisionOS", "contenttype": "JSON"}
    context = parse(query).context
    assert context.opt_platform == "VisionOS" and context.content_type == "JSON"


# --- the body ----------------------------------------------------------------------------------


def test_body_as_bytes_str_bytearray_memoryview_or_dict() -> None:
    text = json.dumps(BODY, ensure_ascii=False)
    forms = [text, text.encode(), bytearray(text.encode()), memoryview(text.encode()), BODY]
    assert all(parse(query_for(EVENT), form).user_ids == ("alice", "bob") for form in forms)
    assert parse(query_for(EVENT), b"\xef\xbb\xbf" + text.encode()).user_ids == ("alice", "bob")


@pytest.mark.parametrize(
    "body",
    [
        b"", b"{", json.dumps(BODY)[:-5].encode(), b"[]", b"null", b'"text"', b"\xff\xfe{}",
        b'{"CallbackCommand": NaN}', b"[" * 100_000 + b"]" * 100_000, None, 12, ["x"],
    ],
    ids=lambda b: repr(b)[:30],
)  # fmt: skip
def test_a_body_that_is_not_a_json_object_is_refused(body: Any) -> None:
    assert reason_of(query_for(EVENT), body) == "body"


def test_the_body_is_not_read_before_authentication() -> None:
    query = {**query_for(EVENT), "Sign": "0" * 64}
    assert reason_of(query, b"not json") == "signature"


# --- the command -------------------------------------------------------------------------------


def test_an_unknown_or_missing_command_is_refused() -> None:
    group = "Group.CallbackAfterNewMemberJoin"
    assert reason_of(query_for(group), {"CallbackCommand": group}) == "command"
    nothing = {k: v for k, v in query_for(EVENT).items() if k != "CallbackCommand"}
    assert reason_of(nothing, body_of(EVENT, CallbackCommand=None)) == "command"
    assert reason_of(query_for(EVENT), body_of(EVENT, CallbackCommand=5)) == "body"


def test_the_query_command_is_used_when_the_body_has_none() -> None:
    event = parse(query_for(EVENT), body_of(EVENT, CallbackCommand=None))
    assert type(event) is EVENT and event.user_ids == ("alice", "bob")


def test_on_a_command_mismatch_the_body_wins_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="tim_oa.webhooks"):
        event = parse(query_for(webhooks.AfterAddSubscriber), BODY)
    assert type(event) is EVENT
    assert event.context.command == webhooks.AfterAddSubscriber.command
    [record] = caplog.records
    assert "differs" in record.getMessage() and record.levelno == logging.WARNING


def test_strict_mode_refuses_a_command_mismatch_or_a_missing_one() -> None:
    assert reason_of(query_for(webhooks.AfterAddSubscriber), BODY, strict=True) == "command"
    nothing = {k: v for k, v in query_for(EVENT).items() if k != "CallbackCommand"}
    assert reason_of(nothing, BODY, strict=True) == "command"
    assert (
        reason_of(query_for(EVENT), body_of(EVENT, CallbackCommand=None), strict=True) == "command"
    )
    assert type(parse(query_for(EVENT), BODY, strict=True)) is EVENT


# --- options and secrets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"sdkappid": "1400000000"}, "sdkappid"),
        ({"sdkappid": True}, "sdkappid"),
        ({"sdkappid": 0}, "sdkappid"),
        ({"token": ""}, "token"),
        ({"token": b"my-token"}, "token"),
        ({"max_skew": -1}, "max_skew"),
        ({"max_skew": float("nan")}, "max_skew"),
        ({"max_skew": "60"}, "max_skew"),
        ({"now": float("inf")}, "now"),
    ],
)
def test_bad_options_raise_validation_error(options: dict[str, Any], field: str) -> None:
    options = {"sdkappid": SDKAPPID, "token": TOKEN, "now": NOW, **options}
    with pytest.raises(ValidationError) as info:
        webhooks.parse_event(query_for(EVENT), BODY, **options)
    assert info.value.field == field


SECRET = "s3cret-token-value"


def test_the_token_is_in_no_message_chain_or_traceback_frame() -> None:
    query = query_for(EVENT, token=SECRET)
    for bad in [{**query, "Sign": "0" * 64}, {**query, "RequestTime": "1"}]:
        with pytest.raises(WebhookError) as info:
            webhooks.parse_event(bad, BODY, sdkappid=SDKAPPID, token=SECRET, now=NOW)
        exc = info.value
        assert exc.__context__ is None and exc.__cause__ is None
        assert SECRET not in str(exc) and SECRET not in repr(exc)
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            for name, value in frame.f_locals.items():
                assert SECRET not in repr(value), (frame.f_code.co_name, name)


def test_an_unreadable_mapping_body_is_a_malformed_body() -> None:
    class Broken(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise KeyError(key)

        def __iter__(self) -> Iterator[str]:
            raise RuntimeError("broken")

        def __len__(self) -> int:
            return 1

    assert reason_of(query_for(EVENT), Broken()) == "body"
