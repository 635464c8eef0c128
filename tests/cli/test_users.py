"""``tim-oa users`` (import, import-one, check, delete) and ``tim-oa webhooks ips``.

Against an emulator served on loopback that knows no user until one is imported, as a new app
on Tencent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tim_oa.testing import Emulator, serve

from .conftest import SDKAPPID, SECRET_KEY, Served, assert_no_secrets, one_line_error
from .helpers import records

pytestmark = pytest.mark.loopback


@pytest.fixture(scope="module")
def strict() -> Iterator[Served]:
    """An emulator where only the admin exists until the import commands add users."""
    emulator = Emulator(SDKAPPID, SECRET_KEY, rate_limit=None, known_users=())
    with serve(emulator) as base_url:
        yield Served(emulator, base_url)


@pytest.fixture
def users(run: Any, strict: Served) -> Any:
    """``users(*args)`` runs ``tim-oa users ...`` against the strict emulator."""

    def invoke(*args: str, input: str | None = None) -> Any:
        return run("users", *args, input=input, env=strict.env())

    return invoke


def test_import_from_a_file_then_check_and_create_an_account(
    users: Any, run: Any, strict: Served, tmp_path: Path
) -> None:
    names = [f"imp-{n:03d}" for n in range(250)]
    ids = tmp_path / "users.txt"
    ids.write_text("# new users\n" + "\n".join(names) + "\nimp-000\n")
    created = run("accounts", "create", "imp-000", "News", env=strict.env())
    assert created.exit_code == 1  # the owner is not imported yet
    assert "70107" in one_line_error(created)

    result = users("import", str(ids), "--concurrency", "3")
    assert result.exit_code == 0, result.stderr
    outcomes = records(result)
    assert sorted(o["id"] for o in outcomes) == names
    assert {(o["status"], o["code"]) for o in outcomes} == {("succeeded", 1)}
    # Import has no "unchanged" outcome: the summary leaves it out.
    assert "users import: 251 ids (250 distinct): 250 succeeded, 0 failed in " in result.stderr
    assert all(strict.emulator.is_imported(n) for n in names)

    checked = users("check", "--id", "imp-007", "--id", "stranger", "--id", "imp-249")
    assert checked.exit_code == 1  # one of them is not imported
    assert records(checked) == [
        {"id": "imp-007", "imported": True},
        {"id": "stranger", "imported": False},
        {"id": "imp-249", "imported": True},
    ]
    assert "3 ids: 2 imported, 1 not imported" in checked.stderr

    created = run("accounts", "create", "imp-000", "News", env=strict.env())
    assert created.exit_code == 0, created.stderr
    assert_no_secrets(result)


def test_check_writes_the_ids_not_imported_ready_for_import(
    users: Any, strict: Served, tmp_path: Path
) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("user_id,name\nchk-a,A\nchk-b,B\nchk-c,C\n")
    assert users("import", "--id", "chk-b").exit_code == 0
    missing = tmp_path / "missing.txt"

    checked = users("check", str(csv_file), "--column", "user_id", "--failed-ids", str(missing))
    assert checked.exit_code == 1
    assert [r["imported"] for r in records(checked)] == [False, True, False]
    assert missing.read_text().splitlines() == ["chk-a", "chk-c"]
    assert f"the ids not imported written to {missing}" in checked.stderr

    assert users("import", str(missing)).exit_code == 0
    again = users("check", str(csv_file), "--column", "user_id", "--output", "csv")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines() == ["id,imported", "chk-a,True", "chk-b,True", "chk-c,True"]


def test_import_one_with_a_profile_and_bad_input(users: Any, strict: Served) -> None:
    result = users("import-one", "solo", "--nick", "Solo", "--face-url", "https://e.test/s.png")
    assert result.exit_code == 0, result.stderr
    assert records(result) == [{"id": "solo", "status": "imported"}]
    assert strict.emulator.is_imported("solo")
    sent = strict.emulator.requests[-1]
    assert sent.body == {"UserID": "solo", "Nick": "Solo", "FaceUrl": "https://e.test/s.png"}

    too_long = users("import-one", "x" * 33)
    assert too_long.exit_code == 2
    assert "invalid input" in one_line_error(too_long)


def test_an_id_the_library_rejects_is_reported_by_line(users: Any, strict: Served) -> None:
    before = len(strict.emulator.requests)
    result = users("import", "-", input="ok-1\n\n" + "y" * 40 + "\n")
    assert result.exit_code == 2
    assert "stdin line 3" in one_line_error(result)
    assert len(strict.emulator.requests) == before  # nothing sent
    assert result.stdout == ""


def test_delete_needs_yes_without_a_terminal(users: Any, strict: Served) -> None:
    assert users("import", "--id", "del-a", "--id", "del-b").exit_code == 0
    refused = users("delete", "--id", "del-a")
    assert refused.exit_code == 2
    assert "--yes" in one_line_error(refused)
    assert strict.emulator.is_imported("del-a")

    result = users("delete", "-", "--yes", input="del-a\ndel-b\nnever-there\n")
    assert result.exit_code == 0, result.stderr
    assert sorted((o["id"], o["status"]) for o in records(result)) == [
        ("del-a", "succeeded"),
        ("del-b", "succeeded"),
        ("never-there", "unchanged"),  # 70107: nothing to delete
    ]
    assert "3 ids: 2 succeeded, 1 unchanged, 0 failed" in result.stderr
    assert not strict.emulator.is_imported("del-a")


def test_a_failed_chunk_fails_its_ids_and_keeps_them(
    users: Any, strict: Served, tmp_path: Path
) -> None:
    strict.emulator.fail_next("multiaccount_import", code=70402)
    failed = tmp_path / "failed.txt"
    result = users("import", "--id", "fail-a", "--id", "fail-b", "--failed-ids", str(failed))
    assert result.exit_code == 1
    assert {o["status"] for o in records(result)} == {"failed"}
    assert failed.read_text().splitlines() == ["fail-a", "fail-b"]
    assert one_line_error(result).startswith("error: InvalidRequestError:")

    rerun = users("import", str(failed))
    assert rerun.exit_code == 0, rerun.stderr


def test_webhooks_ips_lists_the_addresses(run: Any, served: Served) -> None:
    result = run("webhooks", "ips", "--receiver-outside-china")
    assert result.exit_code == 0, result.stderr
    addresses = [r["address"] for r in records(result)]
    assert addresses == ["192.0.2.0/25", "198.51.100.17", "203.0.113.64/26"]
    assert "webhooks ips: 3 addresses in " in result.stderr
    request = served.emulator.requests[-1]
    assert request.command == "GetIPList" and request.query["nettype"] == "6"

    plain = run("webhooks", "ips", "-o", "csv")
    assert plain.stdout.splitlines()[0] == "address"
    assert len(plain.stdout.splitlines()) == 4
    assert_no_secrets(result)


def test_help_of_the_new_commands(run: Any) -> None:
    for args in (["users"], ["users", "import"], ["users", "delete"], ["webhooks", "ips"]):
        result = run(*args, "--help")
        assert result.exit_code == 0
        assert_no_secrets(result)
    text = " ".join(run("users", "--help").stdout.split())
    for name in ("import", "import-one", "check", "delete"):
        assert f" {name} " in text
