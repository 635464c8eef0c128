from __future__ import annotations

import pytest

from tim_oa.testing import DEFAULT_SECRET_KEY, Emulator, ManualClock
from tim_oa.testing._failure import Failure
from tim_oa.testing._usersig import UserSigVerifier, decode_usersig, expected_signature

from .helpers import ADMIN, SDKAPPID, T0, RawClient, mint_usersig, pack

# Reference §6.3 (computed with Tencent's Python signer at time 1700000000).
XIAOJUN_SIG = (
    "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1NjRDiJZm5"
    "YFFzNPXFmekgG3zKHM1T9D3LzdODi-OKs8vCqpxcAvydnV2SSv2cy03cPcpDnA2SMgu0nUxslWoBHdYzUg__"
)
ADMIN_SIG = (
    "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkElNyM-Myi0uKEkvyi2BKilOyEwsKMlOACgxNDKAAKpdaUZBZlAqUsTAz"
    "gQuWZOaChAzN0RQXZ6aDLKn0cUzVLjcPD00NLS1MCrPM0A*JMLcoNTLMD3HP1M60jCowLDUOKMiLNDOwVaoFAD4PNPI_"
)


def test_reference_vectors_decode() -> None:
    doc = decode_usersig(XIAOJUN_SIG)
    assert doc["TLS.identifier"] == "xiaojun"
    assert doc["TLS.sdkappid"] == SDKAPPID
    assert doc["TLS.time"] == T0
    assert doc["TLS.expire"] == 15552000
    assert doc["TLS.sig"] == "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4="
    assert decode_usersig(ADMIN_SIG)["TLS.sig"] == "yLAe+w7WUeUuqbV9h/TX78u21oTGi+i9Zp1u3PpnY60="


def test_expected_signature_matches_vectors() -> None:
    key = DEFAULT_SECRET_KEY
    assert (
        expected_signature(key, "xiaojun", SDKAPPID, T0, 15552000, None)
        == "LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4="
    )
    assert (
        expected_signature(key, "xiaojun", SDKAPPID, T0, 15552000, "YWJj")
        == "QjT201xPkXk/aM1e+y0vakZb0K2iPrFue++0s5y6bFM="
    )


@pytest.mark.parametrize(
    ("sig", "identifier", "expire"),
    [(XIAOJUN_SIG, "xiaojun", 15552000), (ADMIN_SIG, ADMIN, 86400)],
)
def test_reference_vectors_verify_and_expire(sig: str, identifier: str, expire: int) -> None:
    verifier = UserSigVerifier(DEFAULT_SECRET_KEY)
    verifier.verify(sig, identifier=identifier, sdkappid=SDKAPPID, now=T0 + 5)
    verifier.verify(sig, identifier=identifier, sdkappid=SDKAPPID, now=T0 + expire)  # last second
    with pytest.raises(Failure) as info:
        verifier.verify(sig, identifier=identifier, sdkappid=SDKAPPID, now=T0 + expire + 1)
    assert info.value.code == 70001
    # A different key rejects the same signature.
    with pytest.raises(Failure) as info:
        UserSigVerifier("another-key").verify(sig, identifier=identifier, sdkappid=SDKAPPID, now=T0)
    assert info.value.code == 70009


def test_userbuf_is_part_of_the_signature() -> None:
    verifier = UserSigVerifier(DEFAULT_SECRET_KEY)
    abc, xyz = mint_usersig(userbuf=b"abc"), mint_usersig(userbuf=b"xyz")
    for sig in (abc, xyz):
        verifier.verify(sig, identifier=ADMIN, sdkappid=SDKAPPID, now=T0)
    # The userbuf changes the signature, and one userbuf's signature fails for another.
    assert decode_usersig(abc)["TLS.sig"] != decode_usersig(xyz)["TLS.sig"]
    swapped = {**decode_usersig(abc), "TLS.userbuf": decode_usersig(xyz)["TLS.userbuf"]}
    with pytest.raises(Failure) as info:
        verifier.verify(pack(swapped), identifier=ADMIN, sdkappid=SDKAPPID, now=T0)
    assert info.value.code == 70009
    dropped = {k: v for k, v in decode_usersig(abc).items() if k != "TLS.userbuf"}
    with pytest.raises(Failure) as info:
        verifier.verify(pack(dropped), identifier=ADMIN, sdkappid=SDKAPPID, now=T0)
    assert info.value.code == 70009


