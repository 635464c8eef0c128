"""Celery tasks that call the Official Account API through one module-level ``SyncSession``.

The session is made when Celery imports this module, in the worker's parent process, before the
prefork pool forks its children. Nothing is opened then: each child notices on its first call
that it is a new process and builds its own event-loop thread and connection pool, so the
children never share a socket. Every task of a child shares that child's pool and rate limiter.

Run it (``pip install tim-oa "celery>=5.3" redis``; the ``TIM_OA_*`` variables are in
``oa_env.py``)::

    export TIM_OA_SDKAPPID=1400000000 TIM_OA_SECRET_KEY=any-test-key
    tim-oa emulator serve --port 8080 &
    export TIM_OA_BASE_URL=http://127.0.0.1:8080
    export CELERY_BROKER_URL=redis://localhost:6379/0
    celery --workdir examples -A celery_app worker --pool=prefork -c 4

    # and from Python, in examples/:
    #   from celery_app import add_subscribers
    #   add_subscribers.delay("@TOA#_news", ["107867", "204511"])

``CELERY_BROKER_URL=filesystem://`` with ``CELERY_BROKER_FOLDER=/some/dir`` uses a folder as the
queue instead (no server; what the test does).

Each child's limiter paces only that child: with several children (or several machines), share
one limit through Redis (``tim_oa.limiters.RedisLimiter``, see "Running on many workers").
"""

from __future__ import annotations

import os

from celery import Celery

import tim_oa

from oa_env import sync_session_from_env

BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0")

app = Celery("celery_app", broker=BROKER_URL)
app.conf.task_acks_late = True  # a task a dying child held runs again (the calls are idempotent)
if BROKER_URL.startswith("filesystem://"):
    folder = os.environ["CELERY_BROKER_FOLDER"]
    app.conf.broker_transport_options = {
        "data_folder_in": folder,
        "data_folder_out": folder,
        "control_folder": os.path.join(folder, "control"),
    }

oa = sync_session_from_env()
"""The process's one session, made before the fork; each pool child opens its own pool."""

# Errors worth running the task again for later (the session has already retried them a few
# times): the API's rate limit, its transient errors, and the network.
TRANSIENT = (tim_oa.RateLimitedError, tim_oa.ServerError, tim_oa.TransportError)


@app.task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def add_subscribers(account_id: str, user_ids: list[str]) -> dict[str, list[str]]:
    """Subscribe ``user_ids`` to ``account_id``; the ids each outcome holds."""
    report = oa.add_subscribers(account_id, user_ids)
    return {"succeeded": report.succeeded, "unchanged": report.unchanged, "failed": report.failed}
