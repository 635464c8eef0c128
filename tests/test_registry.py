"""The command registry: one record per wire command, read by the loop, limiter and codes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import respx

import tim_oa
from tim_oa import _limits as L
from tim_oa import _registry as R
from tim_oa._codes import NEVER, TRANSIENT, rule_for
from tim_oa.limiters import LocalLimiter

from .conftest import body_of, ok

PACKAGE = Path(tim_oa.__file__).resolve().parent
CORE = list(PACKAGE.glob("*.py"))


def test_every_official_account_command_has_one_row() -> None:
    names = {c.name for c in R.COMMANDS.values() if c.service == L.SERVICE}
    assert names == set(L.COMMANDS)
    assert len(R.COMMANDS) == 17  # 12 + 4 account commands + GetIPList


def test_paths_come_from_the_service_of_each_row() -> None:
    assert R.command_path("add_subscriber") == "/v4/official_account_open_http_svc/add_subscriber"
    assert R.command_path("account_check") == "/v4/im_open_login_svc/account_check"
    assert R.command_path("GetIPList") == "/v4/ConfigSvc/GetIPList"
    assert R.command_path("some_new_cmd") == "/v4/official_account_open_http_svc/some_new_cmd"


def test_bulk_rows_are_complete_and_use_published_sizes() -> None:
    bulk = {c.name: c for c in R.COMMANDS.values() if c.chunk_size is not None}
    assert {n: c.chunk_size for n, c in bulk.items()} == {
        "get_official_account_info": 50,
        "add_subscriber": 100,
        "delete_subscriber": 100,
        "official_account_msg_recall": 10,
        "multiaccount_import": 100,
        "account_check": 100,
        "account_delete": 100,
    }
    for command in bulk.values():
        assert command.id_key
        assert set(command.codes.values()) <= {R.SUCCEEDED, R.UNCHANGED, R.FAILED}
        assert {s.value for s in tim_oa.Status} >= set(command.codes.values())


@pytest.mark.parametrize(
    ("command", "body", "safe"),
    [
        ("get_subscriber_info", {}, True),
        ("create_official_account", {"OfficialAccountUserID": "@TOA#_x"}, True),
        ("create_official_account", {}, False),
        ("send_official_account_msg", {"Random": 1}, True),
        ("send_official_account_msg", {}, False),
        ("multiaccount_import", {}, True),
        ("account_delete", {}, True),
        ("not_a_command_we_know", {}, False),
    ],
)
def test_repeat_safety_is_read_from_the_row(command: str, body: dict[str, int], safe: bool) -> None:
    assert R.is_safe_to_repeat(R.lookup(command), body) is safe


def test_commands_own_codes_come_from_their_rows() -> None:
    assert rule_for(10004, "official_account_msg_recall").error is tim_oa.InvalidRequestError
    assert rule_for(10004).error is tim_oa.ServerError
    assert rule_for(70169, "multiaccount_import").retry is TRANSIENT
    assert rule_for(70403, "account_check").error is tim_oa.PermissionDeniedError
    assert rule_for(40601, "account_import").retry is NEVER
    assert rule_for(70169).error is tim_oa.ApiError  # not a code of the Official Account service


def test_only_the_registry_names_the_wire_commands() -> None:
    """Outside docstrings and comments, a command word appears in the core only in the table."""
    words = set(R.COMMANDS)
    named: dict[str, set[str]] = {}
    for path in CORE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and id(node) not in docstrings
                and isinstance(node.value, str)
                and node.value in words
            ):
                named.setdefault(path.name, set()).add(node.value)
    assert set(named) == {"_registry.py", "_limits.py"}, named  # _limits: the emulator's list


async def test_call_sends_a_known_command_to_its_own_service(
    api: respx.MockRouter, oa: tim_oa.Session
) -> None:
    route = api.post("/v4/im_open_login_svc/account_check").mock(return_value=ok(ResultItem=[]))
    assert (await oa.call("account_check", {"CheckItem": []}))["ResultItem"] == []
    assert route.call_count == 1
    ips = api.post("/v4/ConfigSvc/GetIPList").mock(return_value=ok(IPList=[]))
    await oa.call("GetIPList", {})
    assert ips.call_count == 1
    with pytest.raises(tim_oa.ValidationError):
        await oa.call("GetSomethingElse", {})  # not lowercase and not a known command


async def test_call_paces_broadcasts_by_the_rows_pace_key(
    api: respx.MockRouter, make_session: object
) -> None:
    paced: list[str] = []

    class Spy(LocalLimiter):
        async def acquire_send(self, account_id: str, *, app: int) -> None:
            paced.append(account_id)

    api.post(re.compile(r".*/(send_official_account_msg|get_subscriber_info)")).mock(
        return_value=ok(MsgKey="1_1_1", MsgTime=1)
    )
    session = make_session(  # type: ignore[operator]
        limiter=Spy(None, None), rate_limit=L.CALLS_PER_SECOND, send_rate=1.0
    )
    async with session:
        await session.call("send_official_account_msg", {"Official_Account": "@TOA#_a"})
        await session.call("get_subscriber_info", {"Official_Account": "@TOA#_b"})
    assert paced == ["@TOA#_a"]
    assert body_of(api.calls[0])["Official_Account"] == "@TOA#_a"


async def test_a_command_published_at_100_per_second_is_paced_at_half_the_rate() -> None:
    limiter = LocalLimiter(rate=200, send_rate=None, margin=1.0)
    await limiter.acquire("multiaccount_import", app=1)
    await limiter.acquire("add_subscriber", app=1)
    rates = {k[1]: p.rate for k, p in limiter._calls.items()}
    assert rates == {"multiaccount_import": 100.0, "add_subscriber": 200.0}
