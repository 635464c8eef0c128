"""The emulator attacked by a hostile client (issue 8, item 14).

Users run the emulator in their own test suites and on loopback ports; a request it cannot
handle must get an error envelope, never an HTTP 500 with a traceback, and a huge body must be
refused without being read whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

import tim_oa
from tim_oa.testing import Emulator, serve

from .support import ADMIN, SDKAPPID, SECRET_KEY, count

PATH = "/v4/official_account_open_http_svc/"


@pytest.fixture(scope="module")
def emulator() -> Emulator:
    return Emulator(SDKAPPID, SECRET_KEY, rate_limit=None, send_per_second=None)


@pytest.fixture(scope="module")
def base_url(emulator: Emulator) -> Iterator[str]:
    with serve(emulator) as url:
        yield url


def signed_target(command: str, *, usersig: str | None = None) -> str:
    sig = usersig or tim_oa.UserSigSigner(SDKAPPID, SECRET_KEY).get(ADMIN)
    query = urlencode(
        {
            "sdkappid": SDKAPPID,
            "identifier": ADMIN,
            "usersig": sig,
            "random": 7,
            "contenttype": "json",
        }
    )
    return f"{PATH}{command}?{query}"


NESTED = b'{"Official_Account": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
BODIES: dict[str, tuple[str, bytes]] = {
    "deeply-nested": ("destroy_official_account", NESTED),
    "nested-objects": ("get_official_account_info", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    "surrogate-name": (
        "create_official_account",
        b'{"Owner_Account": "owner", "Name": "bad \\ud800 name"}',
    ),
    "surrogate-id": ("destroy_official_account", b'{"Official_Account": "@TOA#_\\udfff"}'),
    "surrogate-user": (
        "add_subscriber",
        b'{"Official_Account": "@TOA#_x", "SubscriberList": [{"Subscriber_Account": "\\ud83d"}]}',
    ),
    "surrogate-message": (
        "send_official_account_msg",
        b'{"Official_Account": "@TOA#_x", "Random": 1, "MsgBody": [{"MsgType": "TIMTextElem", '
        b'"MsgContent": {"Text": "\\udc00"}}]}',
    ),
    "invalid-utf8": ("destroy_official_account", b'{"Official_Account": "\xff\xfe"}'),
    "huge-number": (
        "create_official_account",
        b'{"Owner_Account": "o", "Name": "n", "MaxSubscriberNum": 1' + b"0" * 5000 + b"}",
    ),
}


def assert_envelope(status: int, body: bytes, label: str) -> None:
    assert status == 200, f"{label}: HTTP {status}: {body[:200]!r}"
    document: Any = json.loads(body)
    assert isinstance(document, dict) and document.get("ActionStatus") == "FAIL", document
    assert isinstance(document.get("ErrorCode"), int) and document["ErrorCode"] != 0
    assert b"Traceback" not in body


@pytest.mark.parametrize("kind", list(BODIES))
async def test_hostile_bodies_get_an_error_envelope_over_loopback(base_url: str, kind: str) -> None:
    command, body = BODIES[kind]
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post(signed_target(command), content=body)
    assert_envelope(response.status_code, response.content, kind)
    count("faults injected")


@pytest.mark.parametrize("kind", list(BODIES))
async def test_hostile_bodies_get_an_error_envelope_in_process(
    emulator: Emulator, kind: str
) -> None:
    command, body = BODIES[kind]
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url="http://emulator", timeout=10
    ) as client:
        try:
            response = await client.post(signed_target(command), content=body)
        except Exception as exc:
            pytest.fail(f"{kind}: the in-process emulator raised {exc!r}")
    assert_envelope(response.status_code, response.content, kind)


@pytest.mark.parametrize("authenticated", [True, False], ids=["signed", "unsigned"])
async def test_a_200_mb_body_is_refused_without_being_read(
    base_url: str, authenticated: bool
) -> None:
    url = urlsplit(base_url)
    target = signed_target("destroy_official_account", usersig=None if authenticated else "x")
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {200 * 1024 * 1024}\r\n\r\n"
        )
        writer.write(head.encode("ascii") + b'{"Official_Account": "' + b"x" * (1 << 20))
        # the server may stop reading (or close) early: that is the point
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.drain(), 3)
        try:
            head_bytes = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
            length = re.search(rb"(?i)content-length:\s*(\d+)", head_bytes)
            body = await asyncio.wait_for(
                reader.readexactly(int(length.group(1))) if length else reader.read(65536), 3
            )
        except asyncio.TimeoutError:
            pytest.fail("no answer 3 s after 1 MiB of a declared 200 MB body: it waits for all")
    finally:
        writer.close()
    status = int(head_bytes.split(b" ", 2)[1])
    assert_envelope(status, body, "200 MB body")
    count("faults injected")
