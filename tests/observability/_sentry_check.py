"""Run by test_sentry.py in a subprocess (sentry-sdk patches httpx for the whole process).

Prints whether the UserSig appears in what Sentry would send (an event and a transaction), with
the session's own client or a caller's ``http_client``, with and without the scrubbing hooks that
docs/guide/tracing.md recommends. Arguments: ``own`` and/or ``scrub``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any

import httpx
import sentry_sdk
from sentry_sdk.integrations.httpx import HttpxIntegration
from sentry_sdk.transport import Transport

import tim_oa

SECRET_SIG = "eJyrVgrxCdYrSy1SslIyUqoFAD-SECRET-USERSIG-0123456789"

# --- the recipe of docs/guide/tracing.md ---------------------------------------------------------
_USERSIG = re.compile(r"(usersig=)[^&#\s]*", re.IGNORECASE)


def _scrub(data: Any) -> None:
    if isinstance(data, dict):
        for key in ("url", "http.query"):
            if isinstance(data.get(key), str):
                data[key] = _USERSIG.sub(r"\1REDACTED", data[key])


def scrub_breadcrumb(crumb: Any, hint: Any) -> Any:
    _scrub(crumb.get("data"))
    return crumb


def scrub_transaction(event: Any, hint: Any) -> Any:
    for span in event.get("spans", ()):
        _scrub(span.get("data"))
        if isinstance(span.get("description"), str):
            span["description"] = _USERSIG.sub(r"\1REDACTED", span["description"])
    return event


# --------------------------------------------------------------------------------------------------


class Capture(Transport):
    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.sent: list[str] = []

    def capture_envelope(self, envelope: Any) -> None:
        for item in envelope.items:
            self.sent.append(item.get_bytes().decode("utf-8", "replace"))


async def main(scrub: bool, own_client: bool) -> None:
    capture = Capture()
    hooks: dict[str, Any] = (
        {"before_breadcrumb": scrub_breadcrumb, "before_send_transaction": scrub_transaction}
        if scrub
        else {}
    )
    sentry_sdk.init(
        dsn="https://key@sentry.invalid/1",
        transport=capture,
        integrations=[HttpxIntegration()],
        default_integrations=False,
        traces_sample_rate=1.0,
        **hooks,
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})

    mock = httpx.MockTransport(answer)
    client = None if own_client else httpx.AsyncClient(transport=mock)
    async with tim_oa.Session(
        1400000000,
        "administrator",
        SECRET_SIG,
        base_url="https://api.test",
        **({"transport": mock} if own_client else {"http_client": client}),
    ) as oa:
        with sentry_sdk.start_transaction(name="job"):
            await oa.call("get_official_account_info", {})
        sentry_sdk.capture_message("something happened")
    sentry_sdk.flush()
    text = "\n".join(capture.sent)
    print(json.dumps({"sent": bool(text), "leaked": SECRET_SIG in text}))


if __name__ == "__main__":
    asyncio.run(main("scrub" in sys.argv[1:], "own" in sys.argv[1:]))
