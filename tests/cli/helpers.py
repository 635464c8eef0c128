"""Small helpers shared by the command tests."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from click.testing import Result

_names = itertools.count(1)


def records(result: Result) -> list[dict[str, Any]]:
    """stdout parsed as JSON lines (every line must parse)."""
    return [json.loads(line) for line in result.stdout.splitlines()]


def create_account(run: Any, **options: str) -> str:
    """Create an account through the CLI and return its id."""
    args = ["accounts", "create", "owner-1", f"Account {next(_names)}"]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", value]
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    (record,) = records(result)
    account_id: str = record["official_account"]
    return account_id


def resume_value(result: Result, option: str) -> str:
    """The cursor printed after ``resume with: OPTION`` on stderr."""
    match = re.search(rf"resume with: {option} (\S+)", result.stderr)
    assert match is not None, result.stderr
    return match.group(1).strip("'")
