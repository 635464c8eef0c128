"""``Session.from_env``: the command line's settings (variables, config file, profiles) for a
session, overrides winning, and errors that name the variable but never a secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tim_oa
from tim_oa.testing import Emulator

KEY = "from-env-secret-key-value"
USERSIG_TEXT = "a-ready-usersig-value"
BASE = {"TIM_OA_SDKAPPID": "1400000000", "TIM_OA_SECRET_KEY": KEY}


async def test_the_environment_makes_a_working_session() -> None:
    emulator = Emulator(secret_key=KEY)
    environ = {**BASE, "TIM_OA_BASE_URL": "http://tim-oa-emulator"}
    async with tim_oa.Session.from_env(environ=environ, transport=emulator.transport()) as oa:
        assert (oa.sdkappid, oa.identifier) == (1400000000, "administrator")
        account_id = await oa.create_account("owner", "News")
        [account] = await oa.get_accounts([account_id])
        assert (account.official_account, account.name) == (account_id, "News")


def test_region_names_identifier_and_a_fixed_usersig() -> None:
    environ = {
        "TIM_OA_SDKAPPID": "1400000001",
        "TIM_OA_USERSIG": USERSIG_TEXT,
        "TIM_OA_REGION": "Silicon-Valley",
        "TIM_OA_IDENTIFIER": "admin2",
    }
    oa = tim_oa.Session.from_env(environ=environ)
    assert (oa.identifier, oa.region) == ("admin2", tim_oa.Region.SILICON_VALLEY)
    assert oa.base_url == "https://adminapiusa.im.qcloud.com"


def test_overrides_win() -> None:
    environ = {**BASE, "TIM_OA_REGION": "singapore"}
    oa = tim_oa.Session.from_env(
        environ=environ, base_url="http://127.0.0.1:9", identifier="ops", max_retries=0
    )
    assert (oa.region, oa.base_url, oa.identifier) == (None, "http://127.0.0.1:9", "ops")
    assert oa.retry.max_retries == 0
    # A usersig given makes the key unneeded; a sdkappid given is the one the signer signs for.
    oa = tim_oa.Session.from_env(
        environ={"TIM_OA_REGION": "china"}, sdkappid=7, usersig=tim_oa.UserSigSigner(7, KEY)
    )
    assert oa.sdkappid == 7
    oa = tim_oa.Session.from_env(environ={**BASE, "TIM_OA_REGION": "china"}, sdkappid=8)
    assert oa.sdkappid == 8  # the signer made from the key signs for 8 (else it would be refused)


@pytest.mark.parametrize(
    ("environ", "named", "field"),
    [
        ({}, "TIM_OA_SDKAPPID", "TIM_OA_SDKAPPID"),
        ({"TIM_OA_SDKAPPID": "1", "TIM_OA_REGION": "china"}, "TIM_OA_SECRET_KEY", None),
        ({**BASE}, "TIM_OA_REGION", "TIM_OA_REGION"),
        (
            {**BASE, "TIM_OA_SDKAPPID": "x", "TIM_OA_REGION": "china"},
            "TIM_OA_SDKAPPID",
            "TIM_OA_SDKAPPID",
        ),
        ({**BASE, "TIM_OA_REGION": "mars"}, "TIM_OA_REGION", "TIM_OA_REGION"),
        (
            {**BASE, "TIM_OA_REGION": "china", "TIM_OA_BASE_URL": "http://h"},
            "TIM_OA_BASE_URL",
            None,
        ),
    ],
)
def test_a_missing_or_bad_setting_is_named_without_the_secret(
    environ: dict[str, str], named: str, field: str | None
) -> None:
    with pytest.raises(tim_oa.ValidationError) as info:
        tim_oa.Session.from_env(environ=environ)
    assert named in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    if field is not None:
        assert info.value.field == field


def test_profiles_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "tim-oa.json"
    config.write_text(
        json.dumps(
            {
                "sdkappid": 1400000000,
                "secret_key": KEY,
                "staging": {"base_url": "http://staging.local"},
                "prod": {"region": "frankfurt", "identifier": "ops"},
            }
        ),
        encoding="utf-8",
    )
    config.chmod(0o600)
    environ = {"TIM_OA_CONFIG": str(config), "TIM_OA_PROFILE": "staging"}
    assert tim_oa.Session.from_env(environ=environ).base_url == "http://staging.local"
    prod = tim_oa.Session.from_env(environ=environ, profile="prod")
    assert (prod.region, prod.identifier) == (tim_oa.Region.FRANKFURT, "ops")
    # The environment wins over the file; config= names a file instead of TIM_OA_CONFIG.
    oa = tim_oa.Session.from_env(
        environ={"TIM_OA_REGION": "tokyo"}, config=config, profile="staging"
    )
    assert oa.region is tim_oa.Region.TOKYO
    with pytest.raises(tim_oa.ValidationError, match="no profile 'qa'"):
        tim_oa.Session.from_env(environ=environ, profile="qa")


def test_from_env_loads_only_the_settings_reader_of_the_cli() -> None:
    # httpx itself may load click and rich (for its own command line); what from_env adds is
    # the CLI's settings reader, none of the command modules built on click.
    code = (
        "import sys, tim_oa\n"
        "env = {'TIM_OA_SDKAPPID': '1', 'TIM_OA_USERSIG': 's', 'TIM_OA_REGION': 'china'}\n"
        "tim_oa.Session(1, 'admin', 's', region='china')\n"
        "before = set(sys.modules)\n"
        "tim_oa.Session.from_env(environ=env)\n"
        "added = sorted(m for m in set(sys.modules) - before if m.startswith('tim_oa'))\n"
        "print(','.join(added))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=60, capture_output=True, text=True
    ).stdout.strip()
    assert set(out.split(",")) == {
        "tim_oa._from_env",
        "tim_oa.cli",
        "tim_oa.cli._config",
        "tim_oa.cli._exitcodes",
    }
