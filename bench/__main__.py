"""Run every benchmark and print the ratios: ``python -m bench [--quick]``.

The machines are shared and noisy, so each benchmark interleaves the variants it compares, repeats
them, and reports medians and the ratio of medians measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform

import httpx

from . import bulk, memory, pool


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests")
    args = parser.parse_args()
    results = {
        "python": platform.python_version(),
        "httpx": httpx.__version__,
        "pool": pool.run(quick=args.quick),
        "bulk": bulk.run(quick=args.quick),
        "memory": memory.run(quick=args.quick),
    }
    out = pathlib.Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out / 'latest.json'}")


if __name__ == "__main__":
    main()
