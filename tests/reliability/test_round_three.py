"""Issue 17, defects 6, 8 and 9: a writable config file, bulk jobs on a closed session, a
subscribed-accounts item without its id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import tim_oa
from tim_oa.cli._config import load_settings

from .hostile import HostileServer, with_fields
from .support import ACCOUNT, assert_usable, check_public, count, failure_of, make_session

# --- 6: a config file others can write ------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o622, 0o602, 0o620, 0o660, 0o666, 0o600, 0o644, 0o640])
@pytest.mark.parametrize("secret", [False, True], ids=["no-secret", "secret"])
def test_a_config_file_others_can_write_draws_a_warning(
    tmp_path: Path, mode: int, secret: bool
) -> None:
    count("round-three cases")
    settings: dict[str, Any] = {"sdkappid": 1400000000, "base_url": "https://api.example.test"}
    if secret:
        settings["secret_key"] = "rel-config-secret-0123456789abcdef"
    else:
        settings["usersig"] = None
    path = tmp_path / "tim.json"
    path.write_text(json.dumps({k: v for k, v in settings.items() if v is not None}))
    path.chmod(mode)
    warnings: list[str] = []
    load_settings(path, {}, warn=warnings.append)
    writable = [w for w in warnings if "can be changed by other users" in w]
    readable = [w for w in warnings if "can read it" in w]
    assert len(writable) == (1 if mode & 0o022 else 0), warnings
    assert len(readable) == (1 if secret and mode & 0o044 else 0), warnings
    assert all("rel-config-secret" not in w for w in warnings)


# --- 8: bulk jobs on a closed session -------------------------------------------------------


BULK: dict[str, Callable[[tim_oa.Session], Awaitable[Any]]] = {
    "add_subscribers": lambda oa: oa.add_subscribers(ACCOUNT, ["u1", "u2"]),
    "remove_subscribers": lambda oa: oa.remove_subscribers(ACCOUNT, ["u1", "u2"]),
    "recall_messages": lambda oa: oa.recall_messages(ACCOUNT, ["71_1_1698741698"]),
    "get_accounts": lambda oa: oa.get_accounts([ACCOUNT, "@TOA#_b"]),
}


@pytest.mark.parametrize("job", list(BULK))
async def test_a_bulk_job_on_a_closed_session_raises(hostile: HostileServer, job: str) -> None:
    count("round-three cases")
    oa = make_session(hostile.base_url)
    async with oa:
        pass
    exc, _ = await failure_of(lambda: BULK[job](oa))
    check_public(exc, tim_oa.SessionClosedError)
    assert hostile.requests == []


# --- 9: a subscribed-accounts item without Official_Account ---------------------------------


@pytest.mark.parametrize(
    "item",
    [{"Name": "News"}, {"Official_Account": None, "Name": "News"}, {}],
    ids=["missing", "null", "empty-item"],
)
async def test_a_subscribed_item_without_its_id_is_malformed(
    hostile: HostileServer, item: dict[str, Any]
) -> None:
    count("round-three cases")
    hostile.script(with_fields(OfficialAccountInfoList=[item], CompleteFlag=1, TotalCount=1))
    async with make_session(hostile.base_url) as oa:
        exc, _ = await failure_of(lambda: oa.subscribed_accounts("user1").collect())
        error = check_public(exc, tim_oa.MalformedResponseError)
        assert "Official_Account" in str(error)
        assert error.may_have_taken_effect is False
        await assert_usable(oa)


async def test_get_accounts_entries_may_still_leave_the_id_out(hostile: HostileServer) -> None:
    # Only the subscribed list requires the id; get_accounts matches entries by position.
    count("round-three cases")
    hostile.script(with_fields(OfficialAccountInfoList=[{"Name": "News"}]))
    async with make_session(hostile.base_url) as oa:
        (found,) = await oa.get_accounts([ACCOUNT])
    assert found.official_account == ACCOUNT and found.name == "News"
