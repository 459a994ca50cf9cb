"""The benchmark history as one self-contained HTML page (``zoo report``).

:func:`render_html` takes runs and rows as plain data (what :class:`zoo.store.Store` returns) and
returns the page as a string. Everything is inline: the styles, a few lines of JavaScript that sort
the tables, and the charts, drawn here as SVG. The page fetches nothing, so it opens from a file,
an e-mail attachment or a CI artifact. Nothing here imports TensorFlow.

What counts:

* a **result** is one entry in one run: the median over its repeats, as ``zoo runs RUN`` shows it
  (:func:`zoo.report.aggregate`); results whose every repeat failed are not results;
* an entry's **best result** is its result with the best headline figure: the entry's primary
  metric (:func:`zoo.report.primary_metric`) on the test split, else validation, else train;
  higher or lower is better as :func:`zoo.report.higher_is_better` says; ties go to the faster;
* the **leaderboard** has one line per entry, its best result's figures and the run they came
  from, one table per primary metric (accuracy and mae are not one scale);
* the **Pareto front** of a metric is the set of results that no other result beats on both the
  metric and the training time (DAWNBench's accuracy against time to train).

Every string that comes from the history (entry names, errors, commands, notes, environments) is
escaped with :func:`html.escape`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from zoo.report import _num, aggregate, higher_is_better, primary_metric

#: Colours of entries, the same in the leaderboard, the scatter chart and the curves.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#e6550d", "#31a354", "#ad494a", "#7b4173", "#8c6d31", "#3182bd",
           "#636363", "#a55194", "#0e8a7d")
#: Splits tried, in order, for an entry's headline figure.
HEADLINE_SPLITS = ("test", "validation", "train")
SPLIT_LABEL = {"test": "test", "validation": "val", "train": "train"}
#: The most points one training curve keeps (longer histories are thinned evenly).
CURVE_POINTS = 200
#: Fields of inference rows shown when some row has them.
INFERENCE_FIELDS = (
    ("runtime", "runtime"), ("format", "format"), ("quantization", "quantization"),
    ("batch_size", "batch"), ("inference_samples_per_second", "samples/s"),
    ("samples_per_second", "samples/s"), ("latency_ms", "latency ms"), ("latency_p50_ms", "p50 ms"),
    ("latency_p90_ms", "p90 ms"), ("latency_p99_ms", "p99 ms"), ("model_size_mb", "size MB"),
    ("size_bytes", "size bytes"), ("max_abs_diff", "max |diff|"), ("parity", "parity"),
)


# -- the data ---------------------------------------------------------------------------------------
def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _ok(row: Mapping[str, Any]) -> bool:
    return row.get("status", "ok") == "ok"


def is_inference(row: Mapping[str, Any]) -> bool:
    """A row that measured inference (an export, a runtime), not training."""
    return row.get("kind") == "inference" or "runtime" in row


@dataclass
class Result:
    """One entry in one run: its rows aggregated over repeats."""

    run_id: int
    entry: str
    row: dict[str, Any]                 # the aggregated row (zoo.report.aggregate)
    metric: str
    split: str | None
    value: float | None
    higher: bool
    seconds: float | None
    pareto: bool = False
    rows: int = 1

    def key(self) -> tuple[float, float, int]:
        """Sort key, best first: the metric, then the time, then the newer run."""
        if self.value is None:
            metric = math.inf
        else:
            metric = -self.value if self.higher else self.value
        return (metric, self.seconds if self.seconds is not None else math.inf, -self.run_id)


@dataclass
class Group:
    """All results judged by one metric: a leaderboard table and a chart."""

    metric: str
    higher: bool
    results: list[Result] = field(default_factory=list)
    best: list[Result] = field(default_factory=list)   # one per entry, best first


def headline(row: Mapping[str, Any]) -> tuple[str, str | None, float | None]:
    """(metric, split, value) of a row's headline figure: its primary metric on test, else
    validation, else train."""
    metric, values = primary_metric(dict(row))
    for split in HEADLINE_SPLITS:
        value = values.get(split)
        if _finite(value):
            return metric, split, float(value)
    return metric, None, None


def pareto_front(points: Sequence[tuple[float, float]], higher: bool = True) -> list[bool]:
    """For (seconds, metric) points, whether each is on the Pareto front: no other point is at
    least as fast and at least as good, and strictly better in one of the two. Equal points are
    both on the front."""
    oriented = [(t, m if higher else -m) for t, m in points]
    order = sorted(range(len(points)), key=lambda i: (oriented[i][0], -oriented[i][1]))
    front = [False] * len(points)
    best: float = -math.inf
    best_time: float | None = None
    for i in order:
        t, m = oriented[i]
        if m > best:
            front[i], best, best_time = True, m, t
        elif m == best and t == best_time:
            front[i] = True
    return front


def build_groups(rows: Iterable[Mapping[str, Any]]) -> list[Group]:
    """The training rows (any run order) as results grouped by metric, each group's results
    ordered best first, with the Pareto front marked and the best result per entry."""
    by_run: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if is_inference(row):
            continue
        by_run.setdefault(int(row.get("run_id") or 0), []).append(dict(row))
    groups: dict[str, Group] = {}
    for run_id in sorted(by_run):
        for summary in aggregate(by_run[run_id]):
            if summary.get("status", "ok") not in ("ok", "partial"):
                continue
            metric, split, value = headline(summary)
            seconds = summary.get("train_seconds")
            result = Result(run_id=run_id, entry=str(summary["entry"]), row=summary, metric=metric, split=split,
                            value=value, higher=higher_is_better(metric),
                            seconds=float(seconds) if _finite(seconds) else None,
                            rows=int(summary.get("repeats") or 1))
            groups.setdefault(metric, Group(metric, result.higher)).results.append(result)
    for group in groups.values():
        group.results.sort(key=Result.key)
        plotted = [r for r in group.results if r.value is not None and r.seconds is not None]
        for result, on_front in zip(plotted, pareto_front([(r.seconds, r.value) for r in plotted], group.higher)):
            result.pareto = on_front
        seen: set[str] = set()
        for result in group.results:
            if result.entry not in seen:
                seen.add(result.entry)
                group.best.append(result)
    # Accuracy-like (higher is better) first, then by how many entries a group has.
    return sorted(groups.values(), key=lambda g: (not g.higher, -len(g.best), g.metric))


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
    return _td(_e(_num(value, digits)) if _finite(value) else "–", value if _finite(value) else None, "num")


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
    for tick in y.ticks():
        py = y(tick)
        out.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_f(py)}" y2="{_f(py)}"/>'
                   f'<text class="tick" x="{left - 6}" y="{_f(py + 4)}" text-anchor="end">{_tick_label(tick)}</text>')
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
        tip = (f"{r.entry} · run #{r.run_id} · {split} {group.metric} {_num(r.value, 4)} · "
               f"{_num(r.seconds)} s{' · Pareto front' if r.pareto else ''}")
        cls = "pt pareto" if r.pareto else "pt"
        out.append(f'<circle class="{cls}" cx="{_f(x(r.seconds))}" cy="{_f(y(r.value))}" r="{6 if r.pareto else 4}" '
                   f'fill="{colours.get(r.entry, PALETTE[0])}" data-entry="{_e(r.entry)}" data-run="{r.run_id}" '
                   f'data-seconds="{r.seconds!r}" data-value="{r.value!r}" data-pareto="{int(r.pareto)}">'
                   f'<title>{_e(tip)}</title></circle>')
    labelled = front if len(front) <= 12 else front[:12]
    repeated = {r.entry for r in labelled if sum(1 for o in labelled if o.entry == r.entry) > 1}
    for r in labelled:
        px, py = x(r.seconds), y(r.value)
        name = f"{r.entry} #{r.run_id}" if r.entry in repeated else r.entry
        anchor = "end" if px > width - right - 140 else "start"
        dx = -9 if anchor == "end" else 9
        out.append(f'<text class="label" x="{_f(px + dx)}" y="{_f(py - 7)}" text-anchor="{anchor}">{_e(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def curve_svg(history: Mapping[str, Sequence[Any]], name: str, colour: str, entry: str) -> str:
    """One small line chart: ``name`` (train, solid) and ``val_name`` (validation, dashed) per epoch."""
    series = [(key, history.get(key)) for key in (name, f"val_{name}")]
    series = [(key, [v if _finite(v) else None for v in values]) for key, values in series
              if isinstance(values, (list, tuple)) and values]
    finite = [v for _, values in series for v in values if v is not None]
    if not finite:
        return ""
    width, height, left, right, top, bottom = 320, 160, 46, 10, 22, 26
    epochs = max(len(values) for _, values in series)
    x = _Axis([1, max(epochs, 2)], left, width - right, log=False)
    x.lo, x.hi = 1, max(epochs, 2)
    y = _Axis(finite, height - bottom, top, log=None if "loss" in name or name in ("mae", "mse") else False)
    out = [(f'<svg class="curve" viewBox="0 0 {width} {height}" role="img" data-entry="{_e(entry)}" '
           f'data-series="{_e(name)}" aria-label="{_e(name)} per epoch">')]
    for tick in y.ticks(4):
        py = y(tick)
        out.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_f(py)}" y2="{_f(py)}"/>'
                   f'<text class="tick" x="{left - 4}" y="{_f(py + 3)}" text-anchor="end">{_tick_label(tick)}</text>')
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


# -- sections ------------------------------------------------------------------------------------------
def _metric_cell(result: Result) -> str:
    if result.value is None:
        return _td("–", None, "num")
    split = SPLIT_LABEL.get(result.split or "", result.split or "")
    spread = (result.row.get("spread") or {}).get(f"{result.split}_{result.metric}")
    extra = f' <span class="spread">±{_e(_num(spread["stdev"], 2))}</span>' if spread else ""
    return _td(f'<b>{_e(_num(result.value, 4))}</b>{extra} <span class="split">{_e(split)}</span>', result.value,
               "num metric")


def _target_cell(row: Mapping[str, Any]) -> str:
    seconds = row.get("time_to_target_seconds")
    if _finite(seconds):
        return _numtd(seconds)
    if row.get("target"):
        reached = f" ({row['target_reached']})" if row.get("target_reached") else ""
        return _td(f'<span class="muted">not reached{_e(reached)}</span>', None, "num")
    return _td("–", None, "num")


def leaderboard_html(group: Group, colours: Mapping[str, str]) -> str:
    better = "higher is better" if group.higher else "lower is better"
    counts: dict[str, tuple[int, int]] = {}
    for r in group.results:
        results, rows = counts.get(r.entry, (0, 0))
        counts[r.entry] = (results + 1, rows + r.rows)
    head = [("#", "rank"), ("entry", ""), (f"{group.metric}", f"best {group.metric} ({better}); split: test, else val, else train"),
            ("train s", "training wall time"), ("samples/s", "training throughput"),
            ("to target s", "time to the entry's target"), ("params", "parameters"), ("peak MB", "peak memory"),
            ("epochs", ""), ("infer/s", "inference throughput"), ("results", "runs × repeats of this entry"),
            ("run", "the run the best result came from")]
    parts = [f'<table class="sortable leaderboard" data-metric="{_e(group.metric)}"><thead><tr>']
    for label, tip in head:
        title = f' title="{_e(tip)}"' if tip else ""
        parts.append(f'<th tabindex="0"{title}>{_e(label)}</th>')
    parts.append("</tr></thead><tbody>")
    for rank, r in enumerate(group.best, 1):
        row = r.row
        results, rows = counts[r.entry]
        flag = ' <span class="badge">partial</span>' if row.get("status") == "partial" else ""
        front = ' <span class="badge front" title="on the Pareto front">front</span>' if r.pareto else ""
        entry = (f'<span class="swatch" style="background:{colours.get(r.entry, PALETTE[0])}"></span>'
                 f'<a href="#curves-{_anchor(r.entry)}">{_e(r.entry)}</a>{flag}{front}')
        parts.append(f'<tr data-entry="{_e(r.entry)}" data-run="{r.run_id}">')
        parts.append(_td(str(rank), rank, "num"))
        parts.append(_td(entry, r.entry, "entry"))
        parts.append(_metric_cell(r))
        parts.append(_numtd(row.get("train_seconds")))
        parts.append(_numtd(row.get("samples_per_second")))
        parts.append(_target_cell(row))
        parts.append(_numtd(row.get("params")))
        parts.append(_numtd(row.get("peak_rss_mb")))
        parts.append(_numtd(row.get("epochs")))
        parts.append(_numtd(row.get("inference_samples_per_second")))
        parts.append(_td(f"{results}" + (f" <span class=\"muted\">({rows} rows)</span>" if rows != results else ""),
                         results, "num"))
        parts.append(_td(f'<a href="#run-{r.run_id}">#{r.run_id}</a>', r.run_id, "num"))
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _anchor(text: str) -> str:
    """An id fragment for an entry: letters, digits and - only (escaping alone is not enough)."""
    return "".join(c if c.isalnum() or c in "-_" else f"_{ord(c):x}" for c in text)


def curves_html(groups: Sequence[Group], colours: Mapping[str, str]) -> str:
    cards = []
    for group in groups:
        for r in group.best:
            history, note = r.row.get("history"), ""
            if not history and r.row.get("repeat_rows"):
                first = next((x for x in r.row["repeat_rows"] if _ok(x) and x.get("history")), None)
                if first:
                    history, note = first["history"], f" · seed {first.get('seed')}"
            charts = ""
            if isinstance(history, Mapping) and history:
                names = [group.metric] if group.metric in history else []
                if not names:
                    names = [k for k in history if not k.startswith("val_") and k != "loss"][:1]
                if "loss" in history and "loss" not in names:
                    names.append("loss")
                charts = "".join(curve_svg(history, name, colours.get(r.entry, PALETTE[0]), r.entry) for name in names)
            body = charts or '<p class="note">no per-epoch history stored</p>'
            cards.append(f'<div class="card" id="curves-{_anchor(r.entry)}"><h3>{_e(r.entry)}</h3>'
                         f'<p class="muted">best result: run <a href="#run-{r.run_id}">#{r.run_id}</a>{_e(note)}, '
                         f'{_e(_num(r.row.get("epochs")))} epoch(s)</p>{body}</div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def inference_html(rows: Sequence[Mapping[str, Any]]) -> str:
    fields = []
    labels_seen: set[str] = set()
    for key, label in INFERENCE_FIELDS:
        if any(row.get(key) is not None for row in rows) and label not in labels_seen:
            fields.append((key, label))
            labels_seen.add(label)
    parts = ['<table class="sortable inference"><thead><tr><th tabindex="0">entry</th><th tabindex="0">status</th>']
    parts += [f'<th tabindex="0">{_e(label)}</th>' for _, label in fields]
    parts.append('<th tabindex="0">metric</th><th tabindex="0">run</th></tr></thead><tbody>')
    for row in rows:
        metric, split, value = headline(row)
        parts.append(f'<tr data-entry="{_e(row.get("entry"))}">{_td(_e(row.get("entry")), row.get("entry"), "entry")}')
        status = str(row.get("status", "ok"))
        parts.append(_td(_e(status) if _ok(row) else f'<span class="bad">{_e(status)}</span>', status))
        for key, _ in fields:
            value_ = row.get(key)
            parts.append(_numtd(value_) if _finite(value_) else _td(_e(value_ if value_ is not None else "–"), value_))
        shown = f"{_num(value, 4)} {SPLIT_LABEL.get(split or '', split or '')} {metric}" if value is not None else "–"
        parts.append(_td(_e(shown), value, "num"))
        run_id = row.get("run_id")
        parts.append(_td(f'<a href="#run-{_e(run_id)}">#{_e(run_id)}</a>', run_id, "num"))
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def failed_html(rows: Sequence[Mapping[str, Any]]) -> str:
    parts = [('<table class="sortable failed"><thead><tr><th tabindex="0">run</th><th tabindex="0">entry</th>'
             '<th tabindex="0">repeat</th><th tabindex="0">seed</th><th tabindex="0">error</th></tr></thead><tbody>')]
    for row in rows:
        run_id = row.get("run_id")
        parts.append(f'<tr data-entry="{_e(row.get("entry"))}" data-run="{_e(run_id)}">')
        parts.append(_td(f'<a href="#run-{_e(run_id)}">#{_e(run_id)}</a>', run_id, "num"))
        parts.append(_td(_e(row.get("entry")), row.get("entry"), "entry"))
        parts.append(_numtd(row.get("repeat")))
        parts.append(_numtd(row.get("seed")))
        error = row.get("error") or "(no error message stored)"
        parts.append(_td(f'<div class="error">{_e(error)}</div>', error))
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


ENV_COLUMNS = (("device", "device / CPU"), ("tensorflow", "TensorFlow"), ("keras", "Keras"),
               ("git_commit", "commit"), ("host", "host"), ("zoo_version", "zoo"), ("python", "Python"))


def _run_environment(run: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's environment, completed from its first row's (the worker's) where the run lacks a key."""
    env = dict(run.get("environment") or {})
    for row in rows:
        for key, value in (row.get("environment") or {}).items():
            if env.get(key) is None:
                env[key] = value
        if row.get("environment"):
            break
    for key in ("git_commit", "host", "zoo_version"):
        if env.get(key) is None and run.get(key) is not None:
            env[key] = run[key]
    if not env.get("device") and env.get("cpu"):
        env["device"] = env["cpu"]
    return env


