"""Type-check a user's program with mypy --strict and pyright (strict), as CI does.

``user_program.py`` must check clean; ``misspelt.py`` must be reported on exactly the lines it
marks ``# error`` (so a session typed as ``Any`` fails this check). Run: ``python
tests/typing/check.py`` from the project root (needs mypy and pyright installed).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOOD = HERE / "user_program.py"
BAD = HERE / "misspelt.py"


def expected_error_lines() -> set[int]:
    lines = BAD.read_text(encoding="utf-8").splitlines()
    return {n for n, line in enumerate(lines, 1) if "  # error:" in line}


def mypy(path: Path) -> tuple[int, set[int], str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--python-version",
            "3.10",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = {
        int(m.group(1)) for m in re.finditer(rf"{re.escape(path.name)}:(\d+): error", proc.stdout)
    }
    return proc.returncode, lines, proc.stdout


def pyright(path: Path) -> tuple[int, set[int], str]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "pyrightconfig.json"
        config.write_text(
            json.dumps(
                {
                    "typeCheckingMode": "strict",
                    "pythonVersion": "3.10",
                    "reportMissingTypeStubs": False,
                }
            ),
            encoding="utf-8",
        )
        proc = subprocess.run(
            ["pyright", "--outputjson", "--project", str(config), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    report = json.loads(proc.stdout)
    lines = {
        d["range"]["start"]["line"] + 1
        for d in report.get("generalDiagnostics", [])
        if d["severity"] == "error"
    }
    return proc.returncode, lines, proc.stdout


def main() -> int:
    failures = []
    want = expected_error_lines()
    for name, checker in (("mypy", mypy), ("pyright", pyright)):
        code, lines, output = checker(GOOD)
        if code != 0 or lines:
            failures.append(f"{name}: {GOOD.name} should check clean:\n{output}")
        code, lines, output = checker(BAD)
        if lines != want:
            failures.append(
                f"{name}: {BAD.name} errors on lines {sorted(lines)}, expected {sorted(want)}:\n"
                f"{output}"
            )
        print(f"{name}: ok" if not failures else f"{name}: see below")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
