"""``tim-oa doctor`` against a served emulator, and its network checks with fake probes.

No test reaches Tencent: a region's DNS, TLS and clock go through fakes, and its admin read
through an in-process emulator session.
"""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest

import tim_oa
from tim_oa._codes import error_class_for
from tim_oa.cli._context import State
from tim_oa.cli._doctor import Doctor, Probes, explain, is_loopback, render
from tim_oa.testing import Emulator, serve

from .conftest import SDKAPPID, SECRET_KEY, Served, assert_no_secrets


def lines_of(output: str) -> dict[str, str]:
    """Check name -> its status mark, from doctor's text output."""
    found = {}
    for line in output.splitlines():
        mark, _, rest = line.partition("  ")
        if mark.strip() in ("ok", "warn", "FAIL", "--") and rest.strip():
            found[rest.strip().split("  ")[0]] = mark.strip()
    return found


def test_good_settings_pass_with_no_secret_in_the_output(run: Any, served: Served) -> None:
    result = run("doctor")
    assert result.exit_code == 0, result.stdout
    marks = lines_of(result.stdout)
    assert marks["settings"] == "ok" and marks["usersig"] == "ok"
    assert marks["secret key"] == "warn"  # the test key is not the console's 64 hex characters
    assert marks["dns"] == marks["tls"] == "--"  # a loopback base URL
    assert marks["clock"] == "ok" and marks["admin read"] == "ok"
    assert result.stdout.rstrip().endswith("all checks passed")
    signer = tim_oa.UserSigSigner(SDKAPPID, SECRET_KEY)
    assert_no_secrets(result, signer.generate("administrator"))


def test_a_wrong_key_fails_the_admin_read_and_says_what_to_do(run: Any, served: Served) -> None:
    wrong = "0123456789abcdef" * 4
    result = run("doctor", env=served.env(TIM_OA_SECRET_KEY=wrong))
    assert result.exit_code == 1
    marks = lines_of(result.stdout)
    assert marks["secret key"] == "ok"  # right shape, wrong key
    assert marks["admin read"] == "FAIL" and marks["admin imported"] == "--"
    assert "70009" in result.stdout and "-> the secret key does not match the app" in result.stdout
    assert "1 check(s) failed" in result.stdout
    assert wrong not in result.stdout + result.stderr
    assert_no_secrets(result, tim_oa.UserSigSigner(SDKAPPID, wrong).generate("administrator"))


def test_json_for_scripts(run: Any, served: Served) -> None:
    result = run("doctor", "--json", env=served.env(TIM_OA_IDENTIFIER="nobody"))
    payload = json.loads(result.stdout)
    assert set(payload) == {"ok", "checks"}
    assert [set(check) for check in payload["checks"]] == [
        {"name", "status", "detail", "fix"}
    ] * len(payload["checks"])
    names = [check["name"] for check in payload["checks"]]
    assert names[:3] == ["settings", "secret key", "usersig"]
    # "nobody" is not one of the emulator's admins.
    [read] = [check for check in payload["checks"] if check["name"] == "admin read"]
    assert read["status"] == "fail" and payload["ok"] is False and result.exit_code == 1
    assert SECRET_KEY not in result.stdout


def test_missing_settings_fail_and_name_the_variables(bare_run: Any) -> None:
    result = bare_run("doctor", env={"TIM_OA_SDKAPPID": "1400000000"})
    assert result.exit_code == 1
    assert "FAIL  settings" in result.stdout and "TIM_OA_SECRET_KEY" in result.stdout
    assert lines_of(result.stdout)["admin read"] == "--"


def test_a_bad_fixed_usersig_is_caught_locally(run: Any, served: Served) -> None:
    other = tim_oa.UserSigSigner(SDKAPPID, SECRET_KEY).generate("someone-else")
    env = served.env(TIM_OA_SECRET_KEY=None, TIM_OA_USERSIG=other)
    result = run("doctor", env=env)
    assert result.exit_code == 1
    assert "made for identifier someone-else" in result.stdout
    assert_no_secrets(result, other)


class FakeNetwork:
    """DNS, TLS and a server clock, answered without a socket."""

    def __init__(self, *, broken_dns: str = "", broken_tls: str = "", skew: float = 0.0) -> None:
        self.broken_dns, self.broken_tls, self.skew = broken_dns, broken_tls, skew
        self.asked: list[str] = []

    def resolve(self, host: str) -> list[str]:
        self.asked.append(host)
        if host == self.broken_dns:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return ["203.0.113.7"]

    def tls(self, host: str) -> str:
        if host == self.broken_tls:
            raise ssl.SSLCertVerificationError("certificate verify failed")
        return "TLSv1.3"

    async def server_date(self, base_url: str) -> float:
        self.asked.append(base_url)
        return 1_800_000_000.0 - self.skew

    def probes(self) -> Probes:
        return Probes(self.resolve, self.tls, self.server_date, clock=lambda: 1_800_000_000.0)


