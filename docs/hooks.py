"""MkDocs hooks: pages generated from the code, so they cannot drift from it.

- ``<!-- tim_oa:error-codes -->`` becomes the error-code table, read from the one code table
  (``tim_oa._codes``: :class:`~tim_oa.ErrorCode`, each code's rule, the per-command overrides)
  and the members' docstrings.
- After the build, every public name of ``tim_oa``, ``tim_oa.limiters``, ``tim_oa.webhooks`` and
  ``tim_oa.testing`` must have a ``::: module.Name`` entry in the reference, or the build fails.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = ("tim_oa", "tim_oa.limiters", "tim_oa.webhooks", "tim_oa.testing")

ERROR_CODES = "<!-- tim_oa:error-codes -->"
DIRECTIVE = re.compile(r"^::: +(?P<identifier>[A-Za-z_][\w.]*)\s*$", re.MULTILINE)

_documented: dict[str, str] = {}  # identifier -> the page that renders it


def on_pre_build(config: Any, **kwargs: Any) -> None:
    """Forget what an earlier build (``mkdocs serve``) documented."""
    _documented.clear()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any, **kwargs: Any) -> str:
    """Expand the generated parts of a page, and note which names it documents."""
    for match in DIRECTIVE.finditer(markdown):
        _documented.setdefault(match["identifier"], page.file.src_uri)
    if ERROR_CODES in markdown:
        markdown = markdown.replace(ERROR_CODES, error_code_tables())
    return markdown


def on_post_build(config: Any, **kwargs: Any) -> None:
    """Fail the build when a public name has no entry in the API reference."""
    missing = [name for name in public_names() if name not in _documented]
    if missing:
        raise PluginError(
            "public names without a '::: name' entry in docs/reference/: " + ", ".join(missing)
        )


def public_names() -> list[str]:
    """Every public name of the documented modules, as ``module.name``."""
    names = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names += [f"{module_name}.{name}" for name in module.__all__ if not name.startswith("__")]
    return names


# --- The error-code table ----------------------------------------------------------------------


def member_docstrings(path: Path, class_name: str) -> dict[str, str]:
    """The docstrings written under the members of a class (``NAME = value`` then a string)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    docs: dict[str, str] = {}
    for statement, following in zip(cls.body, cls.body[1:], strict=False):
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.targets[0].id] = " ".join(following.value.value.split())
    return docs


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def error_code_tables() -> str:
    """The code table as Markdown: every code, then the codes one command reads its own way."""
    from tim_oa import _codes
    from tim_oa._errors import UserSigExpiredError

    path = Path(_codes.__file__)
    meanings = member_docstrings(path, "ErrorCode")
    retry_kinds = member_docstrings(path, "Retry")

    labels = {
        _codes.Retry.NEVER: "never",
        _codes.Retry.TRANSIENT: "if safe to repeat",
        _codes.Retry.REFUSED: "always",
    }

    def retried(rule: Any) -> str:
        label = labels[rule.retry]
        return f"{label}, after at least {rule.wait:g} s" if rule.wait else label

    def retried_column(code: int, rule: Any) -> str:
        # The column must agree with the meaning: an expired UserSig is not retried by the
        # policy but renewed and resent by the request loop, and a code that one command reads
        # its own way says so in its row, not only in the second table.
        if issubclass(rule.error, UserSigExpiredError):
            text = "once, with a renewed UserSig (a fixed UserSig string: never)"
        else:
            text = retried(rule)
        for (command, other), special in sorted(_codes.command_rules().items()):
            if other == code and retried(special) != retried(rule):
                text += f"; {retried(special)} on `{command}`"
        return text

    def exception(rule: Any) -> str:
        name = rule.error.__name__
        return f"[`{name}`][tim_oa.{name}]"

    lines = [
        "| code | `ErrorCode` | meaning | raises | retried |",
        "|---:|---|---|---|---|",
    ]
    for code in _codes.ErrorCode:
        if code == _codes.ErrorCode.OK:
            continue
        rule = _codes.rule_for(code)
        lines.append(
            f"| {int(code)} | `{code.name}` | {_cell(meanings.get(code.name, ''))} "
            f"| {exception(rule)} | {retried_column(code, rule)} |"
        )
    lines += [
        "",
        "Codes that one command gives a meaning of its own:",
        "",
        "| command | code | raises | retried |",
        "|---|---:|---|---|",
    ]
    for (command, code), rule in sorted(_codes.command_rules().items()):
        lines.append(f"| `{command}` | {code} | {exception(rule)} | {retried(rule)} |")
    lines += ["", "The column *retried*, read from the table's retry kinds:", ""]
    for kind in _codes.Retry:
        lines.append(
            f"- **{labels[kind]}** (`Retry.{kind.name}`): {retry_kinds.get(kind.name, '')}"
        )
    lines += [
        "",
        "Any other code raises [`ApiError`][tim_oa.ApiError] itself, carrying the code, and is "
        "not retried.",
    ]
    return "\n".join(lines)
