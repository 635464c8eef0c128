"""Rows: what the observer hooks and OpenTelemetry cost per call (issue 20).

Each variant runs ``Session.call`` with 10 callers in a fresh interpreter (``bench._obs_client``),
so "OpenTelemetry not installed" can be simulated by blocking its import and the SDK's global
providers do not leak into other rows. "Today" is tim_oa before the hooks: the tree of
``$BENCH_OBS_BASELINE`` (a git revision; default the commit before them), extracted with
``git archive`` into a temporary folder put first on the path.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Callable

from ._harness import Context, Measurement, Metrics, Outcome, Row, Series, paired_ratio

ROOT = pathlib.Path(__file__).resolve().parent.parent
BASELINE = os.environ.get("BENCH_OBS_BASELINE", "14c80c96653d99782d8e0da3654113f39e7b52c2")
IN_FLIGHT = 10


def _otel_missing(ctx: Context) -> str | None:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return "n/a: opentelemetry-sdk is not installed"
    return None


def _baseline_tree(ctx: Context) -> str:
    """A folder holding the baseline's ``tim_oa`` (extracted once per bench run)."""
    cached = ctx.cache.get("obs_baseline")
    if cached is None:
        folder = ctx.stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-obs-"))
        archive = subprocess.run(
            ["git", "archive", BASELINE, "tim_oa"], cwd=ROOT, capture_output=True, check=False
        )
        if archive.returncode != 0:
            cached = ""
        else:
            subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
            cached = folder
        ctx.cache["obs_baseline"] = cached
    return str(cached)


def _baseline_missing(ctx: Context) -> str | None:
    if not _baseline_tree(ctx):
        return f"n/a: git revision {BASELINE!r} (BENCH_OBS_BASELINE) not found"
    return None


def _client(mode: str) -> Callable[[Context], Metrics]:
    def run(ctx: Context) -> Metrics:
        ctx.server.configure()
        path = [str(ROOT)]
        if mode == "today":
            path.insert(0, _baseline_tree(ctx))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        env.pop("TIM_OA_LOG", None)
        calls = ctx.size(2000, 300)
        cmd = [sys.executable, "-m", "bench._obs_client", mode, ctx.server.base_url]
        done = subprocess.run(
            [*cmd, str(calls), str(IN_FLIGHT)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"bench._obs_client {mode} failed: {done.stderr[-2000:]}")
        metrics: Metrics = json.loads(done.stdout.strip().splitlines()[-1])
        return metrics

    return run


TODAY = Measurement("obs.today.10", _client("today"), _baseline_missing)
OFF = Measurement("obs.off.10", _client("off"))
NO_SDK = Measurement("obs.nosdk.10", _client("nosdk"))
SDK = Measurement("obs.sdk.10", _client("sdk"), _otel_missing)


def _versus_today(limit: float | None) -> Callable[[list[Series]], Outcome]:
    def summarize(medians: list[Series]) -> Outcome:
        variant, today = medians[0], medians[1]
        ratio = paired_ratio(variant, today, "cpu_us")
        return Outcome(
            f"{variant['cpu_us']:.0f} vs {today['cpu_us']:.0f} µs/call",
            ratio,
            None if limit is None else ratio <= limit,
        )

    return summarize


def rows() -> list[Row]:
    """The observability rows."""
    return [
        Row(
            "obs.off.10",
            "call() CPU/call, OpenTelemetry not installed, vs before the hooks, 10 in flight",
            "≤ 1.02x",
            [OFF, TODAY],
            _versus_today(1.02),
        ),
        Row(
            "obs.nosdk.10",
            "call() CPU/call, OpenTelemetry API without SDK, vs before the hooks, 10 in flight",
            "≤ 1.05x",
            [NO_SDK, TODAY],
            _versus_today(1.05),
        ),
        Row(
            "obs.sdk.10",
            "call() CPU/call, SDK tracing + metrics to memory, vs before the hooks, 10 in flight",
            "(info)",
            [SDK, TODAY],
            _versus_today(None),
        ),
    ]