async def run_doctor(env: dict[str, str], network: FakeNetwork, emulator: Emulator) -> str:
    state = State(environ={"XDG_CONFIG_HOME": "/nonexistent", **env})
    doctor = Doctor(state, network.probes(), open_session=lambda settings: emulator.session())
    return render(await doctor.run())


REGION_ENV = {
    "TIM_OA_SDKAPPID": "1400000000",
    "TIM_OA_SECRET_KEY": "0123456789abcdef" * 4,
    "TIM_OA_REGION": "singapore",
}


async def test_a_region_checks_both_domains_without_the_network() -> None:
    network = FakeNetwork(broken_dns="adminapisgp.my-imcloud.com")
    emulator = Emulator(1400000000, REGION_ENV["TIM_OA_SECRET_KEY"])
    out = await run_doctor(REGION_ENV, network, emulator)
    assert network.asked == [
        "adminapisgp.im.qcloud.com",
        "adminapisgp.my-imcloud.com",
        "https://adminapisgp.im.qcloud.com",
    ]
    assert "ok    dns             adminapisgp.im.qcloud.com: 203.0.113.7" in out
    assert "FAIL  dns             adminapisgp.my-imcloud.com: Name or service not known" in out
    assert "ok    tls             adminapisgp.im.qcloud.com:443, TLSv1.3" in out
    assert "use_backup_domain=True" in out and "1 check(s) failed" in out


async def test_tls_failure_and_a_skewed_clock_fail() -> None:
    network = FakeNetwork(broken_tls="adminapisgp.im.qcloud.com", skew=900)
    emulator = Emulator(1400000000, REGION_ENV["TIM_OA_SECRET_KEY"])
    out = await run_doctor(REGION_ENV, network, emulator)
    assert "FAIL  tls" in out and "SSLCertVerificationError" in out
    assert "FAIL  clock           this machine's clock is 900 s ahead of the server's" in out
    assert "2 check(s) failed" in out


async def test_the_service_switched_off_is_explained() -> None:
    emulator = Emulator(1400000000, REGION_ENV["TIM_OA_SECRET_KEY"], service_enabled=False)
    out = await run_doctor(REGION_ENV, FakeNetwork(), emulator)
    assert "FAIL  admin read" in out and "131000" in out
    assert "switch the Official Account service on" in out


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        (70001, "clock"),
        (70014, "SDKAppID or the region is wrong"),
        (70016, "SDKAppID or the region is wrong"),
        (60010, "not an App admin"),
        (131000, "switch the Official Account service on"),
        (99999, "error-code table"),
    ],
)
def test_codes_are_explained(code: int, advice: str) -> None:
    error = error_class_for(code)(code, "info")
    detail, fix = explain(error)
    assert detail.startswith(f"{code} (") and advice in fix


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://[::1]:8080", True),
        ("https://adminapisgp.im.qcloud.com", False),
        ("http://10.0.0.5:8080", False),
    ],
)
def test_loopback_urls(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_the_admin_account_is_imported(run: Any, served: Served) -> None:
    result = run("doctor")
    assert lines_of(result.stdout)["admin imported"] == "ok", result.stdout


async def test_an_admin_not_imported_fails_with_how_to_import_it() -> None:
    emulator = Emulator(1400000000, REGION_ENV["TIM_OA_SECRET_KEY"], known_users=["someone"])
    # The emulator counts its admins as imported; an app whose admin was deleted is not.
    emulator.call("account_delete", {"DeleteItem": [{"UserID": "administrator"}]})
    out = await run_doctor(REGION_ENV, FakeNetwork(), emulator)
    assert "FAIL  admin imported" in out and "import_account('administrator')" in out


def _shown(page: str, command: str) -> str:
    """The output a docs page shows after ``$ <command>`` (up to the next prompt or fence)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / page).read_text(encoding="utf-8")
    block = text.split(f"$ {command}\n", 1)[1]
    return block.split("```", 1)[0].split("\n$ ", 1)[0].rstrip("\n")


@pytest.mark.parametrize("page", ["guide/cli.md", "getting-started/first-day.md"])
def test_the_docs_show_doctors_real_output(run: Any, page: str) -> None:
    emulator = Emulator()  # the key `tim-oa emulator serve` uses by default
    with serve(emulator) as base_url:
        env = {
            "XDG_CONFIG_HOME": "/nonexistent",
            "TIM_OA_SDKAPPID": str(emulator.sdkappid),
            "TIM_OA_SECRET_KEY": emulator.secret_key,
            "TIM_OA_BASE_URL": base_url,
        }
        good = run("doctor", env=env)
        bad = run("doctor", env={**env, "TIM_OA_SECRET_KEY": "3f" * 32})
    port = base_url.rsplit(":", 1)[1]
    assert good.stdout.replace(port, "8080").rstrip("\n") == _shown(page, "tim-oa doctor")
    shown_bad = _shown(page, "TIM_OA_SECRET_KEY=3f3f…3f tim-oa doctor")
    assert bad.stdout.replace(port, "8080").rstrip("\n") == shown_bad
