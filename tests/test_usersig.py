"""UserSig v2: known-answer vectors, caching and renewal, and the providers a session accepts."""

from __future__ import annotations

import base64
import json
import threading
import zlib

import anyio
import anyio.lowlevel
import pytest

import tim_oa
from tim_oa._usersig import as_usersig_source, compute_sig

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
