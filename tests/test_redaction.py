"""No UserSig or secret key in exception text, repr, traceback or log record (ours or httpx's)."""

from __future__ import annotations

import importlib.util
import logging
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

import tim_oa
from tim_oa._transport import make_transport
from tim_oa._wire import signed_query

from . import http_scenarios as hs
from .conftest import SDKAPPID, SECRET, fail, ok

FAILURES: dict[str, Callable[[], Any]] = {
    "api error": lambda: fail(6017, "bad"),
    "auth error": lambda: fail(70009, "bad sig"),
    "expired twice": lambda: fail(70001, "expired"),
    "server error": lambda: fail(20005),
    "http 502": lambda: httpx.Response(502, text="bad gateway"),
    "not json": lambda: httpx.Response(200, text="<html>"),
    "connect error": lambda: httpx.ConnectError("refused"),
    "read timeout": lambda: httpx.ReadTimeout("timed out"),
    "protocol error": lambda: httpx.RemoteProtocolError("disconnected"),
}


def everything_shown(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


@pytest.mark.parametrize("whose", ["own client", "caller's client"])
@pytest.mark.parametrize("kind", list(FAILURES))
async def test_error_paths_never_show_secrets(
    api: respx.MockRouter,
    make_session: Callable[..., tim_oa.Session],
    signer: tim_oa.UserSigSigner,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    whose: str,
) -> None:
    caplog.set_level(logging.DEBUG)

    def respond(request: httpx.Request) -> httpx.Response:
        answer = FAILURES[kind]()
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    route = api.post(url__regex=".*").mock(side_effect=respond)
    usersig = signer.get("administrator")
    client = httpx.AsyncClient() if whose == "caller's client" else None
    async with make_session(max_retries=1, http_client=client) as oa:
        with pytest.raises(tim_oa.TimOAError) as info:
            await oa.modify_account("@TOA#_news", name="News")
        report = await oa.add_subscribers("@TOA#_news", ["a", "b"])
    if client is not None:
        await client.aclose()
    assert route.call_count >= 2
    assert route.calls[0].request.url.params["usersig"] == usersig  # it really was on the wire
    shown = everything_shown(info.value)
    for outcome in report.outcomes.values():
        assert outcome.error is not None
        shown += everything_shown(outcome.error)
    with pytest.raises(tim_oa.BatchError) as batch_info:
        report.raise_for_failures()
    shown += everything_shown(batch_info.value) + repr(report)
    logs = "\n".join(r.getMessage() for r in caplog.records)
    request_lines = [r for r in caplog.records if "HTTP Request" in r.getMessage()]
    if whose == "own client":
        # The session's own client hands requests straight to its pool: httpx logs no URL.
        assert request_lines == []
    else:
        # httpx logs the URL of a caller's client's requests, redacted by our filter.
        assert request_lines or kind in {"connect error", "read timeout", "protocol error"}
    from urllib.parse import quote

    # The signature as sent (percent-encoded in a URL) must not show either.
    for secret in (usersig, quote(usersig, safe=""), usersig[:40], SECRET):
        assert secret not in shown
        assert secret not in logs
    if any(r.name == "httpx" and "HTTP Request" in r.getMessage() for r in caplog.records):
        assert "usersig=<redacted>" in logs


async def test_validation_errors_never_echo_secrets(
    make_session: Callable[..., tim_oa.Session],
) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        make_session(usersig=12345)
    assert SECRET not in everything_shown(info.value)
    oa = make_session(usersig="VERYSECRETSIG")
    with pytest.raises(tim_oa.ValidationError) as info:
        await oa.modify_account("@TOA#_news")
    assert "VERYSECRETSIG" not in everything_shown(info.value)
    assert "VERYSECRETSIG" not in repr(oa)
    assert "VERYSECRETSIG" not in repr(oa.with_options(max_retries=0))
    await oa.aclose()


async def test_httpx_log_line_is_redacted(
    api: respx.MockRouter,
    make_session: Callable[..., tim_oa.Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    api.post(url__regex=".*").mock(return_value=ok())
    async with (
        httpx.AsyncClient() as client,
        make_session(usersig="SIG-abc*-_", http_client=client) as oa,
    ):
        await oa.destroy_account("@TOA#_a")
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines and all("SIG-abc" not in line for line in lines)
    assert "usersig=<redacted>" in lines[0]
    assert "identifier=administrator" in lines[0]  # the rest of the URL is kept


# --- the transport: no signed URL on any raised exception ------------------------------------


def _with_locals(exc: BaseException) -> str:
    """The traceback with every frame's locals, the library's frames only (the test holds the
    UserSig itself)."""
    rendered = traceback.TracebackException.from_exception(exc, capture_locals=True)
    frames = [f for f in rendered.stack if "/tim_oa/" in f.filename]
    assert frames, "the error was raised inside tim_oa"
    return "".join(traceback.StackSummary.from_list(frames).format())


def _transport_failures(backend: str) -> dict[str, Callable[[hs.Server], Any]]:
    def echo_url(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    def echo_url_later(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError(f"lost {request.url!r} halfway", request=request)

    failures: dict[str, Callable[[hs.Server], Any]] = {
        "timeout": lambda srv: make_transport(backend, srv.url + "/stall", timeout=0.2),
        "reset": lambda srv: make_transport(backend, srv.url + "/reset"),
        "too large": lambda srv: make_transport(backend, srv.url, max_response_bytes=10),
        "refused": lambda srv: make_transport(backend, "http://127.0.0.1:9"),
    }
    if backend == "httpx":
        failures["error text echoes the URL"] = lambda srv: make_transport(
            backend, srv.url, transport=httpx.MockTransport(echo_url)
        )
        failures["read error echoes the URL"] = lambda srv: make_transport(
            backend, srv.url, transport=httpx.MockTransport(echo_url_later)
        )
    return failures


BACKEND_FAILURES = [
    (backend, kind)
    for backend in ("httpx", "aiohttp")
    if backend != "aiohttp" or importlib.util.find_spec("aiohttp") is not None
    for kind in _transport_failures(backend)
]


@pytest.mark.parametrize(("backend", "kind"), BACKEND_FAILURES)
async def test_transport_errors_keep_no_signed_url(
    signer: tim_oa.UserSigSigner, backend: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    from urllib.parse import quote

    caplog.set_level(logging.DEBUG)
    usersig = signer.get("administrator")
    server = hs.Server()
    server.routes["/stall/x"] = hs.stall(3)
    server.routes["/reset/x"] = hs.reset
    try:
        transport = _transport_failures(backend)[kind](server)
        with pytest.raises(tim_oa.TransportError) as info:
            await transport.post(
                "cmd", "/x", signed_query(SDKAPPID, "administrator", usersig, 1), b"{}"
            )
        await transport.aclose()
    finally:
        server.close()
    err = info.value
    assert err.__context__ is None and err.__cause__ is None
    shown = everything_shown(err) + _with_locals(err)
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (usersig, quote(usersig, safe=""), usersig[:40]):
        assert secret not in shown
        assert secret not in logs
    if "echoes" in kind:
        assert "usersig=<redacted>" in str(err)
