"""The measuring loop: rows, the measurements they compare, interleaved rounds, medians, the table.

A :class:`Row` is one line of the table. It names the :class:`Measurement` objects it compares
(for example the library at 10 in flight and bare httpx at 10 in flight) and turns their medians
into an :class:`Outcome` (what was measured, the ratio, pass or fail). Rows share measurements by
key, so the bare-httpx baseline at 10 in flight is measured once a round for every row that
compares against it.

Each round measures every selected measurement once; odd rounds run them in reverse order
(ABBA), so a drift in the machine's load hits every variant alike. A measurement returns a dict of
metrics; a row sees each measurement as a :class:`Series` of its rounds: medians, worst cases, and
:func:`paired_ratio`, the median over rounds of the ratio within each round (variants of one round
run minutes apart at most, so a change of load between rounds cancels out). A measurement whose
``requires`` names a missing feature is skipped, and so is every row that needs it (``n/a`` with
the reason); a measurement that raises marks its rows as errors without stopping the others.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Metrics = dict[str, float]


@dataclass
class Context:
    """What measurements share: the server, the run's size and caches for expensive setup."""

    server: Any  # bench._server.ServerProcess
    quick: bool
    stack: contextlib.ExitStack
    """Cleanups run when the bench ends (e.g. stopping a Redis server it started)."""
    client_cpu: int | None = None
    server_cpu: int | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def size(self, full: int, quick: int) -> int:
        """``full`` normally, ``quick`` under ``--quick``."""
        return quick if self.quick else full


@dataclass
class Measurement:
    """One thing to measure each round; ``run`` returns metrics (numbers by name)."""

    key: str
    run: Callable[[Context], Metrics]
    requires: Callable[[Context], str | None] = lambda ctx: None
    max_samples: int | None = None
    """Measured in the first ``max_samples`` rounds only (memory: deterministic and slow)."""


@dataclass
class Outcome:
    """A row's result: the text of the measured value, the ratio, and pass/fail (None: info)."""

    measured: str
    ratio: float | None = None
    passed: bool | None = None
    note: str = ""


class Series:
    """One measurement's samples, a dict of metrics per round.

    ``series["cpu_us"]`` is the median over the rounds, ``series["cpu_us@max"]`` the worst round.
    """

    def __init__(self, rounds: list[Metrics]) -> None:
        self.rounds = rounds
        self.medians = median_metrics(rounds)

    def __getitem__(self, name: str) -> float:
        return self.medians[name]

    def get(self, name: str, default: float) -> float:
        return self.medians.get(name, default)


def paired_ratio(a: Series, b: Series, name: str) -> float:
    """The median over rounds of ``a[name] / b[name]`` measured in the same round."""
    pairs = min(len(a.rounds), len(b.rounds))
    return statistics.median(a.rounds[i][name] / b.rounds[i][name] for i in range(pairs))


@dataclass
class Row:
    """One line of the table."""

    id: str
    title: str
    target: str
    uses: Sequence[Measurement]
    summarize: Callable[[list[Series]], Outcome]
    """Given the series of ``uses`` (same order), say what the row shows."""


@dataclass
class RowResult:
    row: Row
    outcome: Outcome | None
    status: str  # "pass", "FAIL", "info", "n/a", "error"
    reason: str = ""


def select(rows: Sequence[Row], patterns: Iterable[str] | None) -> list[Row]:
    """Rows whose id matches one of ``patterns`` (a glob, or a prefix ending at a dot)."""
    wanted = list(patterns or [])
    if not wanted:
        return list(rows)
    chosen = []
    for row in rows:
        for pattern in wanted:
            if (
                fnmatch.fnmatchcase(row.id, pattern)
                or row.id.startswith(pattern + ".")
                or row.id == pattern
            ):
                chosen.append(row)
                break
    return chosen


