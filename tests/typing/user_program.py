"""A small program written the way a user writes one; type-checked strictly in CI (check.py).

Every ``assert_type`` pins a type users rely on: the session from ``async with`` and
``with_options``, pager items, batch outcomes and errors' attributes. Not collected by pytest.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

import tim_oa


async def main() -> None:
    signer = tim_oa.UserSigSigner(sdkappid=1400000000, secret_key="key")
    async with tim_oa.Session(
        sdkappid=1400000000,
        identifier="administrator",
        usersig=signer,
        base_url="http://127.0.0.1:8080",
    ) as oa:
        assert_type(oa, tim_oa.Session)
        quick = oa.with_options(max_retries=0)
        assert_type(quick, tim_oa.Session)

        account_id = await oa.create_account("107867", "News", account_id="@TOA#_news")
        assert_type(account_id, str)

        accounts = await oa.get_accounts([account_id])
        assert_type(accounts, list[tim_oa.OfficialAccount])
        assert_type(accounts[0].subscriber_num, int | None)
        assert_type(accounts[0].error, tim_oa.TimOAError | None)  # ApiError, or MissingResultError

        async for sub in oa.subscribers(account_id):
            assert_type(sub, tim_oa.Subscriber)
            assert_type(sub.user_id, str)
        async for acct in oa.subscribed_accounts("107867"):
            assert_type(acct, tim_oa.SubscribedAccount)
            assert_type(acct.self_info.subscribe_time, int | None)
        async for msg in oa.messages(account_id):
            assert_type(msg, tim_oa.Message)
        async for page in oa.subscribers(account_id).pages():
            assert_type(page, tim_oa.Page[tim_oa.Subscriber])
        everyone = await oa.subscribers(account_id).collect()
        assert_type(everyone, list[tim_oa.Subscriber])

        report = await oa.add_subscribers(account_id, ["107867", "204511"])
        assert_type(report, tim_oa.BatchResult)
        assert_type(report.succeeded, list[str])
        assert_type(report.failed, list[str])
        assert_type(report.ok, bool)
        outcome = report.outcomes["107867"]
        assert_type(outcome, tim_oa.Outcome)
        assert_type(outcome.status, tim_oa.Status)
        assert_type(outcome.code, int | None)
        assert_type(outcome.error, BaseException | None)

        sent = await oa.send_message(account_id, "Morning edition is out")
        assert_type(sent, tim_oa.SentMessage)
        assert_type(sent.msg_key, str)
        recalled = await oa.recall_messages(account_id, [sent.msg_key])
        assert_type(recalled, tim_oa.BatchResult)

        raw = await oa.call("get_official_account_info", {"OfficialAccountIdList": []})
        assert_type(raw, dict[str, Any])

    try:
        await oa.destroy_account(account_id)
    except tim_oa.ApiError as exc:
        assert_type(exc.code, int)
        assert_type(exc.info, str)
        assert_type(exc.command, str | None)
        assert_type(exc.request_id, str | None)
        assert_type(exc.attempts, int)
    except tim_oa.TransportError as exc:
        assert_type(exc.status_code, int | None)
        assert_type(exc.is_timeout, bool)
        assert_type(exc.request_sent, bool)
    except tim_oa.BatchError as exc:
        assert_type(exc.result, tim_oa.BatchResult)
    except tim_oa.ValidationError as exc:
        assert_type(exc.field, str | None)


def sync_main() -> None:
    """The same program with tim_oa.SyncSession: values, not coroutines."""
    with tim_oa.SyncSession(
        sdkappid=1400000000,
        identifier="administrator",
        usersig="sig",
        base_url="http://127.0.0.1:8080",
        max_retries=2,
    ) as oa:
        assert_type(oa, tim_oa.SyncSession)
        quick = oa.with_options(max_retries=0)
        assert_type(quick, tim_oa.SyncSession)
        assert_type(oa.closed, bool)
        assert_type(oa.sdkappid, int)
        assert_type(oa.max_concurrency, int)

        account_id = oa.create_account("107867", "News", account_id="@TOA#_news")
        assert_type(account_id, str)
        accounts = oa.get_accounts([account_id], fields=["name"])
        assert_type(accounts, list[tim_oa.OfficialAccount])

        pager = oa.subscribers(account_id, page_size=50)
        assert_type(pager, tim_oa.SyncPager[tim_oa.Subscriber])
        for sub in pager:
            assert_type(sub, tim_oa.Subscriber)
        for page in oa.subscribed_accounts("107867").pages():
            assert_type(page, tim_oa.Page[tim_oa.SubscribedAccount])
        history = oa.messages(account_id).collect(limit=10)
        assert_type(history, list[tim_oa.Message])

        def progress(done: tim_oa.BatchProgress) -> None:
            print(done.done, done.total)

        report = oa.add_subscribers(account_id, ["107867"], on_progress=progress)
        assert_type(report, tim_oa.BatchResult)
        sent = oa.send_message(account_id, "Morning edition is out", online_only=True)
        assert_type(sent, tim_oa.SentMessage)
        assert_type(oa.modify_subscriber(account_id, "107867", "vip"), None)
        raw = oa.call("get_official_account_info", {"OfficialAccountIdList": []})
        assert_type(raw, dict[str, Any])
    oa.close()
