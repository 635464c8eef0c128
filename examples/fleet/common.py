"""What the producer and the workers of the fleet recipe share: settings, key names, the session.

Settings come from the environment:

- ``FLEET_REDIS_URL``: the Redis of the job queue, the shared rate limit and the outcomes
  (default ``redis://127.0.0.1:6379/0``).
- ``TIM_OA_SDKAPPID``, ``TIM_OA_SECRET_KEY``, ``TIM_OA_IDENTIFIER`` (default ``administrator``),
  and ``TIM_OA_REGION`` (e.g. ``singapore``) or ``TIM_OA_BASE_URL``: the app, as for the CLI.
- ``FLEET_WORKERS``: how many worker processes run (default 4). While Redis is unreachable each
  one paces itself alone at 1/FLEET_WORKERS of the rate limit.
- ``FLEET_RATE``: calls per second for the whole fleet (default 200, the API's limit; lower it to
  leave room for other jobs of the same app).
- ``FLEET_MAX_JOBS`` (default 10) and ``FLEET_JOB_TIMEOUT`` (seconds, default 30): arq's
  ``max_jobs`` and ``job_timeout``. A job whose worker died is run again by another worker after
  ``job_timeout + 10`` seconds (arq's rule), so the timeout is kept near what a chunk can take:
  a chunk is one call, whose retries stop after ``RETRY_DEADLINE`` (20 s), which leaves 10 s for
  the shared limiter's wait and the Redis writes. A killed worker's chunks so wait 40 s, not
  arq's default 310 s. Raise both together if your calls need longer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import redis.asyncio
from arq.connections import RedisSettings

import tim_oa
from tim_oa.limiters import RedisLimiter

CHUNK = 100
"""Ids per job: one ``add_subscriber`` call (the API's maximum per call)."""

CONFIRMED = frozenset({b"succeeded", b"unchanged"})
"""Outcomes that are final: an id with one of these is never sent again."""

RETRY_DEADLINE = 20.0
"""Seconds a chunk's call may spend retrying (the session's ``retry_deadline``)."""

JOB_TIMEOUT = float(os.environ.get("FLEET_JOB_TIMEOUT", "30"))
"""arq's ``job_timeout``: a killed worker's chunk runs again ``JOB_TIMEOUT + 10`` s later."""


def redis_url() -> str:
    """The Redis of the queue, the limiter and the outcomes."""
    return os.environ.get("FLEET_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_settings() -> RedisSettings:
    """The same Redis, as arq's settings."""
    return RedisSettings.from_dsn(redis_url())


def outcomes_key(job: str) -> str:
    """The hash of a job's outcomes: user id -> ``succeeded`` / ``unchanged`` / ``failed:...``."""
    return f"fleet:{job}:outcomes"


def arq_job_id(job: str, index: int) -> str:
    """The arq job id of one chunk.

    arq does not queue a second job of the same id while one waits or runs, so running the
    producer twice never runs a chunk twice at the same time.
    """
    return f"fleet:{job}:chunk:{index}"


def read_chunks(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(index, ids) for each chunk of ``CHUNK`` ids of an id file (one id a line), streamed."""
    chunk: list[str] = []
    index = 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            user_id = line.strip()
            if not user_id:
                continue
            chunk.append(user_id)
            if len(chunk) == CHUNK:
                yield index, chunk
                index, chunk = index + 1, []
    if chunk:
        yield index, chunk


def make_session(client: redis.asyncio.Redis) -> tim_oa.Session:
    """A session of this worker, paced by the limiter every worker shares through ``client``."""
    env = os.environ
    sdkappid = int(env["TIM_OA_SDKAPPID"])
    workers = int(env.get("FLEET_WORKERS", "4"))
    rate = float(env.get("FLEET_RATE", "200"))
    limiter = RedisLimiter(client, rate=rate, fallback_share=1 / workers)
    target: dict[str, object] = (
        {"base_url": env["TIM_OA_BASE_URL"]}
        if env.get("TIM_OA_BASE_URL")
        else {"region": tim_oa.Region[env["TIM_OA_REGION"].upper()]}
    )
    return tim_oa.Session(
        sdkappid,
        env.get("TIM_OA_IDENTIFIER", "administrator"),
        tim_oa.UserSigSigner(sdkappid, env["TIM_OA_SECRET_KEY"]),
        limiter=limiter,
        retry_deadline=min(RETRY_DEADLINE, JOB_TIMEOUT),
        **target,  # type: ignore[arg-type]
    )
