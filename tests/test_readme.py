"""The README is a landing page whose examples run; the guides' examples of the old README run too.

The README's Quickstart runs as pasted against the embedded emulator; its "With Tencent" block
runs against a served emulator with the key and the URL swapped in. The accounts, messages and
errors blocks live in the guides now, and run in-process here.
"""

from __future__ import annotations

import pathlib
import re
import textwrap
from typing import Any

import pytest

import tim_oa
from tests.docs_pages import python_blocks as page_blocks
from tim_oa.testing import Emulator, serve

ROOT = pathlib.Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of one ``## section`` of the README."""
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no section {section!r}"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


def test_the_quickstart_runs_as_pasted(capsys: pytest.CaptureFixture[str]) -> None:
    [code] = python_blocks("Quickstart")
    exec(compile(code, "README.md:quickstart", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "['107867', '204511', '309876'] [] []"
    assert sorted(line.split()[0] for line in out[1:]) == ["107867", "204511", "309876"]


def test_the_quickstart_needs_its_import_as_tencent_does() -> None:
    [code] = python_blocks("Quickstart")
    assert "Emulator(known_users=())" in code
    skipped = code.replace("await oa.import_accounts(", "(lambda *_: None)(")
    skipped = skipped.replace("imported.raise_for_failures()", "pass")
    with pytest.raises(tim_oa.ApiError) as refused:
        exec(compile(skipped, "README.md:quickstart", "exec"), {"__name__": "__main__"})
    assert refused.value.code == 70107


def test_with_tencent_runs_against_a_served_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    emulator = Emulator()
    [code] = python_blocks("With Tencent")
    assert "region=tim_oa.Region.SINGAPORE" in code
    with serve(emulator) as base_url:
        code = code.replace('"your SDKSecretKey"', repr(emulator.secret_key))
        code = code.replace("region=tim_oa.Region.SINGAPORE", f"base_url={base_url!r}")
        exec(compile(code, "README.md:with-tencent", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "['107867', '204511', '309876'] [] []"
    [account_id] = emulator.accounts
    assert out[1].startswith(f"{account_id} News ")
    record = emulator.account(account_id)
    assert record.introduction == "Daily news" and record.max_subscribers == 1_000_000


def test_the_readme_is_a_landing_page() -> None:
    assert len(README.splitlines()) < 200
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings[:3] == ["Install", "Quickstart", "With Tencent"]
    assert "--8<--" not in README  # the docs pages hold their own text


async def run_block(code: str, **names: Any) -> dict[str, Any]:
    """Run a block with top-level ``await`` inside an async function, given names in scope."""
    body = textwrap.indent(code, "    ")
    source = f"async def _block({', '.join(names)}):\n{body}\n    return locals()\n"
    scope: dict[str, Any] = {"tim_oa": tim_oa}
    exec(compile(source, "docs", "exec"), scope)
    result: dict[str, Any] = await scope["_block"](**names)
    return result


async def test_the_guides_accounts_messages_and_errors_blocks() -> None:
    emulator = Emulator(send_per_second=None, broadcasts_per_hour=None)
    async with emulator.session(send_rate=None) as oa:
        scope = await run_block(page_blocks("guide/accounts.md")[0], oa=oa)
        assert scope["account_id"] == "@TOA#_news"
        assert [a.ok for a in scope["accounts"]] == [True, False]

        scope = await run_block(page_blocks("guide/messages.md")[0], oa=oa, account_id="@TOA#_news")
        assert scope["report"].succeeded == [scope["sent"].msg_key]
        history = emulator.account("@TOA#_news").messages
        assert len(history) == 2 and history[1].recalled

        log = type("Log", (), {"warning": staticmethod(lambda *a: None)})()
        await run_block(page_blocks("guide/errors.md")[0], oa=oa, log=log)
        assert "@TOA#_news" not in emulator.accounts


def test_readme_commands_match_ci() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = 'python -m pip install -e ".[test]" && python -m pytest'
    assert test_command in README
    assert test_command.replace('"', "") in ci.replace('"', "")
    assert 'python -m pip install -e ".[cli]" && tim-oa demo' in README
