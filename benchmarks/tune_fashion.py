"""``zoo tune fashion-cnn --trials 8`` with short epochs, on this machine, and its winner's test
accuracy next to fashion-cnn's under the same short budget.

Runs the command docs/scale.md shows (learning rate and batch size, ASHA, 2 epochs of 200 steps),
then ``zoo bench fashion-cnn`` with the same ``--set`` budget, and the written variant through
``zoo --registry tuned.toml bench fashion-cnn-tuned`` (what the docs say runs it). Everything
inside a loopback-only network namespace (``zoo tune`` starts a Ray here, and Ray binds the
host's routable address otherwise): run as root. The last line is a JSON summary; ``--quick``
is a smoke run (2 trials of 20 steps).

    ZOO_DATA_DIR=../shared/data python benchmarks/tune_fashion.py
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import add_quick, env, machine, summary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_ray_netns import NetNamespace  # noqa: E402  (the tests' namespace helper)


def zoo(ns: NetNamespace, home: Path, *args: str) -> tuple[float, str]:
    """One zoo command as a fresh process in the namespace: (wall seconds, stdout)."""
    started = time.perf_counter()
    out = subprocess.run(ns.command([sys.executable, "-m", "zoo", *args]), capture_output=True, text=True,
                         env=env(ZOO_HOME=str(home), ZOO_OFFLINE="1"))
    wall = time.perf_counter() - started
    sys.stderr.write(out.stderr[-4000:])
    if out.returncode != 0:
        raise SystemExit(f"zoo {' '.join(args)} failed (exit {out.returncode})")
    return wall, out.stdout


def test_accuracy(row: dict) -> float:
    return row["metrics"]["test"]["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    add_quick(parser)
    args = parser.parse_args()
    trials, steps = (2, 20) if args.quick else (args.trials, 200)
    budget = ["--set", "epochs=2", "--set", f"steps_per_epoch={steps}"]
    with tempfile.TemporaryDirectory(prefix="ztf-", dir="/tmp") as tmp:  # short: Ray's sockets live under it
        home, variants = Path(tmp) / "h", Path(tmp) / "tuned.toml"
        ns = NetNamespace()
        try:
            tune_wall, out = zoo(ns, home, "tune", "fashion-cnn", "--space", "learning_rate=loguniform(1e-4,1e-2)",
                                 "--space", "batch_size=choice(32,64,128)", "--trials", str(trials), "--scheduler",
                                 "asha", *budget, "--write-entry", "fashion-cnn-tuned", "--registry", str(variants),
                                 "--format", "json")
            tuned = json.loads(out)
            base_wall, out = zoo(ns, home, "bench", "fashion-cnn", *budget, "--format", "json")
            baseline = json.loads(out)[0]
            variant_wall, out = zoo(ns, home, "--registry", str(variants), "bench", "fashion-cnn-tuned", "--format", "json")
            variant = json.loads(out)[0]
            text = variants.read_text()
        finally:
            ns.stop()
    result = {
        "machine": machine(), "trials": trials, "steps_per_epoch": steps, "epochs": 2,
        "tune_wall_s": tune_wall, "metric": tuned["metric"],
        "trial_results": [{"config": t["config"], "value": t["value"], "epochs": t["epochs"], "status": t["status"]}
                          for t in tuned["trials"]],
        "best": tuned["best"]["config"], "best_validation": tuned["best"]["value"],
        "tuned_test_accuracy": test_accuracy(tuned["retrain"]),
        "fashion_cnn_test_accuracy": test_accuracy(baseline), "fashion_cnn_wall_s": base_wall,
        "variant_test_accuracy": test_accuracy(variant), "variant_wall_s": variant_wall, "variant": text,
    }
    print(json.dumps(result, indent=2))
    summary("tune_fashion", args.quick, tune_wall_s=tune_wall, best=result["best"],
            tuned_test_accuracy=result["tuned_test_accuracy"],
            fashion_cnn_test_accuracy=result["fashion_cnn_test_accuracy"],
            variant_test_accuracy=result["variant_test_accuracy"])


if __name__ == "__main__":
    main()
