"""The README and the documentation site stay in step, without building the site.

- Every link in README.md is relative and names a file of the checkout (it works in a checkout
  and on a forge); no placeholder forge or hosting address appears anywhere until the project
  has a public home.
- The docs pages hold their own text (no page includes the README), and every file a page
  includes exists.
- The architecture page names only files that exist, and every module of ``tim_oa/``.
- Every public name has an entry in the API reference (the site's build checks it too).
- The Python blocks of the docs pages compile; the quickstart's emulator program runs, and so
  does the testing guide's test module, in a project of its own, in pytest-asyncio's strict mode.
"""

from __future__ import annotations

import importlib
import re
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import tim_oa
from tests import docs_pages

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))

FENCE = re.compile(r"^( *)(```|~~~).*?^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+).+?\1", re.DOTALL)
LINK_TARGETS = (
    re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)"),  # [text](target), images
    re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE),  # [ref]: target
    re.compile(r"\b(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE),  # HTML
)
INCLUDE = re.compile(r'^--8<-- "(?P<file>[^":]+)(?::(?P<section>[a-z][-_0-9a-z]*))?"$', re.M)


def relative_links(markdown: str) -> list[str]:
    """The link targets of a Markdown text that are not absolute https URLs (code left out)."""
    text = INLINE_CODE.sub("", FENCE.sub("", markdown))
    targets = [match for pattern in LINK_TARGETS for match in pattern.findall(text)]
    return [target for target in targets if not target.startswith("https://")]


@pytest.mark.parametrize(
    ("markdown", "relative"),
    [
        ("See [the changes](CHANGELOG.md).", ["CHANGELOG.md"]),
        ("- [Quickstart](#quickstart)", ["#quickstart"]),
        ("![logo](docs/logo.png)", ["docs/logo.png"]),
        ('<a href="docs/index.md">docs</a>', ["docs/index.md"]),
        ("[changes]: ./CHANGELOG.md", ["./CHANGELOG.md"]),
        ("[http](http://example.com/)", ["http://example.com/"]),
        ("[ok](https://example.com/x) <https://example.com>", []),
        ("`[code](not/a/link)` and\n```python\nx = [a](b)\n```", []),
    ],
)
def test_the_link_check_finds_relative_links(markdown: str, relative: list[str]) -> None:
    assert relative_links(markdown) == relative


def test_every_readme_link_is_relative_and_exists() -> None:
    links = relative_links(README)
    assert links, "the README links to its guides"
    for target in links:
        path = target.partition("#")[0]
        assert path and not target.startswith(("http:", "/")), target
        assert (ROOT / path).exists(), f"README links to a missing file: {target}"
    assert not re.search(r"\]\(https?://", README), "only relative links in the README"


PLACEHOLDERS = ("github.com/tim-oa", "tim-oa.readthedocs.io")


def test_no_placeholder_addresses_anywhere() -> None:
    files = [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        ROOT / "mkdocs.yml",
        ROOT / "pyproject.toml",
    ]
    files += PAGES + sorted((ROOT / "examples").rglob("*.md"))
    found = [
        f"{path.relative_to(ROOT)}: {placeholder}"
        for path in files
        for placeholder in PLACEHOLDERS
        if placeholder in path.read_text(encoding="utf-8")
    ]
    assert found == []


def test_no_docs_page_includes_the_readme() -> None:
    including = [page for page in PAGES if "README.md:" in page.read_text(encoding="utf-8")]
    assert including == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(DOCS)))
def test_docs_pages_include_what_exists(page: Path) -> None:
    for include in INCLUDE.finditer(page.read_text(encoding="utf-8")):
        target = ROOT / include["file"]
        assert target.is_file(), include[0]
        if include["section"]:
            text = target.read_text(encoding="utf-8")
            assert f"[start:{include['section']}]" in text, include[0]
            assert f"[end:{include['section']}]" in text, include[0]


