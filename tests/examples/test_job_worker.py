"""examples/job_worker.py: jobs from JSON lines, run by tasks that share one session."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import anyio
import pytest

from tim_oa.testing import Emulator

import job_worker as worker


def test_the_worker_runs_every_job_and_reports_each(
    served: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with anyio.from_thread.start_blocking_portal() as portal:
        portal.call(create_account, served)
    jobs = tmp_path / "jobs.jsonl"
    lines = [
        {"op": "subscribe", "account": "@TOA#_news", "users": ["ann", "bob", "cy"]},
        {"op": "send", "account": "@TOA#_news", "text": "Morning edition"},
        {"op": "unsubscribe", "account": "@TOA#_news", "users": ["zed"]},
        {"op": "send", "account": "@TOA#_gone", "text": "Hello"},  # no such account
        {"op": "send", "account": "@TOA#_news", "text": ""},  # refused before sending
        {"op": "shout", "account": "@TOA#_news"},
    ]
    jobs.write_text(
        "\n".join([*(json.dumps(job) for job in lines), "", "not json"]) + "\n", encoding="utf-8"
    )
    assert worker.main([str(jobs), "--workers", "3"]) == 1  # some jobs failed

    out, err = capsys.readouterr()
    records = {record["line"]: record for record in map(json.loads, out.splitlines())}
    assert sorted(records) == [1, 2, 3, 4, 5, 6, 8]  # every job reported; the blank line skipped
    assert records[1] == {"line": 1, "ok": True, "succeeded": 3, "failed": []}
    assert records[2]["ok"]
    assert records[3] == {"line": 3, "ok": True, "succeeded": 0, "failed": []}  # not subscribed
    assert records[4]["error"] == "AccountNotFoundError"
    assert records[5]["error"] == "ValidationError"
    assert records[6]["detail"] == "unknown op 'shout'"
    assert records[8]["detail"] == "not JSON"
    assert "3 jobs done, 4 failed" in err
    account = served.account("@TOA#_news")
    assert sorted(account.subscribers) == ["ann", "bob", "cy"]
    assert [message.key for message in account.messages] == [records[2]["msg_key"]]


async def create_account(emulator: Emulator) -> None:
    async with emulator.session() as oa:
        await oa.create_account("ann", "News", account_id="@TOA#_news")


def test_settings_missing_from_the_environment_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TIM_OA_SDKAPPID", raising=False)
    assert worker.main(["-"]) == 2
    assert "TIM_OA_SDKAPPID" in capsys.readouterr().err


async def test_a_stop_takes_no_new_job_finishes_the_running_ones_and_says_where_to_resume(
    emulator: Emulator,
) -> None:
    read_end, write_end = os.pipe()
    source = os.fdopen(read_end, encoding="utf-8")
    two_results = anyio.Event()

    class Output(io.StringIO):
        def write(self, text: str) -> int:
            written = super().write(text)
            if self.getvalue().count("\n") >= 2:
                two_results.set()
            return written

    out = Output()
    stop = anyio.Event()
    job = json.dumps({"op": "subscribe", "account": "@TOA#_news", "users": ["ann"]})
    os.write(write_end, f"{job}\n{job}\n".encode())  # two jobs, then the pipe stays open
    waited_for_input = False

    async def stop_after_two_results() -> None:
        nonlocal waited_for_input
        await two_results.wait()
        stop.set()  # what SIGINT / SIGTERM do
        # The worker is now waiting for a third line that does not come: it must stop anyway,
        # not when the input next moves (which, here, it does only after 3 s).
        await anyio.sleep(3)
        waited_for_input = True
        os.write(write_end, b"\n")

    try:
        async with emulator.session() as oa, anyio.create_task_group() as tasks:
            await oa.create_account("ann", "News", account_id="@TOA#_news")
            tasks.start_soon(stop_after_two_results)
            counts = await worker.run(oa, source, out, workers=2, stop=stop)
            tasks.cancel_scope.cancel()
    finally:
        os.close(write_end)  # lets the abandoned reader thread finish
        source.close()
    assert not waited_for_input
    assert counts == {"ok": 2, "failed": 0, "next_line": 3}
    assert [json.loads(line)["line"] for line in out.getvalue().splitlines()] in ([1, 2], [2, 1])
