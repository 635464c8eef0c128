"""UserSig v2: known-answer vectors, caching and renewal, and the providers a session accepts."""

from __future__ import annotations

import base64
import json
import threading
import zlib
from collections.abc import Callable

import anyio
import anyio.lowlevel
import pytest
import respx

import tim_oa
from tim_oa._usersig import as_usersig_source, compute_sig

from .conftest import fail, ok

KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
APP = 1400000000


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# Known answers from the reference (official Python signer pinned to t=1700000000).
VECTORS = [
    ("xiaojun", 15552000, None, "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4="),
    ("administrator", 86400, None, "yLAe+w7WUeUuqbV9h/TX78u21oTGi+i9Zp1u3PpnY60="),
    ("xiaojun", 15552000, b"abc", "QjT201xPkXk/aM1e+y0vakZb0K2iPrFue++0s5y6bFM="),
]


@pytest.mark.parametrize(("identifier", "expire", "userbuf", "sig"), VECTORS)
def test_known_answer_vectors(
    identifier: str, expire: int, userbuf: bytes | None, sig: str
) -> None:
    assert compute_sig(KEY, identifier, APP, 1700000000, expire, userbuf) == sig
    signer = tim_oa.UserSigSigner(APP, KEY)
    claims = tim_oa.decode_usersig(
        signer.generate(identifier, expire=expire, now=1700000000, userbuf=userbuf)
    )
    assert claims["TLS.sig"] == sig
    assert claims["TLS.ver"] == "2.0"
    assert claims["TLS.identifier"] == identifier
    assert claims["TLS.sdkappid"] == APP
    assert claims["TLS.time"] == 1700000000
    assert claims["TLS.expire"] == expire
    if userbuf is not None:
        assert claims["TLS.userbuf"] == "YWJj"


def test_decodes_the_official_signers_output() -> None:
    official = (
        "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkElNyM-Myi0uKEkvyi2BKilOyEwsKMlOACgxNDKAAKpda"
        "UZBZlAqUsTAzgQuWZOaChAzN0RQXZ6aDLKn0cUzVLjcPD00NLS1MCrPM0A*JMLcoNTLMD3HP1M60jCowLDUOKM"
        "iLNDOwVaoFAD4PNPI_"
    )
    claims = tim_oa.decode_usersig(official)
    assert claims["TLS.sig"] == "yLAe+w7WUeUuqbV9h/TX78u21oTGi+i9Zp1u3PpnY60="


def test_output_is_url_safe_and_zlib_json() -> None:
    sig = tim_oa.UserSigSigner(APP, KEY).generate("administrator", now=1700000000)
    assert not set(sig) & set("+/=")
    raw = base64.b64decode(sig.translate(str.maketrans("*-_", "+/=")))
    assert json.loads(zlib.decompress(raw))["TLS.identifier"] == "administrator"


def test_decode_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a v2 UserSig"):
        tim_oa.decode_usersig("not-a-signature!")


def test_cache_renews_before_expiry() -> None:
    clock = Clock(1_000_000)
    signer = tim_oa.UserSigSigner(APP, KEY, expire=3600, renew_before=300, clock=clock)
    first = signer.get("administrator")
    clock.now += 3000  # 600 s left: still cached
    assert signer.get("administrator") == first
    clock.now += 301  # 299 s left: renewed
    second = signer.get("administrator")
    assert second != first
    assert tim_oa.decode_usersig(second)["TLS.time"] == 1_003_301
    # One cache entry per identifier.
    assert signer.get("other") != second


def test_renew_with_stale_value_renews_once() -> None:
    clock = Clock(1_000_000)
    signer = tim_oa.UserSigSigner(APP, KEY, clock=clock)
    stale = signer.get("administrator")
    clock.now += 5
    fresh = signer.renew("administrator", stale=stale)
    assert fresh != stale
    clock.now += 5
    # A second task holding the same stale value gets the already-renewed one.
    assert signer.renew("administrator", stale=stale) == fresh


