from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import httpx
import pytest

from tim_oa.testing import Emulator, ManualClock

from .helpers import PATH, RawClient

QUERY_CASES = [
    ({"sdkappid": None}, 60012),
    ({"sdkappid": ""}, 60012),
    ({"sdkappid": "1400000001"}, 60006),
    ({"sdkappid": "abc"}, 60006),
    ({"sdkappid": "+1400000000"}, 60006),
    ({"identifier": None}, 60010),
    ({"identifier": "bob"}, 60010),
    ({"identifier": "Administrator"}, 60010),  # case-sensitive
    ({"random": None}, 60002),
    ({"random": "-1"}, 60002),
    ({"random": "4294967296"}, 60002),
    ({"random": "1.5"}, 60002),
    ({"contenttype": None}, 60002),
    ({"contenttype": "JSON"}, 60002),
    ({"contenttype": "xml"}, 60002),
]


@pytest.mark.parametrize(("overrides", "code"), QUERY_CASES)
async def test_query_checks(client: RawClient, overrides: dict[str, str | None], code: int) -> None:
    assert await client.code("get_official_account_info", {}, **overrides) == code


async def test_query_check_order(client: RawClient) -> None:
    # Several problems at once: the first check in the documented order wins.
    everything_wrong = {"sdkappid": None, "identifier": "bob", "usersig": "", "random": "x"}
    assert await client.code("get_official_account_info", {}, **everything_wrong) == 60012
    assert await client.code("get_official_account_info", {}, identifier="bob", usersig="") == 60010
    assert await client.code("get_official_account_info", {}, usersig="", random="x") == 70002
    assert (
        await client.code("get_official_account_info", {}, random="x", contenttype="xml") == 60002
    )


async def test_random_bounds_accepted(client: RawClient) -> None:
    body = {"Subscriber_Account": "u"}
    for value in ("0", "4294967295"):
        assert await client.code("get_subscribed_official_account_list", body, random=value) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v4/official_account_open_http_svc",
        "/v4/official_account_open_http_svc/",
        "/v4/group_open_http_svc/create_group",
        "/v3/official_account_open_http_svc/add_subscriber",
        "/v4/official_account_open_http_svc/add_subscriber/extra",
    ],
)
async def test_bad_path_is_60009(client: RawClient, path: str) -> None:
    assert await client.code("", {}, path=path) == 60009


async def test_unknown_command_is_10003(client: RawClient) -> None:
    assert await client.code("no_such_command", {}) == 10003


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_non_post_is_60002(client: RawClient, method: str) -> None:
    response = await client.post("get_official_account_info", method=method)
    assert response.status_code == 200
    assert response.json()["ErrorCode"] == 60002


@pytest.mark.parametrize(
    "content", [b"", b"   ", b"{", b"[]", b'"text"', b"null", b"\xff\xfe{", b"{'a': 1}"]
)
async def test_bad_bodies_are_60003(client: RawClient, content: bytes) -> None:
    assert await client.code("get_official_account_info", content=content) == 60003


