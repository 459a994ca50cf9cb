"""Targets 2 and 6 — no overhead, and memory: `zoo bench fashion-cnn` (the course recipe)
against the plain course script for the same epochs, interleaved, medians of --repeats.

Goal: zoo's training wall time ≤ 1.05× the script's, the same test accuracy within noise, and a
peak RSS of the `zoo bench` worker under 2 GB.

    python benchmarks/overhead.py [--repeats 3] [--epochs 5] [--quick]

``--quick``: one repeat of 1 epoch, the course script on 256 real images and `fashion-cnn` on a
stand-in image folder: a smoke run of this script (tests/test_benchmark_scripts.py), no measurement.
"""
from __future__ import annotations

import argparse
import json

from _common import QUICK_NOTE, add_quick, course_script, machine, median, quick_overrides, summary, zoo_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.epochs = 1, 1
    rows = []
    with quick_overrides(args.quick) as quick_set:
        for _ in range(args.repeats):
            base = course_script(epochs=args.epochs, limit=256 if args.quick else 0)
            zoo = zoo_bench("fashion-cnn", f"epochs={args.epochs}", *quick_set)
            rows.append({
                "script_seconds": base["train_seconds"], "script_test_accuracy": base["test_accuracy"],
                "zoo_seconds": zoo["train_seconds"], "zoo_test_accuracy": zoo["metrics"]["test"]["accuracy"],
                "zoo_peak_rss_mb": zoo["peak_rss_mb"], "ratio": zoo["train_seconds"] / base["train_seconds"],
            })
            print(json.dumps(rows[-1]), flush=True)
    ratio = median([r["ratio"] for r in rows])
    rss = max(r["zoo_peak_rss_mb"] for r in rows)
    print(f"machine: {machine()}")
    print(f"course script: median {median([r['script_seconds'] for r in rows]):.1f} s, "
          f"test accuracy {median([r['script_test_accuracy'] for r in rows]):.4f}")
    print(f"zoo bench fashion-cnn: median {median([r['zoo_seconds'] for r in rows]):.1f} s, "
          f"test accuracy {median([r['zoo_test_accuracy'] for r in rows]):.4f}, peak RSS {rss:.0f} MB")
    print(f"median time ratio zoo/script: {ratio:.3f} (goal <= 1.05); peak RSS goal < 2048 MB")
    met = ratio <= 1.05 and rss < 2048
    print(QUICK_NOTE if args.quick else "targets met" if met else "TARGET MISSED")
    summary("overhead", args.quick, epochs=args.epochs, repeats=len(rows), ratio=ratio, peak_rss_mb=rss,
            script_seconds=median([r["script_seconds"] for r in rows]),
            zoo_seconds=median([r["zoo_seconds"] for r in rows]),
            script_test_accuracy=median([r["script_test_accuracy"] for r in rows]),
            zoo_test_accuracy=median([r["zoo_test_accuracy"] for r in rows]), targets_met=None if args.quick else met)


if __name__ == "__main__":
    main()
