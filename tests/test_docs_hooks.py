"""docs/hooks.py, the MkDocs hooks: the error-code table.

Runs where the ``docs`` extra is installed (``nox -s docs`` runs it before building the site).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tim_oa import ErrorCode

pytest.importorskip("mkdocs")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_error_code_table_has_a_row_for_every_code(hooks: ModuleType) -> None:
    table = hooks.error_code_tables()
    rows = {int(code): row for code, row in re.findall(r"^\| (\d+) \| (.*)$", table, re.M)}
    assert set(rows) == {int(code) for code in ErrorCode if code}
    assert "[`AuthError`][tim_oa.AuthError] | always, after at least 60 s" in rows[70050]
    assert "`RateLimitedError`" in rows[60007] and rows[60007].endswith("| always |")
    # The per-command rules: recall reads 10004 as a final invalid parameter.
    assert "| `official_account_msg_recall` | 10004 | [`InvalidRequestError`]" in table
    assert "Success" not in table  # code 0 is not an error


def test_member_docstrings_are_read_from_the_source(hooks: ModuleType) -> None:
    import tim_oa._codes

    docs = hooks.member_docstrings(Path(tim_oa._codes.__file__), "ErrorCode")
    assert (
        docs["OA_NOT_FOUND"] == "The Official Account does not exist, or existed and was destroyed."
    )
    assert set(docs) == {code.name for code in ErrorCode}


def test_the_retried_column_agrees_with_each_codes_meaning(hooks: ModuleType) -> None:
    table = hooks.error_code_tables()
    rows = {int(code): row for code, row in re.findall(r"^\| (\d+) \| (.*)$", table, re.M)}
    # 70001 is renewed and resent by the request loop, not "never" retried.
    assert rows[70001].endswith("| once, with a renewed UserSig (a fixed UserSig string: never) |")
    # 60019 is retried on other commands, but never on a send (the hourly broadcast cap).
    assert rows[60019].endswith("| always; never on `send_official_account_msg` |")
    # Codes whose per-command rule retries the same way gain nothing.
    assert rows[60007].endswith("| always |")
