"""The root command: help, credentials, secrets, usersig, emulator serve, demo, missing extras."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tim_oa
import tim_oa.cli
from tim_oa.cli._app import cli

from .conftest import SDKAPPID, SECRET_KEY, Served, assert_no_secrets, one_line_error
from .helpers import records
from .test_config import write_config


def test_help_lists_commands_env_vars_and_exit_codes(run: Any) -> None:
    result = run("--help")
    assert result.exit_code == 0
    commands = ("accounts", "subscribers", "messages", "users", "webhooks", "usersig", "emulator")
    for command in (*commands, "demo"):
        assert command in result.stdout
    text = " ".join(result.stdout.split())
    assert "Exit codes: 0 success; 1" in text
    assert "TIM_OA_SDKAPPID" in text and "TIM_OA_SECRET_KEY" in text
    assert_no_secrets(result)


@pytest.mark.parametrize(
    "group",
    [["accounts"], ["subscribers"], ["messages"], ["subscribers", "add"], ["messages", "send"]],
)
def test_subcommand_help_shows_no_secrets(run: Any, group: list[str]) -> None:
    result = run(*group, "--help")
    assert result.exit_code == 0
    assert_no_secrets(result)


def test_command_tree_is_complete() -> None:
    tree = {
        name: sorted(getattr(command, "commands", {})) for name, command in cli.commands.items()
    }
    assert tree == {
        "accounts": ["create", "destroy", "get", "modify", "subscribed"],
        "subscribers": ["add", "list", "modify", "remove"],
        "messages": ["history", "recall", "send"],
        "users": ["check", "delete", "import", "import-one"],
        "webhooks": ["ips"],
        "usersig": [],
        "emulator": ["serve"],
        "demo": [],
        "doctor": [],
    }


def test_missing_credentials_name_the_variables(bare_run: Any) -> None:
    result = bare_run("subscribers", "list", "@TOA#_x")
    assert result.exit_code == 2
    line = one_line_error(result)
    for var in ("TIM_OA_SDKAPPID", "TIM_OA_SECRET_KEY", "TIM_OA_USERSIG", "TIM_OA_BASE_URL"):
        assert var in line


def test_missing_target_does_not_echo_the_usersig(bare_run: Any) -> None:
    usersig = "fixed-usersig-value-that-must-stay-hidden"
    result = bare_run(
        "subscribers",
        "list",
        "@TOA#_x",
        env={"TIM_OA_SDKAPPID": "1", "TIM_OA_USERSIG": usersig},
    )
    assert result.exit_code == 2
    assert "TIM_OA_REGION" in one_line_error(result)
    assert_no_secrets(result, usersig)


def test_wrong_secret_key_is_an_auth_error_without_secrets(run: Any, served: Served) -> None:
    wrong = "wrong-secret-key-0123456789abcdef0123456789"
    result = run("-vv", "subscribers", "list", "@TOA#_x", env=served.env(TIM_OA_SECRET_KEY=wrong))
    assert result.exit_code == 1
    assert one_line_error(result).startswith("error: AuthError:")
    assert_no_secrets(result, wrong)


def test_a_fixed_usersig_works_and_never_shows(run: Any, served: Served) -> None:
    usersig = tim_oa.UserSigSigner(SDKAPPID, SECRET_KEY).generate("administrator")
    env = served.env(TIM_OA_SECRET_KEY=None, TIM_OA_USERSIG=usersig)
    ok = run("-vv", "accounts", "subscribed", "nobody", env=env)
    assert ok.exit_code == 0, ok.stderr
    failing = run("-vv", "subscribers", "list", "@TOA#_missing", env=env)
    assert failing.exit_code == 1
    assert_no_secrets(ok, usersig)
    assert_no_secrets(failing, usersig)


def test_network_errors_are_one_line(run: Any, served: Served) -> None:
    env = served.env(TIM_OA_BASE_URL="http://127.0.0.1:1")
    result = run("--max-retries", "0", "subscribers", "list", "@TOA#_x", env=env)
    assert result.exit_code == 1
    assert one_line_error(result).startswith("error: TransportError:")
    assert_no_secrets(result)


def test_config_file(run: Any, served: Served, tmp_path: Path) -> None:
    config = write_config(tmp_path, {"sdkappid": SDKAPPID, "base_url": served.base_url})
    env = {"TIM_OA_SECRET_KEY": SECRET_KEY}  # the secret stays out of the file
    result = run("--config", str(config), "accounts", "subscribed", "nobody", env=env)
    assert result.exit_code == 0, result.stderr


def test_bad_config_file_is_a_usage_error(run: Any, tmp_path: Path) -> None:
    config = write_config(tmp_path, {"region": "atlantis"})
    result = run("--config", str(config), "accounts", "subscribed", "nobody")
    assert result.exit_code == 2
    assert "region in" in one_line_error(result)


def test_usersig_prints_only_a_signature_for_the_identifier(run: Any) -> None:
    result = run("usersig", "alice", "--expire", "600")
    assert result.exit_code == 0, result.stderr
    claims = tim_oa.decode_usersig(result.stdout.strip())
    assert claims["TLS.identifier"] == "alice"
    assert claims["TLS.sdkappid"] == SDKAPPID
    assert claims["TLS.expire"] == 600
    assert result.stdout.count("\n") == 1


def test_usersig_defaults_to_the_configured_identifier(run: Any, served: Served) -> None:
    result = run("usersig", env=served.env(TIM_OA_IDENTIFIER="ops-admin"))
    assert tim_oa.decode_usersig(result.stdout.strip())["TLS.identifier"] == "ops-admin"


def test_usersig_needs_the_secret_key(bare_run: Any) -> None:
    usersig = "some-usersig-value-not-to-be-printed"
    result = bare_run("usersig", "alice", env={"TIM_OA_SDKAPPID": "5", "TIM_OA_USERSIG": usersig})
    assert result.exit_code == 2
    assert "TIM_OA_SECRET_KEY" in one_line_error(result)
    assert result.stdout == ""
    assert_no_secrets(result, usersig)


def test_emulator_serve_delegates_to_the_emulator_cli(run: Any, capsys: Any) -> None:
    result = run("emulator", "serve", "--help")
    assert result.exit_code == 0
    assert "--port" in result.stdout and "--no-rate-limit" in result.stdout


@pytest.mark.loopback
def test_demo_runs_to_completion(run: Any) -> None:
    result = run("demo", "--users", "2000")
    assert result.exit_code == 0, result.stderr
    assert "2,000 users" in result.stdout
    assert "bulk subscribe" in result.stdout and "recall" in result.stdout
    assert "serving on http://127.0.0.1:" in result.stdout


def test_demo_in_process(run: Any) -> None:
    result = run("demo", "--users", "300", "--in-process")
    assert result.exit_code == 0, result.stderr
    assert "in-process" in result.stdout


def test_demo_reports_each_step_once_when_not_on_a_terminal(run: Any) -> None:
    # Neither stdout nor stderr is a terminal here, as in `tim-oa demo 2>&1 | cat` or CI.
    result = run("demo", "--users", "300", "--in-process")
    assert result.exit_code == 0, result.stderr
    both = result.stdout + result.stderr
    for step in ("import users", "create accounts", "bulk subscribe", "recall", "destroy accounts"):
        assert both.count(f"  {step}: ") == 1, both
    assert both.count("300 users in 3 calls") == 1, both  # was on stderr and in the table
    assert not set(result.stdout) & set("┏━┃│└"), "no box drawing in a log"
    assert result.stdout.splitlines()[0] == "tim-oa demo: 300 users"
    assert result.stdout.splitlines()[-1].startswith("  total: ")


def test_demo_imports_its_users_into_an_emulator_that_knows_none(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tim_oa.testing

    made: list[tim_oa.testing.Emulator] = []

    class Recorded(tim_oa.testing.Emulator):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(tim_oa.testing, "Emulator", Recorded)
    result = run("demo", "--users", "300", "--in-process")
    assert result.exit_code == 0, result.stderr
    [emulator] = made
    assert emulator.known_users == frozenset()  # strict: creating needs an imported owner
    assert emulator.is_imported("demo-owner") and emulator.is_imported("user-000300")
    assert "owner and 300 subscribers imported in 4 calls" in result.stdout
    commands = [r.command for r in emulator.requests]
    first_create = commands.index("create_official_account")
    assert "multiaccount_import" in commands[:first_create]
    assert "account_check" in commands[:first_create]


def test_demo_shows_live_steps_when_only_stderr_is_a_terminal(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tim_oa.cli import _demo

    monkeypatch.setattr(_demo, "stderr_is_terminal", lambda: True)
    result = run("demo", "--users", "300", "--in-process")
    assert result.stderr.count("  bulk subscribe: ") == 1  # live, for the person watching
    assert result.stdout.count("  bulk subscribe: ") == 1  # the report, in the file


def test_main_without_the_cli_extra_prints_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "click", None)  # makes "import click" fail
    with pytest.raises(SystemExit) as exited:
        tim_oa.cli.main(["--help"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == tim_oa.cli.INSTALL_HINT
    assert 'pip install "tim-oa[cli]"' in err


def test_main_runs_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        tim_oa.cli.main(["--version"])
    assert exited.value.code == 0
    assert tim_oa.__version__ in capsys.readouterr().out


def test_tim_oa_works_without_click_and_rich() -> None:
    # httpx imports click and rich itself when they are installed, so "not in sys.modules" cannot
    # be asserted; instead, make them unimportable: the library, tim_oa.testing and tim_oa.cli
    # still import, and the console script explains what to install.
    code = (
        "import sys\n"
        "sys.modules.update(click=None, rich=None)\n"
        "import tim_oa, tim_oa.testing, tim_oa.cli\n"
        "tim_oa.cli.main(['--help'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == tim_oa.cli.INSTALL_HINT


def test_jsonl_records_of_a_create(run: Any) -> None:
    result = run("accounts", "create", "owner-9", "JSON check")
    (record,) = records(result)
    assert set(record) == {"official_account", "status"}


def test_help_states_where_settings_come_from(run: Any) -> None:
    text = " ".join(run("--help").stdout.split())
    assert "~/.config/tim-oa/config.toml" in text and "XDG_CONFIG_HOME" in text
    assert "--profile" in text and "TIM_OA_PROFILE" in text
    assert "Precedence: flags, then the environment, then the file's profile" in text
    assert "143 SIGTERM" in text


def test_profile_from_the_default_config_file(run: Any, served: Served, tmp_path: Path) -> None:
    folder = tmp_path / "tim-oa"
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(
        f'[staging]\nsdkappid = {SDKAPPID}\nbase_url = "{served.base_url}"\n'
        f'secret_key = "{SECRET_KEY}"\n'
    )
    config.chmod(0o644)
    env = {"XDG_CONFIG_HOME": str(tmp_path), "TIM_OA_SDKAPPID": None, "TIM_OA_BASE_URL": None}
    env["TIM_OA_SECRET_KEY"] = None
    result = run("--profile", "staging", "accounts", "subscribed", "nobody", env=env)
    assert result.exit_code == 0, result.stderr
    assert f"warning: {config} holds a secret" in result.stderr
    assert_no_secrets(result)
    config.chmod(0o600)
    quiet = run("--profile", "staging", "accounts", "subscribed", "nobody", env=env)
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr
    missing = run("--profile", "prod", "accounts", "subscribed", "nobody", env=env)
    assert missing.exit_code == 2
    assert "no profile 'prod'" in one_line_error(missing)


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _tim_oa_completion tim-oa"),
        ("zsh", "#compdef tim-oa"),
        ("fish", "complete --no-files --command tim-oa"),
    ],
)
def test_shell_completion_scripts_are_produced(
    shell: str, marker: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_TIM_OA_COMPLETE", f"{shell}_source")
    with pytest.raises(SystemExit) as exited:
        tim_oa.cli.main([])
    assert exited.value.code == 0
    assert marker in capsys.readouterr().out


def test_shell_completion_completes_commands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_TIM_OA_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", "tim-oa subscribers a")
    monkeypatch.setenv("COMP_CWORD", "2")
    with pytest.raises(SystemExit):
        tim_oa.cli.main([])
    assert capsys.readouterr().out.split() == ["plain,add"]


def test_wording_articles_and_plurals(run: Any) -> None:
    assert "An account id given directly" in " ".join(
        run("accounts", "get", "--help").stdout.split()
    )
    assert "A user id given directly" in " ".join(
        run("subscribers", "add", "--help").stdout.split()
    )
    account = records(run("accounts", "create", "owner-w", "Wording"))[0]["official_account"]
    one = run("subscribers", "add", account, "--id", "w1")
    assert "subscribers add: 1 id: 1 succeeded, 0 unchanged, 0 failed" in one.stderr
    two = run("subscribers", "add", account, "--id", "w2", "--id", "w3", "--id", "w2")
    assert "subscribers add: 3 ids (2 distinct): 2 succeeded, 0 unchanged, 0 failed" in two.stderr


def test_a_csv_with_a_header_sends_no_header_as_an_id(
    run: Any, served: Served, tmp_path: Path
) -> None:
    # The README's example: ids from the user_id column of a CSV with a header row.
    account = records(run("accounts", "create", "owner-c", "CSV"))[0]["official_account"]
    users = tmp_path / "users.csv"
    users.write_text("user_id,name\nc1,Ann\nc2,Bo\n")
    result = run("subscribers", "add", account, str(users), "--column", "user_id")
    assert result.exit_code == 0, result.stderr
    assert sorted(served.emulator.accounts[account].subscribers) == ["c1", "c2"]


CLI_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide" / "cli.md"


@pytest.mark.loopback
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell")
def test_readme_csv_examples_send_no_header(run: Any, served: Served, tmp_path: Path) -> None:
    text = CLI_GUIDE.read_text(encoding="utf-8")
    section = text.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #")[0].strip() for line in section.splitlines() if "users.csv" in line]
    assert len(lines) == 2
    for line in lines:
        account = records(run("accounts", "create", "owner-r", "README"))[0]["official_account"]
        users = tmp_path / "users.csv"
        users.write_text("user_id,name\nr1,Ann\nr2,Bo\n")
        assert run("subscribers", "add", account, "--id", "r1", "--id", "r2").exit_code == 0
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIM_OA_")}
        env.update({k: v for k, v in served.env().items() if v is not None})
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
        done = subprocess.run(
            ["bash", "-c", line.replace("'@TOA#_news'", f"'{account}'")],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert sorted(json.loads(r)["id"] for r in done.stdout.splitlines()) == ["r1", "r2"]
        assert served.emulator.accounts[account].subscriber_num == 0
