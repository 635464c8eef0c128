"""The HTTP transports against a real loopback server: time, size, redirects, loops, headers.

Every test runs against each backend (``backend`` fixture); the server is a thread of raw sockets
(``http_scenarios``), so what it sends is exactly what the test says.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import importlib
import importlib.util
import os
import re
import sys
import time
import tracemalloc
import warnings
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest

import tim_oa
from tim_oa import _wire
from tim_oa._transport import DEFAULT_MAX_RESPONSE_BYTES, HttpTransport, make_transport
from tim_oa._wire import RawResponse

from . import http_scenarios as hs

try:
    import aiohttp  # noqa: F401

    HAVE_AIOHTTP = True
except ImportError:  # pragma: no cover - CI installs it with the test extra
    HAVE_AIOHTTP = False

HAVE_HTTPX2 = sys.version_info >= (3, 11) and importlib.util.find_spec("httpx2") is not None
_NO_HTTPX2 = pytest.mark.skipif(not HAVE_HTTPX2, reason="httpx2 not installed (Python 3.11+)")

QUERY = "sdkappid=1&identifier=administrator&usersig=SIG&random=7&contenttype=json"
# "httpx": the session's own client on asyncio, through our own connections (``_lean_pool``).
# "httpx-pool": the same through httpx's pool (what trio, a proxy or a patched httpx gets).
# "httpx-send": both fast paths off (requests through client.send()), which is what a caller's
# client, or an httpx without the private hook, gets. Same for httpx2.
# TIM_OA_TEST_BACKEND=httpx2 (the CI run under the second stack) keeps the httpx2 ones only.
_STACK = os.environ.get("TIM_OA_TEST_BACKEND", "")
BACKENDS = [
    pytest.param(name, marks=marks)
    for name, marks in (
        ("httpx", []),
        ("httpx-pool", []),
        ("httpx-send", []),
        ("httpx2", [_NO_HTTPX2]),
        ("httpx2-pool", [_NO_HTTPX2]),
        ("httpx2-send", [_NO_HTTPX2]),
        ("aiohttp", [pytest.mark.skipif(not HAVE_AIOHTTP, reason="no aiohttp")]),
    )
    if not _STACK or name.split("-")[0] == _STACK
]
# The HTTP library of a caller's client (http_client=).
LIBS = [
    pytest.param(name, marks=marks)
    for name, marks in (("httpx", []), ("httpx2", [_NO_HTTPX2]))
    if _STACK in ("", "aiohttp") or name == _STACK
]


@pytest.fixture
def server() -> Iterator[hs.Server]:
    srv = hs.Server()
    yield srv
    srv.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(backend: str) -> Iterator[Callable[..., Any]]:
    made: list[Any] = []

    def factory(base_url: str, **options: Any) -> Any:
        transport = build(backend, base_url, **options)
        made.append(transport)
        return transport

    yield factory


@pytest.fixture(params=LIBS)
def lib(request: pytest.FixtureRequest) -> Any:
    """The httpx or httpx2 module, for a caller's client."""
    return importlib.import_module(request.param)


def build(backend: str, base_url: str, **options: Any) -> Any:
    """The transport of a ``BACKENDS`` name, with the paths its suffix turns off."""
    if "-" not in backend:
        return make_transport(backend, base_url, **options)
    stack, path = backend.split("-")
    transport: Any = make_transport(stack, base_url, **options)
    transport._lean_pool = lambda client: None  # also for the clients of later event loops
    transport._lean = None
    if path == "send":
        transport._route_of = lambda client: None
        transport._route = None
    return transport


