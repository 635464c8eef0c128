"""A bulk job starts its workers as requests leave, not all at once (``tim_oa._tasks.Crew``).

Before the first answer the session's in-flight bound is its ceiling (hundreds or thousands at
the paid tiers); starting that many workers up front cost tens of milliseconds of CPU before the
first request, most of them only to queue at the limiter (issue 22).
"""

from __future__ import annotations

import asyncio
import json

import httpx

import tim_oa
from tim_oa._tasks import Crew

ACCOUNT = "@TOA#_news"


def test_a_crew_starts_its_spare_then_one_per_request_that_leaves() -> None:
    started: list[int] = []
    crew = Crew(spare=3)
    assert crew.begin(10, lambda: started.append(1)) == 3
    tickets = [crew.ticket() for _ in range(3)]
    assert not started
    tickets[0]()  # a request left: 2 workers not sending, fewer than the spare: one more
    assert len(started) == 1 and crew.started == 4 and crew.sending == 1
    tickets[0]()  # used once only
    assert len(started) == 1
    tickets[0].close()  # its worker is free again: nothing to start
    assert crew.sending == 0 and len(started) == 1
    tickets[1].close()  # a chunk that never sent changes nothing
    assert crew.sending == 0 and len(started) == 1
    # Requests leaving and finishing one at a time never grow the crew past the spare + 1.
    for _ in range(20):
        ticket = crew.ticket()
        ticket()
        ticket.close()
    assert crew.started == 4
    # Requests that stay in flight do, up to the cap.
    for _ in range(20):
        crew.ticket()()
    assert crew.started == 10


def test_a_small_cap_starts_everything_at_once() -> None:
    crew = Crew(spare=8)
    assert crew.begin(5, lambda: None) == 5


async def test_a_bulk_job_keeps_about_in_flight_plus_spare_workers() -> None:
    seen: list[int] = []
    before = len(asyncio.all_tasks())

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(len(asyncio.all_tasks()) - before)
        ids = [s["Subscriber_Account"] for s in json.loads(request.content)["SubscriberList"]]
        items = [{"Subscriber_Account": i, "Result": 1} for i in ids]
        return httpx.Response(
            200, json={"ActionStatus": "OK", "ErrorCode": 0, "SubscriberList": items}
        )

    async with tim_oa.Session(
        1400000000,
        "admin",
        usersig="sig",
        base_url="https://api.test",
        transport=httpx.MockTransport(answer),
        rate_limit=1000,  # a ceiling of 2,500 in flight before the first answer
    ) as oa:
        assert oa.max_concurrency >= 100
        result = await oa.add_subscribers(ACCOUNT, [f"u{i}" for i in range(10_000)])
    assert result.ok and len(seen) == 100
    # Answers come at once, so about one request is in flight: the spare (8) and a few more
    # workers, not one per chunk (100).
    assert max(seen) < 20, max(seen)
