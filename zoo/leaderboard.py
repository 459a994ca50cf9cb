"""The leaderboard's data: results (an entry in a run, median over repeats), each entry's best
result, and the Pareto front of a metric against training time. Plain data, no HTML."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zoo.report import aggregate, higher_is_better, primary_metric, row_key
from zoo.splits import REPORT_ORDER

#: Splits tried, in order, for an entry's headline figure.
HEADLINE_SPLITS = REPORT_ORDER

def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
        if finite(value):
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
            # A sweep point is its own result: "entry [label]".
            result = Result(run_id=run_id, entry=row_key(summary), row=summary, metric=metric, split=split,
                            value=value, higher=higher_is_better(metric),
                            seconds=float(seconds) if finite(seconds) else None,
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