@pytest.fixture
async def closing(make: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    """Like ``make``, and every transport is closed at the end of the test."""
    made: list[Any] = []

    def factory(base_url: str, **options: Any) -> Any:
        transport = make(base_url, **options)
        made.append(transport)
        return transport

    yield factory
    for transport in made:
        await transport.aclose()


async def post(transport: Any, path: str = "/ok", **kw: Any) -> RawResponse:
    response: RawResponse = await transport.post("cmd", path, QUERY, b"{}", **kw)
    return response


# --- the plain path ------------------------------------------------------------------------


async def test_round_trip_sends_the_exact_request(
    server: hs.Server, closing: Callable[..., Any]
) -> None:
    transport = closing(server.url + "/")
    response = await post(transport, "/v4/svc/cmd")
    assert response == RawResponse(200, hs.OK_BODY, None)
    assert f"<{len(hs.OK_BODY)} bytes>" in repr(response) and "ActionStatus" not in repr(response)
    [request] = server.requests
    assert request["method"] == "POST"
    assert request["target"] == f"/v4/svc/cmd?{QUERY}"
    assert request["body"] == b"{}"
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["accept-encoding"] == "gzip, deflate"
    # Keep-alive: the next call reuses the connection.
    await post(transport)
    assert server.connections == 1


# --- timeouts: the whole attempt -------------------------------------------------------------


async def test_timeout_bounds_the_whole_attempt_not_each_read(
    server: hs.Server, closing: Callable[..., Any]
) -> None:
    # One byte every 0.1 s: a per-read timeout of 1 s never fires; the answer takes 20 s.
    server.routes["/trickle"] = hs.trickle(0.1)
    transport = closing(server.url, timeout=1.0)
    started = time.monotonic()
    with anyio.fail_after(8), pytest.raises(tim_oa.TransportError) as info:
        await post(transport, "/trickle")
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0
    assert info.value.is_timeout
    assert info.value.request_sent  # the server had the request: its outcome is unknown
    assert "1 s" in str(info.value)


async def test_per_call_timeout_overrides(server: hs.Server, closing: Callable[..., Any]) -> None:
    server.routes["/stall"] = hs.stall(5)
    transport = closing(server.url, timeout=30.0)
    started = time.monotonic()
    with anyio.fail_after(8), pytest.raises(tim_oa.TransportError) as info:
        await post(transport, "/stall", timeout=0.3)
    assert info.value.is_timeout
    assert time.monotonic() - started < 2.5
    # An httpx.Timeout works too: its largest phase bounds the attempt.
    with anyio.fail_after(8), pytest.raises(tim_oa.TransportError):
        await post(transport, "/stall", timeout=httpx.Timeout(0.2, read=0.4))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0, -1, True, "3", httpx.Timeout(-1)])
async def test_bad_timeouts_are_validation_errors(
    server: hs.Server, closing: Callable[..., Any], bad: Any
) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        closing(server.url, timeout=bad)
    assert info.value.field == "timeout"
    transport = closing(server.url)
    with pytest.raises(tim_oa.ValidationError) as info:
        await post(transport, timeout=bad)
    assert info.value.field == "timeout"
    assert server.requests == []  # nothing went out


def test_whole_attempt_timeout_under_trio(server: hs.Server, backend: str) -> None:
    import trio

    if backend == "aiohttp":

        async def refused() -> None:
            transport = build(backend, server.url)
            with pytest.raises(tim_oa.EventLoopError, match="asyncio only"):
                await post(transport)
            await transport.aclose()

        trio.run(refused)
        assert server.requests == []
        return
    server.routes["/trickle"] = hs.trickle(0.1)

    async def main() -> tuple[RawResponse, BaseException, float]:
        transport = build(backend, server.url, timeout=1.0)
        ok = await post(transport)
        started = time.monotonic()
        with trio.fail_after(8):
            try:
                await post(transport, "/trickle")
            except tim_oa.TransportError as exc:
                error: BaseException = exc
        await transport.aclose()
        return ok, error, time.monotonic() - started

    ok, error, elapsed = trio.run(main)
    assert ok.status_code == 200
    assert isinstance(error, tim_oa.TransportError) and error.is_timeout
    assert 0.9 <= elapsed < 3.0


