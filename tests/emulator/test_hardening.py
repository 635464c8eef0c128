"""Hostile requests get an error envelope, never an HTTP 500; bodies are capped; stats count."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import MutableMapping
from typing import Any

import pytest

from tim_oa.testing import Emulator, ManualClock, _handlers, serve
from tim_oa.testing._failure import Failure
from tim_oa.testing._usersig import UserSigVerifier

from .helpers import ADMIN, PATH, SDKAPPID, T0, RawClient, mint_usersig, text

CREATE = "create_official_account"


# -- bodies that used to crash the gateway --


async def test_deeply_nested_json_is_60003(client: RawClient) -> None:
    depth = 100_000
    content = b'{"Owner_Account":' + b"[" * depth + b"]" * depth + b"}"
    data = await client.envelope(CREATE, content=content)
    assert data["ErrorCode"] == 60003
    assert "nested" in data["ErrorInfo"]


@pytest.mark.parametrize(
    "content",
    [
        b'{"Owner_Account": "\\ud800", "Name": "N"}',  # read by a byte-length check
        b'{"Owner_Account": "o", "Name": "N", "\\udfff": 1}',  # in a key
        b'{"OfficialAccountIdList": [{"Official_Account": "@TOA#_\\ud83d"}]}',  # echoed back
    ],
)
async def test_lone_surrogates_are_60003(client: RawClient, content: bytes) -> None:
    command = CREATE if b"Owner" in content else "get_official_account_info"
    data = await client.envelope(command, content=content)
    assert data["ErrorCode"] == 60003
    assert "surrogate" in data["ErrorInfo"]


async def test_a_valid_surrogate_pair_is_fine(client: RawClient) -> None:
    content = b'{"Owner_Account": "o", "Name": "\\ud83d\\ude00"}'
    assert await client.code(CREATE, content=content) == 0


async def test_an_emulator_bug_is_an_envelope_not_a_500(
    monkeypatch: pytest.MonkeyPatch, client: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(backend: Any, body: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setitem(_handlers.HANDLERS, CREATE, broken)
    data = await client.envelope(CREATE, {"Owner_Account": "o", "Name": "N"})
    assert data["ErrorCode"] == 10002
    assert any("internal error" in r.getMessage() for r in caplog.records)


# -- the body size cap --


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": PATH + CREATE,
        "query_string": RawClient(Emulator()).query_string().encode(),
        "headers": headers,
    }


async def _call_app(
    emulator: Emulator, scope: dict[str, Any], chunks: list[bytes]
) -> tuple[dict[str, Any], int]:
    """Run one request through the ASGI app; return the envelope and how many chunks it read."""
    sent: list[MutableMapping[str, Any]] = []
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        if read > len(chunks):
            raise AssertionError("the app read past the end of the body")
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await emulator.app(scope, receive, send)
    assert sent[0]["status"] == 200
    return json.loads(sent[1]["body"]), read


async def test_declared_oversized_body_is_refused_unread() -> None:
    emulator = Emulator(clock=ManualClock(T0))
    scope = _scope([(b"content-length", b"200000000")])
    envelope, read = await _call_app(emulator, scope, [b"{}"])
    assert (envelope["ActionStatus"], envelope["ErrorCode"]) == ("FAIL", 60002)
    assert "limit" in envelope["ErrorInfo"]
    assert read == 0  # refused from the header alone
    (record,) = emulator.requests
    assert (record.error_code, record.executed, record.body) == (60002, False, None)


async def test_undeclared_oversized_body_stops_at_the_cap() -> None:
    emulator = Emulator(clock=ManualClock(T0), max_body_bytes=1000)
    chunks = [b" " * 400] * 10  # 4,000 bytes of chunked body, no content-length
    envelope, read = await _call_app(emulator, _scope([]), chunks)
    assert envelope["ErrorCode"] == 60002
    assert read == 3  # 1,200 bytes > 1,000: the other seven chunks were never read


async def test_a_body_at_the_cap_is_read() -> None:
    emulator = Emulator(clock=ManualClock(T0), max_body_bytes=100)
    body = json.dumps({"Owner_Account": "o", "Name": "N"}).encode()
    body += b" " * (100 - len(body))
    scope = _scope([(b"content-length", str(len(body)).encode())])
    envelope, _ = await _call_app(emulator, scope, [body])
    assert envelope["ErrorCode"] == 0


def test_max_body_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_body_bytes"):
        Emulator(max_body_bytes=0)


def test_largest_legal_request_is_far_under_the_default_cap() -> None:
    # A 12 KB message escaped byte by byte (the worst a client can do) still fits many times.
    element = {"MsgType": "TIMCustomElem", "MsgContent": {"Data": ""}}
    overhead = len(json.dumps([element], separators=(",", ":")))
    body = {
        "Official_Account": "@TOA#_" + "x" * 42,
        "Random": 2**32 - 1,
        "MsgBody": [
            {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "\x01" * (12288 - overhead)}}
        ],
    }
    size = len(json.dumps(body, ensure_ascii=True).encode())
    assert 70_000 < size < Emulator().app._gateway.max_body_bytes // 10


@pytest.mark.loopback
def test_oversized_body_over_a_real_socket_is_answered_without_reading_it() -> None:
    emulator = Emulator()
    query = RawClient(emulator).query_string()
    with serve(emulator) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            head = (
                f"POST {PATH}{CREATE}?{query} HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/json\r\nContent-Length: 200000000\r\n\r\n"
            )
            sock.sendall(head.encode() + b'{"Owner_Account": ')  # and never the rest
            started = time.monotonic()
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            assert time.monotonic() - started < 5
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 200")
    envelope = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert envelope["ErrorCode"] == 60002
    assert emulator.stats["requests"] == 1 and emulator.accounts == {}


# -- UserSig expiry in whole seconds (reference §6.2) --


def test_usersig_expiry_compares_whole_seconds() -> None:
    verifier = UserSigVerifier(Emulator().secret_key)
    sig = mint_usersig(time=T0, expire=100)
    # Still the last valid second: Tencent's verifiers compare int(now).
    verifier.verify(sig, identifier=ADMIN, sdkappid=SDKAPPID, now=T0 + 100.999)
    with pytest.raises(Failure) as info:
        verifier.verify(sig, identifier=ADMIN, sdkappid=SDKAPPID, now=T0 + 101.0)
    assert info.value.code == 70001


async def test_usersig_fractional_boundary_over_http() -> None:
    clock = ManualClock(T0 + 100.5)
    emulator = Emulator(clock=clock)
    client = RawClient(emulator, time=T0, expire=100)
    try:
        assert await client.code(CREATE, {"Owner_Account": "o", "Name": "N"}) == 0
        clock.set(T0 + 101)
        assert await client.code(CREATE, {"Owner_Account": "o", "Name": "N"}) == 70001
    finally:
        await client.aclose()


# -- stats --


async def test_stats_count_rate_limits_pacing_caps_and_faults() -> None:
    clock = ManualClock(T0)
    emulator = Emulator(clock=clock, rate_limit=3, broadcasts_per_hour=2)
    client = RawClient(emulator)
    try:
        assert dict(emulator.stats) == {
            "requests": 0,
            "rate_limited": 0,
            "send_paced": 0,
            "hourly_cap": 0,
            "faults": 0,
        }
        account_id = await client.create()
        codes = [await client.code(CREATE, {"Owner_Account": "o", "Name": "N"}) for _ in range(4)]
        assert codes.count(60007) == 2 and emulator.stats["rate_limited"] == 2

        send = "send_official_account_msg"
        for n, expected in [(1, 0), (2, 60018)]:
            body = {"Official_Account": account_id, "Random": n, "MsgBody": text(str(n))}
            assert await client.code(send, body) == expected
        clock.advance(2)
        assert (
            await client.code(
                send, {"Official_Account": account_id, "Random": 3, "MsgBody": text("3")}
            )
            == 0
        )
        clock.advance(2)
        assert (
            await client.code(
                send, {"Official_Account": account_id, "Random": 4, "MsgBody": text("4")}
            )
            == 60019
        )
        # An injected 60018 is a fault, not pacing.
        emulator.fail_next(send, code=60018)
        emulator.fail_next(send, http_status=502)
        for n in (5, 6):
            clock.advance(2)
            await client.post(
                send, {"Official_Account": account_id, "Random": n, "MsgBody": text()}
            )
        stats = emulator.stats
        assert (stats["send_paced"], stats["hourly_cap"], stats["faults"]) == (1, 1, 2)
        assert stats["requests"] == len(emulator.requests) == 11
        with pytest.raises(TypeError):
            stats["requests"] = 0  # type: ignore[index]
        emulator.call(send, {"Official_Account": account_id, "Random": 9, "MsgBody": text()})
        assert emulator.stats["requests"] == 11  # call() is not an HTTP request
        emulator.reset()
        assert set(emulator.stats.values()) == {0}
    finally:
        await client.aclose()
