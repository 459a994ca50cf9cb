"""Benchmarking entries: every entry × sweep point × repeat is one job, measured in its own
worker process (:mod:`zoo.bench_worker`), which returns one row.

The parent (``zoo bench``) never imports TensorFlow. It resolves the entries, lays out the jobs
(``--sweep KEY=V1,V2`` multiplies them by the grid of overrides, each point a row labelled with
its overrides), and hands them to an executor (:mod:`zoo.executors`: worker processes here, one
after another, or Ray tasks on a cluster), which yields each row as it finishes; the caller
stores it at once. One process per run means:

- an entry that fails (bad data, NaN loss, out of memory, a crash in native code) becomes a row
  with ``status = "failed"`` and its error, and the other entries still run;
- every run starts from the same state (no graph, memory or thread settings left over from the
  previous model), and peak memory is that run's own (``wait4``'s rusage of the child);
- ``ZOO_CPU_DEVICES`` (logical CPU devices for ``MirroredStrategy``) and thread counts, which
  TensorFlow accepts only before its first op, can differ per run.

What a worker measures is :func:`zoo.measure.measure`'s job; the row is :class:`zoo.rows.BenchRow`.
"""
from __future__ import annotations

import itertools
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

from zoo.catalogue import parse_override
from zoo.errors import CatalogueError, ZooError
from zoo.executors import BenchOptions, Executor, Job, LocalExecutor, run_worker
from zoo.rows import BenchRow, failed_row
from zoo.targets import check_targets, overrides_for, split_target

Progress = Callable[[str], None]


log = logging.getLogger(__name__)


def split_values(text: str) -> list[str]:
    """``"1,2,[3,4],'a,b'"`` → ``["1", "2", "[3,4]", "'a,b'"]``: commas inside brackets or
    quotes belong to the value (TOML lists and strings)."""
    values, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    values.append("".join(current).strip())
    return values


def parse_sweep(items: Sequence[str], entry: str | None = None) -> list[tuple[str, list[str]]]:
    """``--sweep KEY=V1,V2`` options as ``[(key, [value, ...]), ...]``: the axes that apply to
    ``entry``, i.e. every ``KEY=…`` and, with ``entry``, its own ``ENTRY:KEY=…`` (prefix dropped)."""
    axes: list[tuple[str | None, str, list[str]]] = []
    for item in items:
        target, plain = split_target(item, "--sweep")
        key, sep, text = plain.partition("=")
        key = key.strip()
        values = split_values(text) if sep else []
        if not key or not values or any(not v for v in values):
            raise CatalogueError(f"--sweep {item!r}: expected KEY=V1,V2,... or ENTRY:KEY=V1,V2,..., e.g. --sweep learning_rate=0.001,0.01")
        parse_override(f"{key}={values[0]}")
        # Twice for one entry: the same key for every entry, or for the same entry (or both).
        if any(key == other and (target is None or whom is None or target == whom) for whom, other, _ in axes):
            raise CatalogueError(f"--sweep {key}=... is given twice{f' for {target}' if target else ''}; "
                                 f"list every value in one --sweep")
        axes.append((target, key, values))
    return [(key, values) for target, key, values in axes if target is None or target == entry]


def sweep_points(items: Sequence[str], entry: str | None = None) -> list[tuple[str, ...]]:
    """The grid of ``--sweep`` options that apply to ``entry`` as override lists, the last key
    varying fastest; ``[()]`` (one point, no overrides) without a sweep."""
    axes = parse_sweep(items, entry)
    return [tuple(f"{key}={value}" for (key, _), value in zip(axes, point, strict=True))
            for point in itertools.product(*(values for _, values in axes))]


def seeds_for(base_seed: int, repeats: int) -> list[int]:
    """Seeds of ``repeats`` runs: the entry's own seed, then the next ones."""
    return [base_seed + i for i in range(repeats)]


