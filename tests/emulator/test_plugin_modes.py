"""The pytest plugin in a user's project: strict and auto asyncio modes, AnyIO, the factory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest

from tests.docs_pages import python_blocks

pytest_plugins = ("pytester",)

# A user's test module, written as the testing guide writes it: no asyncio mark anywhere.
USER_TESTS = textwrap.dedent(
    """
    import pytest

    made = []

    async def test_signup(tim_oa_session, tim_oa_emulator):
        account_id = await tim_oa_session.create_account("owner", "News")
        assert account_id in tim_oa_emulator.accounts

    async def test_factory(tim_oa_session_factory, tim_oa_emulator):
        oa = tim_oa_session_factory(max_retries=0)
        made.append(oa)
        tim_oa_emulator.fail_next("create_official_account", code=20005)
        with pytest.raises(Exception) as info:
            await oa.create_account("owner", "News")
        assert getattr(info.value, "code", None) == 20005
        assert len(tim_oa_emulator.requests) == 1  # max_retries=0 reached the session

    def test_factory_closed_what_it_made():
        assert made and all(session.closed for session in made)

    @pytest.mark.tim_oa_emulator(seed=3, known_users=["owner"])
    def test_mark_configures_the_emulator(tim_oa_emulator):
        assert tim_oa_emulator.seed == 3
        assert tim_oa_emulator.known_users == {"owner"}

    async def helper_not_a_test():
        pass
    """
)


# The testing guide's webhook example needs an ``app``: an ASGI receiver refusing "bot" users.
WEBHOOK_APP = textwrap.dedent(
    """
    import json

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        event = json.loads(body)
        answer = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
        if event["CallbackCommand"] == "OfficialAccount.CallbackBeforeAddSubscriber":
            users = [i["Subscriber_Account"] for i in event["SubscribeAccountList"]]
            answer["RefusedSubscribers_Account"] = [u for u in users if u.startswith("bot")]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})

    """
)


def _readme_fixture_blocks() -> list[str]:
    """The testing guide's pytest examples (the blocks that use the plugin's fixtures)."""
    blocks = python_blocks("guide/testing.md", "The emulator")
    return [textwrap.dedent(block) for block in blocks if "tim_oa_session" in block]


def _plugin_args() -> list[str]:
    installed = any(e.name == "tim_oa" for e in entry_points(group="pytest11"))
    return [] if installed else ["-p", "tim_oa.testing.pytest_plugin"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", *args)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_readme_examples_run_as_written(pytester: pytest.Pytester, mode: str) -> None:
    blocks = _readme_fixture_blocks()
    assert len(blocks) == 3
    header = "import pytest\nimport tim_oa\nfrom tim_oa.testing import ManualClock\n" + WEBHOOK_APP
    pytester.makeini(f"[pytest]\nasyncio_mode = {mode}\n")
    pytester.makepyfile(
        test_user=USER_TESTS,
        test_readme_blocks=header + "\n\n".join(blocks).replace("...", "pass"),
    )
    result = _run(pytester)
    result.assert_outcomes(passed=4 + 4)


def test_anyio_marked_tests_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            import pytest

            @pytest.mark.anyio
            async def test_signup(tim_oa_session, tim_oa_emulator):
                account_id = await tim_oa_session.create_account("owner", "News")
                assert account_id in tim_oa_emulator.accounts
            """
        )
    )
    result = _run(pytester, "-p", "no:asyncio")
    result.assert_outcomes(passed=2)  # AnyIO runs it under asyncio and trio


def test_the_testing_guides_advice_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    [module] = [
        block
        for block in python_blocks("guide/testing.md", "In a project of your own")
        if "def test_" in block
    ]
    # Unmarked, as written: pytest's own setup error, which the guide quotes.
    pytester.makepyfile(test_plain=module)
    result = _run(pytester, "-p", "no:asyncio")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*requested an async fixture 'tim_oa_session'*"])
    # With the module-level mark the guide gives, AnyIO runs it.
    pytester.makepyfile(test_plain="import pytest\npytestmark = pytest.mark.anyio\n" + module)
    result = _run(pytester, "-p", "no:asyncio")
    assert result.ret == 0


def test_loading_the_plugin_does_not_import_the_emulator() -> None:
    code = (
        "import sys, tim_oa.testing.pytest_plugin;"
        "print(sorted(m for m in sys.modules if m.startswith('tim_oa.testing.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['tim_oa.testing.pytest_plugin']"
