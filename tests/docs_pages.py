"""The documentation pages, read by the tests that run their examples."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def page_text(page: str) -> str:
    """The Markdown of a page under ``docs/`` (``"guide/webhooks.md"``)."""
    return (DOCS / page).read_text(encoding="utf-8")


def python_blocks(page: str, section: str | None = None) -> list[str]:
    """The ```python blocks of a page, or of its ``## section``; included files left out."""
    text = page_text(page)
    if section is not None:
        match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
        assert match, f"docs/{page} has no section {section!r}"
        text = match.group(1)
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return [block for block in blocks if not block.lstrip().startswith("--8<--")]