def architecture_section() -> str:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    match = re.search(r"^One concept per module.*?(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert match, "docs/architecture.md has no module map"
    return match.group(0)


def test_the_architecture_map_names_real_files_and_every_module() -> None:
    text = architecture_section()
    named = set(re.findall(r"`(?:tim_oa/)?((?:[a-z]+/)?_?[a-z0-9_]+\.py)`", text))
    package = ROOT / "tim_oa"
    folders = ["", "testing/", "webhooks/", "cli/"]
    for name in named:
        assert any((package / folder / name).is_file() for folder in folders), name
    top_level = {path.name for path in package.glob("*.py")} - {"_version.py"}
    emulator = {path.name for path in (package / "testing").glob("*.py")}
    basenames = {name.rpartition("/")[2] for name in named}
    unnamed = (top_level | emulator) - basenames - {"__init__.py", "__main__.py"}
    assert unnamed == set(), f"modules missing from docs/architecture.md's module map: {unnamed}"


def test_every_public_name_has_an_api_reference_entry() -> None:
    documented = {
        match
        for page in (DOCS / "reference").glob("*.md")
        for match in re.findall(r"^::: +([\w.]+)\s*$", page.read_text(encoding="utf-8"), re.M)
    }
    missing = []
    for module_name in ("tim_oa", "tim_oa.limiters", "tim_oa.webhooks", "tim_oa.testing"):
        module = importlib.import_module(module_name)
        missing += [
            f"{module_name}.{name}"
            for name in module.__all__
            if not name.startswith("__") and f"{module_name}.{name}" not in documented
        ]
    assert missing == []


def python_blocks(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(DOCS)))
def test_docs_python_blocks_compile(page: Path) -> None:
    for block in python_blocks(page):
        if block.startswith("--8<--"):
            continue  # an included file: compiled (and run) by its own tests
        # Top-level await is allowed in a snippet: compile it as a coroutine's body.
        source = "async def _snippet():\n" + textwrap.indent(block, "    ") + "\n    pass\n"
        compile(source, str(page), "exec")


def test_the_quickstart_runs_against_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    [program] = [
        block
        for block in python_blocks(DOCS / "getting-started" / "quickstart.md")
        if "Emulator(" in block
    ]
    exec(compile(program, "quickstart.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    account_id, succeeded = lines[0].split(" ", 1)
    assert account_id.startswith("@TOA#_") and succeeded == "['107867', '204511']"
    assert sorted(line.split()[0] for line in lines[1:]) == ["107867", "204511"]

    # The emulator is strict, as Tencent is: without the import the program fails.
    assert "Emulator(known_users=())" in program
    skipped = program.replace("await oa.import_accounts(", "(lambda *_: None)(")
    skipped = skipped.replace("imported.raise_for_failures()", "pass")
    with pytest.raises(tim_oa.ApiError) as refused:
        exec(compile(skipped, "quickstart.md", "exec"), {})
    assert refused.value.code == 70107


def test_the_testing_guides_module_runs_in_a_project_of_its_own(pytester: pytest.Pytester) -> None:
    [module] = [
        block
        for block in docs_pages.python_blocks("guide/testing.md", "In a project of your own")
        if "def test_" in block
    ]
    pytester.makeini("[pytest]\nasyncio_mode = strict\n")  # pytest-asyncio's default
    pytester.makepyfile(test_user=module)
    installed = any(e.name == "tim_oa" for e in entry_points(group="pytest11"))
    plugin = [] if installed else ["-p", "tim_oa.testing.pytest_plugin"]
    result = pytester.runpytest_subprocess(*plugin, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("written", "target"),
    [
        ("webhooks.callback_query(", "tim_oa.webhooks.callback_query"),
        ("UserSigSigner(", "tim_oa.UserSigSigner"),
    ],
)
def test_documented_signatures_match_the_code(written: str, target: str) -> None:
    """Where a guide spells out a signature, its names and its ``*`` are the code's."""
    import inspect

    module_name, _, name = target.rpartition(".")
    parameters = inspect.signature(getattr(importlib.import_module(module_name), name)).parameters
    expected = []
    for parameter in parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in expected:
            expected.append("*")
        expected.append(parameter.name)
    found = 0
    for page in PAGES:
        text = " ".join(page.read_text(encoding="utf-8").split())
        for match in re.finditer(re.escape(written) + r"([^()`]*)\)`", text):
            names = [arg.split("=")[0].strip() for arg in match.group(1).split(",")]
            if len(names) < 3:
                continue  # a call with a few arguments, not a signature
            found += 1
            assert names == expected[: len(names)], f"{page.name}: {match.group(0)}"
    assert found, f"no guide spells out {written}...)"
