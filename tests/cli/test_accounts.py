"""``tim-oa accounts`` against an emulator served on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tim_oa.cli import _accounts

from .conftest import Served, assert_no_secrets, one_line_error
from .helpers import create_account, records, resume_value

pytestmark = pytest.mark.loopback


def test_create_modify_get_destroy(run: Any, served: Served) -> None:
    account = create_account(run, introduction="hello", max_subscribers="50")
    assert account.startswith("@TOA#_")

    modified = run("accounts", "modify", account, "--name", "Renamed", "--organization", "ACME")
    assert modified.exit_code == 0, modified.stderr
    assert records(modified) == [
        {"official_account": account, "status": "modified", "fields": ["name", "organization"]}
    ]

    got = run("accounts", "get", "--id", account)
    assert got.exit_code == 0, got.stderr
    (profile,) = records(got)
    assert profile["name"] == "Renamed"
    assert profile["organization"] == "ACME"
    assert profile["introduction"] == "hello"
    assert profile["max_subscriber_num"] is None  # not among the documented answer fields
    assert served.emulator.account(account).max_subscribers == 50
    assert profile["status"] == "found"
    assert "accounts get: 1 id: 1 found, 0 failed" in got.stderr

    destroyed = run("accounts", "destroy", account, "--yes")
    assert destroyed.exit_code == 0, destroyed.stderr
    assert records(destroyed) == [{"official_account": account, "status": "destroyed"}]
    assert account not in served.emulator.accounts


def test_custom_account_id(run: Any) -> None:
    result = run("accounts", "create", "owner-1", "Custom", "--account-id", "@TOA#_cli_custom")
    assert result.exit_code == 0, result.stderr
    assert records(result)[0]["official_account"] == "@TOA#_cli_custom"


def test_destroy_asks_for_confirmation_on_a_terminal(
    run: Any, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_accounts, "stdin_is_terminal", lambda: True)
    account = create_account(run)
    declined = run("accounts", "destroy", account, input="n\n")
    assert declined.exit_code == 1
    assert account in served.emulator.accounts
    accepted = run("accounts", "destroy", account, input="y\n")
    assert accepted.exit_code == 0
    assert account not in served.emulator.accounts


def test_get_reports_missing_accounts_and_writes_failed_ids(run: Any, tmp_path: Any) -> None:
    account = create_account(run)
    ids = tmp_path / "ids.csv"
    ids.write_text(f"account,note\n{account},real\n@TOA#_missing,gone\n")
    failed = tmp_path / "failed.txt"
    result = run("accounts", "get", str(ids), "--column", "account", "--failed-ids", str(failed))
    assert result.exit_code == 1
    found, missing = records(result)
    assert (found["official_account"], found["status"]) == (account, "found")
    assert (missing["official_account"], missing["status"]) == ("@TOA#_missing", "failed")
    assert missing["error_code"] == 130004
    assert failed.read_text() == "@TOA#_missing\n"


def test_get_field_filter(run: Any) -> None:
    account = create_account(run)
    result = run("accounts", "get", "--id", account, "--fields", "name")
    assert result.exit_code == 0, result.stderr
    (profile,) = records(result)
    assert profile["name"].startswith("Account ")
    assert profile["subscriber_num"] is None


def test_modify_without_fields_is_a_usage_error(run: Any) -> None:
    result = run("accounts", "modify", "@TOA#_whatever")
    assert result.exit_code == 2
    assert "at least one field" in one_line_error(result)


def test_destroying_an_unknown_account_is_one_clean_error(run: Any) -> None:
    result = run("accounts", "destroy", "@TOA#_never_created", "--yes")
    assert result.exit_code == 1
    line = one_line_error(result)
    assert line.startswith("error: AccountNotFoundError:")
    assert "130004" in line
    assert result.stdout == ""
    assert_no_secrets(result)


def test_subscribed_pages_and_resumes_by_offset(run: Any) -> None:
    accounts = [create_account(run) for _ in range(5)]
    for account in accounts:
        assert run("subscribers", "add", account, "--id", "fan-1").exit_code == 0

    everything = run("accounts", "subscribed", "fan-1", "--page-size", "2")
    assert everything.exit_code == 0, everything.stderr
    assert sorted(r["official_account"] for r in records(everything)) == sorted(accounts)
    assert "5 items in 3 pages" in everything.stderr
    assert all(r["self_info"]["subscribe_time"] for r in records(everything))

    first = run("accounts", "subscribed", "fan-1", "--page-size", "2", "--max-items", "3")
    assert first.exit_code == 0
    assert len(records(first)) == 3
    offset = resume_value(first, "--offset")
    rest = run("accounts", "subscribed", "fan-1", "--offset", offset)
    assert rest.exit_code == 0
    ids = [r["official_account"] for r in records(first) + records(rest)]
    assert sorted(ids) == sorted(accounts)
    assert "resume with" not in rest.stderr


def test_destroy_without_a_terminal_or_yes_refuses(run: Any, served: Served) -> None:
    account = create_account(run)
    result = run("accounts", "destroy", account, input="y\n")  # piped: not a terminal
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "not a terminal" in line and "--yes" in line
    assert account in served.emulator.accounts
    assert result.stdout == ""


def test_get_takes_one_account_id_as_its_argument(run: Any, tmp_path: Path) -> None:
    account = create_account(run)
    result = run("accounts", "get", account)
    assert result.exit_code == 0, result.stderr
    [record] = records(result)
    assert record["official_account"] == account and record["status"] == "found"
    missing = run("accounts", "get", "@TOA#_no_such_account")
    assert missing.exit_code == 1 and records(missing)[0]["status"] == "failed"


def test_get_still_reads_a_file_named_like_an_account(
    run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = create_account(run)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "@TOA#_list").write_text(f"{account}\n", encoding="utf-8")
    result = run("accounts", "get", "@TOA#_list")
    assert result.exit_code == 0, result.stderr
    assert [r["official_account"] for r in records(result)] == [account]
