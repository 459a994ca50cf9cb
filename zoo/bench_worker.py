"""The bench worker: ``python -m zoo.bench_worker ENTRY --out FILE …`` measures one entry in its
own process (:func:`zoo.measure.measure`) and writes its row as JSON to FILE (atomically). The
parent (:mod:`zoo.bench`) starts one per entry × repeat and never imports TensorFlow itself.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from zoo.errors import ZooError
from zoo.measure import measure, peak_rss_mb
from zoo.output import configure_output
from zoo.tfruntime import STRATEGIES

#: Exit codes of a worker: the row file says what happened in every case but a crash.
EXIT_OK, EXIT_FAILED_ROW = 0, 3


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _watch_parent() -> None:
    """Exit when the parent bench dies (e.g. ``kill -9``): nobody would read our row."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(130)

    threading.Thread(target=watch, daemon=True, name="zoo-parent-watch").start()


def _write_row(path: str, row: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(row, handle, default=str)
    os.replace(tmp, path)


def worker_main(argv: Sequence[str] | None = None) -> int:
    """``python -m zoo.bench_worker ENTRY --out FILE [--registry F] [--set K=V] [--strategy S]``:
    benchmark one entry in this process and write its row as JSON to FILE."""
    parser = argparse.ArgumentParser(prog="python -m zoo.bench_worker", description=worker_main.__doc__)
    parser.add_argument("entry")
    parser.add_argument("--out", required=True)
    parser.add_argument("--registry", action="append", default=[])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--strategy", default="default", choices=STRATEGIES)
    parser.add_argument("--repeat", type=int, default=0)
    parser.add_argument("--save", action="store_true")
    parser.add_argument("--label", default=None)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    _watch_parent()
    sys.stdout = sys.stderr  # anything printed is progress; the row goes to --out
    configure_output(verbose=args.verbose)
    started = time.perf_counter()
    row: dict[str, Any] = {"entry": args.entry, "repeat": args.repeat, "strategy": args.strategy}
    code = EXIT_OK
    try:
        from zoo.catalogue import load_catalogue

        catalogue = load_catalogue(None, args.registry)
        entry = catalogue.resolve(args.entry, args.overrides)
        row["seed"] = entry.recipe.seed
        row = measure(entry, catalogue.registry, strategy=args.strategy, repeat=args.repeat, save=args.save,
                      label=args.label, quiet_tf=not args.verbose, progress=_stderr)
    except ZooError as exc:
        row.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a row says what went wrong; the traceback goes to stderr
        import traceback

        traceback.print_exc()
        name = type(exc).__name__
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if "ResourceExhausted" in name or isinstance(exc, MemoryError):
            name = f"out of memory ({name})"
        row.update(status="failed", error=f"{name}: {message}"[:500])
    if row.get("status") != "ok":
        code = EXIT_FAILED_ROW
        row.setdefault("peak_rss_mb", peak_rss_mb())
    row["worker_seconds"] = time.perf_counter() - started
    _write_row(args.out, row)
    return code


if __name__ == "__main__":
    sys.exit(worker_main())