async def test_success_envelope_shape(client: RawClient) -> None:
    response = await client.post("create_official_account", {"Owner_Account": "o", "Name": "N"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = json.loads(response.content)
    assert list(data)[:4] == ["ActionStatus", "ErrorInfo", "ErrorCode", "RequestId"]
    assert data["ActionStatus"] == "OK" and data["ErrorCode"] == 0 and data["ErrorInfo"] == ""
    assert data["OfficialAccountUserID"].startswith("@TOA#_@TOA#")


async def test_request_ids_are_unique(client: RawClient) -> None:
    ids = {(await client.envelope("get_official_account_info", {}))["RequestId"] for _ in range(5)}
    assert len(ids) == 5


async def test_service_disabled_is_131000(emulator: Emulator, client: RawClient) -> None:
    emulator.service_enabled = False
    assert (
        await client.code("create_official_account", {"Owner_Account": "o", "Name": "N"}) == 131000
    )
    assert await client.code("get_official_account_info", {}) == 131000
    assert emulator.accounts == {}
    emulator.service_enabled = True
    assert await client.code("create_official_account", {"Owner_Account": "o", "Name": "N"}) == 0


async def test_service_disabled_at_construction() -> None:
    client = RawClient(Emulator(clock=ManualClock(), service_enabled=False))
    assert await client.code("official_account_msg_recall", {}) == 131000
    await client.aclose()


async def test_rate_limit_per_command() -> None:
    clock = ManualClock()
    emulator = Emulator(clock=clock, rate_limit=5)
    client = RawClient(emulator)
    body = {"Subscriber_Account": "u"}
    codes = [await client.code("get_subscribed_official_account_list", body) for _ in range(6)]
    assert codes == [0, 0, 0, 0, 0, 60007]
    # Another command has its own bucket.
    assert (
        await client.code(
            "get_official_account_info",
            {"OfficialAccountIdList": [{"Official_Account": "@TOA#_x"}]},
        )
        == 0
    )
    clock.advance(0.2)  # one token back at 5/s
    assert await client.code("get_subscribed_official_account_list", body) == 0
    assert await client.code("get_subscribed_official_account_list", body) == 60007
    clock.advance(10)  # refills to the burst size only
    codes = [await client.code("get_subscribed_official_account_list", body) for _ in range(6)]
    assert codes == [0, 0, 0, 0, 0, 60007]
    await client.aclose()


async def test_rate_limit_applies_after_auth() -> None:
    emulator = Emulator(clock=ManualClock(), rate_limit=1)
    client = RawClient(emulator)
    for _ in range(3):  # refused before the limiter: no tokens used
        assert await client.code("get_official_account_info", {}, usersig="") == 70002
    assert (
        await client.code("get_subscribed_official_account_list", {"Subscriber_Account": "u"}) == 0
    )
    await client.aclose()


async def test_default_rate_limit_is_200_per_second() -> None:
    emulator = Emulator(clock=ManualClock())
    client = RawClient(emulator)
    body = {"Subscriber_Account": "u"}
    codes = [await client.code("get_subscribed_official_account_list", body) for _ in range(201)]
    assert codes.count(0) == 200 and codes[-1] == 60007
    await client.aclose()


async def test_request_log_redacts_usersig(emulator: Emulator, client: RawClient) -> None:
    await client.post("create_official_account", {"Owner_Account": "o", "Name": "N"})
    await client.post("get_official_account_info", content=b"nope")
    first, second = emulator.requests
    assert first.command == "create_official_account"
    assert first.body == {"Owner_Account": "o", "Name": "N"}
    assert first.query["usersig"] == "<redacted>"
    assert first.query["sdkappid"] == "1400000000"
    assert (first.error_code, first.http_status, first.executed, first.fault) == (
        0,
        200,
        True,
        None,
    )
    assert first.time == emulator.clock()
    assert second.error_code == 60003 and second.body is None and not second.executed
    assert "eJ" not in repr(emulator.requests)


async def test_request_log_is_bounded() -> None:
    emulator = Emulator(clock=ManualClock(), request_log_size=3)
    client = RawClient(emulator)
    for _ in range(5):
        await client.post("get_official_account_info", {})
    assert len(emulator.requests) == 3
    await client.aclose()


async def test_lifespan_protocol(emulator: Emulator) -> None:
    sent: list[MutableMapping[str, Any]] = []
    incoming: Iterator[MutableMapping[str, Any]] = iter(
        [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    )

    async def receive() -> MutableMapping[str, Any]:
        return next(incoming)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await emulator.app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_chunked_request_body(emulator: Emulator, client: RawClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"Owner_Account": "o",'
        yield b' "Name": "N"}'

    response = await client.http.post(
        PATH + "create_official_account", params=client.query(), content=chunks()
    )
    assert response.json()["ErrorCode"] == 0


async def test_transport_round_trip(emulator: Emulator) -> None:
    async with httpx.AsyncClient(transport=emulator.transport(), base_url="http://x") as http:
        raw = RawClient(emulator)
        response = await http.post(PATH + "get_official_account_info", params=raw.query(), json={})
        assert response.json()["ErrorCode"] == 20001  # OfficialAccountIdList missing
        await raw.aclose()