def runs_html(runs: Sequence[Mapping[str, Any]], rows_by_run: Mapping[int, Sequence[Mapping[str, Any]]]) -> str:
    parts = ['<table class="sortable runs"><thead><tr>']
    heads = ["run", "started", "status", "rows", "failed", "command", *(label for _, label in ENV_COLUMNS), "note"]
    parts += [f'<th tabindex="0">{_e(h)}</th>' for h in heads]
    parts.append("</tr></thead><tbody>")
    for run in runs:
        run_id = int(run["id"])
        rows = rows_by_run.get(run_id, ())
        env = _run_environment(run, rows)
        failed = sum(1 for r in rows if not _ok(r))
        status = str(run.get("status") or "")
        parts.append(f'<tr id="run-{run_id}" data-run="{run_id}">')
        parts.append(_td(f"#{run_id}", run_id, "num"))
        parts.append(_td(_e(str(run.get("started_at") or "").replace("T", " ")[:19]), run.get("started_at"), "nowrap"))
        parts.append(_td(_e(status) if status in ("finished", "running") else f'<span class="bad">{_e(status)}</span>',
                         status))
        parts.append(_td(str(len(rows)), len(rows), "num"))
        parts.append(_td(f'<span class="bad">{failed}</span>' if failed else "0", failed, "num"))
        parts.append(_td(f'<code>{_e(run.get("command"))}</code>', run.get("command")))
        for key, _ in ENV_COLUMNS:
            value = env.get(key)
            if key == "git_commit" and value:
                text = _e(str(value)[:10]) + ("+" if env.get("git_dirty") else "")
                parts.append(_td(f'<code title="{_e(value)}">{text}</code>', value))
            else:
                parts.append(_td(_e(value if value not in (None, "") else "–"), value))
        parts.append(_td(_e(run.get("note") or ""), run.get("note")))
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


