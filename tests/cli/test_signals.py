"""Stopping bulk jobs and listings with real signals, and a --failed-ids file that is never lost.

The signal tests run ``tim-oa`` in a child process against an emulator that answers each request
after a short delay, read its stdout while the job runs (records stream as chunks finish), then
signal it. Every id must end up either confirmed on stdout or in the --failed-ids file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tim_oa.testing import Emulator, Faults, serve

from .conftest import ENV_VARS, NO_CONFIG_HOME, SDKAPPID, SECRET_KEY, Served, one_line_error
from .helpers import create_account, records

pytestmark = [
    pytest.mark.loopback,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

CLI = [sys.executable, "-c", "import tim_oa.cli; tim_oa.cli.main()"]
CHUNK = 100  # ids per add_subscriber call


@pytest.fixture(scope="module")
def slow() -> Iterator[Served]:
    """An emulator that takes 20 ms over each request, so a 5,000-id job lasts a second or more."""
    emulator = Emulator(
        SDKAPPID,
        SECRET_KEY,
        rate_limit=None,
        send_per_second=None,
        broadcasts_per_hour=None,
        faults=Faults(latency=0.02),
    )
    with serve(emulator) as base_url:
        yield Served(emulator, base_url)


def account_on(run: Any, served: Served, max_subscribers: int = 100_000) -> str:
    """A new account on ``served``'s emulator, created through the command line."""
    return create_account(
        lambda *args, **kw: run(*args, env=served.env(), **kw),
        max_subscribers=str(max_subscribers),
    )


def child_env(served: Served) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update({k: v for k, v in served.env().items() if v is not None})
    env["XDG_CONFIG_HOME"] = NO_CONFIG_HOME
    return env


