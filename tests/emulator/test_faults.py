from __future__ import annotations

import time

import httpx
import pytest

from tim_oa.testing import Emulator, Faults, ManualClock

from .helpers import PATH, RawClient

SUBSCRIBED = "get_subscribed_official_account_list"
BODY = {"Subscriber_Account": "u"}


async def outcomes(emulator: Emulator, count: int) -> list[str]:
    """Send ``count`` requests through the drop-aware transport; describe each outcome."""
    raw = RawClient(emulator)
    seen = []
    async with httpx.AsyncClient(transport=emulator.transport(), base_url="http://emu") as http:
        for _ in range(count):
            try:
                response = await http.post(PATH + SUBSCRIBED, params=raw.query(), json=BODY)
            except httpx.RemoteProtocolError:
                seen.append("drop")
                continue
            if response.status_code != 200:
                seen.append(f"http{response.status_code}")
            else:
                seen.append(str(response.json()["ErrorCode"]))
    await raw.aclose()
    return seen


def faulty(seed: int) -> Emulator:
    faults = Faults(
        error_rate=0.2, http_502_rate=0.1, drop_rate=0.1, error_codes=(10004, 20005, 10002)
    )
    return Emulator(clock=ManualClock(), seed=seed, faults=faults, rate_limit=None)


async def test_seeded_faults_are_reproducible() -> None:
    first = await outcomes(faulty(7), 200)
    assert first == await outcomes(faulty(7), 200)
    assert first != await outcomes(faulty(8), 200)
    kinds = set(first)
    assert {"0", "drop", "http502", "10004", "20005", "10002"} <= kinds
    # Roughly the configured mix.
    assert 0.45 < first.count("0") / len(first) < 0.8


async def test_reset_restarts_the_fault_stream() -> None:
    emulator = faulty(3)
    first = await outcomes(emulator, 50)
    emulator.reset()
    assert await outcomes(emulator, 50) == first


async def test_faulted_requests_are_not_executed() -> None:
    emulator = Emulator(clock=ManualClock(), faults=Faults(error_rate=1.0), rate_limit=None)
    client = RawClient(emulator)
    assert await client.code("create_official_account", {"Owner_Account": "o", "Name": "N"}) in (
        10004,
        20005,
    )
    assert emulator.accounts == {}
    (record,) = emulator.requests
    assert (record.fault, record.executed) == ("error", False)
    await client.aclose()


async def test_faults_never_hide_auth_errors() -> None:
    emulator = Emulator(clock=ManualClock(), faults=Faults(error_rate=1.0))
    client = RawClient(emulator)
    assert await client.code(SUBSCRIBED, BODY, usersig="") == 70002
    await client.aclose()


async def test_faults_can_be_swapped_at_runtime(emulator: Emulator, client: RawClient) -> None:
    emulator.faults = Faults(http_502_rate=1.0)
    assert (await client.post(SUBSCRIBED, BODY)).status_code == 502
    emulator.faults = None
    assert await client.code(SUBSCRIBED, BODY) == 0


async def test_latency() -> None:
    emulator = Emulator(clock=ManualClock(), faults=Faults(latency=(0.02, 0.03)))
    client = RawClient(emulator)
    started = time.perf_counter()
    assert await client.code(SUBSCRIBED, BODY) == 0
    assert time.perf_counter() - started >= 0.02
    await client.aclose()


def test_faults_validation() -> None:
    with pytest.raises(ValueError):
        Faults(error_rate=1.5)
    with pytest.raises(ValueError):
        Faults(error_rate=0.5, error_codes=())
    with pytest.raises(ValueError):
        Faults(latency=(0.3, 0.1))
    with pytest.raises(ValueError):
        Faults(latency=-1)


async def test_fail_next_code(emulator: Emulator, client: RawClient) -> None:
    emulator.fail_next("create_official_account", code=20005, times=2)
    assert emulator.pending_faults == 2
    assert await client.code(SUBSCRIBED, BODY) == 0  # other commands unaffected
    body = {"Owner_Account": "o", "Name": "N"}
    assert [await client.code("create_official_account", body) for _ in range(3)] == [
        20005,
        20005,
        0,
    ]
    assert emulator.pending_faults == 0
    assert len(emulator.accounts) == 1


