"""The package's layout rules: no import circle, errors import nothing of ours at run time."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tim_oa"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    """Modules of ours imported at module level (``if TYPE_CHECKING:`` blocks are static only)."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                found.add(".".join([*base, node.module]))
            else:
                found.update(".".join([*base, alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tim_oa"):
            found.add(str(node.module))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tim_oa"))
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _runtime_imports(p) for p in PACKAGE.rglob("*.py")}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle found by a depth-first walk, from where it closes."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_no_import_circle() -> None:
    assert find_cycles(_graph()) == []


def test_the_cycle_check_can_fail() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c", "x"}, "c": {"a"}, "x": set()}) == [
        ["a", "b", "c", "a"]
    ]
    assert "tim_oa._codes" in _runtime_imports(PACKAGE / "_wire.py")


def test_errors_module_imports_nothing_of_ours_at_run_time() -> None:
    assert _runtime_imports(PACKAGE / "_errors.py") == set()


def test_no_module_over_500_lines_unless_its_docstring_says_why() -> None:
    too_long = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 500:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if "500 lines" not in docstring:
                too_long.append(_module_name(path))
    assert too_long == []
