"""examples/bulk_subscribe.py: a CSV job whose re-runs skip the ids a checkpoint holds."""

from __future__ import annotations

from pathlib import Path

import anyio
import bulk_subscribe
import pytest

from tim_oa.testing import Emulator

USERS = [f"user{n:03}" for n in range(250)]


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.csv"
    rows = ["name,user_id", *(f"Name {user},{user}" for user in USERS), ", "]  # a blank id
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def account(served: Emulator) -> str:
    async def create() -> str:
        async with served.session() as oa:
            return await oa.create_account("owner", "News", account_id="@TOA#_news")

    return anyio.run(create)


def sent_ids(emulator: Emulator) -> list[str]:
    """The ids of every add_subscriber request the emulator answered, in order."""
    return [
        entry["Subscriber_Account"]
        for request in emulator.requests
        if request.command == "add_subscriber"
        for entry in request.body["SubscriberList"]
    ]


def test_a_rerun_sends_only_what_the_first_run_did_not_settle(
    served: Emulator, account: str, csv_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The first chunk is refused (130002 fails only its own chunk); the other two succeed.
    served.fail_next("add_subscriber", code=130002)
    args = [account, str(csv_file), "--concurrency", "1"]
    assert bulk_subscribe.main(args) == 1
    checkpoint = csv_file.with_name("users.csv.done")
    assert checkpoint.read_text(encoding="utf-8").splitlines() == USERS[100:]
    assert "150 subscribed, 0 already subscribed, 100 failed" in capsys.readouterr().err

    first_run = len(sent_ids(served))
    assert bulk_subscribe.main(args) == 0
    assert sent_ids(served)[first_run:] == USERS[:100]  # only the failed chunk, sent again
    assert sorted(served.account(account).subscribers) == USERS
    assert sorted(checkpoint.read_text(encoding="utf-8").splitlines()) == USERS

    before = len(sent_ids(served))
    assert bulk_subscribe.main(args) == 0  # nothing left to do
    assert len(sent_ids(served)) == before
    assert "250 ids settled earlier, 0 to send" in capsys.readouterr().err


def test_a_line_torn_by_a_crash_is_not_trusted_and_the_file_stays_well_formed(
    served: Emulator, account: str, csv_file: Path
) -> None:
    checkpoint = csv_file.with_name("users.csv.done")
    # A crash in the middle of writing the last id left "user00" without its newline.
    checkpoint.write_text("\n".join(USERS[2:249]) + "\nuser00", encoding="utf-8")
    assert bulk_subscribe.main([account, str(csv_file)]) == 0
    assert sent_ids(served) == [USERS[0], USERS[1], USERS[249]]
    lines = checkpoint.read_text(encoding="utf-8").splitlines()
    assert "user00" in lines and set(USERS) <= set(lines)


def test_bad_input_is_refused_before_anything_is_sent(
    served: Emulator, account: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id\nann\n" + "x" * 40 + "\n", encoding="utf-8")  # an id over 32 bytes
    assert bulk_subscribe.main([account, str(bad)]) == 2
    assert "user_ids[1] must be 1 to 32 bytes" in capsys.readouterr().err
    assert bulk_subscribe.main([account, str(bad), "--column", "uid"]) == 2
    err = capsys.readouterr().err
    assert "no column 'uid'" in err and "user_id" in err
    assert sent_ids(served) == []
