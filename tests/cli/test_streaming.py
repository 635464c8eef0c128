"""Output that streams and stops well: closed pipes, exact resume points, flat memory."""

from __future__ import annotations

import fcntl
import io
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any, TextIO, cast

import pytest

import tim_oa
from tim_oa.cli import _listing
from tim_oa.cli._bulk import BulkJob
from tim_oa.cli._ids import read_ids
from tim_oa.cli._output import RecordWriter
from tim_oa.cli._progress import BatchBar

from .conftest import Served
from .helpers import create_account, records, resume_value
from .test_signals import CLI, child_env

pytestmark = pytest.mark.loopback

F_SETPIPE_SZ = 1031  # Linux: shrink a pipe's buffer, so a small output fills it


class ReaderGoneAfter(io.TextIOBase):
    """A stdout whose reader goes away after ``flushes`` successful flushes."""

    def __init__(self, real: Any, flushes: int) -> None:
        self.real = real
        self.left = flushes
        self.pending: list[str] = []
        self.gone = False

    def write(self, text: str) -> int:
        self.pending.append(text)
        return len(text)

    def flush(self) -> None:
        if not self.pending or self.gone:  # once gone, what is left drains into nothing
            self.pending.clear()
            return
        if self.left == 0:
            self.gone = True
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= 1
        self.real.write("".join(self.pending))
        self.pending.clear()
        self.real.flush()


def close_stdout_after(monkeypatch: pytest.MonkeyPatch, flushes: int) -> None:
    def writer(stream: Any, fmt: str = "jsonl") -> RecordWriter:
        return RecordWriter(cast(TextIO, ReaderGoneAfter(stream, flushes)), fmt)

    monkeypatch.setattr(_listing, "RecordWriter", writer)


def subscribe(run: Any, account: str, users: list[str]) -> None:
    assert run("subscribers", "add", account, "-", input="\n".join(users)).exit_code == 0


def test_subscribers_list_resumes_after_the_last_record_written(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = create_account(run)
    users = [f"pipe-{n:02d}" for n in range(23)]
    subscribe(run, account, users)

    with monkeypatch.context() as patch:
        close_stdout_after(patch, 7)  # mid-page: pages hold 5
        first = run("subscribers", "list", account, "--page-size", "5")
    assert first.exit_code == 0
    assert "Traceback" not in first.stderr
    assert "stdout was closed" in first.stderr
    written = [r["user_id"] for r in records(first)]
    assert written == users[:7]
    hint = first.stderr.split("resume with: ", 1)[1].split()
    assert "--skip" in hint

    rest = run("subscribers", "list", account, "--page-size", "5", *hint)
    assert rest.exit_code == 0, rest.stderr
    assert written + [r["user_id"] for r in records(rest)] == users  # no loss, no repeat


def test_history_resumes_after_the_last_record_written(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = create_account(run)
    for n in range(8):
        assert run("messages", "send", account, f"m{n}").exit_code == 0
    everything = [m["msg_key"] for m in records(run("messages", "history", account))]
    assert len(everything) == 8

    with monkeypatch.context() as patch:
        close_stdout_after(patch, 4)
        first = run("messages", "history", account, "--page-size", "3")
    assert first.exit_code == 0
    written = [m["msg_key"] for m in records(first)]
    assert written == everything[:4]
    hint = first.stderr.split("resume with: ", 1)[1].split()
    rest = run("messages", "history", account, "--page-size", "3", *hint)
    assert written + [m["msg_key"] for m in records(rest)] == everything


def test_subscribed_resumes_at_the_exact_offset(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = [create_account(run) for _ in range(5)]
    for account in accounts:
        subscribe(run, account, ["offset-fan"])
    with monkeypatch.context() as patch:
        close_stdout_after(patch, 3)
        first = run("accounts", "subscribed", "offset-fan", "--page-size", "2")
    assert first.exit_code == 0
    assert resume_value(first, "--offset") == "3"
    rest = run("accounts", "subscribed", "offset-fan", "--offset", "3")
    seen = [r["official_account"] for r in records(first) + records(rest)]
    assert sorted(seen) == sorted(accounts)


def test_skip_on_its_own_drops_items_from_the_start(run: Any) -> None:
    account = create_account(run)
    users = [f"skip-{n:02d}" for n in range(12)]
    subscribe(run, account, users)
    result = run("subscribers", "list", account, "--skip", "7", "--page-size", "5")
    assert [r["user_id"] for r in records(result)] == users[7:]
    capped = run("subscribers", "list", account, "--skip", "3", "--max-items", "4")
    assert [r["user_id"] for r in records(capped)] == users[3:7]


def small_pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)
    return read_end, write_end


def run_into(read_end: int, write_end: int, served: Served, *args: str) -> Any:
    proc = subprocess.Popen(
        [*CLI, *args],
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=child_env(served),
    )
    os.close(write_end)
    return proc


@pytest.mark.skipif(sys.platform != "linux", reason="F_SETPIPE_SZ is Linux's")
def test_head_1_ends_a_listing_quietly(run: Any, served: Served) -> None:
    account = create_account(run)
    subscribe(run, account, [f"head-{n:03d}" for n in range(300)])
    users = [r["user_id"] for r in records(run("subscribers", "list", account))]  # server order
    read_end, write_end = small_pipe()
    proc = run_into(read_end, write_end, served, "subscribers", "list", account)
    with os.fdopen(read_end, "rb") as reader:
        line = reader.readline()  # what `head -1` does: one line, then close the pipe
    _, stderr = proc.communicate(timeout=60)
    text = stderr.decode()
    assert proc.returncode == 0, text
    assert json.loads(line)["user_id"] == users[0]
    for noise in ("Traceback", "Exception ignored", "BrokenPipeError"):
        assert noise not in text
    assert "stdout was closed" in text
    hint = text.split("resume with: ", 1)[1].split()
    rest = [r["user_id"] for r in records(run("subscribers", "list", account, *hint))]
    assert rest == users[300 - len(rest) :]  # a tail of the listing: nothing written repeats
    assert 0 < len(rest) < 300


@pytest.mark.skipif(sys.platform != "linux", reason="F_SETPIPE_SZ is Linux's")
def test_a_closed_stdout_does_not_stop_a_bulk_job(run: Any, served: Served, tmp_path: Path) -> None:
    account = create_account(run)
    users = [f"bulk-pipe-{n:04d}" for n in range(1000)]
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(users))
    read_end, write_end = small_pipe()
    os.close(read_end)  # nobody reads at all
    proc = run_into(-1, write_end, served, "subscribers", "add", account, str(ids))
    _, stderr = proc.communicate(timeout=60)
    text = stderr.decode()
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "Exception ignored" not in text
    assert "1,000 succeeded" in text and "stdout closed" in text
    assert served.emulator.accounts[account].subscriber_num == 1000


@pytest.mark.skipif(sys.platform != "linux", reason="F_SETPIPE_SZ is Linux's")
def test_a_closed_stdout_after_a_single_call_is_quiet(run: Any, served: Served) -> None:
    read_end, write_end = small_pipe()
    os.close(read_end)
    proc = run_into(-1, write_end, served, "accounts", "create", "owner", "Quiet")
    _, stderr = proc.communicate(timeout=60)
    text = stderr.decode()
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "Exception ignored" not in text
    assert "created @TOA#_" in text


def outcome(user: str) -> tim_oa.Outcome:
    return tim_oa.Outcome(user, tim_oa.Status.SUCCEEDED, 1)


def progress(chunk: dict[str, tim_oa.Outcome], done: int, total: int) -> tim_oa.BatchProgress:
    return tim_oa.BatchProgress(
        done=done,
        total=total,
        succeeded=done,
        unchanged=0,
        failed=0,
        chunks_done=done // 100,
        chunks_total=total // 100,
        outcomes=chunk,
    )


class LineCounter(io.TextIOBase):
    """A stdout that counts the lines written to it and keeps none."""

    lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)