def test_single_renewal_under_concurrent_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = tim_oa.UserSigSigner(APP, KEY)
    calls = 0

    def counting(*args: object) -> str:
        nonlocal calls
        calls += 1
        return compute_sig(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("tim_oa._usersig.compute_sig", counting)
    barrier = threading.Barrier(16)
    results: list[str] = []

    def worker() -> None:
        barrier.wait()
        results.append(signer.get("administrator"))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == 1
    assert len(set(results)) == 1


def test_repr_hides_the_key() -> None:
    signer = tim_oa.UserSigSigner(APP, KEY)
    assert KEY not in repr(signer)
    assert "hidden" in repr(signer)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sdkappid": 0, "secret_key": KEY}, "sdkappid"),
        ({"sdkappid": APP, "secret_key": ""}, "secret_key"),
        ({"sdkappid": APP, "secret_key": KEY, "expire": 0}, "expire"),
        ({"sdkappid": APP, "secret_key": KEY, "expire": 100, "renew_before": 100}, "renew_before"),
    ],
)
def test_signer_rejects_bad_settings(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.UserSigSigner(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert KEY not in str(info.value)


async def test_providers_string_sync_async_and_signer() -> None:
    fixed = as_usersig_source("fixed-sig")
    assert await fixed.get("administrator") == "fixed-sig"
    assert not fixed.can_renew

    seen: list[str] = []

    def sync_provider(identifier: str) -> str:
        seen.append(identifier)
        return f"sync-{identifier}"

    async def async_provider(identifier: str) -> str:
        await anyio.lowlevel.checkpoint()
        return f"async-{identifier}"

    assert await as_usersig_source(sync_provider).get("admin") == "sync-admin"
    assert seen == ["admin"]
    assert await as_usersig_source(async_provider).get("admin") == "async-admin"
    signer_source = as_usersig_source(tim_oa.UserSigSigner(APP, KEY))
    claims = tim_oa.decode_usersig(await signer_source.get("admin"))
    assert claims["TLS.identifier"] == "admin"


async def test_provider_must_return_text() -> None:
    with pytest.raises(tim_oa.ValidationError):
        await as_usersig_source(lambda identifier: "").get("admin")
    with pytest.raises(tim_oa.ValidationError):
        as_usersig_source(42)


# --- the signer's arguments (whole seconds, signable identifiers) ------------------------------


def test_whole_float_seconds_are_converted_exactly() -> None:
    from datetime import timedelta

    from tim_oa.testing._usersig import UserSigVerifier

    signer = tim_oa.UserSigSigner(APP, KEY, expire=timedelta(days=1).total_seconds())  # type: ignore[arg-type]
    sig = signer.generate("administrator", now=1700000000.0)  # type: ignore[arg-type]
    claims = tim_oa.decode_usersig(sig)
    assert claims["TLS.expire"] == 86400 and type(claims["TLS.expire"]) is int
    assert claims["TLS.time"] == 1700000000 and type(claims["TLS.time"]) is int
    # The same document as the reference's vector, and a verifier accepts it.
    assert claims["TLS.sig"] == VECTORS[1][3]
    UserSigVerifier(KEY).verify(sig, identifier="administrator", sdkappid=APP, now=1700000001)
    assert tim_oa.UserSigSigner(APP, KEY, expire=600, renew_before=60.0).get("a")  # type: ignore[arg-type]


BAD_SECONDS = [0, -1, 1.5, float("nan"), float("inf"), True, "86400", 2**31, 1e20]


@pytest.mark.parametrize("bad", BAD_SECONDS)
def test_expire_must_be_whole_positive_seconds(bad: object) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.UserSigSigner(APP, KEY, expire=bad)  # type: ignore[arg-type]
    assert info.value.field == "expire"
    assert KEY not in str(info.value)
    signer = tim_oa.UserSigSigner(APP, KEY)
    with pytest.raises(tim_oa.ValidationError) as info:
        signer.generate("administrator", expire=bad)  # type: ignore[arg-type]
    assert info.value.field == "expire"


def test_expire_none_is_refused_but_means_default_in_generate() -> None:
    with pytest.raises(tim_oa.ValidationError):
        tim_oa.UserSigSigner(APP, KEY, expire=None)  # type: ignore[arg-type]
    sig = tim_oa.UserSigSigner(APP, KEY, expire=600).generate("a", expire=None)
    assert tim_oa.decode_usersig(sig)["TLS.expire"] == 600


@pytest.mark.parametrize("bad", [-1, 1.5, True, "300", None, float("nan")])
def test_renew_before_must_be_whole_seconds(bad: object) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.UserSigSigner(APP, KEY, renew_before=bad)  # type: ignore[arg-type]
    assert info.value.field == "renew_before"


@pytest.mark.parametrize("bad", [-1, 1700000000.5, True, "1700000000", float("inf")])
def test_now_must_be_whole_seconds(bad: object) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.UserSigSigner(APP, KEY).generate("administrator", now=bad)  # type: ignore[arg-type]
    assert info.value.field == "now"


@pytest.mark.parametrize(
    "bad", ["", "ad\ud800min", "a\nTLS.sdkappid:1", "a\x00", "a\x7f", "a\x85", 5]
)
def test_identifier_must_be_signable(bad: object) -> None:
    signer = tim_oa.UserSigSigner(APP, KEY)
    for sign in (signer.get, signer.generate, lambda i: signer.renew(i, stale=None)):
        with pytest.raises(tim_oa.ValidationError) as info:
            sign(bad)  # type: ignore[arg-type]
        assert info.value.field == "identifier"
        assert not isinstance(info.value, UnicodeError)
    # Any other Unicode is fine (UserIDs may be Chinese).
    assert tim_oa.decode_usersig(signer.generate("管理员"))["TLS.identifier"] == "管理员"


def test_userbuf_must_be_bytes() -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.UserSigSigner(APP, KEY).generate("a", userbuf="abc")  # type: ignore[arg-type]
    assert info.value.field == "userbuf"


@pytest.mark.parametrize("bad", [None, 5, b"eJyr", "not-a-signature!", "eJ" + "A" * 50, "é"])
def test_decode_usersig_refuses_with_a_validation_error(bad: object) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.decode_usersig(bad)  # type: ignore[arg-type]
    assert info.value.field == "usersig"
    assert info.value.__context__ is None


# --- providers: bounded in time, abandoned on cancel, asked once per renewal -------------------


async def test_a_blocking_sync_provider_is_bounded_by_the_timeout() -> None:
    release = threading.Event()

    def vault(identifier: str) -> str:
        release.wait(10)
        return "late"

    source = as_usersig_source(vault)
    started = anyio.current_time()
    try:
        with anyio.fail_after(5), pytest.raises(tim_oa.TransportError) as info:
            await source.get("administrator", timeout=0.2)
    finally:
        release.set()
    assert anyio.current_time() - started < 2
    assert info.value.is_timeout and info.value.request_sent is False
    assert "usersig provider" in str(info.value)


async def test_a_cancelled_sync_provider_is_abandoned() -> None:
    release = threading.Event()
    source = as_usersig_source(lambda identifier: release.wait(10) and "late")
    started = anyio.current_time()
    try:
        with anyio.move_on_after(0.2):
            await source.get("administrator")  # no bound of its own: cancellation ends the wait
    finally:
        release.set()
    assert anyio.current_time() - started < 2


async def test_a_slow_async_provider_is_bounded_too() -> None:
    async def vault(identifier: str) -> str:
        await anyio.sleep(10)
        return "late"

    with anyio.fail_after(5), pytest.raises(tim_oa.TransportError) as info:
        await as_usersig_source(vault).get("administrator", timeout=0.1)
    assert info.value.is_timeout


async def test_a_provider_is_asked_once_per_renewal() -> None:
    calls: list[str] = []

    def vault(identifier: str) -> str:
        calls.append(identifier)
        return f"sig-{len(calls)}"

    source = as_usersig_source(vault)
    stale = await source.get("administrator", timeout=5)
    # Two tasks saw the same 70001: one renewal between them.
    fresh = await source.renew("administrator", stale, timeout=5)
    assert await source.renew("administrator", stale) == fresh
    # The attempt after the renewal uses it without asking again.
    assert await source.get("administrator") == fresh
    assert calls == ["administrator", "administrator"]
    # Later attempts ask again, as documented (caching is the function's business).
    assert await source.get("administrator") == "sig-3"


async def test_session_renewal_asks_a_callable_provider_once(
    api: respx.MockRouter, make_session: Callable[..., tim_oa.Session]
) -> None:
    calls: list[str] = []

    def vault(identifier: str) -> str:
        calls.append(identifier)
        return f"sig-{len(calls)}"

    route = api.post(url__regex=".*").mock(side_effect=[fail(70001), ok()])
    async with make_session(usersig=vault, max_retries=0) as oa:
        await oa.modify_account("@TOA#_news", name="News")
    assert [c.request.url.params["usersig"] for c in route.calls] == ["sig-1", "sig-2"]
    assert len(calls) == 2  # one for the first attempt, one renewal; not a third
