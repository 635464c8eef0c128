"""The emulator in-process on either HTTP stack (httpx, httpx2), and TIM_OA_TEST_BACKEND."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest

import tim_oa
from tim_oa.testing import Emulator

from .helpers import PATH, RawClient

needs_httpx2 = pytest.mark.skipif(
    sys.version_info < (3, 11) or importlib.util.find_spec("httpx2") is None,
    reason="httpx2 not installed (Python 3.11+)",
)
STACKS = ["httpx", pytest.param("httpx2", marks=needs_httpx2)]


@pytest.mark.parametrize("stack", STACKS)
async def test_a_dropped_connection_raises_the_stacks_own_error(
    emulator: Emulator, stack: str
) -> None:
    lib = importlib.import_module(stack)
    raw = RawClient(emulator)
    emulator.fail_next("get_subscribed_official_account_list", drop=True)
    async with lib.AsyncClient(transport=emulator.transport(stack), base_url="http://emu") as http:
        url = PATH + "get_subscribed_official_account_list"
        with pytest.raises(lib.RemoteProtocolError):
            await http.post(url, params=raw.query(), json={"Subscriber_Account": "u"})
        answer = await http.post(url, params=raw.query(), json={"Subscriber_Account": "u"})
        assert answer.json()["ErrorCode"] == 0
    await raw.aclose()


@pytest.mark.parametrize("stack", STACKS)
async def test_a_session_on_each_stack_sees_a_drop_as_a_transport_error(
    emulator: Emulator, stack: str
) -> None:
    async with emulator.session(backend=stack, max_retries=0) as oa:
        assert oa._shared.transport.backend == stack
        emulator.fail_next("get_subscribed_official_account_list", drop=True)
        body = {"Subscriber_Account": "u"}
        with pytest.raises(tim_oa.TransportError) as info:
            await oa.call("get_subscribed_official_account_list", body)
        assert info.value.request_sent
        answer = await oa.call("get_subscribed_official_account_list", body)
        assert answer["ErrorCode"] == 0


@needs_httpx2
def test_the_environment_picks_the_stack_of_emulator_sessions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = Emulator()
    monkeypatch.setenv("TIM_OA_TEST_BACKEND", "httpx2")
    assert emulator.session()._shared.transport.backend == "httpx2"
    assert emulator.session(backend="httpx")._shared.transport.backend == "httpx"
    monkeypatch.setenv("TIM_OA_TEST_BACKEND", "httpx")
    assert emulator.session()._shared.transport.backend == "httpx"
    monkeypatch.setenv("TIM_OA_TEST_BACKEND", "requests")
    with pytest.raises(ValueError, match="TIM_OA_TEST_BACKEND"):
        emulator.session()
