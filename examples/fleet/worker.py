"""A worker of the fleet recipe: runs chunk jobs from the arq queue.

Run as many as you like, on any number of machines: ``python worker.py`` (or
``arq worker.WorkerSettings``). Each job adds up to 100 subscribers with one shared rate limit and
writes every id's outcome to the job's Redis hash. Each finished chunk logs one line on stderr
(``fleet: launch chunk 12: 97 succeeded, 3 unchanged, 0 failed, 0 skipped``), after arq's own
lines for the job's start and end.
"""

from __future__ import annotations

import logging
import logging.config
import os
from typing import Any

from arq.logs import default_log_config
from arq.worker import run_worker
from common import CONFIRMED, JOB_TIMEOUT, make_session, outcomes_key, redis_settings

log = logging.getLogger("fleet")


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
        log.info("fleet: %s chunk %d: all %d ids confirmed already, skipped", job, index, len(ids))
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
    counts = {
        "skipped": len(ids) - len(todo),
        "succeeded": len(report.succeeded),
        "unchanged": len(report.unchanged),
        "failed": len(report.failed),
    }
    log.info(
        "fleet: %s chunk %d: %s",
        job,
        index,
        ", ".join(f"{n} {label}" for label, n in counts.items() if label != "skipped")
        + f", {counts['skipped']} skipped",
    )
    return counts


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
    job_timeout = JOB_TIMEOUT
    keep_result = 0  # outcomes live in the job's hash; a finished chunk may be queued again
    max_tries = 5


if __name__ == "__main__":
    # The progress lines above and arq's own (job started, finished, retried), on stderr.
    config = default_log_config(verbose=False)
    config["loggers"]["fleet"] = {"handlers": ["arq.standard"], "level": "INFO"}
    logging.config.dictConfig(config)
    run_worker(WorkerSettings)  # type: ignore[arg-type]
