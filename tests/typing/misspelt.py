"""Mistakes a type checker must report; check.py expects exactly the lines marked ``# error``."""

from __future__ import annotations

import tim_oa


async def main() -> None:
    async with tim_oa.Session(
        sdkappid=1400000000, identifier="administrator", usersig="sig", base_url="http://x"
    ) as oa:
        await oa.add_subscriber("@TOA#_news", ["107867"])  # error: no such method
        await oa.create_account("107867", "News", acount_id="@TOA#_news")  # error: keyword
        derived = oa.with_options(max_retries=0)
        await derived.send_mesage("@TOA#_news", "hi")  # error: no such method
        report = await oa.remove_subscribers("@TOA#_news", ["107867"])
        print(report.succeded)  # error: no such attribute


def sync_main() -> None:
    with tim_oa.SyncSession(1400000000, "administrator", "sig", base_url="http://x") as oa:
        oa.create_account("107867")  # error: missing argument
        oa.add_subscribers("@TOA#_news", ["107867"], concurency=4)  # error: keyword
        name: int = oa.create_account("107867", "News")  # error: a str, not an int
        print(name)
        for page in oa.subscribers("@TOA#_news"):
            print(page.next_cursor)  # error: items are Subscriber, not Page
    tim_oa.SyncSession(sdkappid="1400000000", identifier="a", usersig="s")  # error: sdkappid
