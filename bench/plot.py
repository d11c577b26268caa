#!/usr/bin/env python3
"""plot.py — draws bench/run.sh's device sweep as an SVG, no libraries.

    bench/plot.py SWEEP.csv OUT.svg

SWEEP.csv has a header and one line per run:
    devices,ingest_records_per_s,paced_ack_p50_ms,paced_ack_p99_ms
Left panel: durable ingest (records/s) against devices; right panel: the
paced ack latency p50 and p99 (ms) against devices, with the 20 ms target.
The device axis is logarithmic (20 ... 500), and so is the latency axis
(a queue that overflows goes from milliseconds to seconds).
"""
import csv
import math
import sys

W, H = 900, 380
PANEL_W, PANEL_H = 360, 260
LEFT = (80, 50)
RIGHT = (530, 50)
TARGET_P99_MS = 20.0


def nice_max(v):
    """The smallest 1-2-5 step above v, so the axis ends on a round number."""
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def fmt(v):
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def log_ticks(lo, hi):
    """1-2-5 ticks from lo to hi."""
    out, e = [], 10 ** math.floor(math.log10(lo))
    while e <= hi:
        out += [m * e for m in (1, 2, 5) if lo <= m * e <= hi]
        e *= 10
    return out


class Panel:
    def __init__(self, origin, xs, ymax, title, ylabel, ymin=None):
        self.x0, self.y0 = origin
        self.lo, self.hi = math.log(min(xs)), math.log(max(xs))
        self.ymax = ymax
        self.ymin = ymin  # set: a log axis from ymin to ymax
        self.out = []
        self.frame(xs, title, ylabel)

    def px(self, x):
        span = self.hi - self.lo or 1.0
        return self.x0 + (math.log(x) - self.lo) / span * PANEL_W

    def py(self, y):
        y = min(y, self.ymax)
        if self.ymin is not None:
            f = (math.log(max(y, self.ymin)) - math.log(self.ymin)) / \
                (math.log(self.ymax) - math.log(self.ymin))
        else:
            f = y / self.ymax
        return self.y0 + PANEL_H - f * PANEL_H

    def frame(self, xs, title, ylabel):
        o = self.out
        o.append(f'<text x="{self.x0 + PANEL_W / 2}" y="{self.y0 - 18}" text-anchor="middle" '
                 f'font-size="15" font-weight="bold">{title}</text>')
        o.append(f'<rect x="{self.x0}" y="{self.y0}" width="{PANEL_W}" height="{PANEL_H}" '
                 'fill="none" stroke="#888"/>')
        ticks = log_ticks(self.ymin, self.ymax) if self.ymin is not None else \
            [self.ymax * i / 5 for i in range(6)]
        for y in ticks:
            o.append(f'<line x1="{self.x0}" x2="{self.x0 + PANEL_W}" y1="{self.py(y):.1f}" '
                     f'y2="{self.py(y):.1f}" stroke="#e4e4e4"/>')
            o.append(f'<text x="{self.x0 - 6}" y="{self.py(y) + 4:.1f}" text-anchor="end" '
                     f'font-size="11">{fmt(y)}</text>')
        for x in xs:
            o.append(f'<text x="{self.px(x):.1f}" y="{self.y0 + PANEL_H + 16}" '
                     f'text-anchor="middle" font-size="11">{x}</text>')
        o.append(f'<text x="{self.x0 + PANEL_W / 2}" y="{self.y0 + PANEL_H + 36}" '
                 'text-anchor="middle" font-size="12">devices (log scale)</text>')
        o.append(f'<text transform="translate({self.x0 - 52},{self.y0 + PANEL_H / 2}) rotate(-90)" '
                 f'text-anchor="middle" font-size="12">{ylabel}</text>')

    def line(self, xs, ys, colour, label, dash=""):
        pts = " ".join(f"{self.px(x):.1f},{self.py(y):.1f}" for x, y in zip(xs, ys))
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                        f'stroke-width="2"{d}/>')
        for x, y in zip(xs, ys):
            self.out.append(f'<circle cx="{self.px(x):.1f}" cy="{self.py(y):.1f}" r="3.5" '
                            f'fill="{colour}"><title>{label}: {y:g} at {x}</title></circle>')

    def key(self, n, colour, label, dash=""):
        y = self.y0 + 16 + 18 * n
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.out.append(f'<line x1="{self.x0 + 12}" x2="{self.x0 + 36}" y1="{y}" y2="{y}" '
                        f'stroke="{colour}" stroke-width="2"{d}/>')
        self.out.append(f'<text x="{self.x0 + 42}" y="{y + 4}" font-size="12">{label}</text>')


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench/plot.py SWEEP.csv OUT.svg")
    with open(sys.argv[1], newline="") as f:
        rows = [r for r in csv.DictReader(f)]
    try:
        rows = sorted(rows, key=lambda r: int(r["devices"]))
        xs = [int(r["devices"]) for r in rows]
        ingest = [float(r["ingest_records_per_s"]) for r in rows]
        p50 = [float(r["paced_ack_p50_ms"]) for r in rows]
        p99 = [float(r["paced_ack_p99_ms"]) for r in rows]
    except (KeyError, ValueError) as e:
        sys.exit(f"plot.py: {sys.argv[1]}: a missing or unreadable column ({e})")
    if len(xs) < 2:
        sys.exit(f"plot.py: {sys.argv[1]}: need at least two device counts, found {len(xs)}")

    left = Panel(LEFT, xs, nice_max(max(ingest) * 1.1), "Durable ingest", "records/s")
    left.line(xs, ingest, "#1f6f5c", "records/s")
    top = max(p99 + [TARGET_P99_MS])
    bottom = min(p50 + [1.0])
    right = Panel(RIGHT, xs, nice_max(top * 1.1), "Paced ack latency (push of 50 every 2 s)",
                  "ms (log scale)", ymin=10 ** math.floor(math.log10(max(bottom, 0.1))))
    right.line(xs, [TARGET_P99_MS] * len(xs), "#c0392b", "target", "5,4")
    right.line(xs, p99, "#d35400", "p99")
    right.line(xs, p50, "#2471a3", "p50")
    right.key(0, "#d35400", "p99")
    right.key(1, "#2471a3", "p50")
    right.key(2, "#c0392b", "p99 target 20 ms", "5,4")

    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    svg += left.out + right.out + ["</svg>"]
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
