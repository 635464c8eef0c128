"""The producer of the fleet recipe: queue a large id file as chunk jobs, and report on a job.

    python producer.py enqueue JOB IDS_FILE --account ACCOUNT_ID
    python producer.py status JOB IDS_FILE [--failed-ids FILE]

``enqueue`` queues one arq job per chunk of 100 ids that still has an id without a final outcome
("succeeded" or "unchanged"), with only those ids. Run it again after a crash, or after a run with
failures: confirmed ids are never sent again, and a chunk already waiting or running is not queued
twice. ``status`` counts the outcomes, writes the ids still to do to ``--failed-ids`` if given, and
exits 0 only when every id of the file is confirmed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import redis.asyncio
from arq import create_pool
from common import CONFIRMED, arq_job_id, outcomes_key, read_chunks, redis_settings, redis_url


async def enqueue(job: str, ids_file: Path, account_id: str) -> None:
    """Queue a job for each chunk that still has ids without a final outcome."""
    pool = await create_pool(redis_settings())
    key = outcomes_key(job)
    queued = already = confirmed = 0
    try:
        for index, ids in read_chunks(ids_file):
            # redis-py annotates its commands for its sync and async clients at once.
            known = await pool.hmget(key, ids)  # type: ignore[misc]
            todo = [i for i, outcome in zip(ids, known, strict=True) if outcome not in CONFIRMED]
            confirmed += len(ids) - len(todo)
            if not todo:
                continue
            queued_job = await pool.enqueue_job(
                "add_chunk", job, index, account_id, todo, _job_id=arq_job_id(job, index)
            )
            if queued_job is None:
                already += 1  # waiting or running already (for example after a crashed worker)
            else:
                queued += 1
    finally:
        await pool.aclose()
    print(f"{job}: {queued} chunks queued, {already} already queued, {confirmed} ids confirmed")


async def status(job: str, ids_file: Path) -> tuple[dict[str, int], list[str]]:
    """Count the outcomes of a job's ids; return the counts and the ids still to do."""
    client = redis.asyncio.Redis.from_url(redis_url())
    key = outcomes_key(job)
    counts: dict[str, int] = {}
    todo: list[str] = []
    try:
        for _, ids in read_chunks(ids_file):
            for user_id, outcome in zip(ids, await client.hmget(key, ids), strict=True):
                label = "pending" if outcome is None else outcome.decode().split(":")[0]
                counts[label] = counts.get(label, 0) + 1
                if outcome not in CONFIRMED:
                    todo.append(user_id)
    finally:
        await client.aclose()
    return counts, todo


def main() -> int:
    """Run one command; the exit status is 0 unless ``status`` finds ids still to do."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    put = commands.add_parser("enqueue", help="queue the chunks that still have ids to add")
    put.add_argument("job")
    put.add_argument("ids_file", type=Path)
    put.add_argument("--account", required=True)
    show = commands.add_parser("status", help="count the outcomes of a job")
    show.add_argument("job")
    show.add_argument("ids_file", type=Path)
    show.add_argument("--failed-ids", type=Path)
    args = parser.parse_args()
    if args.command == "enqueue":
        asyncio.run(enqueue(args.job, args.ids_file, args.account))
        return 0
    counts, todo = asyncio.run(status(args.job, args.ids_file))
    print(f"{args.job}: " + ", ".join(f"{n} {label}" for label, n in sorted(counts.items())))
    if args.failed_ids is not None:
        args.failed_ids.write_text("".join(f"{i}\n" for i in todo), encoding="utf-8")
    return 0 if not todo else 1


if __name__ == "__main__":
    sys.exit(main())
