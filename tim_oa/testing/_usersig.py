"""UserSig (TLS v2, HMAC-SHA256) verification, written independently of the client's signer.

The emulator checks a UserSig the way Tencent's official verifiers do, and maps each rejection to
the error code the reference gives it:

1. undo the URL-safe base64 alphabet, base64-decode, zlib-inflate, parse JSON → else 70003;
2. ``TLS.identifier`` equals the ``identifier`` query parameter → else 70013;
3. ``TLS.sdkappid`` equals the ``sdkappid`` query parameter → else 70014;
4. ``int(now) <= TLS.time + TLS.expire`` → else 70001 (there is no "not before" check). Whole
   seconds, as Tencent's Go and PHP verifiers compare them (reference §6.2): a UserSig is still
   valid during the whole second ``TLS.time + TLS.expire``;
5. the HMAC over the decoded fields matches ``TLS.sig`` → else 70009.

``TLS.ver`` is not checked, as in the official verifiers. A document missing one of the fields, or
carrying one with the wrong JSON type, counts as malformed (70003; INFERRED).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from .._codes import ErrorCode
from ._failure import Failure

# The URL-safe alphabet Tencent uses: '*' for '+', '-' for '/', '_' for '='.
_FROM_URL_SAFE = str.maketrans({"*": "+", "-": "/", "_": "="})
_CACHE_SIZE = 256


@dataclass(frozen=True)
class _Decoded:
    identifier: str
    sdkappid: int
    time: int
    expire: int
    signature_ok: bool


def _int_field(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Failure(
            ErrorCode.USERSIG_MALFORMED, f"UserSig field {name} missing or not an integer"
        )
    return value


def _str_field(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise Failure(ErrorCode.USERSIG_MALFORMED, f"UserSig field {name} missing or not a string")
    return value


def expected_signature(
    secret_key: str, identifier: str, sdkappid: int, time: int, expire: int, userbuf: str | None
) -> str:
    """Return the base64 HMAC-SHA256 that a UserSig with these fields must carry."""
    content = (
        f"TLS.identifier:{identifier}\n"
        f"TLS.sdkappid:{sdkappid}\n"
        f"TLS.time:{time}\n"
        f"TLS.expire:{expire}\n"
    )
    if userbuf is not None:
        content += f"TLS.userbuf:{userbuf}\n"
    digest = hmac.new(secret_key.encode("utf-8"), content.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def decode_usersig(usersig: str) -> dict[str, Any]:
    """Decode a UserSig into its JSON document, or raise a 70003 ``Failure``."""
    try:
        compressed = base64.b64decode(usersig.translate(_FROM_URL_SAFE), validate=True)
        document = json.loads(zlib.decompress(compressed).decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise Failure(ErrorCode.USERSIG_MALFORMED, "UserSig could not be decoded") from exc
    if not isinstance(document, dict):
        raise Failure(ErrorCode.USERSIG_MALFORMED, "UserSig is not a JSON object")
    return document


class UserSigVerifier:
    """Checks UserSigs against one app's secret key.

    Decoding and the HMAC check depend only on the UserSig text, so their outcome is cached per
    UserSig (clients reuse one for a long time); the identifier, app and expiry checks run on every
    request because they depend on the query and the clock.
    """

    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key
        self._cache: dict[str, _Decoded] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "UserSigVerifier(secret_key=<redacted>)"

    def _decode(self, usersig: str) -> _Decoded:
        with self._lock:
            cached = self._cache.get(usersig)
        if cached is not None:
            return cached
        doc = decode_usersig(usersig)
        identifier = _str_field(doc, "TLS.identifier")
        sdkappid = _int_field(doc, "TLS.sdkappid")
        issued = _int_field(doc, "TLS.time")
        expire = _int_field(doc, "TLS.expire")
        signature = _str_field(doc, "TLS.sig")
        userbuf = doc.get("TLS.userbuf")
        if userbuf is not None and not isinstance(userbuf, str):
            raise Failure(ErrorCode.USERSIG_MALFORMED, "UserSig field TLS.userbuf is not a string")
        expected = expected_signature(
            self._secret_key, identifier, sdkappid, issued, expire, userbuf
        )
        decoded = _Decoded(
            identifier=identifier,
            sdkappid=sdkappid,
            time=issued,
            expire=expire,
            signature_ok=hmac.compare_digest(expected.encode(), signature.encode()),
        )
        with self._lock:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[usersig] = decoded
        return decoded

    def verify(self, usersig: str, *, identifier: str, sdkappid: int, now: float) -> None:
        """Accept the UserSig or raise a ``Failure`` with the matching 700xx code."""
        decoded = self._decode(usersig)
        if decoded.identifier != identifier:
            raise Failure(
                ErrorCode.USERSIG_IDENTIFIER_MISMATCH,
                "identifier does not match the identifier the UserSig was issued for",
            )
        if decoded.sdkappid != sdkappid:
            raise Failure(
                ErrorCode.USERSIG_SDKAPPID_MISMATCH,
                "sdkappid does not match the sdkappid the UserSig was issued for",
            )
        if int(now) > decoded.time + decoded.expire:
            raise Failure(ErrorCode.USERSIG_EXPIRED, "UserSig expired")
        if not decoded.signature_ok:
            raise Failure(ErrorCode.USERSIG_MISMATCH, "UserSig signature check failed")