def plan_jobs(names: Sequence[str], catalogue: Any, options: BenchOptions, sweep: Sequence[str] = ()
              ) -> tuple[list[Job], list[tuple[Job, str]]]:
    """Every entry × sweep point × repeat as a :class:`Job` (resolved: its config, resources and
    seed), and the jobs whose entry does not resolve, with the reason (failed at once, no worker).
    ``ENTRY:KEY=…`` overrides and sweeps apply to that entry only, and label its rows without
    the prefix."""
    check_targets(options.overrides, names, "--set")
    check_targets(sweep, names, "--sweep")
    jobs: list[Job] = []
    broken: list[tuple[Job, str]] = []
    for name in names:
        own = overrides_for(name, options.overrides)
        for point in sweep_points(sweep, name):
            label = " ".join(point) or None
            try:
                entry = catalogue.resolve(name, [*own, *point])
            except ZooError as exc:
                for repeat in range(options.repeats):
                    title = f"{name}{f' [{label}]' if label else ''}"
                    broken.append((Job(len(jobs) + len(broken), name, repeat, label=label, title=title), str(exc)))
                continue
            for repeat, seed in enumerate(seeds_for(entry.recipe.seed, options.repeats)):
                extra = (*point, *([f"seed={seed}"] if options.repeats > 1 else []))
                config = catalogue.resolve(name, [*own, *extra]).to_dict() if extra else entry.to_dict()
                which = f"#{repeat + 1}" if options.repeats > 1 else ""
                title = (f"{name}{f' #{repeat + 1} (seed {seed})' if options.repeats > 1 else ''}"
                         f"{f' [{label}]' if label else ''}")
                jobs.append(Job(len(jobs) + len(broken), name, repeat, seed, extra, label, config,
                                entry.resources.cpus, entry.resources.gpus,
                                tag=f"  [{name}{which}{' ' + label if label else ''}]", title=title))
    return jobs, broken


def bench(names: Sequence[str], catalogue: Any, options: BenchOptions,
          on_row: Callable[[BenchRow, dict[str, Any]], None] | None = None,
          progress: Progress = log.info, sweep: Sequence[str] = (),
          executor: Executor | None = None) -> list[BenchRow]:
    """Benchmark every entry (× ``--sweep`` point) ``options.repeats`` times, one worker process
    each, on ``executor`` (default: here, one after another), and return the rows in plan
    order. ``on_row(row, entry_config)`` is called as soon as each row is finished (the CLI
    stores it there, so an interrupted bench keeps what had finished)."""
    jobs, broken = plan_jobs(names, catalogue, options, sweep)
    executor = executor or LocalExecutor()
    total = len(jobs) + len(broken)
    finished: list[tuple[int, BenchRow]] = []

    def record(job: Job, row: BenchRow, config: dict[str, Any]) -> None:
        title = job.title or job.entry
        where = f" on {row['node']}" if row.get("node") and executor.name != "local" else ""
        if row.get("status") == "ok":
            progress(f"[{len(finished) + 1}/{total}] {title}: done{where} in {row.get('wall_seconds', 0):.1f}s"
                     f"{describe(row)}")
        else:
            progress(f"[{len(finished) + 1}/{total}] {title}: FAILED{where}: {row.get('error')}")
        finished.append((job.index, row))
        if on_row:
            on_row(row, config)

    for job, error in broken:  # an entry that does not resolve fails here, cheaply, once per repeat slot
        record(job, job.failed(error, epochs=0), {"name": job.entry})
    for job, row in executor.run(jobs, options, progress):
        record(job, row, job.config)
    return [row for _, row in sorted(finished, key=lambda pair: pair[0])]


def trained_nothing(rows: Sequence[BenchRow]) -> bool:
    """Whether every row failed before its first epoch ended (an entry that did not resolve, a
    dataset that is not there, a loader that raised): such a run is not worth keeping in the
    history. A row that trained an epoch, failed later, or was stopped from outside (timed out,
    killed: ``epochs`` unknown) counts as trained."""
    return bool(rows) and all(row.get("status") != "ok" and row.get("epochs") == 0 for row in rows)


def describe(row: BenchRow) -> str:
    """A short progress summary of a finished row: primary metric and time to target."""
    from zoo.report import primary_metric

    metric, values = primary_metric(row)
    parts = []
    for split in ("validation", "test"):
        if values.get(split) is not None:
            parts.append(f"{split} {metric} {values[split]:.4g}")
            break
    if row.get("target"):
        ttt = row.get("time_to_target_seconds")
        parts.append(f"target reached after {ttt:.1f}s" if ttt is not None else "target not reached")
    return (": " + ", ".join(parts)) if parts else ""


def _sigterm_as_interrupt() -> Any:
    """Make SIGTERM (``kill PID``) raise KeyboardInterrupt, so a killed bench marks its run
    interrupted and stops its worker; returns the previous handler (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


__all__ = ["BenchOptions", "bench", "plan_jobs", "run_worker", "seeds_for", "describe", "failed_row", "parse_sweep",
           "sweep_points", "split_values", "trained_nothing"]