async def test_fail_next_any_command_in_order(emulator: Emulator, client: RawClient) -> None:
    emulator.fail_next(code=10002)
    emulator.fail_next(http_status=503, body=b"")
    assert await client.code(SUBSCRIBED, BODY) == 10002
    response = await client.post("get_official_account_info", {})
    assert (response.status_code, response.content) == (503, b"")
    assert await client.code(SUBSCRIBED, BODY) == 0


async def test_fail_next_http_default_body(emulator: Emulator, client: RawClient) -> None:
    emulator.fail_next(SUBSCRIBED, http_status=502)
    response = await client.post(SUBSCRIBED, BODY)
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert b"502" in response.content
    record = emulator.requests[-1]
    assert (record.http_status, record.error_code, record.fault, record.executed) == (
        502,
        None,
        "http",
        False,
    )


async def test_fail_next_after_commit_proves_retry_safety(emulator: Emulator) -> None:
    raw = RawClient(emulator)
    account_id = await raw.create()
    emulator.fail_next("add_subscriber", drop=True, after_commit=True)
    body = {"Official_Account": account_id, "SubscriberList": [{"Subscriber_Account": "a"}]}
    async with httpx.AsyncClient(transport=emulator.transport(), base_url="http://emu") as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(PATH + "add_subscriber", params=raw.query(), json=body)
        # The effect was kept, so the retry reads "already subscribed".
        response = await http.post(PATH + "add_subscriber", params=raw.query(), json=body)
    assert response.json()["SubscriberList"] == [{"Subscriber_Account": "a", "Result": 2}]
    dropped = emulator.requests[-2]
    assert (dropped.fault, dropped.executed, dropped.dropped, dropped.error_code) == (
        "drop",
        True,
        True,
        None,
    )
    await raw.aclose()


async def test_fail_next_after_commit_with_code(emulator: Emulator, client: RawClient) -> None:
    emulator.fail_next("create_official_account", code=20005, after_commit=True)
    assert (
        await client.code("create_official_account", {"Owner_Account": "o", "Name": "N"}) == 20005
    )
    assert len(emulator.accounts) == 1  # created although the answer said otherwise


async def test_fail_next_drop_before_commit(emulator: Emulator) -> None:
    emulator.fail_next("create_official_account", drop=True)
    assert await outcomes_create(emulator) == "drop"
    assert emulator.accounts == {}
    assert emulator.requests[-1].executed is False


async def outcomes_create(emulator: Emulator) -> str:
    raw = RawClient(emulator)
    async with httpx.AsyncClient(transport=emulator.transport(), base_url="http://emu") as http:
        try:
            await http.post(
                PATH + "create_official_account",
                params=raw.query(),
                json={"Owner_Account": "o", "Name": "N"},
            )
        except httpx.RemoteProtocolError:
            return "drop"
        finally:
            await raw.aclose()
    return "answered"


async def test_plain_asgi_transport_sees_a_truncated_body(
    emulator: Emulator, client: RawClient
) -> None:
    emulator.fail_next(drop=True)
    response = await client.post(SUBSCRIBED, BODY)
    assert int(response.headers["content-length"]) > len(response.content)


def test_fail_next_arguments() -> None:
    emulator = Emulator()
    with pytest.raises(ValueError):
        emulator.fail_next()
    with pytest.raises(ValueError):
        emulator.fail_next(code=1, drop=True)
    with pytest.raises(ValueError):
        emulator.fail_next(code=0)
    with pytest.raises(ValueError):
        emulator.fail_next(http_status=200)
    with pytest.raises(ValueError):
        emulator.fail_next("bogus_command", code=1)
    with pytest.raises(ValueError):
        emulator.fail_next(code=1, times=0)


async def test_reset_forgets_everything(emulator: Emulator, client: RawClient) -> None:
    first_id = await client.create()
    emulator.fail_next(code=10002)
    emulator.reset()
    assert emulator.accounts == {} and emulator.requests == [] and emulator.pending_faults == 0
    assert await client.create() == first_id  # id generation restarts from the seed


def test_advance_needs_a_manual_clock() -> None:
    with pytest.raises(TypeError):
        Emulator().advance(1)
