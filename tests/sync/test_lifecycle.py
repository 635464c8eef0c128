"""Fork, Ctrl-C, close() with calls in flight, and interpreter exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

import tim_oa
from tim_oa.testing import Emulator, Faults, serve

ROOT = Path(__file__).resolve().parents[2]
OWNER = "107867"


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture
def served(emulator: Emulator) -> Iterator[str]:
    with serve(emulator) as base_url:
        yield base_url


def wait_for(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # 3.12+: fork with threads running
def test_a_forked_child_builds_its_own_thread_and_pool(emulator: Emulator, served: str) -> None:
    signer = tim_oa.UserSigSigner(emulator.sdkappid, emulator.secret_key)
    oa = tim_oa.SyncSession(emulator.sdkappid, emulator.admins[0], signer, base_url=served)
    quick = oa.with_options(max_retries=0)
    parent_account = oa.create_account(OWNER, "Parent")  # the parent's loop thread runs
    parent_runner = oa._core.runner
    assert parent_runner is not None
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return into pytest
        status = 1
        try:
            signal.alarm(30)
            account = oa.create_account(OWNER, "Child")
            runner = oa._core.runner
            fresh = runner is not None and runner is not parent_runner and runner.thread.is_alive()
            derived_works = quick.get_accounts([account])[0].ok and quick.max_retries == 0
            pager_works = list(oa.subscribers(account)) == []
            status = 0 if fresh and derived_works and pager_works else 2
            oa.close()
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the forked child hung")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
    names = {record.name for record in emulator.accounts.values()}
    assert names == {"Parent", "Child"}
    # The parent's session was left alone and still works.
    assert oa._core.runner is parent_runner
    assert oa.get_accounts([parent_account])[0].ok
    oa.close()


def test_ctrl_c_cancels_the_call_in_the_loop_thread(emulator: Emulator) -> None:
    assert threading.current_thread() is threading.main_thread()
    emulator.faults = Faults(latency=30.0)
    oa = emulator.sync_session(max_concurrency=1, timeout=60)
    main = threading.main_thread().ident
    assert main is not None
    # Python's own Ctrl-C handler, whatever the process had (an xdist worker ignores SIGINT, and
    # an earlier test may have left its own handler).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            oa.get_accounts(["@TOA#_slow"])
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 20  # not the 30 s the answer would have taken
    # The call was cancelled in the loop thread: it gave back the session's only slot, so the
    # next call is not queued behind it.
    emulator.faults = None
    answer: list[object] = []
    thread = threading.Thread(target=lambda: answer.append(oa.get_accounts(["@TOA#_x"])))
    thread.start()
    thread.join(10)
    assert answer and not answer[0][0].ok  # type: ignore[index]
    wait_for(lambda: not oa._core.runner.pending)  # type: ignore[union-attr]
    oa.close()


def test_close_ends_calls_in_flight_with_session_closed_error(emulator: Emulator) -> None:
    emulator.faults = Faults(latency=30.0)
    oa = emulator.sync_session(timeout=60)
    account_id = "@TOA#_slow"
    errors: list[BaseException] = []

    def call() -> None:
        try:
            oa.get_accounts([account_id])
        except BaseException as exc:
            errors.append(exc)

    def walk() -> None:
        try:
            list(oa.subscribers(account_id))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=t) for t in (call, call, walk)]
    for thread in threads:
        thread.start()
    wait_for(lambda: oa._core.runner is not None and len(oa._core.runner.pending) == 3)
    started = time.monotonic()
    oa.close()
    for thread in threads:
        thread.join(10)
    assert time.monotonic() - started < 10
    assert len(errors) == 3
    assert all(isinstance(e, tim_oa.SessionClosedError) for e in errors), errors


EXIT_SCRIPT = """
import sys, threading
import tim_oa
from tim_oa.testing import Emulator, Faults

emulator = Emulator()
oa = emulator.sync_session(timeout=60)
account_id = oa.create_account("107867", "News")
oa.add_subscribers(account_id, ["u1", "u2"])
walk = iter(oa.subscribers(account_id, page_size=1))
next(walk)  # a walk left half-way


def slow_call():
    try:
        oa.get_accounts([account_id])
    except tim_oa.SessionClosedError:
        print("ended with SessionClosedError", file=sys.stderr, flush=True)


if sys.argv[1] == "in-flight":
    emulator.faults = Faults(latency=30.0)
    threading.Thread(target=slow_call, daemon=True).start()
    threading.Event().wait(0.3)
print("done", flush=True)
"""


@pytest.mark.parametrize("mode", ["idle", "in-flight"])
def test_interpreter_exit_with_an_unclosed_session_does_not_hang(mode: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert "Traceback" not in proc.stderr, proc.stderr
    assert time.monotonic() - started < 20  # the slow answer (30 s) is not waited for


def test_a_session_dropped_without_close_ends_its_thread(emulator: Emulator) -> None:
    import gc

    oa = emulator.sync_session()
    oa.create_account(OWNER, "News")
    runner = oa._core.runner
    assert runner is not None and runner.thread.is_alive()
    del oa
    gc.collect()
    runner.thread.join(10)
    assert not runner.thread.is_alive()
