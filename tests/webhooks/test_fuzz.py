"""Fuzzing: parse_event only ever returns an event or raises WebhookError; handle likewise."""

from __future__ import annotations

import json
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tim_oa import webhooks
from tim_oa.webhooks import WebhookError

from .samples import BODIES, NOW, SDKAPPID, TOKEN, query_for

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
commands = st.sampled_from(sorted(BODIES))
query_keys = ["SdkAppid", "CallbackCommand", "Sign", "RequestTime", "ClientIP", "OptPlatform"]


@st.composite
def queries(draw: st.DrawFn) -> Any:
    """Signed queries with some values replaced, arbitrary dicts, strings and bytes."""
    base: dict[str, Any] = query_for(draw(commands))
    for key in draw(st.lists(st.sampled_from(query_keys), max_size=3)):
        base[key] = draw(st.text(max_size=70) | st.lists(st.text(max_size=5), max_size=2))
    return draw(
        st.just(base)
        | st.dictionaries(st.text(max_size=12), st.text(max_size=12) | st.lists(st.text()))
        | st.text(max_size=200)
        | st.binary(max_size=200)
        | json_values
    )


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """Reference bodies with fields replaced by any JSON, as a dict or encoded; or junk."""
    body: dict[str, Any] = dict(BODIES[draw(commands)])
    keys = sorted({key for sample in BODIES.values() for key in sample})
    for key in draw(st.lists(st.sampled_from(keys) | st.text(max_size=8), max_size=4)):
        body[key] = draw(json_values)
    encoded = json.dumps(body, allow_nan=True)
    return draw(
        st.sampled_from([body, encoded, encoded.encode()])
        | st.binary(max_size=300)
        | st.text(max_size=300)
        | json_values
        | st.just(encoded[: draw(st.integers(0, len(encoded)))])
    )


@FUZZ
@given(query=queries(), body=bodies(), token=st.none() | st.just(TOKEN), strict=st.booleans())
def test_parse_event_returns_an_event_or_raises_webhook_error(
    query: Any, body: Any, token: str | None, strict: bool
) -> None:
    try:
        event = webhooks.parse_event(
            query, body, sdkappid=SDKAPPID, token=token, now=NOW, strict=strict
        )
    except WebhookError as exc:
        assert exc.reason in {"query", "sdkappid", "signature", "stale", "body", "command"}
        assert str(exc)
    else:
        assert isinstance(event, webhooks.Event)
        assert type(event) is webhooks.EVENT_TYPES[event.command]
        repr(event)
        hash(event)


@FUZZ
@given(
    command=commands,
    changes=st.dictionaries(st.sampled_from(["EventTime", "MsgBody", "SubscribeAccountList",
                                             "WithdrawMsgList", "Name", "OnlineOnlyFlag"]),
                            json_values, max_size=3),
)  # fmt: skip
def test_valid_signed_callbacks_keep_their_type(command: str, changes: dict[str, Any]) -> None:
    body = {**BODIES[command], **changes}
    try:
        event = webhooks.parse_event(
            query_for(command), body, sdkappid=SDKAPPID, token=TOKEN, now=NOW
        )
    except WebhookError as exc:
        assert exc.reason == "body"
    else:
        assert event.command == command and event.raw == body
        assert event.context.authenticated


ROUTER = webhooks.WebhookRouter(SDKAPPID, TOKEN, clock=lambda: NOW)
ROUTER.add_handler(lambda event: None, *webhooks.EVENT_TYPES.values())


@settings(max_examples=60, deadline=None)
@given(query=queries(), body=bodies())
def test_handle_returns_an_answer_or_raises_webhook_error(query: Any, body: Any) -> None:
    try:
        answer = anyio.run(ROUTER.handle, query, body)
    except WebhookError:
        return
    assert answer == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
