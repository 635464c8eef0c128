"""What ``import tim_oa`` and a first ``tim_oa.Session`` load (bench row ``import`` times it)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "asyncio",
    "attr",
    "cattrs",
    "redis",
    "aiohttp",
    "httpx2",
    "httpcore2",
    "tim_oa._elements",
    "tim_oa._models",
)


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def test_a_session_loads_nothing_it_does_not_need() -> None:
    modules = loaded_after("import tim_oa\ntim_oa.Session")
    assert "tim_oa._session" in modules
    assert sorted(m for m in HEAVY if m in modules) == []


def test_names_still_load_on_first_use() -> None:
    modules = loaded_after(
        "import tim_oa\ntim_oa.TextElem\nfrom tim_oa.limiters import RedisLimiter"
    )
    assert {"tim_oa._elements", "tim_oa._redis_limiter"} <= modules


def test_a_session_on_the_default_stack_never_imports_httpx2() -> None:
    modules = loaded_after(
        "import tim_oa\n"
        "oa = tim_oa.Session(1, 'admin', 'sig', base_url='https://api.test')\n"
        "from tim_oa.testing import Emulator\n"
        "Emulator().session()"
    )
    assert "tim_oa._transport" in modules
    assert "httpx2" not in modules and "httpcore2" not in modules
