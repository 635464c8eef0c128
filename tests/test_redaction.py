"""No UserSig or secret key in exception text, repr, traceback or log record (ours or httpx's)."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
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
    failures: dict[str, Callable[[hs.Server], Any]] = {
        "timeout": lambda srv: make_transport(backend, srv.url + "/stall", timeout=0.2),
        "reset": lambda srv: make_transport(backend, srv.url + "/reset"),
        "too large": lambda srv: make_transport(backend, srv.url, max_response_bytes=10),
        "refused": lambda srv: make_transport(backend, "http://127.0.0.1:9"),
    }
    if backend in ("httpx", "httpx2"):
        lib: Any = httpx if backend == "httpx" else importlib.import_module("httpx2")

        def echo(request: Any) -> Any:
            raise lib.ConnectError(f"cannot reach {request.url}", request=request)

        def echo_later(request: Any) -> Any:
            raise lib.ReadError(f"lost {request.url!r} halfway", request=request)

        failures["error text echoes the URL"] = lambda srv: make_transport(
            backend, srv.url, transport=lib.MockTransport(echo)
        )
        failures["read error echoes the URL"] = lambda srv: make_transport(
            backend, srv.url, transport=lib.MockTransport(echo_later)
        )
    return failures


BACKEND_FAILURES = [
    (backend, kind)
    for backend in ("httpx", "httpx2", "aiohttp")
    if backend == "httpx" or importlib.util.find_spec(backend) is not None
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


# --- the log filter: installed by a transport, covering every stack ---------------------------


def test_importing_tim_oa_installs_no_log_filter() -> None:
    probe = (
        "import logging, tim_oa, tim_oa._transport\n"
        "names = ('httpx', 'httpcore', 'httpcore.http11')\n"
        "before = [bool(logging.getLogger(n).filters) for n in names]\n"
        "tim_oa.Session(1, 'admin', 'sig', base_url='https://api.test')\n"
        "after = [bool(logging.getLogger(n).filters) for n in names]\n"
        "print(before, after)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["[False,", "False,", "False]", "[True,", "True,", "True]"]


@pytest.mark.skipif(importlib.util.find_spec("httpx2") is None, reason="httpx2 not installed")
@pytest.mark.loopback
def test_httpx2_debug_run_over_a_socket_shows_no_usersig() -> None:
    # httpx2 logs each request's URL at INFO, httpcore2's children (http11, connection) their
    # steps at DEBUG; the emulator on loopback answers, so every one of them runs.
    from tim_oa.testing import Emulator, serve

    probe = (
        "import asyncio, logging, sys, tim_oa\n"
        "from tim_oa.testing import Emulator, serve\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout,\n"
        "                    format='%(name)s %(message)s')\n"
        "emulator = Emulator()\n"
        "issued = []\n"
        "class Signer(tim_oa.UserSigSigner):\n"
        "    def generate(self, identifier, **kw):\n"
        "        issued.append(super().generate(identifier, **kw))\n"
        "        return issued[-1]\n"
        "signer = Signer(emulator.sdkappid, emulator._secret_key)\n"
        "async def main():\n"
        "    with serve(emulator) as url:\n"
        "        async with tim_oa.Session(emulator.sdkappid, 'administrator', signer,\n"
        "                base_url=url, backend='httpx2', allow_insecure_http=True) as oa:\n"
        "            account = await oa.create_account('administrator', 'debug run')\n"
        "        import httpx2\n"
        "        async with httpx2.AsyncClient() as client, tim_oa.Session(\n"
        "                emulator.sdkappid, 'administrator', signer, base_url=url,\n"
        "                http_client=client, allow_insecure_http=True) as oa:\n"
        "            await oa.destroy_account(account)\n"
        "asyncio.run(main())\n"
        "print('USERSIGS', *issued)\n"
    )
    assert callable(Emulator) and callable(serve)  # the probe's imports exist here too
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    log = out.strip().splitlines()
    [usersigs] = [line.split()[1:] for line in log if line.startswith("USERSIGS ")]
    assert usersigs
    names = {line.split(" ", 1)[0] for line in log}
    assert {"httpx2", "httpcore2.http11", "httpcore2.connection"} <= names, names
    assert "usersig=<redacted>" in out
    text = "\n".join(line for line in log if not line.startswith("USERSIGS "))
    assert not [sig for sig in usersigs if sig in text or sig[-24:] in text]
