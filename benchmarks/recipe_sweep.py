"""Recipe sweep: an entry's test accuracy and training time under `--set` variants, over seeds.

Each variant is a list of `zoo bench --set` overrides joined by `;` (the empty variant is the
entry as catalogued). Every (variant, seed) pair runs `zoo bench ENTRY --no-store` in a fresh
process, variants innermost: each seed runs every variant in turn, so the machine's drift falls
on all variants alike and their times compare. Use it to measure what
each part of a recipe is worth (an ablation), e.g. for `fashion-cnn-fast`:

    python benchmarks/recipe_sweep.py fashion-cnn-fast --seeds 0 1 2 \\
        --variant "" --variant "label_smoothing=0" --variant 'dataset.normalize="unit"'

Prints one row per run as JSON, then a table: the test split's `--metric` (accuracy) per seed,
its median and minimum, how many seeds reach `--target` if given, and the median training seconds.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from _common import machine, median, zoo_bench


def parse_variant(text: str) -> list[str]:
    """``"a=1; b=2"`` → ``["a=1", "b=2"]``; ``""`` → ``[]`` (the entry as catalogued)."""
    return [item.strip() for item in text.split(";") if item.strip()]


def summarise(runs: list[dict[str, Any]], target: float | None, metric: str = "accuracy") -> list[dict[str, Any]]:
    """One row per variant, in first-seen order, from runs of ``{variant, seed, score, seconds}``."""
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        row = rows.setdefault(run["variant"], {"scores": [], "seconds": []})
        row["scores"].append(run["score"])
        row["seconds"].append(run["seconds"])
    table = []
    for variant, row in rows.items():
        scores = row["scores"]
        table.append({
            "variant": variant or "(as catalogued)",
            f"test {metric} per seed": " / ".join(f"{a:.4f}" for a in scores),
            "median": round(median(scores), 4),
            "min": round(min(scores), 4),
            **({f"seeds >= {target}": f"{sum(a >= target for a in scores)}/{len(scores)}"} if target is not None else {}),
            "median train s": round(median(row["seconds"]), 1),
        })
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entry")
    parser.add_argument("--variant", action="append", default=None,
                        help="--set overrides joined by ';' (repeatable; default: just the entry)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--metric", default="accuracy", help="the test split's metric to report")
    parser.add_argument("--target", type=float, default=None, help="count the seeds whose metric reaches this")
    args = parser.parse_args()
    from tabulate import tabulate

    runs = []
    for seed in args.seeds:
        for variant in args.variant or [""]:
            row = zoo_bench(args.entry, *parse_variant(variant), f"seed={seed}")
            runs.append({"variant": variant, "seed": seed, "score": row["metrics"]["test"][args.metric],
                         "seconds": round(row["train_seconds"], 1), "epochs": row["epochs"]})
            print(json.dumps(runs[-1]), flush=True)
    print(f"machine: {machine()}")
    print(tabulate(summarise(runs, args.target, args.metric), headers="keys", tablefmt="github"))


if __name__ == "__main__":
    main()
