"""Recipe sweep: choose between `--set` variants of an entry on a VALIDATION split, over seeds.

Select on validation, report on test (docs/benchmarks.md, "Method"): every run holds
`--validation-split` (default 0.1: 6,000 of Fashion-MNIST's 60,000 training images) out of the
training split as `validation` (`--set validation_split=…`; zoo.splits.holdout_indices with a fixed
hold-out seed, so every variant and seed is scored on the same held-out images), and the variants
are ranked on the validation split's `--metric` alone. The test split's metrics, which `zoo bench`
computes too, are dropped as each row is read: this script never prints, stores or ranks them.

Each variant is a list of `zoo bench --set` overrides joined by `;` (the empty variant is the
entry as catalogued). Every (variant, seed) pair runs `zoo bench ENTRY --no-store` in a fresh
process, variants innermost: each seed runs every variant in turn, so the machine's drift falls
on all variants alike and their times compare. For example, what each part of
`fashion-cnn-fast`'s recipe is worth:

    python benchmarks/recipe_sweep.py fashion-cnn-fast --seeds 0 1 2 \\
        --variant "" --variant "label_smoothing=0" --variant 'dataset.normalize="unit"'

Prints one JSON line per run (validation score, training seconds), then a table ranked best
first: the validation metric per seed, its median and minimum, how many seeds reach `--target`
if given, and the median training seconds; then the command that reports the chosen recipe's
test figure once, over seeds the selection never used.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from _common import machine, median, zoo_bench

from zoo.api import TEST, VALIDATION, higher_is_better

#: Seeds of the final test report: far from the selection's (0, 1, 2...), so never used there.
FRESH_SEED = 100


def parse_variant(text: str) -> list[str]:
    """``"a=1; b=2"`` → ``["a=1", "b=2"]``; ``""`` → ``[]`` (the entry as catalogued)."""
    items = [item.strip() for item in text.split(";") if item.strip()]
    for item in items:
        if item.split("=", 1)[0].strip() in ("validation_split", "seed"):
            raise SystemExit(f"variant {text!r}: the sweep sets validation_split and seed itself")
    return items


def validation_only(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` without anything measured on the test split (its metrics, and the time to a
    target judged on it), so nothing downstream can look at test during selection."""
    clean = {k: v for k, v in row.items() if k not in ("time_to_target_seconds", "target")}
    clean["metrics"] = {split: values for split, values in (row.get("metrics") or {}).items() if split != TEST}
    return clean


def selection_score(row: dict[str, Any], metric: str) -> float:
    """The validation split's ``metric`` of a run; ``SystemExit`` when the run has none."""
    values = validation_only(row)["metrics"].get(VALIDATION)
    if not values or metric not in values:
        raise SystemExit(f"{row.get('entry')}: no {VALIDATION} {metric!r} in the row (splits: "
                         f"{sorted(validation_only(row)['metrics'])}); a sweep selects on validation only")
    return float(values[metric])


def summarise(runs: list[dict[str, Any]], target: float | None, metric: str = "accuracy") -> list[dict[str, Any]]:
    """One row per variant from runs of ``{variant, seed, score, seconds}`` (validation scores),
    best first: by median score, then by the worst seed; ties keep first-seen order."""
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        row = rows.setdefault(run["variant"], {"scores": [], "seconds": []})
        row["scores"].append(run["score"])
        row["seconds"].append(run["seconds"])
    better = higher_is_better(metric)
    sign = 1 if better else -1
    worst = min if better else max
    ranked = sorted(rows.items(), key=lambda item: (-sign * median(item[1]["scores"]), -sign * worst(item[1]["scores"])))
    table = []
    for rank, (variant, row) in enumerate(ranked, start=1):
        scores = row["scores"]
        reached = [a >= target if better else a <= target for a in scores] if target is not None else []
        table.append({
            "rank": rank,
            "variant": variant or "(as catalogued)",
            f"{VALIDATION} {metric} per seed": " / ".join(f"{a:.4f}" for a in scores),
            "median": round(median(scores), 4),
            "worst": round(worst(scores), 4),
            **({f"seeds reaching {target}": f"{sum(reached)}/{len(scores)}"} if target is not None else {}),
            "median train s": round(median(row["seconds"]), 1),
        })
    return table


def report_command(entry: str, variant: str, seeds: int = 5) -> str:
    """The one command that then reports the chosen variant's test figure over fresh seeds."""
    sets = "".join(f" --set '{item}'" for item in parse_variant(variant))
    return f"zoo bench {entry} --repeats {seeds} --set seed={FRESH_SEED}{sets}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entry")
    parser.add_argument("--variant", action="append", default=None,
                        help="--set overrides joined by ';' (repeatable; default: just the entry)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--metric", default="accuracy", help="the validation split's metric to rank on")
    parser.add_argument("--target", type=float, default=None, help="count the seeds whose metric reaches this")
    parser.add_argument("--validation-split", type=float, default=0.1,
                        help="fraction of the training split held out as validation (default 0.1)")
    args = parser.parse_args()
    if not 0.0 < args.validation_split < 1.0:
        parser.error("--validation-split must be in (0, 1): selection needs a validation split")
    if any(seed >= FRESH_SEED for seed in args.seeds):
        parser.error(f"selection seeds must stay under {FRESH_SEED}: those are kept for the test report")
    from tabulate import tabulate

    variants = args.variant or [""]
    runs = []
    for seed in args.seeds:
        for variant in variants:
            row = validation_only(zoo_bench(args.entry, *parse_variant(variant), f"seed={seed}",
                                            f"validation_split={args.validation_split}"))
            train = row["metrics"].get("train", {}).get(args.metric)
            runs.append({"variant": variant, "seed": seed, "score": selection_score(row, args.metric),
                         "split": VALIDATION, "train_score": None if train is None else round(train, 4), "train_examples": row.get("train_examples"),
                         "seconds": round(row["train_seconds"], 1), "epochs": row["epochs"],
                         "samples_per_second": round(row.get("samples_per_second") or 0)})
            print(json.dumps(runs[-1]), flush=True)
    table = summarise(runs, args.target, args.metric)
    print(f"machine: {machine()}")
    print(f"ranked on {VALIDATION} {args.metric} ({args.validation_split:g} of the training split held out); "
          "test metrics were not read")
    print(tabulate(table, headers="keys", tablefmt="github"))
    chosen = next(v for v in variants if (v or "(as catalogued)") == table[0]["variant"])
    print(f"chosen: {table[0]['variant']}; report it once, over fresh seeds: {report_command(args.entry, chosen)}")


if __name__ == "__main__":
    main()
