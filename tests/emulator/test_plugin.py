from __future__ import annotations

from typing import Any

import pytest

from tim_oa.testing import Emulator


def test_emulator_fixture_is_fresh(tim_oa_emulator: Emulator) -> None:
    assert isinstance(tim_oa_emulator, Emulator)
    assert tim_oa_emulator.accounts == {} and tim_oa_emulator.requests == []


def _session_available() -> bool:
    try:
        from tim_oa import Session, UserSigSigner  # noqa: F401
    except ImportError:
        return False
    return True


needs_session = pytest.mark.skipif(not _session_available(), reason="tim_oa.Session not available")


@needs_session
async def test_session_smoke(tim_oa_session: Any, tim_oa_emulator: Emulator) -> None:
    # The client signs with a real signer and reaches the emulator in-process.
    account_id = await tim_oa_session.create_account(owner="107867", name="News")
    assert tim_oa_emulator.account(account_id).name == "News"
    record = tim_oa_emulator.requests[-1]
    assert record.command == "create_official_account" and record.error_code == 0
    assert record.query["identifier"] == "administrator"


@needs_session
async def test_session_options_override(tim_oa_emulator: Emulator) -> None:
    async with tim_oa_emulator.session(identifier="intruder", max_retries=0) as session:
        with pytest.raises(Exception) as info:
            await session.call("get_official_account_info", {})
    assert getattr(info.value, "code", None) == 60010