async def test_a_callers_client_keeps_its_own_timeout(server: hs.Server, lib: Any) -> None:
    server.routes["/stall"] = hs.stall(5)
    async with lib.AsyncClient(timeout=0.3) as client:
        transport = make_transport("httpx", server.url, client=client)
        started = time.monotonic()
        with anyio.fail_after(8), pytest.raises(tim_oa.TransportError) as info:
            await post(transport, "/stall")
        assert info.value.is_timeout
        assert time.monotonic() - started < 2.5  # not the 10 s default
        # A timeout given to the transport wins over the client's.
        slow = make_transport("httpx", server.url, client=client, timeout=30.0)
        server.routes["/slowish"] = _delayed(0.6)
        assert (await post(slow, "/slowish")).status_code == 200


def _delayed(seconds: float) -> Callable[..., bool]:
    def handler(conn: Any, request: Any) -> bool:
        time.sleep(seconds)
        return hs.respond_ok(conn, request)

    return handler


async def test_cancelled_attempt_leaves_nothing_behind(
    server: hs.Server, closing: Callable[..., Any]
) -> None:
    server.routes["/stall"] = hs.stall(5)
    transport = closing(server.url, max_connections=1)
    with anyio.move_on_after(0.3):
        await post(transport, "/stall")
    # The one pooled connection was dropped, not left busy: the next call goes through at once.
    with anyio.fail_after(2):
        assert (await post(transport)).status_code == 200


# --- the size cap, decoded -------------------------------------------------------------------


async def test_gzip_bomb_stops_at_the_cap_without_inflating(
    server: hs.Server, closing: Callable[..., Any]
) -> None:
    bomb = hs.gzip_bomb(1024)  # 1 MB on the wire, 1 GiB inflated
    cap = 1 << 20
    server.routes["/bomb"] = hs.respond(body=bomb, headers={"Content-Encoding": "gzip"})
    transport = closing(server.url, max_response_bytes=cap)
    await post(transport)  # connect outside the measurement
    tracemalloc.start()
    try:
        with anyio.fail_after(10), pytest.raises(tim_oa.TransportError) as info:
            await post(transport, "/bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "max_response_bytes" in str(info.value) and str(cap) in str(info.value)
    assert info.value.status_code == 200
    # The body is at most the cap, plus the bytes on the wire; never a 64 MiB chunk.
    assert peak < 3 * len(bomb) + 4 * cap, peak


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "identity"])
async def test_cap_counts_decoded_bytes(
    server: hs.Server, closing: Callable[..., Any], coding: str
) -> None:
    cap = 50_000

    def encode(data: bytes) -> bytes:
        if coding == "gzip":
            return gzip.compress(data)
        if coding == "deflate":
            return zlib.compress(data)
        if coding == "raw-deflate":
            packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
            return packer.compress(data) + packer.flush()
        return data

    header = {} if coding == "identity" else {"Content-Encoding": coding.replace("raw-", "")}
    exact = b"[" + b" " * (cap - 2) + b"]"
    server.routes["/exact"] = hs.respond(body=encode(exact), headers=header)
    server.routes["/over"] = hs.respond(body=encode(exact + b" "), headers=header)
    transport = closing(server.url, max_response_bytes=cap)
    assert (await post(transport, "/exact")).content == exact
    with pytest.raises(tim_oa.TransportError, match="max_response_bytes"):
        await post(transport, "/over")


async def test_oversized_plain_body_is_not_read_to_the_end(
    server: hs.Server, closing: Callable[..., Any]
) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(200):  # 200 MiB if read whole
            sent.append(1)
            yield b"x" * (1 << 20)

    server.routes["/huge"] = hs.stream(chunks(), length=200 << 20)
    transport = closing(server.url, max_response_bytes=2 << 20)
    with anyio.fail_after(10), pytest.raises(tim_oa.TransportError, match="max_response_bytes"):
        await post(transport, "/huge")
    await anyio.sleep(0.2)
    assert len(sent) < 50  # the client hung up long before the end


async def test_default_cap_is_eight_mebibytes(server: hs.Server, make: Callable[..., Any]) -> None:
    assert DEFAULT_MAX_RESPONSE_BYTES == 8 * 1024 * 1024
    assert make(server.url).max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES


