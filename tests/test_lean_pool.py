"""The session's own connections (``tim_oa._lean_pool``): keep-alive, closes, and who sees them.

``tests/test_transport.py`` runs every transport scenario (timeouts, bombs, resets, trio, proxies)
on this path as the ``httpx`` backend; here is what is particular to it: when a connection is
reused, when it is not, and that a patched httpx (respx) still sees the session's requests.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx

import tim_oa
from tim_oa._lean_pool import LeanPool
from tim_oa._transport import HttpTransport, make_transport

from . import http_scenarios as hs

QUERY = "sdkappid=1&identifier=administrator&usersig=SIG&random=7&contenttype=json"


@pytest.fixture
def server() -> Iterator[hs.Server]:
    srv = hs.Server()
    yield srv
    srv.close()


@pytest.fixture
async def transport(server: hs.Server) -> AsyncIterator[HttpTransport]:
    made = make_transport("httpx", server.url, max_connections=20)
    assert isinstance(made, HttpTransport)
    yield made
    await made.aclose()


def lean(transport: HttpTransport) -> LeanPool:
    pool = transport._lean
    assert pool is not None
    return pool


async def post(transport: HttpTransport, path: str = "/ok") -> tim_oa._wire.RawResponse:
    return await transport.post("cmd", path, QUERY, b"{}")


def closing_answer(conn: socket.socket, request: dict[str, Any]) -> bool:
    body = hs.OK_BODY
    conn.sendall(hs.head("200 OK", {"Connection": "close"}, len(body)) + body)
    return False


def answer_then_hang_up(conn: socket.socket, request: dict[str, Any]) -> bool:
    """Answer in full (keep-alive by the headers), then close: the server ends an idle one."""
    hs.respond_ok(conn, request)
    return False


def chunked(conn: socket.socket, request: dict[str, Any]) -> bool:
    body = hs.OK_BODY
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    parts = [body[:10], body[10:]]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    conn.sendall(head + framed)
    return True


def informational_first(conn: socket.socket, request: dict[str, Any]) -> bool:
    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    return hs.respond_ok(conn, request)


def garbage(conn: socket.socket, request: dict[str, Any]) -> bool:
    conn.sendall(b"this is not HTTP\r\n\r\n")
    return False


async def test_sequential_requests_share_one_connection(
    server: hs.Server, transport: HttpTransport
) -> None:
    for _ in range(20):
        assert (await post(transport)).status_code == 200
    assert server.connections == 1
    assert lean(transport).connections == 1


async def test_concurrent_requests_open_a_connection_each_then_reuse_them(
    server: hs.Server, transport: HttpTransport
) -> None:
    server.routes["/slow"] = hs.respond()

    async def wave() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(post, transport, "/slow")

    await wave()
    opened = server.connections
    assert 1 <= opened <= 8
    for _ in range(5):
        await wave()
    assert server.connections <= 8  # later waves reuse what the first opened
    assert lean(transport).connections == server.connections


@pytest.mark.parametrize("handler", [closing_answer, answer_then_hang_up])
async def test_a_connection_the_server_ends_is_not_reused(
    server: hs.Server, transport: HttpTransport, handler: Any
) -> None:
    server.routes["/bye"] = handler
    assert (await post(transport, "/bye")).status_code == 200
    await anyio.sleep(0.05)  # the server's close reaches the event loop
    for _ in range(3):
        assert (await post(transport, "/bye")).status_code == 200
        await anyio.sleep(0.05)
    assert server.connections == 4  # a fresh one each time, and no error
    assert len(server.requests) == 4


async def test_an_idle_connection_past_its_expiry_is_replaced(
    server: hs.Server, transport: HttpTransport
) -> None:
    pool = lean(transport)
    pool._expiry = 0.05
    await post(transport)
    await anyio.sleep(0.1)
    await post(transport)
    assert server.connections == 2
    assert pool.connections == 1  # the expired one was closed, not kept


async def test_chunked_and_informational_answers_are_read(
    server: hs.Server, transport: HttpTransport
) -> None:
    server.routes["/chunked"] = chunked
    server.routes["/100"] = informational_first
    assert (await post(transport, "/chunked")).content == hs.OK_BODY
    assert (await post(transport, "/100")).content == hs.OK_BODY
    assert (await post(transport, "/chunked")).content == hs.OK_BODY
    assert server.connections == 1


async def test_a_malformed_answer_is_a_transport_error_that_may_have_been_sent(
    server: hs.Server, transport: HttpTransport
) -> None:
    server.routes["/garbage"] = garbage
    with pytest.raises(tim_oa.TransportError) as info:
        await post(transport, "/garbage")
    assert info.value.request_sent is True
    assert "RemoteProtocolError" in str(info.value)
    assert (await post(transport)).status_code == 200  # the next one goes on a new connection
    assert lean(transport).connections == 1


async def test_a_cancelled_exchange_drops_its_connection(
    server: hs.Server, transport: HttpTransport
) -> None:
    server.routes["/stall"] = hs.stall(2)
    await post(transport)
    with anyio.move_on_after(0.2):
        await post(transport, "/stall")  # on the connection the first request left idle
    assert lean(transport).connections == 0  # its state is unknown: closed, not kept
    assert (await post(transport)).status_code == 200
    assert server.connections == 2


async def test_a_base_url_path_prefix_and_port_reach_the_request(server: hs.Server) -> None:
    transport = make_transport("httpx", server.url + "/prefix/")
    assert isinstance(transport, HttpTransport)
    try:
        await transport.post("cmd", "/v4/svc/cmd", QUERY, b'{"a":1}')
    finally:
        await transport.aclose()
    [request] = server.requests
    assert request["target"] == f"/prefix/v4/svc/cmd?{QUERY}"
    assert request["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert request["headers"]["content-length"] == "7"
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["accept-encoding"] == "gzip, deflate"
    assert request["headers"]["user-agent"].startswith("tim-oa/")
    assert request["body"] == b'{"a":1}'


async def test_a_patched_httpx_sees_the_sessions_requests(
    server: hs.Server, transport: HttpTransport
) -> None:
    await post(transport)
    with respx.mock(assert_all_called=False) as api:
        route = api.post(url__startswith=server.url).mock(return_value=httpx.Response(418))
        assert (await post(transport)).status_code == 418
        assert route.call_count == 1
    assert (await post(transport)).status_code == 200
    assert len(server.requests) == 2  # respx answered the one in between


def test_only_the_direct_route_of_our_own_client_gets_it(
    server: hs.Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = make_transport("httpx", server.url)
    assert isinstance(mine, HttpTransport) and mine._lean is not None
    given = make_transport("httpx", server.url, transport=httpx.AsyncHTTPTransport())
    assert isinstance(given, HttpTransport) and given._lean is None
    theirs = make_transport("httpx", server.url, client=httpx.AsyncClient())
    assert isinstance(theirs, HttpTransport) and theirs._lean is None
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    proxied = make_transport("httpx", server.url.replace("127.0.0.1", "api.test"))
    assert isinstance(proxied, HttpTransport) and proxied._lean is None


async def test_closing_the_transport_closes_every_connection(server: hs.Server) -> None:
    transport = make_transport("httpx", server.url)
    assert isinstance(transport, HttpTransport)
    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(post, transport)
    pool = lean(transport)
    assert pool.connections >= 1
    await transport.aclose()
    assert pool.connections == 0 and pool.closed
    await asyncio.sleep(0.05)
    with pytest.raises(tim_oa.SessionClosedError):
        await post(transport)


@pytest.mark.parametrize("path", ["/a b", "/caf\u00e9", "/\u65e5\u672c", "/a\r\nX-Injected: 1"])
async def test_a_target_http_forbids_is_refused_before_anything_is_sent(
    server: hs.Server, transport: HttpTransport, path: str
) -> None:
    with pytest.raises(tim_oa.TransportError) as info:
        await transport.post("cmd", path, QUERY, b"{}")
    assert "LocalProtocolError" in str(info.value)
    assert server.requests == [] and server.connections == 0


@pytest.fixture
def tls_server(tmp_path: Any) -> Iterator[tuple[str, str]]:
    """An HTTPS server (asyncio, in a thread) with a certificate from a throwaway CA.

    Yields its URL and the CA's PEM file (what ``SSL_CERT_FILE`` names).
    """
    import ssl
    import threading

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                body = hs.OK_BODY
                writer.write(hs.head("200 OK", {}, len(body)) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()

    stop = asyncio.Event()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        port.append(server.sockets[0].getsockname()[1])
        started.set()
        async with server:
            await stop.wait()

    def run() -> None:
        loop.run_until_complete(serve())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(5)
    yield f"https://localhost:{port[0]}", str(ca_file)
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)


async def test_https_through_our_connections_trusts_ssl_cert_file(
    tls_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ca_file = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    transport = make_transport("httpx", url)
    assert isinstance(transport, HttpTransport)
    try:
        for _ in range(3):
            assert (await post(transport)).content == hs.OK_BODY
        pool = lean(transport)
        assert pool.scheme == "https" and pool.connections == 1  # one TLS connection, reused
    finally:
        await transport.aclose()


async def test_an_untrusted_certificate_is_refused_before_anything_is_sent(
    tls_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = tls_server
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    transport = make_transport("httpx", url)
    assert isinstance(transport, HttpTransport) and transport._lean is not None
    try:
        with pytest.raises(tim_oa.TransportError) as info:
            await post(transport)
    finally:
        await transport.aclose()
    assert info.value.request_sent is False
    assert "ConnectError" in str(info.value) and "CERTIFICATE_VERIFY_FAILED" in str(info.value)


@pytest.mark.parametrize(
    ("url", "host", "port", "prefix", "header"),
    [
        (
            "https://adminapisgp.im.qcloud.com",
            "adminapisgp.im.qcloud.com",
            443,
            "",
            "adminapisgp.im.qcloud.com",
        ),
        ("http://[::1]:8080/v/", "::1", 8080, "/v", "[::1]:8080"),
        (
            "https://b\u00fccher.example:443/x",
            "xn--bcher-kva.example",
            443,
            "/x",
            "xn--bcher-kva.example",
        ),
    ],
)
def test_the_origin_is_read_in_its_ascii_form(
    url: str, host: str, port: int, prefix: str, header: str
) -> None:
    pool = LeanPool(url, ssl_context=None, keepalive_expiry=5.0, headers={"User-Agent": "t"})
    assert (pool.host, pool.port, pool.prefix) == (host, port, prefix)
    assert pool._head.startswith(b"Host: %s\r\n" % header.encode())


def until_the_end(conn: socket.socket, request: dict[str, Any]) -> bool:
    """A body with neither Content-Length nor chunks: it ends where the stream does."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + hs.OK_BODY)
    conn.shutdown(socket.SHUT_WR)
    return False


