"""Shared helpers of the observability tests: a recording observer and answers for respx."""

from __future__ import annotations

import json
from typing import Any

import httpx

import tim_oa
from tim_oa import observers as o

from ..conftest import ok

SVC = "/v4/official_account_open_http_svc/"
SECRET_SIG = "eJyrVgrxCdYrSy1SslIyUqoFAD-SECRET-USERSIG-0123456789"


class Recorder(tim_oa.Observer):
    """Keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[Any] = []


for _name in [n for n in vars(tim_oa.Observer) if not n.startswith("_")]:

    def _record(self: Recorder, event: Any) -> None:
        self.events.append(event)

    setattr(Recorder, _name, _record)


def kinds(recorder: Recorder) -> list[str]:
    return [type(e).__name__ for e in recorder.events]


def of(recorder: Recorder, kind: type[Any]) -> list[Any]:
    return [e for e in recorder.events if isinstance(e, kind)]


def add_answer(request: httpx.Request) -> httpx.Response:
    """add_subscriber: every id 1 (subscribed), except ids starting with "old" (2)."""
    ids = [d["Subscriber_Account"] for d in json.loads(request.content)["SubscriberList"]]
    return ok(
        SubscriberList=[
            {"Subscriber_Account": u, "Result": 2 if u.startswith("old") else 1} for u in ids
        ]
    )


__all__ = ["SECRET_SIG", "SVC", "Recorder", "add_answer", "kinds", "o", "of"]