async def test_small_compressed_answers_are_decoded(
    server: hs.Server, closing: Callable[..., Any]
) -> None:
    server.routes["/gz"] = hs.respond(
        body=gzip.compress(hs.OK_BODY), headers={"Content-Encoding": "gzip"}
    )
    transport = closing(server.url)
    assert (await post(transport, "/gz")).content == hs.OK_BODY


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        ("br", b"\x0b\x02\x80{}\x03", "'br', not asked for"),
        ("gzip", b"\x1f\x8bnot really gzip", "gzip encoding is corrupt"),
    ],
)
async def test_unreadable_encodings_are_transport_errors(
    server: hs.Server, closing: Callable[..., Any], header: str, body: bytes, message: str
) -> None:
    server.routes["/bad"] = hs.respond(body=body, headers={"Content-Encoding": header})
    transport = closing(server.url)
    with pytest.raises(tim_oa.TransportError, match=message) as info:
        await post(transport, "/bad")
    assert info.value.status_code == 200


# --- redirects, statuses, Retry-After ----------------------------------------------------------


async def test_redirects_are_never_followed(
    server: hs.Server, backend: str, closing: Callable[..., Any]
) -> None:
    elsewhere = hs.Server()
    try:
        location = f"{elsewhere.url}/v4/svc/cmd?{QUERY}"
        server.routes["/moved"] = hs.respond("302 Found", b"", {"Location": location})
        transports = [closing(server.url)]
        if backend.startswith("httpx"):
            follower = httpx.AsyncClient(follow_redirects=True)
            transports.append(HttpTransport(server.url, client=follower))
        for transport in transports:
            response = await post(transport, "/moved")
            assert response.status_code == 302
            with pytest.raises(tim_oa.TransportError) as info:
                _wire.decode_response("cmd", response)
            assert info.value.status_code == 302
            assert "redirects are not followed" in str(info.value)
        assert elsewhere.requests == []
        if backend.startswith("httpx"):
            await follower.aclose()
    finally:
        elsewhere.close()


@pytest.mark.parametrize(
    ("status", "value", "expected"),
    [
        ("429 Too Many Requests", "7", 7.0),
        ("503 Service Unavailable", "2.5", 2.5),
        ("503 Service Unavailable", "100000", _wire.MAX_RETRY_AFTER),
        ("429 Too Many Requests", "soon", None),
        ("500 Internal Server Error", "7", None),  # only 429 and 503 carry a wait
    ],
)
async def test_retry_after_reaches_the_error(
    server: hs.Server,
    closing: Callable[..., Any],
    status: str,
    value: str,
    expected: float | None,
) -> None:
    server.routes["/busy"] = hs.respond(status, b"busy", {"Retry-After": value})
    response = await post(closing(server.url), "/busy")
    assert response.retry_after == expected
    with pytest.raises(tim_oa.TransportError) as info:
        _wire.decode_response("cmd", response)
    assert info.value.retry_after == expected
    assert info.value.status_code == int(status[:3])


async def test_retry_after_as_an_http_date(server: hs.Server, closing: Callable[..., Any]) -> None:
    from email.utils import formatdate

    server.routes["/busy"] = hs.respond(
        "503 Service Unavailable", b"", {"Retry-After": formatdate(time.time() + 30, usegmt=True)}
    )
    response = await post(closing(server.url), "/busy")
    assert response.retry_after is not None and 25 <= response.retry_after <= 31


# --- failures before and after sending ---------------------------------------------------------


async def test_refused_connection_was_not_sent(make: Callable[..., Any]) -> None:
    with socket_port() as port:
        pass  # bound then closed: nothing listens there now
    transport = make(f"http://127.0.0.1:{port}")
    with pytest.raises(tim_oa.TransportError) as info:
        await post(transport)
    assert info.value.request_sent is False
    assert info.value.status_code is None
    await transport.aclose()


