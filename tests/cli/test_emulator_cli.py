"""``python -m tim_oa.testing`` and ``tim-oa emulator serve``: one click command."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import tim_oa
from tim_oa.cli._config import _parse_toml
from tim_oa.testing import DEFAULT_SDKAPPID
from tim_oa.testing._cli import INSTALL_HINT, main

from .conftest import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]
KEY = "emulator-cli-key-5d1c0b8e7f6a"


def options(help_text: str) -> set[str]:
    return set(re.findall(r"(--[a-z][a-z-]+)", help_text))


def test_both_entry_points_are_the_same_click_command(
    run: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--help"]) == 0
    module_help = capsys.readouterr().out
    cli_help = run("emulator", "serve", "--help").stdout
    assert module_help.startswith("Usage: python -m tim_oa.testing [OPTIONS]")
    assert cli_help.split("\n", 1)[0].endswith(" emulator serve [OPTIONS]")
    assert options(module_help) == options(cli_help)
    assert {"--allow-remote", "--secret-key", "--no-rate-limit", "--admin"} <= options(cli_help)
    assert "TIM_OA_SECRET_KEY" in cli_help
    assert " ".join(module_help.split()[5:]) == " ".join(cli_help.split()[5:])  # after the usage


def test_a_remote_host_needs_allow_remote(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "--allow-remote" in err and "allow_remote=True" not in err
    result = run("emulator", "serve", "--host", "192.0.2.1")
    assert result.exit_code == 2
    assert "--allow-remote" in result.stderr


def test_without_click_main_explains_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "click", None)
    assert main(["--help"]) == 2
    assert capsys.readouterr().err.strip() == INSTALL_HINT


def test_the_emulator_extra_brings_click() -> None:
    assert _parse_toml is not None
    project = _parse_toml((ROOT / "pyproject.toml").read_text())
    extra = project["project"]["optional-dependencies"]["emulator"]
    assert any(req.startswith("click") for req in extra)


@pytest.mark.loopback
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serves_with_the_key_from_the_environment_and_old_flags() -> None:
    flags = ["--port", "0", "--no-rate-limit", "--no-send-limits", "--seed", "3", "--admin", "boss"]
    with _emulator_process(*flags) as served:

        async def call() -> str:
            signer = tim_oa.UserSigSigner(DEFAULT_SDKAPPID, KEY)
            async with tim_oa.Session(
                DEFAULT_SDKAPPID, "boss", signer, base_url=served.url, max_retries=0
            ) as oa:
                return await oa.create_account("owner", "From the env key")

        assert anyio.run(call).startswith("@TOA#_")
    assert KEY not in served.output


def test_webhook_options_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--webhook-url", "ftp://hooks.example"]) == 2
    assert "--webhook-url" in capsys.readouterr().err
    assert main(["--webhook-token", "t"]) == 2
    assert "--webhook-token needs --webhook-url" in capsys.readouterr().err


@pytest.mark.loopback
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serves_with_signed_webhooks_to_a_url() -> None:
    from tim_oa import webhooks
    from tim_oa.testing._server import serve_asgi

    token = "cli-webhook-token-8c2e"
    router = webhooks.WebhookRouter(sdkappid=DEFAULT_SDKAPPID, token=token)
    seen: list[webhooks.BeforeCreateAccount] = []

    @router.on(webhooks.BeforeCreateAccount)
    async def refuse(event: webhooks.BeforeCreateAccount) -> webhooks.Answer:
        seen.append(event)
        return webhooks.Refuse(120007, "not today")

    with serve_asgi(router.asgi_app()) as hooks_url:
        env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
        env["TIM_OA_SECRET_KEY"] = KEY
        env["TIM_OA_WEBHOOK_TOKEN"] = token
        proc = subprocess.Popen(
            [sys.executable, "-m", "tim_oa.testing", "--port", "0", "--webhook-url", hooks_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"listening on (http://\S+)", line)
            assert match, line

            async def call() -> None:
                signer = tim_oa.UserSigSigner(DEFAULT_SDKAPPID, KEY)
                async with tim_oa.Session(
                    DEFAULT_SDKAPPID, "administrator", signer, base_url=match.group(1)
                ) as oa:
                    with pytest.raises(tim_oa.ApiError) as info:
                        await oa.create_account("owner", "Refused by the hook")
                    assert info.value.code == 120007

            anyio.run(call)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert [e.name for e in seen] == ["Refused by the hook"]
    assert seen[0].context.authenticated
    assert token not in line + out + err and KEY not in line + out + err


def test_known_users_from_a_list_or_a_file(tmp_path: Path) -> None:
    import click

    from tim_oa.testing._cli import read_known_users

    assert read_known_users("alice, bob,,carol") == {"alice", "bob", "carol"}
    assert read_known_users("") == frozenset()  # nobody but the admins
    listed = tmp_path / "users.txt"
    listed.write_text("# known\nalice\n\nbob\n")
    assert read_known_users(str(listed)) == {"alice", "bob"}
    people = tmp_path / "people.csv"
    people.write_text("dave,Dave\nerin,Erin\n")
    assert read_known_users(str(people)) == {"dave", "erin"}
    broken = tmp_path / "broken.txt"
    broken.write_text("ok\nhas space\n")
    with pytest.raises(click.BadParameter, match="line 2"):
        read_known_users(str(broken))


@pytest.mark.loopback
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serves_only_the_known_users(tmp_path: Path) -> None:
    known = tmp_path / "known.txt"
    known.write_text("owner-1\n")
    with _emulator_process("--port", "0", "--no-rate-limit", "--known-users", str(known)) as served:

        async def call() -> tuple[int, dict[str, bool], str]:
            signer = tim_oa.UserSigSigner(DEFAULT_SDKAPPID, KEY)
            async with tim_oa.Session(
                DEFAULT_SDKAPPID, "administrator", signer, base_url=served.url, max_retries=0
            ) as oa:
                with pytest.raises(tim_oa.ApiError) as refused:
                    await oa.create_account("owner-2", "Not imported", account_id="@TOA#_ku2")
                checked = await oa.check_accounts(["owner-1", "owner-2"])
                await oa.import_accounts(["owner-2"])
                created = await oa.create_account("owner-2", "Now", account_id="@TOA#_ku2")
                return refused.value.code, checked, created

        code, checked, created = anyio.run(call)
        assert code == 70107
        assert checked == {"owner-1": True, "owner-2": False}
        assert created == "@TOA#_ku2"


class _Served:
    """An emulator served by ``python -m tim_oa.testing`` in a subprocess."""

    url = ""
    output = ""  # everything it printed, once it has stopped


@contextlib.contextmanager
def _emulator_process(*flags: str) -> Iterator[_Served]:
    """Serve the emulator with ``flags`` (its key from the environment) until the block ends.

    It must then stop cleanly on SIGTERM.
    """
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env["TIM_OA_SECRET_KEY"] = KEY
    proc = subprocess.Popen(
        [sys.executable, "-m", "tim_oa.testing", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    served = _Served()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, line
        served.url, served.output = match.group(1), line
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        served.output += out + err
    assert proc.returncode == 0, err
