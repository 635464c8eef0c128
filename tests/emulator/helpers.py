"""Test-only helpers: a hand-rolled UserSig minter (reference §6.1) and a raw HTTP client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
import zlib
from typing import Any

import httpx

from tim_oa.testing import DEFAULT_SECRET_KEY, Emulator

SDKAPPID = 1400000000
ADMIN = "administrator"
T0 = 1_700_000_000
PATH = "/v4/official_account_open_http_svc/"


def mint_usersig(
    identifier: str = ADMIN,
    *,
    sdkappid: int = SDKAPPID,
    key: str = DEFAULT_SECRET_KEY,
    time: int = T0,
    expire: int = 86400,
    userbuf: bytes | None = None,
    sig: str | None = None,
) -> str:
    content = (
        f"TLS.identifier:{identifier}\nTLS.sdkappid:{sdkappid}\n"
        f"TLS.time:{time}\nTLS.expire:{expire}\n"
    )
    doc: dict[str, Any] = {
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdkappid,
        "TLS.expire": expire,
        "TLS.time": time,
    }
    if userbuf is not None:
        doc["TLS.userbuf"] = base64.b64encode(userbuf).decode()
        content += f"TLS.userbuf:{doc['TLS.userbuf']}\n"
    mac = hmac.new(key.encode(), content.encode(), hashlib.sha256).digest()
    doc["TLS.sig"] = sig if sig is not None else base64.b64encode(mac).decode()
    return pack(doc)


def pack(doc: Any) -> str:
    raw = base64.b64encode(zlib.compress(json.dumps(doc).encode())).decode()
    return raw.replace("+", "*").replace("/", "-").replace("=", "_")


class RawClient:
    """Builds Official Account requests by hand and sends them into the ASGI app."""

    def __init__(self, emulator: Emulator, **sig: Any) -> None:
        self.emulator = emulator
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=emulator.app), base_url="http://emu"
        )
        self.sig = sig
        self.random = 0

    def query(self, **overrides: str | None) -> dict[str, str]:
        self.random += 1
        query: dict[str, str | None] = {
            "sdkappid": str(SDKAPPID),
            "identifier": ADMIN,
            "usersig": mint_usersig(**self.sig),
            "random": str(self.random),
            "contenttype": "json",
        }
        query.update(overrides)
        return {k: v for k, v in query.items() if v is not None}

    def query_string(self, **overrides: str | None) -> str:
        return urllib.parse.urlencode(self.query(**overrides))

    async def post(
        self,
        command: str,
        body: Any = None,
        *,
        content: bytes | None = None,
        method: str = "POST",
        path: str | None = None,
        **query: str | None,
    ) -> httpx.Response:
        if content is None:
            content = json.dumps({} if body is None else body).encode()
        return await self.http.request(
            method, path or PATH + command, params=self.query(**query), content=content
        )

    async def envelope(self, command: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        response = await self.post(command, body, **kw)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        data: dict[str, Any] = response.json()
        assert data["ActionStatus"] == ("OK" if data["ErrorCode"] == 0 else "FAIL")
        assert isinstance(data["ErrorInfo"], str)
        assert data["RequestId"]
        return data

    async def ok(self, command: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        data = await self.envelope(command, body, **kw)
        assert data["ErrorCode"] == 0, data
        return data

    async def code(self, command: str, body: Any = None, **kw: Any) -> int:
        data = await self.envelope(command, body, **kw)
        code: int = data["ErrorCode"]
        return code

    async def create(self, name: str = "News", owner: str = "owner1", **fields: Any) -> str:
        data = await self.ok(
            "create_official_account", {"Owner_Account": owner, "Name": name, **fields}
        )
        account_id: str = data["OfficialAccountUserID"]
        return account_id

    async def aclose(self) -> None:
        await self.http.aclose()


def text(value: str = "hi") -> list[dict[str, Any]]:
    return [{"MsgType": "TIMTextElem", "MsgContent": {"Text": value}}]
