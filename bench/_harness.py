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

Honest figures: every sample records the machine's 1-minute load average when it ended, and the
table shows each row's range beside it. A row whose rounds spread more than :data:`MAX_SPREAD`
(the largest minus the smallest value of a measurement's ``primary`` metric, over its median) is
measured again, all its measurements interleaved for as many rounds again, and says so.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gc
import os
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Metrics = dict[str, float]

MAX_SPREAD = 0.20
"""A row whose rounds spread more than this (a share of the median) is measured again."""
LOAD = "load_1m"
"""The metric every sample gets: the 1-minute load average when it was taken."""


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
    primary: str | None = None
    """The metric whose spread over the rounds decides a rerun (default ``cpu_us`` if given)."""


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
    load: str = ""  # the range of the load average over the row's samples
    spread: float | None = None  # the largest spread of a primary metric over the rounds
    reran: bool = False


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


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - not POSIX
        return float("nan")


def spread(samples: list[Metrics], metric: str) -> float | None:
    """(largest - smallest) / median of ``metric`` over the samples; None under two samples."""
    values = [s[metric] for s in samples if metric in s]
    if len(values) < 2:
        return None
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else None


def _primary(m: Measurement, samples: list[Metrics]) -> str | None:
    if m.primary is not None:
        return m.primary
    return "cpu_us" if samples and "cpu_us" in samples[0] else None


def run_rows(
    rows: Sequence[Row], ctx: Context, rounds: int, log: Callable[[str], None]
) -> tuple[list[RowResult], dict[str, Any]]:
    """Measure every row's measurements over ``rounds`` interleaved rounds; summarize the rows.

    Rows whose rounds spread more than :data:`MAX_SPREAD` are then measured for ``rounds`` more
    rounds (at least 2), their measurements interleaved as before.
    """
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

    def measure(order: list[str], round_no: int, total: int) -> None:
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
            metrics[LOAD] = _load()
            samples[key].append(metrics)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            log(
                f"  round {round_no + 1}/{total} {key} "
                f"({time.perf_counter() - started:.1f} s): {shown}"
            )

    order = [key for key in measurements if key not in skipped]
    for round_no in range(rounds):
        measure(order, round_no, rounds)

    def row_spread(row: Row) -> float | None:
        """The spread of what the row reports: for CPU rows the per-round ratio of its first
        measurement to its second, else the first measurement's primary metric."""
        first = samples[row.uses[0].key]
        metric = _primary(row.uses[0], first)
        if metric is None:
            return None
        if len(row.uses) > 1 and row.uses[0].primary is None:
            second = samples[row.uses[1].key]
            pairs = [
                {metric: a[metric] / b[metric]}
                for a, b in zip(first, second, strict=False)
                if metric in a and b.get(metric)
            ]
            if pairs and len(pairs) == min(len(first), len(second)):
                return spread(pairs, metric)
        return spread(first, metric)

    rerun_rows = [
        row
        for row in rows
        if (value := row_spread(row)) is not None
        and value > MAX_SPREAD
        and not any(m.key in skipped or m.key in errors for m in row.uses)
    ]
    rerun_keys = [key for key in order if any(m.key == key for r in rerun_rows for m in r.uses)]
    if rerun_keys:
        extra = max(2, rounds)
        log(
            f"rerunning {len(rerun_rows)} rows whose rounds spread over {MAX_SPREAD:.0%}: "
            + ", ".join(r.id for r in rerun_rows)
        )
        for round_no in range(extra):
            measure(rerun_keys, round_no, extra)
    series = {key: Series(s) for key, s in samples.items() if s}
    results = []
    for row in rows:
        missing = [m.key for m in row.uses if m.key in skipped]
        failed = [m.key for m in row.uses if m.key in errors]
        if missing:
            results.append(RowResult(row, None, "n/a", skipped[missing[0]]))
            continue
        if failed:
            results.append(RowResult(row, None, "error", errors[failed[0]]))
            continue
        loads = [s[LOAD] for m in row.uses for s in samples[m.key] if LOAD in s]
        load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else ""
        row_sp, reran = row_spread(row), row in rerun_rows
        try:
            outcome = row.summarize([series[m.key] for m in row.uses])
        except Exception as exc:
            results.append(
                RowResult(row, None, "error", f"{type(exc).__name__}: {exc}", load, row_sp, reran)
            )
            continue
        status = "info" if outcome.passed is None else ("pass" if outcome.passed else "FAIL")
        results.append(RowResult(row, outcome, status, "", load, row_sp, reran))
    medians = {key: value.medians for key, value in series.items()}
    raw = {"samples": samples, "medians": medians, "skipped": skipped, "errors": errors}
    return results, raw


def format_table(results: Sequence[RowResult]) -> str:
    """The results as one plain-text table (markdown-compatible)."""
    header = ("row", "what", "target", "measured", "ratio", "result", "load", "spread")
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
        spread_text = "" if r.spread is None else f"{r.spread:.0%}"
        spread_text += " (rerun)" if r.reran else ""
        cells = (r.row.id, r.row.title, r.row.target, measured, ratio, result, r.load, spread_text)
        lines.append(cells)
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
        "load": r.load,
        "spread": r.spread,
        "reran": r.reran,
    }
