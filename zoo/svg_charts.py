"""Charts as inline SVG for the HTML report: axes with readable ticks, a scatter with the Pareto
front marked, training curves. Strings in, strings out; every text escaped."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from zoo.leaderboard import Group, Result, finite
from zoo.report import number_text

#: Colours of entries, the same in the leaderboard, the scatter chart and the curves.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#e6550d", "#31a354", "#ad494a", "#7b4173", "#8c6d31", "#3182bd",
           "#636363", "#a55194", "#0e8a7d")
SPLIT_LABEL = {"test": "test", "validation": "val", "train": "train"}
#: The most points one training curve keeps (longer histories are thinned evenly).
CURVE_POINTS = 200

# -- small helpers ------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _f(value: float) -> str:
    """A coordinate: short and stable."""
    return f"{value:.1f}"


def _data_v(value: Any) -> str:
    """A table cell's sort value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return _e(str(value).lower())


def _td(text: str, sort: Any = None, cls: str = "") -> str:
    """A cell; ``text`` is already HTML."""
    klass = f' class="{cls}"' if cls else ""
    return f'<td{klass} data-v="{_data_v(sort)}">{text}</td>'


def _numtd(value: Any, digits: int = 3) -> str:
    return _td(_e(number_text(value, digits)) if finite(value) else "–", value if finite(value) else None, "num")


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * magnitude
        if span / step <= count:
            break
    first = math.ceil(lo / step - 1e-9) * step
    ticks, value = [], first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _log_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Ticks on a log axis: 1-2-5 steps, or only powers of ten (every n-th) when those are too many."""
    low, high = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for multiples in ((1, 2, 5), (1,)):
        ticks = [m * 10.0 ** e for e in range(low, high + 1) for m in multiples if lo <= m * 10.0 ** e <= hi]
        if len(ticks) <= count + 1:
            return ticks
    stride = math.ceil(len(ticks) / count)
    return ticks[::stride]


def _tick_label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 10000 or abs(value) < 0.001:
        return f"{value:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{value:.4g}"


class _Axis:
    """A linear or logarithmic map from data to pixels."""

    def __init__(self, values: Sequence[float], start: float, end: float, *, log: bool | None = None,
                 zero: bool = False):
        lo, hi = min(values), max(values)
        if log is None:
            log = lo > 0 and hi / lo > 20
        self.log = log
        if log:
            lo, hi = lo / 1.25, hi * 1.25
        elif hi == lo:
            pad = abs(hi) * 0.05 or 1.0
            lo, hi = lo - pad, hi + pad
        else:
            pad = (hi - lo) * 0.06
            lo, hi = (0.0 if zero and lo >= 0 and lo - pad < 0 else lo - pad), hi + pad
        self.lo, self.hi, self.start, self.end = lo, hi, start, end

    def _t(self, value: float) -> float:
        return math.log10(value) if self.log else value

    def __call__(self, value: float) -> float:
        lo, hi = self._t(self.lo), self._t(self.hi)
        return self.start + (self._t(value) - lo) / (hi - lo) * (self.end - self.start)

    def ticks(self, count: int = 5) -> list[float]:
        return _log_ticks(self.lo, self.hi, count) if self.log else _nice_ticks(self.lo, self.hi, count)


def _thin(values: Sequence[Any], limit: int = CURVE_POINTS) -> list[tuple[int, Any]]:
    """(epoch index, value) pairs, at most ``limit`` of them, the last one always kept."""
    indexed = list(enumerate(values))
    if len(indexed) <= limit:
        return indexed
    step = math.ceil(len(indexed) / limit)
    kept = indexed[::step]
    if kept[-1][0] != indexed[-1][0]:
        kept.append(indexed[-1])
    return kept


# -- charts ------------------------------------------------------------------------------------------
def _y_grid(y: _Axis, ticks: Sequence[float], left: float, right_edge: float, gap: float, lift: float) -> list[str]:
    """A horizontal grid line per tick of ``y``, labelled ``gap`` pixels left of the plot."""
    out = []
    for tick in ticks:
        py = y(tick)
        out.append(f'<line class="grid" x1="{left}" x2="{right_edge}" y1="{_f(py)}" y2="{_f(py)}"/>'
                   f'<text class="tick" x="{left - gap}" y="{_f(py + lift)}" text-anchor="end">{_tick_label(tick)}</text>')
    return out


#: At most this many Pareto labels per chart; the rest are named by their tooltips and colours.
MAX_LABELS = 12
#: A generous width per character of the 11 px bold label font, and the label's height, so an
#: estimated box covers the rendered text (no font metrics without a browser).
LABEL_CHAR_PX, LABEL_HEIGHT = 6.8, 12.0
#: Where a label may go around its point, in order of preference: (dx, baseline dy, text-anchor).
LABEL_SPOTS = ((9, -7, "start"), (-9, -7, "end"), (9, 16, "start"), (-9, 16, "end"), (10, 4, "start"),
               (-10, 4, "end"))


Box = tuple[float, float, float, float]  # left, top, right, bottom


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_box(x: float, baseline: float, anchor: str, text: str) -> Box:
    """The estimated box of a label drawn at ``(x, baseline)`` with ``text-anchor`` ``anchor``."""
    width = LABEL_CHAR_PX * len(text)
    left = x if anchor == "start" else x - width
    return (left, baseline - LABEL_HEIGHT + 2, left + width, baseline + 2)


def place_labels(spots: Sequence[tuple[float, float, str]], frame: Box,
                 circles: Sequence[tuple[float, float]] = (), radius: float = 7.0
                 ) -> list[tuple[float, float, str, str] | None]:
    """Greedy label placement: for each ``(x, y, text)`` in order, the first of ``LABEL_SPOTS`` whose
    box stays inside ``frame`` (left, top, right, bottom) and clear of the labels placed before it
    and of ``circles`` (other than its own point), as ``(x, baseline y, text-anchor, text)``;
    ``None`` where no spot is free."""
    taken: list[Box] = []
    placed: list[tuple[float, float, str, str] | None] = []
    for px, py, text in spots:
        dots = [(cx - radius, cy - radius, cx + radius, cy + radius) for cx, cy in circles if (cx, cy) != (px, py)]
        choice = None
        for dx, dy, anchor in LABEL_SPOTS:
            lx, base = px + dx, py + dy
            box = label_box(lx, base, anchor, text)
            inside = frame[0] <= box[0] and box[2] <= frame[2] and frame[1] <= box[1] and box[3] <= frame[3]
            if inside and not any(_overlaps(box, other) for other in taken + dots):
                choice = (lx, base, anchor, text)
                taken.append(box)
                break
        placed.append(choice)
    return placed


def scatter_svg(group: Group, colours: Mapping[str, str]) -> str:
    """Headline metric against training time, one point per result, the Pareto front marked."""
    points = [r for r in group.results if r.value is not None and r.seconds is not None]
    if not points:
        return '<p class="note">No result has both a training time and a metric to plot.</p>'
    width, height, left, right, top, bottom = 600, 340, 58, 16, 14, 44
    x = _Axis([r.seconds for r in points], left, width - right, zero=True)
    y = _Axis([r.value for r in points], height - bottom, top)
    out = [(f'<svg class="scatter" viewBox="0 0 {width} {height}" role="img" data-metric="{_e(group.metric)}" '
           f'aria-label="{_e(group.metric)} against training time">')]
    for tick in x.ticks(8):
        px = x(tick)
        out.append(f'<line class="grid" x1="{_f(px)}" x2="{_f(px)}" y1="{top}" y2="{height - bottom}"/>'
                   f'<text class="tick" x="{_f(px)}" y="{height - bottom + 16}" text-anchor="middle">{_tick_label(tick)}</text>')
    out += _y_grid(y, y.ticks(), left, width - right, gap=6, lift=4)
    out.append(f'<rect class="frame" x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}"/>')
    scale = " (log scale)" if x.log else ""
    out.append(f'<text class="axis" x="{(left + width - right) / 2:.0f}" y="{height - 10}" text-anchor="middle">'
               f'training time, seconds{scale}</text>')
    better = "higher is better" if group.higher else "lower is better"
    out.append(f'<text class="axis" transform="translate(16 {(top + height - bottom) / 2:.0f}) rotate(-90)" '
               f'text-anchor="middle">{_e(group.metric)} ({better})</text>')
    front = sorted((r for r in points if r.pareto), key=lambda r: (r.seconds, -r.value if group.higher else r.value))
    if len(front) > 1:
        path = [f"M{_f(x(front[0].seconds))},{_f(y(front[0].value))}"]
        for r in front[1:]:
            path.append(f"H{_f(x(r.seconds))}V{_f(y(r.value))}")
        out.append(f'<path class="front-line" d="{"".join(path)}"/>')
    # Dominated points first, the front on top.
    for r in sorted(points, key=lambda r: r.pareto):
        split = SPLIT_LABEL.get(r.split or "", r.split or "")
        tip = (f"{r.entry} · run #{r.run_id} · {split} {group.metric} {number_text(r.value, 4)} · "
               f"{number_text(r.seconds)} s{' · Pareto front' if r.pareto else ''}")
        cls = "pt pareto" if r.pareto else "pt"
        out.append(f'<circle class="{cls}" cx="{_f(x(r.seconds))}" cy="{_f(y(r.value))}" r="{6 if r.pareto else 4}" '
                   f'fill="{colours.get(r.entry, PALETTE[0])}" data-entry="{_e(r.entry)}" data-run="{r.run_id}" '
                   f'data-seconds="{r.seconds!r}" data-value="{r.value!r}" data-pareto="{int(r.pareto)}">'
                   f'<title>{_e(tip)}</title></circle>')
    # One label per entry, on its best point of the front (a run's colour names the others), placed
    # best entry first where it overlaps neither another label nor a front point.
    best: dict[str, Result] = {}
    for r in sorted(front, key=Result.key):
        best.setdefault(r.entry, r)
    spots = [(x(r.seconds), y(r.value), r.entry) for r in list(best.values())[:MAX_LABELS]]
    frame = (left, 0, width, height - bottom)  # the top margin and the right edge may hold a label
    circles = [(x(r.seconds), y(r.value)) for r in front]
    for placed in place_labels(spots, frame, circles):
        if placed is not None:
            lx, ly, anchor, name = placed
            out.append(f'<text class="label" x="{_f(lx)}" y="{_f(ly)}" text-anchor="{anchor}">{_e(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def curve_svg(history: Mapping[str, Sequence[Any]], name: str, colour: str, entry: str) -> str:
    """One small line chart: ``name`` (train, solid) and ``val_name`` (validation, dashed) per epoch."""
    series = [(key, history.get(key)) for key in (name, f"val_{name}")]
    series = [(key, [v if finite(v) else None for v in values]) for key, values in series
              if isinstance(values, (list, tuple)) and values]
    present = [v for _, values in series for v in values if v is not None]
    if not present:
        return ""
    width, height, left, right, top, bottom = 320, 160, 46, 10, 22, 26
    epochs = max(len(values) for _, values in series)
    x = _Axis([1, max(epochs, 2)], left, width - right, log=False)
    x.lo, x.hi = 1, max(epochs, 2)
    y = _Axis(present, height - bottom, top, log=None if "loss" in name or name in ("mae", "mse") else False)
    out = [(f'<svg class="curve" viewBox="0 0 {width} {height}" role="img" data-entry="{_e(entry)}" '
           f'data-series="{_e(name)}" aria-label="{_e(name)} per epoch">')]
    out += _y_grid(y, y.ticks(4), left, width - right, gap=4, lift=3)
    for tick in [t for t in _nice_ticks(1, max(epochs, 2), 4) if t == int(t) and t >= 1]:
        px = x(tick)
        out.append(f'<text class="tick" x="{_f(px)}" y="{height - bottom + 13}" text-anchor="middle">{int(tick)}</text>')
    out.append(f'<rect class="frame" x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}"/>')
    out.append(f'<text class="ctitle" x="{left}" y="14">{_e(name)}{" (log)" if y.log else ""}</text>')
    out.append(f'<text class="tick" x="{width - right}" y="{height - 3}" text-anchor="end">epoch</text>')
    legend_x = width - right
    for key, values in reversed(series):
        dashed = key.startswith("val_")
        label = "val" if dashed else "train"
        out.append(f'<text class="tick" x="{legend_x}" y="14" text-anchor="end">{label}</text>')
        legend_x -= 6 + 6 * len(label)
        out.append(f'<line class="{"val" if dashed else "train"}" x1="{legend_x - 16}" x2="{legend_x}" y1="10" y2="10" '
                   f'stroke="{colour}"/>')
        legend_x -= 24
        kept = [(i, v) for i, v in _thin(values) if v is not None]
        if len(kept) == 1:
            i, v = kept[0]
            out.append(f'<circle cx="{_f(x(i + 1))}" cy="{_f(y(v))}" r="2.5" fill="{colour}"/>')
        coords = " ".join(f"{_f(x(i + 1))},{_f(y(v))}" for i, v in kept)
        out.append(f'<polyline class="{"val" if dashed else "train"}" stroke="{colour}" points="{coords}" '
                   f'data-key="{_e(key)}" data-epochs="{len(values)}"/>')
    out.append("</svg>")
    return "".join(out)