# -- the page -----------------------------------------------------------------------------------------
STYLE = """
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#fff;--soft:#f6f7f9;--bad:#b42318;--front:#111}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;max-width:1240px;padding:20px 24px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0 0 2px;word-break:break-all}
a{color:#175cd3;text-decoration:none}a:hover{text-decoration:underline}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
nav{margin:8px 0 0;display:flex;gap:14px;flex-wrap:wrap}
.summary{color:var(--muted);margin:0}.muted,.note{color:var(--muted)}.note{font-style:italic}
.empty{font-size:16px;padding:28px;border:1px dashed var(--line);border-radius:8px;background:var(--soft)}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;cursor:pointer;user-select:none;white-space:nowrap}
th:hover{background:#eceff3}th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.entry{word-break:break-all}td.nowrap{white-space:nowrap}tbody tr:hover{background:#fafbfc}
.split{color:var(--muted);font-size:11px}.spread{color:var(--muted);font-size:11px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;vertical-align:baseline}
.badge{font-size:10px;border:1px solid var(--line);border-radius:8px;padding:0 5px;color:var(--muted);margin-left:4px}
.badge.front{border-color:var(--front);color:var(--front)}
.bad{color:var(--bad);font-weight:600}
.error{color:var(--bad);font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;
word-break:break-word;max-height:9em;overflow:auto}
svg{display:block;font-family:inherit}svg.scatter{width:100%;height:auto}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{flex:1 1 520px;max-width:780px;margin:0}
figcaption{font-weight:600;font-size:15px;margin:4px 0}
.grid{stroke:#eef0f3}.frame{fill:none;stroke:#c9ced6}.tick{font-size:10px;fill:var(--muted)}
.axis{font-size:12px;fill:var(--fg)}.label{font-size:11px;fill:var(--fg);font-weight:600}
.ctitle{font-size:11px;font-weight:600;fill:var(--fg)}
.pt{stroke:#fff;stroke-width:1;fill-opacity:.75}.pt.pareto{stroke:var(--front);stroke-width:2;fill-opacity:1}
.front-line{fill:none;stroke:var(--front);stroke-width:1.5;stroke-dasharray:5 3}
polyline,line.train,line.val{fill:none;stroke-width:1.8}polyline.val,line.val{stroke-dasharray:4 3}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 10px 4px}.card p{margin:0 0 4px;font-size:12px}
.card svg{width:100%;height:auto}
footer{margin-top:36px;color:var(--muted);font-size:12px}
"""

