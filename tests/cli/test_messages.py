"""``tim-oa messages`` against an emulator served on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Served
from .helpers import create_account, records, resume_value

pytestmark = pytest.mark.loopback


def send(run: Any, account: str, text: str) -> str:
    result = run("messages", "send", account, text)
    assert result.exit_code == 0, result.stderr
    (record,) = records(result)
    assert record["status"] == "sent"
    key: str = record["msg_key"]
    return key


def test_send_history_recall(run: Any, tmp_path: Path) -> None:
    account = create_account(run)
    keys = [send(run, account, f"news #{n}") for n in range(3)]

    history = run("messages", "history", account)
    assert history.exit_code == 0, history.stderr
    messages = records(history)
    assert [m["msg_key"] for m in messages] == keys[::-1]  # newest first
    assert messages[0]["body"] == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "news #2"}}]
    assert messages[0]["recalled"] is False

    to_recall = tmp_path / "keys.txt"
    to_recall.write_text(f"{keys[0]}\n{keys[2]}\n")
    recalled = run("messages", "recall", account, str(to_recall), "--reason", "typo")
    assert recalled.exit_code == 0, recalled.stderr
    assert sorted((o["id"], o["status"], o["code"]) for o in records(recalled)) == sorted(
        [(keys[0], "succeeded", 0), (keys[2], "succeeded", 0)]
    )
    assert "messages recall: 2 msg keys: 2 succeeded, 0 failed" in recalled.stderr
    assert "unchanged" not in recalled.stderr  # a recall has no "nothing to do" outcome

    visible = run("messages", "history", account)
    assert [m["msg_key"] for m in records(visible)] == [keys[1]]
    everything = run("messages", "history", account, "--with-recalled")
    flags = {m["msg_key"]: m["recalled"] for m in records(everything)}
    assert flags == {keys[0]: True, keys[1]: False, keys[2]: True}


def test_recall_of_unknown_keys_is_a_partial_failure(run: Any, tmp_path: Path) -> None:
    account = create_account(run)
    key = send(run, account, "hello")
    failed = tmp_path / "failed.txt"
    result = run(
        "messages", "recall", account, "--id", key, "--id", "999_1_1", "--failed-ids", str(failed)
    )
    assert result.exit_code == 1
    outcomes = {o["id"]: o for o in records(result)}
    assert outcomes[key]["status"] == "succeeded"
    assert outcomes["999_1_1"]["status"] == "failed"
    assert outcomes["999_1_1"]["code"] not in (0, None)
    assert failed.read_text() == "999_1_1\n"


def test_history_resumes_from_the_printed_key(run: Any) -> None:
    account = create_account(run)
    keys = [send(run, account, f"m{n}") for n in range(5)]
    first = run("messages", "history", account, "--page-size", "2", "--max-items", "3")
    assert first.exit_code == 0
    rest = run(
        "messages", "history", account, "--last-msg-key", resume_value(first, "--last-msg-key")
    )
    seen = [m["msg_key"] for m in records(first) + records(rest)]
    assert seen == keys[::-1]


def test_send_a_json_body_from_stdin(run: Any, served: Served) -> None:
    account = create_account(run)
    body = [
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "look"}},
        {"MsgType": "TIMCustomElem", "MsgContent": {"Data": '{"x": 1}'}},
    ]
    result = run(
        "messages", "send", account, "--body-file", "-", "--no-last-msg", input=json.dumps(body)
    )
    assert result.exit_code == 0, result.stderr
    (message,) = records(run("messages", "history", account))
    assert [e["MsgType"] for e in message["body"]] == ["TIMTextElem", "TIMCustomElem"]


def test_send_needs_exactly_one_body(run: Any) -> None:
    neither = run("messages", "send", "@TOA#_x")
    assert neither.exit_code == 2
    both = run("messages", "send", "@TOA#_x", "hi", "--body-file", "-", input='"hi"')
    assert both.exit_code == 2


def test_send_a_malformed_json_body(run: Any) -> None:
    result = run("messages", "send", "@TOA#_x", "--body-file", "-", input='{"MsgType": \n')
    assert result.exit_code == 2
    assert "stdin line" in result.stderr and "not valid JSON" in result.stderr


def test_send_refuses_online_only_with_no_last_msg(run: Any) -> None:
    account = create_account(run)
    result = run("messages", "send", account, "hi", "--online-only", "--no-last-msg")
    assert result.exit_code == 2
    assert "invalid input" in result.stderr