async def test_reset_after_the_request_may_have_been_sent(
    server: hs.Server, closing: Callable[..., Any]
) -> None:
    server.routes["/reset"] = hs.reset
    with pytest.raises(tim_oa.TransportError) as info:
        await post(closing(server.url), "/reset")
    assert info.value.request_sent is True
    assert not info.value.is_timeout


class socket_port:
    """A free loopback port (bound while inside the block)."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        port: int = self._sock.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


# --- closed clients --------------------------------------------------------------------------


async def test_closed_transport_raises_session_closed(
    server: hs.Server, make: Callable[..., Any]
) -> None:
    transport = make(server.url)
    await post(transport)
    await transport.aclose()
    await transport.aclose()  # idempotent
    with pytest.raises(tim_oa.SessionClosedError):
        await post(transport)
    assert len(server.requests) == 1


async def test_a_closed_callers_client_is_not_a_raw_runtime_error(
    server: hs.Server, lib: Any
) -> None:
    client = lib.AsyncClient()
    transport = make_transport("httpx", server.url, client=client)
    await post(transport)
    await client.aclose()
    with pytest.raises(tim_oa.SessionClosedError, match="http_client"):
        await post(transport)
    await transport.aclose()


async def test_a_callers_client_is_never_closed(server: hs.Server, lib: Any) -> None:
    async with lib.AsyncClient() as client:
        transport = make_transport("httpx", server.url, client=client)
        await post(transport)
        await transport.aclose()
        assert not client.is_closed


# --- User-Agent and headers ------------------------------------------------------------------


async def test_default_user_agent(
    server: hs.Server, closing: Callable[..., Any], backend: str
) -> None:
    server.routes["/echo"] = hs.echo_headers
    transport = closing(server.url)
    await post(transport, "/echo")
    agent = server.requests[-1]["headers"]["user-agent"]
    python = ".".join(map(str, sys.version_info[:3]))
    library = backend.split("-")[0]
    assert re.fullmatch(
        rf"tim-oa/{re.escape(tim_oa.__version__)} python/{python} {library}/\S+",
        agent,
    )
    assert transport.user_agent == agent


async def test_user_agent_can_be_replaced(server: hs.Server, closing: Callable[..., Any]) -> None:
    server.routes["/echo"] = hs.echo_headers
    await post(closing(server.url, user_agent="my-app/2"), "/echo")
    assert server.requests[-1]["headers"]["user-agent"] == "my-app/2"


@pytest.mark.parametrize("bad", ["", "a\r\nX-Injected: 1", 5])
def test_bad_user_agent_is_refused(server: hs.Server, make: Callable[..., Any], bad: Any) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        make(server.url, user_agent=bad)
    assert info.value.field == "user_agent"


async def test_a_callers_client_keeps_its_headers_unless_told(server: hs.Server, lib: Any) -> None:
    server.routes["/echo"] = hs.echo_headers
    async with lib.AsyncClient(headers={"User-Agent": "theirs/1", "X-Mine": "1"}) as client:
        await post(make_transport("httpx", server.url, client=client), "/echo")
        seen = server.requests[-1]["headers"]
        assert (seen["user-agent"], seen["x-mine"]) == ("theirs/1", "1")
        await post(make_transport("httpx", server.url, client=client, user_agent="ours/3"), "/echo")
        seen = server.requests[-1]["headers"]
        assert (seen["user-agent"], seen["x-mine"]) == ("ours/3", "1")
        # The size cap needs codings we can inflate step by step.
        assert seen["accept-encoding"] == "gzip, deflate"


# --- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"base_url": 5}, "base_url"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"base_url": "http://"}, "base_url"),
        ({"base_url": "http://h/?a=1"}, "base_url"),
        ({"max_connections": 0}, "max_connections"),
        ({"max_response_bytes": 0}, "max_response_bytes"),
        ({"max_response_bytes": 1.5}, "max_response_bytes"),
    ],
)
def test_bad_options(make: Callable[..., Any], kw: dict[str, Any], field: str) -> None:
    kw = dict(kw)
    base_url = kw.pop("base_url", "http://127.0.0.1:1")
    with pytest.raises(tim_oa.ValidationError) as info:
        make(base_url, **kw)
    assert info.value.field == field


def test_unknown_backend() -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        make_transport("requests", "http://127.0.0.1:1")
    assert info.value.field == "backend"


@pytest.mark.skipif(not HAVE_AIOHTTP, reason="no aiohttp")
def test_httpx_objects_are_refused_with_aiohttp() -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        make_transport("aiohttp", "http://127.0.0.1:1", client=httpx.AsyncClient())
    assert info.value.field == "http_client"
    with pytest.raises(tim_oa.ValidationError) as info:
        make_transport(
            "aiohttp",
            "http://127.0.0.1:1",
            transport=httpx.MockTransport(lambda request: httpx.Response(200)),
        )
    assert info.value.field == "transport"


def test_aiohttp_missing_is_a_clear_validation_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # import aiohttp -> ImportError
    monkeypatch.delitem(sys.modules, "tim_oa._transport_aiohttp", raising=False)
    with pytest.raises(tim_oa.ValidationError, match=r"tim-oa\[aiohttp\]") as info:
        make_transport("aiohttp", "http://127.0.0.1:1")
    assert info.value.field == "backend"


async def test_proxy_from_the_environment(
    server: hs.Server, closing: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.setenv("http_proxy", server.url)
    # The "proxy" is our server: it sees the absolute URL of a host that does not exist.
    transport = closing("http://tim-oa.invalid:8080")
    assert (await post(transport, "/v4/svc/cmd")).status_code == 200
    assert server.requests[-1]["target"] == f"http://tim-oa.invalid:8080/v4/svc/cmd?{QUERY}"
    # NO_PROXY wins.
    monkeypatch.setenv("NO_PROXY", "tim-oa.invalid")
    monkeypatch.setenv("no_proxy", "tim-oa.invalid")
    direct = closing("http://tim-oa.invalid:8080", timeout=2)
    with pytest.raises(tim_oa.TransportError) as info:
        await post(direct)
    assert info.value.request_sent is False  # no such host: not through the proxy
    assert len(server.requests) == 1


# --- event loops ----------------------------------------------------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def test_own_client_survives_several_asyncio_runs(
    server: hs.Server, make: Callable[..., Any]
) -> None:
    transport = make(server.url)

    async def call() -> int:
        return (await post(transport)).status_code

    assert asyncio.run(call()) == 200
    fds = _open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            assert asyncio.run(call()) == 200  # not "RuntimeError: Event loop is closed"
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert _open_fds() <= fds + 1  # each loop's connection was closed with its loop
    asyncio.run(transport.aclose())


def test_a_callers_client_in_a_second_loop_is_an_event_loop_error(
    server: hs.Server, lib: Any
) -> None:
    client = lib.AsyncClient()
    transport = make_transport("httpx", server.url, client=client)

    async def call() -> int:
        return (await post(transport)).status_code

    assert asyncio.run(call()) == 200
    with pytest.raises(tim_oa.EventLoopError, match="one session per event loop"):
        asyncio.run(call())
    assert len(server.requests) == 1


# --- the httpx private hook of the fast path ---------------------------------------------------


@pytest.mark.parametrize("name", LIBS)
def test_the_fast_path_still_finds_the_pool(name: str) -> None:
    # Our own client hands requests straight to the pool httpx picked for the base URL, through
    # the private AsyncClient._transport_for_url. If a release renames it, the transport falls
    # back to client.send() silently (a quarter more CPU): this test says so instead.
    lib = importlib.import_module(name)
    assert callable(getattr(lib.AsyncClient, "_transport_for_url", None))
    transport = make_transport(name, "https://api.test")
    assert isinstance(transport, HttpTransport)
    assert isinstance(transport._route, lib.AsyncBaseTransport)
    assert transport._route is transport.client._transport_for_url(lib.URL("https://api.test"))