def start(served: Served, *args: str, stdin: bytes | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [*CLI, "--timeout", "10", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(served),
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin or b"")
    proc.stdin.close()
    proc.stdin = None  # written whole: communicate() must not touch it again
    return proc


def read_records(proc: subprocess.Popen[bytes], count: int) -> list[dict[str, Any]]:
    """Read ``count`` records from the running child's stdout (they arrive as chunks finish)."""
    assert proc.stdout is not None
    got = []
    for _ in range(count):
        line = proc.stdout.readline()
        assert line, "the job ended before enough records arrived"
        got.append(json.loads(line))
    return got


def finish(proc: subprocess.Popen[bytes]) -> tuple[list[dict[str, Any]], str]:
    """The rest of stdout as records, and stderr, once the child has exited."""
    assert proc.stdout is not None and proc.stderr is not None
    with proc.stdout, proc.stderr:
        out = proc.stdout.read()  # through the buffer readline() filled (communicate() skips it)
        err = proc.stderr.read()
    proc.wait(timeout=60)
    return [json.loads(line) for line in out.splitlines()], err.decode()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_stops_a_bulk_job_and_keeps_every_unconfirmed_id(
    slow: Served, run: Any, tmp_path: Path, signum: int
) -> None:
    account = account_on(run, slow)
    users = [f"sig-{signum}-{n:05d}" for n in range(5000)]
    failed = tmp_path / "failed.txt"
    proc = start(
        slow,
        "subscribers",
        "add",
        account,
        "-",
        "--concurrency",
        "1",
        "--failed-ids",
        str(failed),
        stdin="\n".join(users).encode(),
    )
    seen = read_records(proc, 3 * CHUNK)  # three chunks have finished: the job is under way
    assert proc.poll() is None  # records arrive while the job still runs
    proc.send_signal(signum)
    rest, stderr = finish(proc)

    assert proc.returncode == 128 + signum
    assert "Traceback" not in stderr
    assert f"interrupted by {signal.Signals(signum).name}" in stderr
    confirmed = {r["id"] for r in seen + rest if r["status"] != "failed"}
    pending = failed.read_text().split()
    subscribed = set(slow.emulator.accounts[account].subscribers)
    assert len(confirmed) >= 3 * CHUNK
    assert len(pending) >= 1000  # stopped well before the end
    # Every id is either confirmed on stdout or listed in the file, never both, none lost.
    assert confirmed.isdisjoint(pending)
    assert confirmed | set(pending) == set(users)
    assert confirmed <= subscribed  # nothing reported done that the server did not do
    assert len(pending) == len(set(pending))
    assert sorted(os.listdir(tmp_path)) == ["failed.txt"]  # no temporary file left behind


def test_a_signal_stops_a_listing_at_an_exact_resume_point(slow: Served, run: Any) -> None:
    account = account_on(run, slow)
    users = [f"lst-{n:04d}" for n in range(400)]
    added = run("subscribers", "add", account, "-", input="\n".join(users), env=slow.env())
    assert added.exit_code == 0, added.stderr
    listed = run("subscribers", "list", account, env=slow.env())
    users = [r["user_id"] for r in records(listed)]  # the server's order
    assert len(users) == 400
    proc = start(slow, "subscribers", "list", account, "--page-size", "7")
    seen = read_records(proc, 20)
    proc.send_signal(signal.SIGINT)
    rest, stderr = finish(proc)
    assert proc.returncode == 130
    assert "Traceback" not in stderr and "interrupted by SIGINT" in stderr
    first = [r["user_id"] for r in seen + rest]
    assert 20 <= len(first) < 400, stderr

    hint = stderr.split("resume with: ", 1)[1].split()
    resumed = run("subscribers", "list", account, *hint, env=slow.env())
    assert resumed.exit_code == 0, resumed.stderr
    assert first + [r["user_id"] for r in records(resumed)] == users, (stderr, len(first))


def test_failed_ids_file_is_untouched_when_the_run_fails_before_sending(
    run: Any, bare_run: Any, tmp_path: Path, served: Served
) -> None:
    account = create_account(run)
    failed = tmp_path / "failed.txt"
    failed.write_text("keep-1\nkeep-2\n")
    bad_input = tmp_path / "bad.jsonl"
    bad_input.write_text('"ok"\n{"id": oops}\n')
    cases = [
        # bad input
        run("subscribers", "add", account, str(bad_input), "--failed-ids", str(failed)),
        # missing credentials, with the failed-ids file as the input
        bare_run("subscribers", "add", account, str(failed), "--failed-ids", str(failed)),
        # an account id the library refuses
        run("subscribers", "add", "not-an-account", str(failed), "--failed-ids", str(failed)),
        # an id the library refuses
        run("subscribers", "add", account, "--id", "x" * 40, "--failed-ids", str(failed)),
    ]
    for result in cases:
        assert result.exit_code == 2, result.stderr
        one_line_error(result)
        assert failed.read_text() == "keep-1\nkeep-2\n"
    assert sorted(os.listdir(tmp_path)) == ["bad.jsonl", "failed.txt"]
    assert served.emulator.accounts[account].subscriber_num == 0


def test_failed_ids_file_may_be_the_input_and_keeps_its_mode(
    run: Any, tmp_path: Path, served: Served
) -> None:
    account = create_account(run, max_subscribers="2")
    ids = tmp_path / "ids.txt"
    ids.write_text("a\nb\nc\nd\n")
    ids.chmod(0o640)
    result = run("subscribers", "add", account, str(ids), "--failed-ids", str(ids))
    assert result.exit_code == 1
    assert sorted(ids.read_text().split()) == ["c", "d"]  # the account holds 2
    assert ids.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["ids.txt"]


def test_a_new_failed_ids_file_gets_the_usual_mode(run: Any, tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    failed = tmp_path / "new.txt"
    result = run(
        "subscribers", "add", "@TOA#_nobody_here", "--id", "a", "--failed-ids", str(failed)
    )
    assert result.exit_code == 1
    assert failed.read_text() == "a\n"
    assert failed.stat().st_mode & 0o777 == 0o666 & ~umask