def an_answer_too_many(conn: socket.socket, request: dict[str, Any]) -> bool:
    """The answer, then the start of another nobody asked for, in the same write."""
    body = hs.OK_BODY
    answer = hs.head("200 OK", {}, len(body)) + body
    conn.sendall(answer + hs.head("200 OK", {}, 2))
    return True


def http_10(conn: socket.socket, request: dict[str, Any]) -> bool:
    body = hs.OK_BODY
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return True


async def test_a_body_that_ends_with_the_stream_is_read_and_its_connection_dropped(
    server: hs.Server, transport: HttpTransport
) -> None:
    server.routes["/eof"] = until_the_end
    assert (await post(transport, "/eof")).content == hs.OK_BODY
    assert lean(transport).connections == 0
    assert (await post(transport)).status_code == 200
    assert server.connections == 2


@pytest.mark.parametrize("handler", [an_answer_too_many, http_10])
async def test_a_connection_that_cannot_go_on_is_not_reused(
    server: hs.Server, transport: HttpTransport, handler: Any
) -> None:
    """Bytes beyond the answer, or HTTP/1.0 without keep-alive: the answer counts, the
    connection does not carry another request."""
    server.routes["/odd"] = handler
    assert (await post(transport, "/odd")).content == hs.OK_BODY
    assert (await post(transport)).status_code == 200
    assert server.connections == 2