def test_a_bulk_job_keeps_nothing_per_id_in_memory() -> None:
    users = [f"mem-{n:06d}" for n in range(20_000)]
    chunks = [{u: outcome(u) for u in users[i : i + 100]} for i in range(0, len(users), 100)]
    out = LineCounter()
    with BulkJob(RecordWriter(cast(TextIO, out)), None, str, BatchBar("t", enabled=False)) as job:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for number, chunk in enumerate(chunks, 1):
                job(progress(chunk, number * 100, len(users)))
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert grown < 100_000, grown  # not even a pointer per id (20,000 ids)
        assert out.lines == len(users)
        assert job.counts[tim_oa.Status.SUCCEEDED] == len(users)
        assert job.settled_ids() == set(users)  # the log on disk has them all
        assert list(job.unsettled([*users[:5], "new-1", "new-2", "new-1"])) == ["new-1", "new-2"]


def test_records_are_written_as_each_chunk_finishes() -> None:
    users = [f"rec-{n:04d}" for n in range(300)]
    out = io.StringIO()
    with BulkJob(RecordWriter(cast(TextIO, out)), None, str, BatchBar("t", enabled=False)) as job:
        for start in range(0, 300, 100):
            job(progress({u: outcome(u) for u in users[start : start + 100]}, start + 100, 300))
            assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == users[
                : start + 100
            ]


def test_reading_ids_keeps_only_the_ids(tmp_path: Path) -> None:
    count = 100_000
    path = tmp_path / "ids.txt"
    path.write_text("# header comment\n" + "".join(f"user-{n:07d}\n" for n in range(count)))
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        ids = read_ids(str(path), io.BytesIO())
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert len(ids) == count
    assert ids.where(count - 1) == f"{path} line {count + 1}"
    # The ids themselves (~61 B each) and the list (8 B, with room to grow): no copy of the file,
    # no per-id line labels (the old reader peaked at 170 B per id, this one near 70).
    assert peak / count < 110, peak / count
