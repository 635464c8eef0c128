from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading

import httpx
import pytest

from tim_oa.testing import Emulator, ManualClock, main, serve, serve_forever

from .helpers import PATH, RawClient

pytestmark = pytest.mark.loopback
SUBSCRIBED = "get_subscribed_official_account_list"


async def test_serves_over_loopback_and_drops_connections(caplog: pytest.LogCaptureFixture) -> None:
    emulator = Emulator(clock=ManualClock())
    raw = RawClient(emulator)
    with serve(emulator) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
            create = {"Owner_Account": "o", "Name": "N"}
            response = await http.post(
                PATH + "create_official_account", params=raw.query(), json=create
            )
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            account_id = response.json()["OfficialAccountUserID"]
            assert account_id in emulator.accounts  # state is visible from the test thread

            emulator.fail_next("add_subscriber", drop=True, after_commit=True)
            body = {"Official_Account": account_id, "SubscriberList": [{"Subscriber_Account": "a"}]}
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(PATH + "add_subscriber", params=raw.query(), json=body)
            retry = await http.post(PATH + "add_subscriber", params=raw.query(), json=body)
            assert retry.json()["SubscriberList"][0]["Result"] == 2

            emulator.fail_next(drop=True)
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(
                    PATH + SUBSCRIBED, params=raw.query(), json={"Subscriber_Account": "a"}
                )

            emulator.fail_next(http_status=502)
            assert (
                await http.post(PATH + SUBSCRIBED, params=raw.query(), json={})
            ).status_code == 502

            bad = await http.post(PATH + SUBSCRIBED, params=raw.query(usersig="x"), json={})
            assert bad.json()["ErrorCode"] == 70003
    # Deliberate drops are not reported as server errors.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await raw.aclose()
    # Shut down: the port no longer answers.
    async with httpx.AsyncClient(timeout=2) as http:
        with pytest.raises(httpx.ConnectError):
            await http.post(base_url + PATH + SUBSCRIBED)


def test_serve_from_sync_code_on_a_fixed_port() -> None:
    emulator = Emulator()
    with serve(emulator, "127.0.0.1", 0) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        response = httpx.get(base_url + "/")
        assert response.json()["ErrorCode"] == 60009
    # The same port can be served again right away.
    with serve(emulator, "127.0.0.1", port) as again:
        assert again == base_url


def test_serve_refuses_non_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"), serve(Emulator(), "0.0.0.0"):
        pass
    with pytest.raises(ValueError), serve(Emulator(), "example.com"):
        pass


def test_serve_without_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(RuntimeError, match="uvicorn"), serve(Emulator()):
        pass


def test_package_imports_without_uvicorn() -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "import tim_oa.testing, tim_oa.testing.pytest_plugin"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_plugin_imports_without_pytest_asyncio() -> None:
    code = (
        "import sys; sys.modules['pytest_asyncio'] = None\n"
        "import tim_oa.testing.pytest_plugin as p\n"
        "assert p.tim_oa_session is not None"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_main_reports_refused_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--secret-key", "hush-hush"]) == 2
    captured = capsys.readouterr()
    assert "--allow-remote" in captured.err
    assert "hush-hush" not in captured.err + captured.out


def test_main_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--allow-remote" in capsys.readouterr().out


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="needs the main thread"
)
def test_serve_forever_stops_on_sigterm() -> None:
    before = signal.getsignal(signal.SIGTERM)
    urls: list[str] = []

    def ready(url: str) -> None:
        urls.append(url)
        assert httpx.get(url + "/").json()["ErrorCode"] == 60009
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()

    serve_forever(Emulator(), port=0, on_ready=ready)
    assert urls and signal.getsignal(signal.SIGTERM) == before
