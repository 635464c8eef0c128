"""Row: ``import tim_oa`` against ``import httpx`` in a venv with only the runtime dependencies.

The venv lives in ``bench/.venv-runtime`` (git-ignored). It is made with ``python -m venv`` and
``pip install <repo>`` (no extras, so no test or CLI packages), and reinstalled whenever
``pyproject.toml`` or a file under ``tim_oa/`` changes, so it always holds the code being measured.
Each sample is the median of several fresh interpreter starts of each module, alternating, run
with ``-I`` from an empty directory (the checkout is not on ``sys.path``); the time is measured
inside the interpreter around the import statement alone.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

from ._harness import Context, Measurement, Metrics, Outcome, Row, Series

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv-runtime"
_PROBE = "import time; t = time.perf_counter(); {0}; print(time.perf_counter() - t)"
# What is timed: httpx's import against tim_oa's import plus the first use of its main name, so
# tim_oa's lazy loading of names cannot make the row pass by deferring the work.
_STATEMENTS = {"tim_oa": "import tim_oa; tim_oa.Session", "httpx": "import httpx"}


def _stamp() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    for path in sorted((ROOT / "tim_oa").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _python() -> pathlib.Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_runtime_venv() -> pathlib.Path:
    """The runtime venv's interpreter, created or refreshed as needed."""
    stamp_file = VENV / ".bench-stamp"
    stamp = _stamp()
    python = _python()
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not stamp_file.exists() or stamp_file.read_text() != stamp:
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, str(ROOT)], check=True)  # with the dependencies
        subprocess.run([*pip, "--no-deps", "--force-reinstall", str(ROOT)], check=True)
        stamp_file.write_text(stamp)
    return python


def _venv_missing(ctx: Context) -> str | None:
    if "runtime_venv" not in ctx.cache:
        try:
            ctx.cache["runtime_venv"] = ensure_runtime_venv()
        except subprocess.CalledProcessError as exc:
            ctx.cache["runtime_venv"] = None
            ctx.cache["runtime_venv_error"] = (
                f"n/a: cannot build bench/.venv-runtime (pip exited {exc.returncode}; see stderr)"
            )
        except OSError as exc:
            ctx.cache["runtime_venv"] = None
            ctx.cache["runtime_venv_error"] = f"n/a: cannot build bench/.venv-runtime ({exc})"
    if ctx.cache["runtime_venv"] is None:
        return str(ctx.cache["runtime_venv_error"])
    return None


def _start(python: pathlib.Path, module: str, cwd: str) -> float:
    done = subprocess.run(
        [str(python), "-I", "-c", _PROBE.format(_STATEMENTS[module])],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    return float(done.stdout.strip()) * 1000


def _measure(ctx: Context) -> Metrics:
    python = ctx.cache["runtime_venv"]
    starts = ctx.size(9, 3)
    times: dict[str, list[float]] = {"tim_oa": [], "httpx": []}
    with tempfile.TemporaryDirectory() as empty:
        for module in times:
            _start(python, module, empty)  # warm the OS file cache and the .pyc files
        for i in range(starts):
            order = ("tim_oa", "httpx") if i % 2 == 0 else ("httpx", "tim_oa")
            for module in order:
                times[module].append(_start(python, module, empty))
    metrics = {f"{m}_ms": statistics.median(v) for m, v in times.items()}
    # Each start of tim_oa beside the httpx start next to it: load changes cancel out.
    metrics["ratio"] = statistics.median(
        t / h for t, h in zip(times["tim_oa"], times["httpx"], strict=True)
    )
    return metrics


IMPORT = Measurement("import", _measure, _venv_missing)


def _summary(medians: list[Series]) -> Outcome:
    m = medians[0]
    ratio = m["ratio"]
    return Outcome(f"{m['tim_oa_ms']:.0f} vs {m['httpx_ms']:.0f} ms", ratio, ratio <= 1.3)


def rows() -> list[Row]:
    """The import row."""
    return [
        Row(
            "import",
            "import tim_oa (and tim_oa.Session) vs import httpx, runtime-only venv",
            "≤ 1.30x",
            [IMPORT],
            _summary,
        )
    ]