def median_metrics(samples: list[Metrics]) -> Metrics:
    """The median of each metric over the samples, plus its worst case as ``name@max``."""
    names = sorted({name for sample in samples for name in sample})
    out: Metrics = {}
    for name in names:
        values = [s[name] for s in samples if name in s]
        out[name] = statistics.median(values)
        out[f"{name}@max"] = max(values)
    return out


def run_rows(
    rows: Sequence[Row], ctx: Context, rounds: int, log: Callable[[str], None]
) -> tuple[list[RowResult], dict[str, Any]]:
    """Measure every row's measurements over ``rounds`` interleaved rounds; summarize the rows."""
    measurements: dict[str, Measurement] = {}
    for row in rows:
        for m in row.uses:
            measurements.setdefault(m.key, m)
    skipped: dict[str, str] = {}
    for key, m in measurements.items():
        reason = m.requires(ctx)
        if reason:
            skipped[key] = reason
    errors: dict[str, str] = {}
    samples: dict[str, list[Metrics]] = {key: [] for key in measurements}
    order = [key for key in measurements if key not in skipped]
    for round_no in range(rounds):
        keys = order if round_no % 2 == 0 else list(reversed(order))
        for key in keys:
            m = measurements[key]
            if key in errors or (m.max_samples is not None and round_no >= m.max_samples):
                continue
            gc.collect()
            started = time.perf_counter()
            try:
                metrics = m.run(ctx)
            except Exception as exc:
                errors[key] = f"{type(exc).__name__}: {exc}"
                log(f"  {key}: error: {errors[key]}")
                traceback.print_exc(file=sys.stderr)
                continue
            samples[key].append(metrics)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            log(
                f"  round {round_no + 1}/{rounds} {key} "
                f"({time.perf_counter() - started:.1f} s): {shown}"
            )
    series = {key: Series(s) for key, s in samples.items() if s}
    results = []
    for row in rows:
        missing = [m.key for m in row.uses if m.key in skipped]
        failed = [m.key for m in row.uses if m.key in errors]
        if missing:
            results.append(RowResult(row, None, "n/a", skipped[missing[0]]))
        elif failed:
            results.append(RowResult(row, None, "error", errors[failed[0]]))
        else:
            try:
                outcome = row.summarize([series[m.key] for m in row.uses])
            except Exception as exc:
                results.append(RowResult(row, None, "error", f"{type(exc).__name__}: {exc}"))
                continue
            status = "info" if outcome.passed is None else ("pass" if outcome.passed else "FAIL")
            results.append(RowResult(row, outcome, status))
    medians = {key: value.medians for key, value in series.items()}
    raw = {"samples": samples, "medians": medians, "skipped": skipped, "errors": errors}
    return results, raw


def format_table(results: Sequence[RowResult]) -> str:
    """The results as one plain-text table (markdown-compatible)."""
    header = ("row", "what", "target", "measured", "ratio", "result")
    lines: list[tuple[str, ...]] = []
    for r in results:
        o = r.outcome
        if o is None:
            measured, ratio, result = r.reason, "", r.status
            if r.status == "n/a" and not measured.startswith("n/a"):
                measured = "n/a: " + measured
        else:
            measured = o.measured + (f" ({o.note})" if o.note else "")
            ratio = "" if o.ratio is None else f"{o.ratio:.2f}x"
            result = r.status
        lines.append((r.row.id, r.row.title, r.row.target, measured, ratio, result))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    widths[3] = min(widths[3], 70)

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(fmt(line) for line in lines)
    return "\n".join(out)


def result_dict(r: RowResult) -> dict[str, Any]:
    """One row's result for the JSON file."""
    o = r.outcome
    return {
        "id": r.row.id,
        "what": r.row.title,
        "target": r.row.target,
        "status": r.status,
        "reason": r.reason,
        "measured": None if o is None else o.measured,
        "ratio": None if o is None else o.ratio,
        "note": None if o is None else o.note,
        "uses": [m.key for m in r.row.uses],
    }
