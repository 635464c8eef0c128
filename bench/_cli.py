"""The command line: pick rows, pin the processes, run the rounds, print the table, save JSON."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
from typing import Any

import httpx

import tim_oa

from . import _rows_bulk, _rows_cpu, _rows_fleet, _rows_import, _rows_pager
from ._harness import Context, Row, format_table, result_dict, run_rows, select
from ._server import server_process

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def all_rows() -> list[Row]:
    """Every row, in the order of the table in issue 13 (then issue 11's, then the server's)."""
    cpu = {row.id: row for row in _rows_cpu.rows()}
    order = [r for r in cpu.values() if r.id.startswith("cpu.")]
    order += _rows_pager.rows() + _rows_bulk.rows() + _rows_import.rows()
    order += [r for r in cpu.values() if r.id.startswith(("aiohttp.", "httpx2."))]
    order += _rows_fleet.rows()
    order += [r for r in cpu.values() if r.id.startswith("server.")]
    return order


def _pin(enabled: bool) -> tuple[int | None, int | None, str]:
    """Pin this process to one core; return (client core, server core, description)."""
    if not enabled:
        return None, None, "not pinned (--no-pin)"
    if not hasattr(os, "sched_setaffinity"):
        return None, None, "not pinned (no sched_setaffinity on this system)"
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None, f"not pinned (only core {cores} available)"
    client, server = cores[0], cores[1]
    os.sched_setaffinity(0, {client})
    return client, server, f"client on core {client}, server on core {server}"


def _git() -> str:
    try:
        root = pathlib.Path(__file__).resolve().parent.parent
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "tim_oa"], cwd=root, capture_output=True
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def _load() -> str:
    with contextlib.suppress(OSError):
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Measure tim_oa against the bare code; one table."
    )
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5; quick: 2)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        metavar="ROW",
        help="run only rows matching ROW (an id, a prefix like 'cpu', or a glob); repeatable",
    )
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--server", choices=("raw", "uvicorn"), default="raw")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS, help="JSON results folder")
    args = parser.parse_args(argv)

    patterns = [p for item in args.only or [] for p in item.split(",") if p]
    rows = select(all_rows(), patterns)
    if args.list:
        for row in rows:
            print(f"{row.id:22s} {row.title}  [{row.target}]")
        return 0
    if not rows:
        parser.error(f"no row matches {patterns}; see --list")
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 5)
    if rounds < 1:
        parser.error("--rounds must be at least 1")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    client_cpu, server_cpu, pinning = _pin(not args.no_pin)
    load_before = _load()
    started = time.perf_counter()
    log(f"bench: {len(rows)} rows, {rounds} rounds; {pinning}; load {load_before}")
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(server_process(cpu=server_cpu, impl=args.server))
        ctx = Context(server, args.quick, stack, client_cpu, server_cpu)
        results, raw = run_rows(rows, ctx, rounds, log)
    load_after = _load()
    meta: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git(),
        "tim_oa": tim_oa.__version__,
        "python": platform.python_version(),
        "httpx": httpx.__version__,
        "rounds": rounds,
        "quick": args.quick,
        "pinning": pinning,
        "server": args.server,
        "load_before": load_before,
        "load_after": load_after,
        "cpus": os.cpu_count(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    quick = " (quick)" if args.quick else ""
    print(
        f"\ntim_oa {meta['tim_oa']} ({meta['commit']}), httpx {meta['httpx']}, Python "
        f"{meta['python']}; median of {rounds} interleaved rounds{quick}; {pinning}; "
        f"load {load_before} -> {load_after}; {meta['seconds']} s\n"
    )
    print(format_table(results))
    print(
        "\nmeasured: medians over the rounds. ratio: the median over rounds of library / baseline"
        "\nwithin each round (bulk and fleet rows: elapsed / theoretical minimum)."
        "\nOn this 2-core machine differences under ~20 % are noise."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    document = {"meta": meta, "rows": [result_dict(r) for r in results], **raw}
    text = json.dumps(document, indent=2, default=str)
    (args.out / f"bench-{stamp}.json").write_text(text)
    (args.out / "latest.json").write_text(text)
    print(f"\nwritten to {args.out / f'bench-{stamp}.json'}")
    return 0
