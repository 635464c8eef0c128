"""The fleet recipe (examples/fleet) end to end: real Redis, the emulator on loopback, 3 workers.

A producer queues 60 chunks of 100 ids; three worker processes add them with one shared rate
limit. One worker is killed mid-run, then the other two (the whole fleet crashed); the producer is
run again and three fresh workers finish the job. Every id ends confirmed, no id confirmed before
the re-run is sent after it, and the emulator never refused a call for rate.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import redis.asyncio

import tim_oa
from tim_oa.testing import Emulator, Faults, serve

from .server import RedisServer, project_root

FLEET = project_root() / "examples" / "fleet"
IDS = [f"user-{i:05d}" for i in range(6_000)]
RATE_LIMITED = 60007


def _has_session_limiter() -> bool:
    try:
        from tim_oa.limiters import RedisLimiter  # noqa: F401
    except ImportError:
        return False
    return "limiter" in inspect.signature(tim_oa.Session).parameters


pytestmark = pytest.mark.skipif(
    not _has_session_limiter(),
    reason="needs tim_oa.limiters.RedisLimiter (re-exported from tim_oa._redis_limiter at merge)",
)


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(faults=Faults(latency=0.05), request_log_size=None)
    with serve(emulator) as base_url:
        yield emulator, base_url


def _env(redis_server: RedisServer, emulator: Emulator, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "FLEET_REDIS_URL": redis_server.url,
        "TIM_OA_SDKAPPID": str(emulator.sdkappid),
        "TIM_OA_SECRET_KEY": emulator.secret_key,
        "TIM_OA_BASE_URL": base_url,
        "FLEET_WORKERS": "3",
        "FLEET_MAX_JOBS": "2",
        "FLEET_JOB_TIMEOUT": "2",
        # 10 calls/s: the 60 calls take ~6 s, so the kills land mid-run.
        "FLEET_RATE": "10",
    }


def _producer(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FLEET / "producer.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _workers(env: dict[str, str], n: int, logs: Path) -> list[subprocess.Popen[bytes]]:
    workers = []
    for _ in range(n):
        with (logs / f"worker-{len(list(logs.iterdir()))}.log").open("wb") as log:
            workers.append(
                subprocess.Popen(
                    [sys.executable, str(FLEET / "worker.py")],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
    return workers


def _confirmed(client: redis.Redis, job: str) -> dict[str, str]:
    # redis-py types a command's answer as "awaitable or not": the sync client's is not.
    outcomes = cast("dict[bytes, bytes]", client.hgetall(f"fleet:{job}:outcomes"))
    return {
        k.decode(): v.decode() for k, v in outcomes.items() if v in (b"succeeded", b"unchanged")
    }


def _wait_until(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_crashed_fleet_finishes_on_a_rerun_without_repeating_confirmed_ids(
    redis_server: RedisServer, served: tuple[Emulator, str], tmp_path: Path
) -> None:
    emulator, base_url = served
    account = emulator.call("create_official_account", {"Owner_Account": "o", "Name": "News"})
    account_id = account["OfficialAccountUserID"]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("".join(f"{i}\n" for i in IDS), encoding="utf-8")
    env = _env(redis_server, emulator, base_url)
    client = redis.Redis(port=redis_server.port)
    job = "launch"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        done = _producer(env, "enqueue", job, str(ids_file), "--account", account_id)
        assert done.returncode == 0, done.stderr
        assert "60 chunks queued" in done.stdout

        logs = tmp_path / "logs"
        logs.mkdir()
        workers = _workers(env, 3, logs)
        _wait_until(lambda: len(_confirmed(client, job)) >= 1_000, 30)
        workers[0].send_signal(signal.SIGKILL)  # one worker dies mid-run
        _wait_until(lambda: len(_confirmed(client, job)) >= 3_000, 30)
        for worker in workers[1:]:
            worker.send_signal(signal.SIGKILL)  # then the whole fleet
        for worker in workers:
            worker.wait(10)
        confirmed_before = _confirmed(client, job)
        assert len(confirmed_before) < len(IDS)
        rerun_started = emulator.clock()

        done = _producer(env, "enqueue", job, str(ids_file), "--account", account_id)
        assert done.returncode == 0, done.stderr
        assert f"{len(confirmed_before)} ids confirmed" in done.stdout
        workers = _workers(env, 3, logs)
        # Chunks held by the killed workers come back after arq's job_timeout + 10 s.
        _wait_until(lambda: len(_confirmed(client, job)) == len(IDS), 60)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(10)
        client.close()

    assert set(emulator.account(account_id).subscribers) == set(IDS)
    # Each worker logs a line per chunk it finished.
    progress = [
        line
        for log in sorted(logs.iterdir())
        for line in log.read_text(encoding="utf-8").splitlines()
        if "fleet: launch chunk " in line
    ]
    assert len(progress) >= 30, progress  # 60 chunks, less those of killed workers
    status = _producer(env, "status", job, str(ids_file))
    assert status.returncode == 0, status.stdout
    assert "pending" not in status.stdout and "failed" not in status.stdout
    requests = [r for r in emulator.requests if r.command == "add_subscriber"]
    assert not [r for r in requests if r.error_code == RATE_LIMITED]
    sent_after = {
        s["Subscriber_Account"]
        for r in requests
        if r.time >= rerun_started and r.body
        for s in r.body["SubscriberList"]
    }
    assert not sent_after & set(confirmed_before)  # confirmed ids are never sent again
    # Ids sent more than once are only those of chunks in flight when workers were killed.
    sends: dict[str, int] = {}
    for r in requests:
        for s in (r.body or {}).get("SubscriberList", []):
            sends[s["Subscriber_Account"]] = sends.get(s["Subscriber_Account"], 0) + 1
    assert sum(1 for n in sends.values() if n > 1) <= 3 * 2 * 100

    # A re-run of a finished job queues nothing.
    again = _producer(env, "enqueue", job, str(ids_file), "--account", account_id)
    assert "0 chunks queued" in again.stdout and f"{len(IDS)} ids confirmed" in again.stdout


def _load_worker() -> Any:
    # Loaded from its file under a name of its own: examples/worker.py is "worker" too.
    spec = importlib.util.spec_from_file_location("fleet_worker", FLEET / "worker.py")
    assert spec is not None and spec.loader is not None
    worker = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(FLEET))  # for the modules it imports beside it
    try:
        spec.loader.exec_module(worker)
    finally:
        sys.path.remove(str(FLEET))
    return worker


async def test_a_killed_workers_chunks_come_back_within_a_minute_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLEET_JOB_TIMEOUT", raising=False)
    monkeypatch.delitem(sys.modules, "common", raising=False)  # read the defaults afresh
    worker = _load_worker()
    timeout = worker.WorkerSettings.job_timeout
    assert timeout + 10 <= 60  # arq runs a dead worker's job again job_timeout + 10 s later
    monkeypatch.setenv("TIM_OA_SDKAPPID", "1400000000")
    monkeypatch.setenv("TIM_OA_SECRET_KEY", "test-key")
    monkeypatch.setenv("TIM_OA_BASE_URL", "http://127.0.0.1:1")
    client = redis.asyncio.Redis(port=1)  # never reached
    session = worker.make_session(client)
    try:
        # A chunk's retries stop before arq gives up on it.
        assert session.retry_deadline is not None and session.retry_deadline < timeout
    finally:
        await session.aclose()
        await client.aclose()


async def test_a_chunk_run_again_sends_only_its_unconfirmed_ids(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="fleet")
    # A worker killed after writing the outcomes but before arq marked the job done: the job runs
    # again, and must not send the ids it already confirmed.
    worker = _load_worker()
    emulator = Emulator()
    account = emulator.call("create_official_account", {"Owner_Account": "o", "Name": "News"})
    account_id = account["OfficialAccountUserID"]
    client = redis.asyncio.Redis(port=redis_server.port)
    ids = IDS[:100]
    await client.hset(  # type: ignore[misc]  # redis-py: "awaitable or not"
        "fleet:job:outcomes",
        mapping={**dict.fromkeys(ids[:40], "succeeded"), **dict.fromkeys(ids[40:50], "failed:0")},
    )
    try:
        async with emulator.session() as oa:
            counts = await worker.add_chunk({"redis": client, "oa": oa}, "job", 0, account_id, ids)
        outcomes = await client.hgetall("fleet:job:outcomes")  # type: ignore[misc]
    finally:
        await client.aclose()
    assert counts == {"skipped": 40, "succeeded": 60, "unchanged": 0, "failed": 0}
    progress = [r.getMessage() for r in caplog.records if r.name == "fleet"]
    assert progress == ["fleet: job chunk 0: 60 succeeded, 0 unchanged, 0 failed, 40 skipped"]
    [request] = [r for r in emulator.requests if r.command == "add_subscriber"]
    assert [s["Subscriber_Account"] for s in request.body["SubscriberList"]] == ids[40:]
    assert {v for k, v in outcomes.items() if k.decode() in ids} == {b"succeeded"}


async def test_the_guides_example_runs(redis_server: RedisServer) -> None:
    guide = project_root() / "docs" / "guide" / "many-workers.md"
    code = guide.read_text(encoding="utf-8").split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("redis://redis.internal:6379/0", redis_server.url)
    code = code.replace("region=region", "base_url=base_url")
    emulator = Emulator()
    account = emulator.call("create_official_account", {"Owner_Account": "o", "Name": "News"})
    with serve(emulator) as base_url:
        scope = {
            "sdkappid": emulator.sdkappid,
            "signer": tim_oa.UserSigSigner(emulator.sdkappid, emulator.secret_key),
            "base_url": base_url,
            "account_id": account["OfficialAccountUserID"],
            "user_ids": IDS[:250],
        }
        body = "".join(f"    {line}\n" for line in code.splitlines())
        exec(
            compile(
                f"async def _block():\n{body}\n    await client.aclose()\n",
                "many-workers.md",
                "exec",
            ),
            scope,
        )
        await scope["_block"]()
    assert emulator.account(account["OfficialAccountUserID"]).subscriber_num == 250
