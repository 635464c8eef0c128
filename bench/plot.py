"""Plot the bulk rows of a bench run: round trip on x, elapsed / floor on y, one line per rate tier.

``python -m bench.plot [RESULTS.json] [OUT.svg]`` reads ``bench/results/latest.json`` by default
and writes ``docs/guide/performance-bulk.svg``: an SVG written by hand, so the plot needs nothing
beyond the standard library (no matplotlib). Each point is the median over the run's rounds of
the strict sliding-window rows (``bulk.<rtt>ms.sliding`` at 200/s,
``bulk.<rate>rps.<rtt>ms.sliding`` for the paid tiers); dashed lines mark the targets, 1.05x and
1.10x of the floor.
"""

from __future__ import annotations

import json
import math
import pathlib
import re
import sys
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_IN = ROOT / "bench" / "results" / "latest.json"
DEFAULT_OUT = ROOT / "docs" / "guide" / "performance-bulk.svg"

_ROW = re.compile(r"bulk\.(?:(?P<rate>\d+)rps\.)?(?P<rtt>\d+)ms\.sliding$")
COLOURS = {200: "#1f77b4", 1000: "#d62728", 2000: "#2ca02c"}
W, H = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 150, 30, 60


def points(document: dict[str, Any]) -> dict[int, list[tuple[float, float]]]:
    """Rate tier -> [(round trip in ms, elapsed / floor)] from a bench JSON document."""
    out: dict[int, list[tuple[float, float]]] = {}
    for row in document.get("rows", []):
        match = _ROW.match(row.get("id", ""))
        if match is None or row.get("ratio") is None:
            continue
        rate = int(match["rate"] or 200)
        out.setdefault(rate, []).append((float(match["rtt"]), float(row["ratio"])))
    return {rate: sorted(values) for rate, values in sorted(out.items())}


def svg(series: dict[int, list[tuple[float, float]]], title: str) -> str:
    """The plot as an SVG document (x: round trip on a log scale; y: elapsed / floor)."""
    xs = [x for values in series.values() for x, _ in values] or [50.0, 1000.0]
    ys = [y for values in series.values() for _, y in values] or [1.0]
    x_lo, x_hi = math.log10(min(30.0, min(xs))), math.log10(max(1500.0, max(xs)))
    y_lo, y_hi = 0.95, max(1.25, max(ys) * 1.05)

    def px(x: float) -> float:
        return LEFT + (math.log10(x) - x_lo) / (x_hi - x_lo) * (W - LEFT - RIGHT)

    def py(y: float) -> float:
        return H - BOTTOM - (y - y_lo) / (y_hi - y_lo) * (H - TOP - BOTTOM)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>',
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="black"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="black"/>',
    ]
    for tick in (50, 100, 300, 1000):
        x = px(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{H - BOTTOM}" x2="{x:.1f}" y2="{H - BOTTOM + 5}" '
            'stroke="black"/>'
            f'<text x="{x:.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">{tick}</text>'
        )
    step = 0.05 if y_hi - y_lo < 0.6 else 0.25
    tick = math.ceil(y_lo / step) * step
    while tick <= y_hi + 1e-9:
        y = py(tick)
        parts.append(
            f'<line x1="{LEFT - 5}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick:.2f}</text>'
        )
        tick += step
    for target in (1.05, 1.10):
        y = py(target)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#888" '
            'stroke-dasharray="4 3"/>'
            f'<text x="{W - RIGHT + 4}" y="{y + 4:.1f}" fill="#555">{target:.2f}x</text>'
        )
    parts.append(
        f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 15}" text-anchor="middle">'
        "round trip (ms, log scale)</text>"
        f'<text x="18" y="{(TOP + H - BOTTOM) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 18 {(TOP + H - BOTTOM) / 2})">elapsed / floor</text>'
    )
    for index, (rate, values) in enumerate(series.items()):
        colour = COLOURS.get(rate, "#9467bd")
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in values)
        if len(values) > 1:
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for x, y in values:
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{colour}"/>')
        ly = TOP + 40 + 20 * index
        parts.append(
            f'<rect x="{W - RIGHT + 45}" y="{ly - 9}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{W - RIGHT + 62}" y="{ly + 2}">{rate:,}/s</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = pathlib.Path(args[0]) if args else DEFAULT_IN
    target = pathlib.Path(args[1]) if len(args) > 1 else DEFAULT_OUT
    document = json.loads(source.read_text())
    series = points(document)
    if not series:
        print(f"{source}: no bulk.*sliding rows with a ratio", file=sys.stderr)
        return 1
    meta = document.get("meta", {})
    title = "100,000-id add against a strict sliding-window server" + (
        f" (load {meta['load_before']})" if meta.get("load_before") else ""
    )
    target.write_text(svg(series, title))
    print(f"written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
