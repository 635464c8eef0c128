"""An asyncio worker: a few tasks share one session and work through a stream of jobs.

Jobs are JSON lines, read from a file or stdin (``-``), one object each::

    {"op": "subscribe", "account": "@TOA#_news", "users": ["107867", "204511"]}
    {"op": "unsubscribe", "account": "@TOA#_news", "users": ["204511"]}
    {"op": "send", "account": "@TOA#_news", "text": "Morning edition is out"}

Jobs run side by side, in no set order (keep jobs that depend on each other in one job, or in
separate runs). Each job's result is a JSON line on stdout (``{"line": 3, "ok": true, ...}``),
as it finishes. A job that fails (after the session's own retries) is reported and the worker
carries on: one bad job never stops the others. The worker stops at the end of the input, or on
Ctrl-C / ``SIGTERM``: it then takes no new job, lets the running ones finish, prints the line to
resume from, and exits with 130 / 143.

One session serves every task: its rate limiter keeps all of them under the API's limits
together, and its sends to one account are spaced one second apart whichever task makes them.

Run it (the variables are in ``oa_env.py``)::

    python examples/job_worker.py jobs.jsonl --workers 8
    tail -f queue.jsonl | python examples/job_worker.py -
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

import anyio
from anyio.abc import ObjectReceiveStream

import tim_oa

from oa_env import ConfigError, session_from_env


async def run_job(oa: tim_oa.Session, job: dict[str, Any]) -> dict[str, Any]:
    """Do one job; the result is what gets printed (without the line number)."""
    op, account = job.get("op"), job.get("account")
    # Anything else in the job goes to tim_oa as it is: tim_oa checks it before sending.
    text: Any = job.get("text")
    users: Any = job.get("users")
    if not isinstance(account, str):
        raise ValueError("a job needs an 'account'")
    if op == "send":
        sent = await oa.send_message(account, text)
        return {"msg_key": sent.msg_key}
    if op in ("subscribe", "unsubscribe"):
        change = oa.add_subscribers if op == "subscribe" else oa.remove_subscribers
        report = await change(account, users)
        return {"succeeded": len(report.succeeded), "failed": report.failed}
    raise ValueError(f"unknown op {op!r}")


async def read_jobs(source: TextIO) -> AsyncIterator[tuple[int, dict[str, Any] | str]]:
    """Number the input's lines and parse each (a string stands for a line that is no job)."""
    number = 0
    while True:
        # In a thread, so a worker waiting on a pipe still stops at once on a signal.
        line = await anyio.to_thread.run_sync(source.readline, abandon_on_cancel=True)
        if not line:
            return
        number += 1
        if not line.strip():
            continue
        try:
            job = json.loads(line)
        except ValueError:
            yield number, "not JSON"
        else:
            yield number, job if isinstance(job, dict) else "not a JSON object"


async def work(
    oa: tim_oa.Session,
    jobs: ObjectReceiveStream[tuple[int, dict[str, Any] | str]],
    out: TextIO,
    counts: dict[str, int],
) -> None:
    """One worker task: take jobs until the stream ends, print each result."""
    async with jobs:
        async for number, job in jobs:
            record: dict[str, Any] = {"line": number}
            try:
                if isinstance(job, str):
                    raise ValueError(job)
                record.update(ok=True, **await run_job(oa, job))
            except (tim_oa.TimOAError, ValueError) as exc:
                # ValidationError is a ValueError too: a bad job, reported like the others.
                record.update(ok=False, error=type(exc).__name__, detail=str(exc))
            counts["ok" if record["ok"] else "failed"] += 1
            print(json.dumps(record), file=out, flush=True)


async def run(
    oa: tim_oa.Session, source: TextIO, out: TextIO, *, workers: int, stop: anyio.Event
) -> dict[str, int]:
    """Feed the input's jobs to ``workers`` tasks until it ends or ``stop`` is set.

    Returns the counts of jobs ``ok`` and ``failed``, and ``next_line``: the first line not
    run, so a stopped run can be resumed there (0 when the whole input ran).
    """
    counts = {"ok": 0, "failed": 0, "next_line": 0}
    # No buffer: a job is handed over only when a worker is free to run it, so every job
    # before the one being handed over when a stop comes is done.
    send, receive = anyio.create_memory_object_stream[tuple[int, dict[str, Any] | str]](0)
    async with anyio.create_task_group() as tasks:
        for _ in range(workers):
            tasks.start_soon(work, oa, receive.clone(), out, counts)
        receive.close()
        async with send:
            handed = 0
            with anyio.CancelScope() as reading:
                tasks.start_soon(_cancel_on, stop, reading)
                async for number, job in read_jobs(source):
                    await send.send((number, job))
                    handed = number
            if reading.cancelled_caught:
                counts["next_line"] = handed + 1
            stop.set()  # the input ended: let the watcher go
    return counts


async def _cancel_on(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(description="Run JSON-lines jobs with one shared session.")
    parser.add_argument("jobs", help="a file of JSON lines, or - for stdin")
    parser.add_argument("--workers", type=int, default=4, help="jobs run at once (default 4)")
    args = parser.parse_args(argv)
    try:
        oa = session_from_env()
        source = sys.stdin if args.jobs == "-" else open(args.jobs, encoding="utf-8")  # noqa: SIM115
    except (ConfigError, OSError) as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2
    try:
        return anyio.run(serve, oa, source, args.workers)
    finally:
        if source is not sys.stdin:
            source.close()


async def serve(oa: tim_oa.Session, source: TextIO, workers: int) -> int:
    """Run the jobs until the input ends or a signal comes; returns the exit status."""
    stop = anyio.Event()
    stopped_by: list[int] = []

    async def on_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                print("stopping: finishing the running jobs", file=sys.stderr)
                stopped_by.append(signum)
                stop.set()
                return

    async with oa, anyio.create_task_group() as tasks:
        tasks.start_soon(on_signals)
        counts = await run(oa, source, sys.stdout, workers=workers, stop=stop)
        tasks.cancel_scope.cancel()
    print(f"{counts['ok']} jobs done, {counts['failed']} failed", file=sys.stderr)
    if counts["next_line"]:
        print(f"stopped: resume from line {counts['next_line']}", file=sys.stderr)
    if stopped_by:
        return 128 + stopped_by[0]
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
