"""docs/hooks.py, the MkDocs hooks: the error-code table and README sections of other branches.

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
from mkdocs.exceptions import PluginError

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


@pytest.mark.parametrize(
    ("readme", "expected"),
    [
        ("## Other\n", ""),
        (
            "## Running on many workers\n<!-- --8<-- [start:many-workers] -->\ntext\n"
            "<!-- --8<-- [end:many-workers] -->\n",
            '--8<-- "README.md:many-workers"',
        ),
    ],
)
def test_an_optional_readme_section_is_included_once_it_is_marked(
    hooks: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, readme: str, expected: str
) -> None:
    monkeypatch.setattr(hooks, "README", tmp_path / "README.md")
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    page = (
        'Intro.\n\n<!-- tim_oa:optional-readme-section many-workers "Running on many workers" -->\n'
    )
    assert hooks.OPTIONAL_SECTION.sub(hooks._optional_section, page) == f"Intro.\n\n{expected}\n"


def test_a_readme_section_without_markers_fails_the_build(
    hooks: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks, "README", tmp_path / "README.md")
    (tmp_path / "README.md").write_text("## Running on many workers\n\ntext\n", encoding="utf-8")
    page = '<!-- tim_oa:optional-readme-section many-workers "Running on many workers" -->'
    with pytest.raises(PluginError, match=r"\[start:many-workers\]"):
        hooks.OPTIONAL_SECTION.sub(hooks._optional_section, page)


def test_a_public_name_missing_from_the_reference_fails_the_build(hooks: ModuleType) -> None:
    hooks._documented.clear()
    hooks._documented.update({name: "page.md" for name in hooks.public_names()})
    hooks.on_post_build(config=None)
    del hooks._documented["tim_oa.Session"]
    with pytest.raises(PluginError, match=r"tim_oa\.Session\b"):
        hooks.on_post_build(config=None)