async def test_a_body_cut_short_by_the_server_is_a_transport_error(
    server: hs.Server, transport: HttpTransport
) -> None:
    def cut(conn: socket.socket, request: dict[str, Any]) -> bool:
        conn.sendall(hs.head("200 OK", {}, 100) + b'{"ActionStatus":')
        return False

    server.routes["/cut"] = cut
    with pytest.raises(tim_oa.TransportError) as info:
        await post(transport, "/cut")
    assert info.value.request_sent is True
    assert "closed the connection" in str(info.value)


def test_without_httptools_httpx_pool_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    """httptools is a dependency on CPython only: where it cannot be imported, the session's own
    client still works, through httpx's pool (every scenario of test_transport runs there too)."""
    import sys

    monkeypatch.setitem(sys.modules, "httptools", None)  # import httptools raises ImportError
    monkeypatch.delitem(sys.modules, "tim_oa._lean_pool")
    monkeypatch.delitem(sys.modules, "tim_oa._lean_connection")
    made = make_transport("httpx", "http://127.0.0.1:9")
    assert isinstance(made, HttpTransport)
    assert made._lean is None


async def test_a_connection_back_in_the_pool_at_its_answer_serves_the_next_request_at_once(
    server: hs.Server,
) -> None:
    """A connection goes back to the pool when its answer is parsed, before the task that sent
    the request runs again; the next request may take it in between. Many requests through few
    connections: every one is answered (none waits out its read timeout), on those few."""
    transport = make_transport("httpx", server.url, max_connections=4, timeout=2.0)
    assert isinstance(transport, HttpTransport)
    try:
        started = time.monotonic()
        answers: list[int] = []

        async def one() -> None:
            answers.append((await post(transport)).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(300):
                tg.start_soon(one)
        assert answers == [200] * 300
        assert time.monotonic() - started < 1.5  # a request left without its waiter takes 2 s
        assert lean(transport).connections <= 4
    finally:
        await transport.aclose()


async def test_a_host_name_is_resolved_once_for_many_connections(server: hs.Server) -> None:
    """New connections to a name reuse what DNS said (for 10 s), not a lookup in a thread each;
    an address needs no lookup at all."""
    port = server.url.rsplit(":", 1)[1]
    transport = make_transport("httpx", f"http://localhost:{port}", max_connections=8)
    assert isinstance(transport, HttpTransport)
    loop = asyncio.get_running_loop()
    lookups: list[str] = []
    real = loop.getaddrinfo

    async def counted(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        return await real(host, *args, **kwargs)

    loop.getaddrinfo = counted  # type: ignore[method-assign]
    try:
        for _ in range(2):
            async with anyio.create_task_group() as tg:
                for _ in range(6):
                    tg.start_soon(post, transport)
        assert lean(transport).connections >= 2
        assert lookups == ["localhost"]
        direct = make_transport("httpx", server.url)
        assert isinstance(direct, HttpTransport)
        await post(direct)
        await direct.aclose()
        assert lookups == ["localhost"]  # 127.0.0.1: nothing to resolve
    finally:
        del loop.getaddrinfo
        await transport.aclose()


async def test_a_request_cancelled_while_its_name_resolves_holds_up_nothing(
    server: hs.Server,
) -> None:
    """Cancelled halfway through the shared DNS lookup: no socket is left open, the lookup is not
    cancelled under the others, and the next request goes through at once."""
    port = server.url.rsplit(":", 1)[1]
    transport = make_transport("httpx", f"http://localhost:{port}", max_connections=4)
    assert isinstance(transport, HttpTransport)
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    release = asyncio.Event()
    lookups: list[str] = []

    async def slow(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        await release.wait()
        return await real(host, *args, **kwargs)

    loop.getaddrinfo = slow  # type: ignore[method-assign]
    try:
        with anyio.move_on_after(0.1) as scope:
            await post(transport)
        assert scope.cancelled_caught
        assert lean(transport).connections == 0
        release.set()
        with anyio.fail_after(2):
            assert (await post(transport)).status_code == 200
        assert lean(transport).connections == 1
        assert lookups == ["localhost"]  # the one lookup finished and served the next request
    finally:
        del loop.getaddrinfo
        await transport.aclose()


async def test_a_request_cancelled_while_connecting_leaves_no_socket(server: hs.Server) -> None:
    transport = make_transport("httpx", server.url, max_connections=4)
    assert isinstance(transport, HttpTransport)
    loop = asyncio.get_running_loop()
    real = loop.sock_connect
    opened: list[socket.socket] = []

    async def stuck(sock: socket.socket, address: Any) -> None:
        opened.append(sock)
        await asyncio.sleep(10)

    loop.sock_connect = stuck  # type: ignore[method-assign]
    try:
        with anyio.move_on_after(0.1):
            await post(transport)
        assert [s.fileno() for s in opened] == [-1]  # closed, not leaked
        loop.sock_connect = real  # type: ignore[method-assign]
        with anyio.fail_after(2):
            assert (await post(transport)).status_code == 200
    finally:
        del loop.sock_connect
        await transport.aclose()