async def test_reference_admin_vector_accepted_over_http() -> None:
    # The default emulator uses the sample key, so the §6.3 admin vector works as is.
    emulator = Emulator(clock=ManualClock(T0 + 60))
    client = RawClient(emulator)
    assert (
        await client.code(
            "get_subscribed_official_account_list", {"Subscriber_Account": "u"}, usersig=ADMIN_SIG
        )
        == 0
    )
    await client.aclose()


def _tamper(doc_changes: dict[str, object], drop: tuple[str, ...] = ()) -> str:
    doc: dict[str, object] = {
        "TLS.ver": "2.0",
        "TLS.identifier": ADMIN,
        "TLS.sdkappid": SDKAPPID,
        "TLS.expire": 86400,
        "TLS.time": T0,
        "TLS.sig": expected_signature(DEFAULT_SECRET_KEY, ADMIN, SDKAPPID, T0, 86400, None),
    }
    doc.update(doc_changes)
    for key in drop:
        del doc[key]
    return pack(doc)


@pytest.mark.parametrize(
    ("usersig", "code"),
    [
        ("", 70002),
        ("not base64 !!", 70003),
        ("QUJD", 70003),  # base64 of "ABC": not zlib
        (pack("just a string"), 70003),
        (pack(["list"]), 70003),
        (_tamper({}, drop=("TLS.sig",)), 70003),
        (_tamper({"TLS.time": "1700000000"}), 70003),
        (_tamper({"TLS.sdkappid": True}), 70003),
        (_tamper({"TLS.userbuf": 5}), 70003),
        (mint_usersig("someone-else"), 70013),
        (mint_usersig(sdkappid=1400000001), 70014),
        (mint_usersig(time=T0 - 86401), 70001),
        (mint_usersig(key="wrong-key"), 70009),
        (mint_usersig(sig="AAAA"), 70009),
        (_tamper({"TLS.expire": 86401}), 70009),  # fields changed after signing
    ],
)
async def test_usersig_rejections_over_http(client: RawClient, usersig: str, code: int) -> None:
    assert await client.code("get_official_account_info", {}, usersig=usersig) == code


async def test_missing_usersig(client: RawClient) -> None:
    assert await client.code("get_official_account_info", {}, usersig=None) == 70002


async def test_identifier_checked_against_admins_before_usersig(client: RawClient) -> None:
    # A non-admin identifier is refused (60010) even with a UserSig minted for it.
    sig = mint_usersig("bob")
    assert (
        await client.code("get_official_account_info", {}, identifier="bob", usersig=sig) == 60010
    )


async def test_no_not_before_check(client: RawClient) -> None:
    # Signatures from the future are accepted, like the official verifiers do.
    sig = mint_usersig(time=T0 + 10_000)
    assert (
        await client.code(
            "get_subscribed_official_account_list", {"Subscriber_Account": "u"}, usersig=sig
        )
        == 0
    )


async def test_expiry_follows_the_injected_clock(emulator: Emulator, client: RawClient) -> None:
    body = {"Subscriber_Account": "u"}
    assert await client.code("get_subscribed_official_account_list", body) == 0
    emulator.advance(86400)
    assert await client.code("get_subscribed_official_account_list", body) == 0
    emulator.advance(1)
    assert await client.code("get_subscribed_official_account_list", body) == 70001


def test_verifier_repr_hides_key() -> None:
    assert DEFAULT_SECRET_KEY not in repr(UserSigVerifier(DEFAULT_SECRET_KEY))
    assert DEFAULT_SECRET_KEY not in repr(Emulator())
