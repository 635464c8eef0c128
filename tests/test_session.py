"""Session construction, lifecycle, derived sessions, the raw call, and in-flight bounds."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import httpx
import pytest
import respx

import tim_oa

from .conftest import BASE_URL, SDKAPPID, body_of, ok


def session(**kw: object) -> tim_oa.Session:
    kw.setdefault("usersig", "sig")
    return tim_oa.Session(sdkappid=SDKAPPID, identifier="administrator", **kw)  # type: ignore[arg-type]


def test_region_and_backup_domain() -> None:
    assert session(region=tim_oa.Region.SINGAPORE).base_url == "https://adminapisgp.im.qcloud.com"
    backup = session(region=tim_oa.Region.SINGAPORE, use_backup_domain=True)
    assert backup.base_url == "https://adminapisgp.my-imcloud.com"
    assert session(region=tim_oa.Region.CHINA).base_url == "https://console.tim.qq.com"
    assert tim_oa.Region.TOKYO.backup_host == "adminapijpn.my-imcloud.com"
    assert session(base_url="http://127.0.0.1:8080/").base_url == "http://127.0.0.1:8080"


def test_every_region_has_both_domains() -> None:
    for region in tim_oa.Region:
        assert region.host.endswith((".qcloud.com", ".qq.com"))
        assert region.backup_host.endswith(".my-imcloud.com")


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({}, "region"),
        ({"region": tim_oa.Region.SEOUL, "base_url": BASE_URL}, "region"),
        ({"region": "atlantis"}, "region"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"base_url": BASE_URL, "max_retries": -1}, "max_retries"),
        ({"base_url": BASE_URL, "max_concurrency": 0}, "max_concurrency"),
        ({"base_url": BASE_URL, "rate_limit": 0}, "rate_limit"),
        ({"base_url": BASE_URL, "timeout": -1}, "timeout"),
        ({"base_url": BASE_URL, "usersig": 3}, "usersig"),
    ],
)
def test_bad_options_are_refused(kw: dict[str, object], field: str) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        session(**kw)
    assert info.value.field == field


async def test_injected_client_is_used_and_not_closed(api: respx.MockRouter) -> None:
    api.post("/v4/official_account_open_http_svc/destroy_official_account").mock(return_value=ok())
    client = httpx.AsyncClient(headers={"x-mine": "1"})
    async with session(base_url=BASE_URL, http_client=client) as oa:
        await oa.destroy_account("@TOA#_a")
    assert not client.is_closed
    assert api.calls.last.request.headers["x-mine"] == "1"
    await client.aclose()


async def test_own_client_is_closed_and_closed_session_refuses() -> None:
    oa = session(base_url=BASE_URL)
    await oa.aclose()
    assert oa.closed
    with pytest.raises(tim_oa.TimOAError, match="closed"):
        await oa.call("destroy_official_account", {"Official_Account": "@TOA#_a"})
    await oa.aclose()  # idempotent


async def test_with_options_shares_the_pool(api: respx.MockRouter) -> None:
    api.post(url__regex=".*").mock(return_value=ok())
    parent = session(base_url=BASE_URL, max_retries=3)
    child = parent.with_options(max_retries=0, identifier="admin2", timeout=3.0)
    assert child.max_retries == 0 and parent.max_retries == 3
    assert child.identifier == "admin2" and parent.identifier == "administrator"
    assert child._shared is parent._shared
    await child.call("destroy_official_account", {"Official_Account": "@TOA#_a"})
    assert api.calls.last.request.url.params["identifier"] == "admin2"
    await child.aclose()  # does not close the shared pool
    assert not parent.closed
    await parent.call("destroy_official_account", {"Official_Account": "@TOA#_a"})
    await parent.aclose()
    assert child.closed


async def test_raw_call_sends_body_and_returns_answer(api: respx.MockRouter) -> None:
    route = api.post("/v4/official_account_open_http_svc/get_subscriber_info").mock(
        return_value=ok(Next="", SubscriberNum=0, SubscriberList=[], Extra="kept")
    )
    async with session(base_url=BASE_URL) as oa:
        answer = await oa.call("get_subscriber_info", {"Official_Account": "@TOA#_a", "Next": ""})
    assert answer["Extra"] == "kept"
    assert body_of(route.calls.last) == {"Official_Account": "@TOA#_a", "Next": ""}
    params = route.calls.last.request.url.params
    assert params["sdkappid"] == str(SDKAPPID)
    assert params["identifier"] == "administrator"
    assert params["usersig"] == "sig"
    assert params["contenttype"] == "json"
    assert route.calls.last.request.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("command", "body"),
    [("Bad/../x", {}), ("", {}), ("add_subscriber", ["not", "a", "mapping"])],
)
async def test_raw_call_validates_before_io(
    api: respx.MockRouter, command: str, body: object
) -> None:
    async with session(base_url=BASE_URL) as oa:
        with pytest.raises(tim_oa.ValidationError):
            await oa.call(command, body)  # type: ignore[arg-type]
    assert api.calls.call_count == 0


async def test_max_concurrency_bounds_requests_in_flight(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        return ok()

    api.post(url__regex=".*").mock(side_effect=slow)
    async with make_session(max_concurrency=3) as oa, anyio.create_task_group() as tg:
        for i in range(12):
            tg.start_soon(oa.destroy_account, f"@TOA#_{i}")
    assert peak == 3
    assert api.calls.call_count == 12


async def test_async_usersig_provider_is_asked_every_attempt(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    asked: list[str] = []

    async def provider(identifier: str) -> str:
        asked.append(identifier)
        return f"sig-{len(asked)}"

    api.post(url__regex=".*").mock(side_effect=[httpx.Response(503), ok()])
    async with make_session(usersig=provider) as oa:
        await oa.destroy_account("@TOA#_a")
    assert asked == ["administrator", "administrator"]
    assert [c.request.url.params["usersig"] for c in api.calls] == ["sig-1", "sig-2"]


def test_works_under_trio() -> None:
    import trio

    async def main() -> list[str]:
        def handler(request: httpx.Request) -> httpx.Response:
            return ok(Next="", SubscriberNum=1, SubscriberList=[{"Subscriber_Account": "u1"}])

        transport = httpx.MockTransport(handler)
        async with session(base_url=BASE_URL, transport=transport, rate_limit=100.0) as oa:
            return [s.user_id async for s in oa.subscribers("@TOA#_a")]

    assert trio.run(main) == ["u1"]


def test_repr_has_no_secret() -> None:
    oa = session(base_url=BASE_URL, usersig="TOPSECRETSIG")
    assert "TOPSECRETSIG" not in repr(oa)
    assert "administrator" in repr(oa)
