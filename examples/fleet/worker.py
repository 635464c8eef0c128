"""A worker of the fleet recipe: runs chunk jobs from the arq queue.

Run as many as you like, on any number of machines: ``python worker.py`` (or
``arq worker.WorkerSettings``). Each job adds up to 100 subscribers with one shared rate limit and
writes every id's outcome to the job's Redis hash.
"""

from __future__ import annotations

import os
from typing import Any

from arq.worker import run_worker
from common import CONFIRMED, make_session, outcomes_key, redis_settings


async def add_chunk(
    ctx: dict[str, Any], job: str, index: int, account_id: str, ids: list[str]
) -> dict[str, int]:
    """Add the ids of one chunk that have no final outcome yet; record each id's outcome."""
    client = ctx["redis"]
    key = outcomes_key(job)
    known = await client.hmget(key, ids)
    todo = [
        user_id for user_id, outcome in zip(ids, known, strict=True) if outcome not in CONFIRMED
    ]
    if not todo:
        return {"skipped": len(ids)}
    report = await ctx["oa"].add_subscribers(account_id, todo)
    mapping = {}
    for user_id, outcome in report.outcomes.items():
        if outcome.ok:
            mapping[user_id] = outcome.status.value
        else:
            reason = outcome.code if outcome.code is not None else type(outcome.error).__name__
            mapping[user_id] = f"failed:{reason}"
    # One write for the chunk: an id is confirmed only once its outcome is stored here. A worker
    # killed before this line leaves the chunk's ids unconfirmed, and they are sent again
    # (adding a subscriber twice answers "unchanged", so that repeat is harmless).
    await client.hset(key, mapping=mapping)
    return {
        "skipped": len(ids) - len(todo),
        "succeeded": len(report.succeeded),
        "unchanged": len(report.unchanged),
        "failed": len(report.failed),
    }


async def startup(ctx: dict[str, Any]) -> None:
    """Open this worker's session."""
    # arq's connection is a redis.asyncio.Redis: the limiter shares its pool.
    ctx["oa"] = make_session(ctx["redis"])


async def shutdown(ctx: dict[str, Any]) -> None:
    """Close this worker's session."""
    await ctx["oa"].aclose()


class WorkerSettings:
    """arq's settings for the workers of the recipe."""

    functions = [add_chunk]  # noqa: RUF012 (arq reads these class attributes)
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    max_jobs = int(os.environ.get("FLEET_MAX_JOBS", "10"))
    job_timeout = float(os.environ.get("FLEET_JOB_TIMEOUT", "300"))
    keep_result = 0  # outcomes live in the job's hash; a finished chunk may be queued again
    max_tries = 5


if __name__ == "__main__":
    run_worker(WorkerSettings)  # type: ignore[arg-type]