SCRIPT = """
(function(){
function val(row,i){var c=row.cells[i];return c?c.getAttribute('data-v'):'';}
function sortBy(table,th,i){
  var body=table.tBodies[0];if(!body)return;
  var asc=th.getAttribute('aria-sort')!=='ascending';
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',asc?'ascending':'descending');
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){
    var x=val(a,i),y=val(b,i);
    if(x===''||x===null)return (y===''||y===null)?0:1;
    if(y===''||y===null)return -1;
    var nx=parseFloat(x),ny=parseFloat(y),r;
    if(!isNaN(nx)&&!isNaN(ny)&&String(nx)!=='NaN'&&isFinite(x)&&isFinite(y))r=nx-ny;else r=x<y?-1:x>y?1:0;
    return asc?r:-r;
  });
  rows.forEach(function(r){body.appendChild(r);});
}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(table){
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.addEventListener('click',function(){sortBy(table,th,i);});
    th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sortBy(table,th,i);}});
  });
});
})();
"""


def _page(title: str, body: str, generated: str) -> str:
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>{body}"
            f"<footer>{generated}</footer><script>{SCRIPT}</script></body></html>\n")


def render_html(runs: Sequence[Any], rows: Sequence[Mapping[str, Any]], *, title: str = "zoo benchmark report",
                generated_at: str | None = None, source: str | None = None, zoo_version: str | None = None) -> str:
    """The report as one HTML document.

    ``runs``: the runs to show (``RunInfo`` objects or their ``to_dict()``), any order (shown
    newest first). ``rows``: their benchmark rows as stored (dicts), each with ``run_id`` set.
    ``generated_at``, ``source`` (the database) and ``zoo_version`` go in the footer.
    """
    run_dicts = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in runs]
    run_dicts.sort(key=lambda r: -int(r["id"]))
    rows_by_run: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        rows_by_run.setdefault(int(row.get("run_id") or 0), []).append(row)
    footer = "generated by zoo" + (f" {_e(zoo_version)}" if zoo_version else "")
    footer += (f" on {_e(generated_at)}" if generated_at else "") + (f" from <code>{_e(source)}</code>" if source else "")
    head = f"<header><h1>{_e(title)}</h1>"
    if not run_dicts:
        body = (head + '</header><p class="empty" id="empty">No benchmark history yet: nothing has been stored. '
                "Run <code>zoo bench ENTRY</code>, then <code>zoo report</code> again.</p>")
        return _page(title, body, footer)

    training = [r for r in rows if not is_inference(r)]
    inference = [r for r in rows if is_inference(r)]
    failed = [r for r in rows if not _ok(r)]
    groups = build_groups(training)
    entries = sorted({r.entry for g in groups for r in g.best})
    colours = {entry: _colour(i) for i, entry in enumerate(entries)}
    ids = [int(r["id"]) for r in run_dicts]
    span = f"run #{ids[0]}" if len(ids) == 1 else f"runs #{min(ids)}–#{max(ids)}"
    summary = (f"{len(run_dicts)} run(s) ({span}) · {len(rows)} row(s), {len(failed)} failed · "
               f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} on the leaderboard")
    nav = [("leaderboard", "Leaderboard"), ("pareto", "Accuracy vs time"), ("curves", "Training curves")]
    if inference:
        nav.append(("inference", "Inference"))
    if failed:
        nav.append(("failed", f"Failed rows ({len(failed)})"))
    nav.append(("runs", "Runs and environments"))
    parts = [head, f'<p class="summary">{_e(summary)}</p><nav>',
             "".join(f'<a href="#{key}">{_e(label)}</a>' for key, label in nav), "</nav></header>"]

    parts.append('<section id="leaderboard"><h2>Leaderboard</h2>')
    if groups:
        parts.append('<p class="muted">One line per entry: its best result (the median over repeats of one run) '
                     "and the run it came from. Failed rows are not counted. Click a column to sort.</p>")
        for group in groups:
            if len(groups) > 1:
                parts.append(f"<h3>{_e(group.metric)}</h3>")
            parts.append(leaderboard_html(group, colours))
    else:
        parts.append('<p class="empty">No successful training rows in these runs.</p>')
    parts.append("</section>")

    parts.append('<section id="pareto"><h2>Accuracy vs training time</h2>')
    if groups:
        parts.append('<p class="muted">Every result (entry × run); outlined points joined by the dashed line are '
                     "the Pareto front: nothing else is both at least as good and at least as fast.</p>")
        parts.append('<div class="charts">')
        for group in groups:
            caption = f"<figcaption>{_e(group.metric)}</figcaption>" if len(groups) > 1 else ""
            parts.append(f'<figure class="chart">{caption}{scatter_svg(group, colours)}</figure>')
        parts.append("</div>")
    else:
        parts.append('<p class="note">Nothing to plot.</p>')
    parts.append("</section>")

    parts.append('<section id="curves"><h2>Training curves</h2>')
    if groups:
        parts.append('<p class="muted">Per epoch, of each entry\'s best result: train solid, validation dashed.</p>')
        parts.append(curves_html(groups, colours))
    else:
        parts.append('<p class="note">Nothing to plot.</p>')
    parts.append("</section>")

    if inference:
        parts.append('<section id="inference"><h2>Inference</h2>')
        parts.append(inference_html(inference))
        parts.append("</section>")
    if failed:
        parts.append(f'<section id="failed"><h2>Failed rows ({len(failed)})</h2>')
        parts.append('<p class="muted">Not counted in the leaderboard or the charts.</p>')
        parts.append(failed_html(failed))
        parts.append("</section>")
    parts.append('<section id="runs"><h2>Runs and environments</h2>')
    parts.append(runs_html(run_dicts, rows_by_run))
    parts.append("</section>")
    return _page(title, "".join(parts), footer)


__all__ = ["Group", "Result", "build_groups", "headline", "is_inference", "pareto_front", "render_html"]
