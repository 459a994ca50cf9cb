"""Benchmarking entries: each entry × repeat trains in its own worker process and returns one row.

The parent (``zoo bench``) never imports TensorFlow. For every entry and repeat it starts
``python -m zoo.bench_worker ENTRY --out FILE ...`` (:mod:`zoo.bench_worker`), forwards the
worker's progress, reads the row the worker wrote, and hands it to the caller (which stores it
at once). One process per run means:

- an entry that fails (bad data, NaN loss, out of memory, a crash in native code) becomes a row
  with ``status = "failed"`` and its error, and the other entries still run;
- every run starts from the same state (no graph, memory or thread settings left over from the
  previous model), and peak memory is that run's own (``wait4``'s rusage of the child);
- ``ZOO_CPU_DEVICES`` (logical CPU devices for ``MirroredStrategy``) and thread counts, which
  TensorFlow accepts only before its first op, can differ per run.

What a worker measures is :func:`zoo.measure.measure`'s job; the row is :class:`zoo.rows.BenchRow`.
"""
from __future__ import annotations

import collections
import logging
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import ZooError
from zoo.rows import BenchRow, failed_row
from zoo.tfruntime import distribution_env

Progress = Callable[[str], None]


log = logging.getLogger(__name__)


@dataclass
class BenchOptions:
    """How ``zoo bench`` runs its entries."""

    overrides: Sequence[str] = ()
    registries: Sequence[str] = ()
    repeats: int = 1
    strategy: str = "default"
    cpu_devices: int | None = None
    timeout: float | None = None
    save: bool = False
    verbose: bool = False
    env: dict[str, str] = field(default_factory=dict)


def _signal_description(code: int) -> str:
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if -code == signal.SIGKILL else ""
    return f"worker killed by {name}{hint}"


def run_worker(entry: str, options: BenchOptions, repeat: int = 0, overrides: Sequence[str] = (),
               progress: Progress = log.info, label: str | None = None) -> BenchRow:
    """Benchmark one entry in a fresh ``python -m zoo.bench_worker`` process and return its row.

    Never raises for a failure of the entry itself (that is a row); KeyboardInterrupt stops
    the worker and propagates.
    """
    label = label or f"[{entry}]"
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        out = os.path.join(tmp, "row.json")
        command = [sys.executable, "-m", "zoo.bench_worker", entry, "--out", out, "--repeat", str(repeat),
                   "--strategy", options.strategy, "--label", label]
        for path in options.registries:
            command += ["--registry", str(path)]
        for item in [*options.overrides, *overrides]:
            command += ["--set", item]
        if options.save:
            command.append("--save")
        if options.verbose:
            command.append("--verbose")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **options.env,
               **distribution_env(options.strategy, options.cpu_devices)}
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                text=True, errors="replace", bufsize=1)
        tail: collections.deque[str] = collections.deque(maxlen=20)

        def forward() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                progress(line if line.startswith(label) else f"{label} | {line}")

        reader = threading.Thread(target=forward, daemon=True)
        reader.start()
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(options.timeout, on_timeout) if options.timeout else None
        if timer:
            timer.start()
        try:
            # wait4, not wait: it gives this child's own rusage (peak RSS even when it was killed).
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        except BaseException:  # Ctrl-C / SIGTERM while waiting: stop the worker, then propagate
            proc.kill()
            proc.wait()
            raise
        finally:
            if timer:
                timer.cancel()
        reader.join(timeout=5)
        wall = time.perf_counter() - start
        child_peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
        row: BenchRow | None = None
        if os.path.exists(out):
            try:
                with open(out, encoding="utf-8") as handle:
                    row = json.load(handle)
            except ValueError:
                row = None
        if row is None:
            if timed_out.is_set():
                error = f"timed out after {options.timeout:g}s"
            elif proc.returncode < 0:
                error = _signal_description(proc.returncode)
            else:
                last = next((l for l in reversed(tail) if l.strip()), "")
                error = f"worker exited with status {proc.returncode}" + (f": {last.strip()}" if last else "")
            row = failed_row(entry, error, repeat)
        row["wall_seconds"] = wall
        row.setdefault("peak_rss_mb", child_peak)
        if not row.get("peak_rss_mb"):
            row["peak_rss_mb"] = child_peak
        return row


def seeds_for(base_seed: int, repeats: int) -> list[int]:
    """Seeds of ``repeats`` runs: the entry's own seed, then the next ones."""
    return [base_seed + i for i in range(repeats)]


def bench(names: Sequence[str], catalogue: Any, options: BenchOptions,
          on_row: Callable[[BenchRow, dict[str, Any]], None] | None = None,
          progress: Progress = log.info) -> list[BenchRow]:
    """Benchmark every entry ``options.repeats`` times, one worker process each, and return the
    rows in order. ``on_row(row, entry_config)`` is called as soon as each row is finished (the
    CLI stores it there, so an interrupted bench keeps what had finished)."""
    rows = []
    total = len(names) * options.repeats
    done = 0
    for name in names:
        try:
            entry = catalogue.resolve(name, options.overrides)
        except ZooError as exc:
            # An entry that does not resolve fails here, cheaply, once per repeat slot.
            for repeat in range(options.repeats):
                done += 1
                row = failed_row(name, str(exc), repeat)
                progress(f"[{done}/{total}] {name}: failed: {exc}")
                rows.append(row)
                if on_row:
                    on_row(row, {"name": name})
            continue
        seeds = seeds_for(entry.recipe.seed, options.repeats)
        for repeat, seed in enumerate(seeds):
            done += 1
            extra = [f"seed={seed}"] if options.repeats > 1 else []
            config = catalogue.resolve(name, [*options.overrides, *extra]).to_dict() if extra else entry.to_dict()
            which = f" repeat {repeat + 1}/{options.repeats} (seed {seed})" if options.repeats > 1 else ""
            progress(f"[{done}/{total}] {name}{which}: training {entry.recipe.epochs} epoch(s), "
                     f"batch {entry.recipe.batch_size}, strategy {options.strategy}")
            label = f"  [{name}{'#' + str(repeat + 1) if options.repeats > 1 else ''}]"
            row = run_worker(name, options, repeat, extra, progress, label=label)
            row.setdefault("seed", seed)
            if row.get("status") == "ok":
                summary = describe(row)
                progress(f"[{done}/{total}] {name}{which}: done in {row.get('wall_seconds', 0):.1f}s{summary}")
            else:
                progress(f"[{done}/{total}] {name}{which}: FAILED: {row.get('error')}")
            rows.append(row)
            if on_row:
                on_row(row, config)
    return rows


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


__all__ = ["BenchOptions", "bench", "run_worker", "seeds_for", "describe", "failed_row"]
