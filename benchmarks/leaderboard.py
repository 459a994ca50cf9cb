"""Leaderboard: the course's Fashion-MNIST CNN script and zoo entries side by side, in one run.

Each repeat runs the course's notebook code (benchmarks/course_fashion_cnn.py: 5 epochs, batch 32)
and `zoo bench ENTRY` for every entry, each in a fresh process, interleaved; the order rotates from
one repeat to the next, so the machine's drift falls on all of them alike. The entries train with
seeds `--first-seed` + repeat (default 100, 101, ...: seeds that recipe selection never uses, see
benchmarks/recipe_sweep.py), so their test accuracy is a report over fresh seeds, given as minimum
and median. Rows go into the benchmark history (ZOO_HOME/bench.sqlite, one run per `zoo bench`,
noted "leaderboard") unless `--no-store`, so `zoo runs` and `zoo report` show them.

Per entry: test accuracy per seed, min and median, median training seconds, the median of the
per-repeat ratios of its training time to the course script's, and whether it reaches its
catalogue target (median test figure) in no more time than the course script (median ratio ≤ 1).
The load average is recorded before every run: on a shared machine, read the figures with it.

    python benchmarks/leaderboard.py [--entries fashion-cnn fashion-cnn-fast fashion-compact-cnn] [--repeats 5]

``--quick``: one repeat, the course script for 1 epoch on 256 real images, the entries on a stand-in
image folder (tests/test_benchmark_leaderboard.py runs it): a smoke run, no measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from _common import QUICK_NOTE, add_quick, course_script, env, machine, median, quick_overrides, summary

COURSE = "course script"
DEFAULT_ENTRIES = ("fashion-cnn", "fashion-cnn-fast", "fashion-compact-cnn")
FRESH_SEED = 100  # benchmarks/recipe_sweep.py selects with seeds under this one


def load() -> float:
    """The 1-minute load average (how busy the machine was when a run started)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def bench_row(entry: str, overrides: list[str], store: bool, note: str) -> dict[str, Any]:
    """One `zoo bench ENTRY --format json` in a fresh process (stored unless ``store`` is false)."""
    cmd = [sys.executable, "-m", "zoo", "bench", entry, "--format", "json"]
    cmd += ["--note", note] if store else ["--no-store"]
    for item in overrides:
        cmd += ["--set", item]
    out = subprocess.run(cmd, env=env(), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"zoo bench {entry} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout)[0]


def order(names: list[str], repeat: int) -> list[str]:
    """``names`` rotated by ``repeat``: each takes every position in turn across repeats."""
    shift = repeat % len(names)
    return names[shift:] + names[:shift]


def run_of(name: str, repeat: int, result: dict[str, Any], load_before: float) -> dict[str, Any]:
    """One line of the log: a course-script result or a `zoo bench` row, in the same shape."""
    if name == COURSE:
        return {"name": COURSE, "repeat": repeat, "seed": None, "train_seconds": result["train_seconds"],
                "test_accuracy": result["test_accuracy"], "epochs": result["epochs"], "target": None,
                "load": load_before}
    test = (result.get("metrics") or {}).get("test", {})
    return {"name": name, "repeat": repeat, "seed": result.get("seed"), "train_seconds": result["train_seconds"],
            "test_accuracy": test.get("accuracy"), "epochs": result.get("epochs"),
            "target": (result.get("target") or {}).get("value"), "run_id": result.get("run_id"), "load": load_before}


def table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per name (the course script first), from the runs of every repeat: accuracy per
    seed, min and median, median seconds, and the median per-repeat time ratio to the course."""
    course = {r["repeat"]: r["train_seconds"] for r in runs if r["name"] == COURSE}
    names = [COURSE] + [n for n in dict.fromkeys(r["name"] for r in runs) if n != COURSE]
    rows = []
    for name in names:
        mine = [r for r in runs if r["name"] == name]
        if not mine:
            continue
        accuracy = [r["test_accuracy"] for r in mine]
        ratios = [r["train_seconds"] / course[r["repeat"]] for r in mine if course.get(r["repeat"])]
        target = mine[0]["target"]
        ratio = median(ratios) if ratios else None
        met = None if target is None or ratio is None else median(accuracy) >= target and ratio <= 1.0
        rows.append({
            "entry": name,
            "seeds": " ".join(str(r["seed"]) for r in mine) if name != COURSE else "-",
            "test accuracy per run": " / ".join(f"{a:.4f}" for a in accuracy),
            "min": round(min(accuracy), 4), "median": round(median(accuracy), 4),
            "median train s": round(median([r["train_seconds"] for r in mine]), 1),
            "time / course": None if ratio is None else round(ratio, 3),
            "target": target, "target in course time": met,
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", nargs="+", default=list(DEFAULT_ENTRIES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=FRESH_SEED)
    parser.add_argument("--no-store", action="store_true", help="keep the rows out of the benchmark history")
    add_quick(parser)
    args = parser.parse_args()
    from tabulate import tabulate

    runs: list[dict[str, Any]] = []
    with quick_overrides(args.quick) as quick_set:
        for repeat in range(1 if args.quick else args.repeats):
            seed = args.first_seed + repeat
            for name in order([COURSE, *args.entries], repeat):
                before = load()
                if name == COURSE:
                    result = course_script(**({"epochs": 1, "limit": 256} if args.quick else {}))
                else:
                    result = bench_row(name, [f"seed={seed}", *quick_set], store=not args.no_store,
                                       note=f"leaderboard repeat {repeat + 1}, seed {seed}")
                runs.append(run_of(name, repeat, result, before))
                print(json.dumps(runs[-1]), flush=True)
    rows = table(runs)
    loads = [r["load"] for r in runs]
    print(f"machine: {machine()}; load average before each run {min(loads):.1f}-{max(loads):.1f} "
          f"(median {median(loads):.1f})")
    print(tabulate(rows, headers="keys", tablefmt="github"))
    if args.quick:
        print(QUICK_NOTE)
    summary("leaderboard", args.quick, repeats=len({r["repeat"] for r in runs}), rows=rows,
            load_min=min(loads), load_median=median(loads), load_max=max(loads))


if __name__ == "__main__":
    main()
