"""``tim-oa subscribers`` against an emulator served on loopback."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from .conftest import Served, assert_no_secrets, one_line_error
from .helpers import create_account, records, resume_value

pytestmark = pytest.mark.loopback


def test_add_from_a_file_then_list_everything(run: Any, tmp_path: Path, served: Served) -> None:
    account = create_account(run)
    users = [f"user-{n:04d}" for n in range(450)]
    ids = tmp_path / "users.txt"
    ids.write_text("# to subscribe\n" + "\n".join(users) + "\nuser-0000\n")

    added = run("subscribers", "add", account, str(ids), "--concurrency", "4")
    assert added.exit_code == 0, added.stderr
    outcomes = records(added)
    # One record per distinct id, written as its chunk finishes (so not quite in input order).
    assert sorted(o["id"] for o in outcomes) == users
    assert {(o["status"], o["code"]) for o in outcomes} == {("succeeded", 1)}
    assert "451 ids (450 distinct): 450 succeeded, 0 unchanged, 0 failed" in added.stderr
    assert served.emulator.accounts[account].subscriber_num == 450

    again = run("subscribers", "add", account, "--id", "user-0001", "--id", "new-user")
    assert [(o["id"], o["status"]) for o in records(again)] == [
        ("user-0001", "unchanged"),
        ("new-user", "succeeded"),
    ]

    listed = run("subscribers", "list", account)
    assert listed.exit_code == 0, listed.stderr
    # Subscription order is the order concurrent chunks reached the server: compare as sets.
    listed_ids = [r["user_id"] for r in records(listed)]
    assert sorted(listed_ids) == sorted([*users, "new-user"])
    assert "451 items in 3 pages" in listed.stderr


def test_list_stops_at_max_items_and_resumes_exactly(run: Any) -> None:
    account = create_account(run)
    users = [f"u{n:03d}" for n in range(25)]
    assert run("subscribers", "add", account, "-", input="\n".join(users)).exit_code == 0

    seen: list[str] = []
    args = ["subscribers", "list", account, "--page-size", "4", "--max-items", "10"]
    first = run(*args)
    assert first.exit_code == 0
    seen += [r["user_id"] for r in records(first)]
    assert len(seen) == 10
    cursor = resume_value(first, "--cursor")

    second = run(*args, "--cursor", cursor)
    seen += [r["user_id"] for r in records(second)]
    rest = run("subscribers", "list", account, "--cursor", resume_value(second, "--cursor"))
    seen += [r["user_id"] for r in records(rest)]
    assert seen == users  # nothing lost, nothing repeated
    assert "resume with" not in rest.stderr


def test_list_as_csv(run: Any) -> None:
    account = create_account(run)
    run("subscribers", "add", account, "--id", "a1", "--id", "a2")
    result = run("subscribers", "list", account, "--output", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["user_id"] for r in rows] == ["a1", "a2"]
    assert rows[0]["msg_flag"] == "AcceptAndNotify"


def test_remove_from_stdin_as_jsonl(run: Any, served: Served) -> None:
    account = create_account(run)
    run("subscribers", "add", account, "--id", "a1", "--id", "a2")
    stdin = '{"id": "a1", "status": "succeeded"}\n"never-subscribed"\n'
    result = run("subscribers", "remove", account, "-", "--format", "jsonl", input=stdin)
    assert result.exit_code == 0, result.stderr
    assert [(o["id"], o["status"]) for o in records(result)] == [
        ("a1", "succeeded"),
        ("never-subscribed", "unchanged"),
    ]
    assert served.emulator.accounts[account].subscriber_num == 1


def test_modify_sets_the_custom_string(run: Any) -> None:
    account = create_account(run)
    run("subscribers", "add", account, "--id", "vip")
    result = run("subscribers", "modify", account, "vip", '{"tier": "gold"}')
    assert result.exit_code == 0, result.stderr
    (listed,) = records(run("subscribers", "list", account))
    assert listed["custom_string"] == '{"tier": "gold"}'


def test_partial_failure_exits_1_and_failed_ids_rerun(run: Any, tmp_path: Path) -> None:
    account = create_account(run, max_subscribers="5")
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"p{n}\n" for n in range(8)))
    failed = tmp_path / "failed.txt"

    result = run("subscribers", "add", account, str(ids), "--failed-ids", str(failed))
    assert result.exit_code == 1
    statuses = {o["id"]: o["status"] for o in records(result)}
    assert list(statuses.values()).count("succeeded") == 5
    failed_ids = [i for i, s in statuses.items() if s == "failed"]
    assert failed.read_text().splitlines() == failed_ids
    assert "5 succeeded, 0 unchanged, 3 failed" in result.stderr

    assert run("accounts", "modify", account, "--max-subscribers", "100").exit_code == 0
    failed_again = tmp_path / "failed-again.txt"
    rerun = run("subscribers", "add", account, str(failed), "--failed-ids", str(failed_again))
    assert rerun.exit_code == 0, rerun.stderr
    assert [o["id"] for o in records(rerun)] == failed_ids
    assert failed_again.read_text() == ""


def test_unknown_account_fails_every_id_with_one_error_line(run: Any) -> None:
    result = run("subscribers", "add", "@TOA#_no_such", "--id", "a", "--id", "b")
    assert result.exit_code == 1
    assert {o["status"] for o in records(result)} == {"failed"}
    assert one_line_error(result).startswith("error: AccountNotFoundError:")
    assert_no_secrets(result)


def test_listing_an_unknown_account_is_one_clean_error(run: Any) -> None:
    result = run("subscribers", "list", "@TOA#_no_such")
    assert result.exit_code == 1
    assert one_line_error(result).startswith("error: AccountNotFoundError:")
    assert result.stdout == ""


def test_malformed_id_file_names_the_line(run: Any, tmp_path: Path) -> None:
    account = create_account(run)
    ids = tmp_path / "ids.jsonl"
    ids.write_text('"ok-1"\n"ok-2"\n{"id": oops}\n')
    result = run("subscribers", "add", account, str(ids))
    assert result.exit_code == 2
    line = one_line_error(result)
    assert f"{ids} line 3" in line and "not valid JSON" in line
    assert result.stdout == ""


def test_an_id_the_library_rejects_is_reported_by_line(run: Any, served: Served) -> None:
    account = create_account(run)
    result = run("subscribers", "add", account, "-", input="# ids\nfine\n\n" + "x" * 40 + "\n")
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "stdin line 4" in line and "32 bytes" in line
    assert served.emulator.accounts[account].subscriber_num == 0  # nothing was sent


def test_ids_need_a_source(run: Any) -> None:
    result = run("subscribers", "add", "@TOA#_x")
    assert result.exit_code == 2
    assert "give a FILE" in one_line_error(result)


def test_unwritable_failed_ids_path_fails_before_sending(
    run: Any, tmp_path: Path, served: Served
) -> None:
    account = create_account(run)
    target = tmp_path / "no" / "such" / "dir" / "failed.txt"
    result = run("subscribers", "add", account, "--id", "a", "--failed-ids", str(target))
    assert result.exit_code == 2
    assert "cannot write" in one_line_error(result)
    assert served.emulator.accounts[account].subscriber_num == 0


def test_ctrl_c_mid_job_writes_every_unconfirmed_id(
    run: Any, tmp_path: Path, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    from tim_oa.cli import _progress

    account = create_account(run)
    users = [f"int-{n:04d}" for n in range(1000)]
    failed = tmp_path / "failed.txt"
    original = _progress.BatchBar.__call__
    calls = 0

    def interrupt_after_three_chunks(self: Any, progress: Any) -> None:
        nonlocal calls
        original(self, progress)
        calls += 1
        if calls == 3:
            signal.raise_signal(signal.SIGINT)  # what a user's Ctrl-C delivers

    monkeypatch.setattr(_progress.BatchBar, "__call__", interrupt_after_three_chunks)
    result = run(
        "subscribers",
        "add",
        account,
        "-",
        "--concurrency",
        "1",
        "--failed-ids",
        str(failed),
        input="\n".join(users),
    )
    assert result.exit_code == 130
    pending = failed.read_text().split()
    subscribed = set(served.emulator.accounts[account].subscribers)
    assert len(subscribed) >= 300
    # Every id not subscribed is listed (an in-flight chunk may be listed too: not confirmed),
    # and none of the three confirmed chunks is.
    assert set(pending) >= set(users) - subscribed
    assert len(set(users) - subscribed) >= 600
    assert not set(pending) & set(users[:300])
    assert "interrupted" in result.stderr and "not confirmed" in result.stderr


def test_no_room_for_the_job_log_is_one_clean_error(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: Served
) -> None:
    import tempfile

    account = create_account(run)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    result = run("subscribers", "add", account, "--id", "a")
    assert result.exit_code == 2
    assert "cannot create a temporary file" in one_line_error(result)
    assert served.emulator.accounts[account].subscriber_num == 0
