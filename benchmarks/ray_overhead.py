"""What running rows as Ray tasks costs and gains, on a real Ray cluster on this machine.

1. Per-row overhead of ``--executor ray`` over the local executor (goal ≤ 2 s): the same
   ``zoo bench hello-dense --repeats N`` through both executors, rows one at a time (a 1-node,
   1-CPU cluster), for N = 1 and N = ``--rows``. Each run's orchestration time is its wall time
   less its rows' own worker-process times (``wall_seconds``: TensorFlow's import and the
   training, which a busy machine stretches alike on both executors); the per-row overhead is
   the slope, ``[(ray(N) − local(N)) − (ray(1) − local(1))] / (N − 1)`` of those, so Ray's fixed
   cost (``ray.init``, shutting down) is apart from what each row adds. The same slope of the
   plain wall times is reported too. Interleaved, ``--repeats`` times, medians.
2. Four small entries serially (local executor) and on the 2-node cluster (a second 1-CPU node
   joins), side by side, interleaved.

The cluster and every driver run inside a loopback-only network namespace (Ray replaces
127.0.0.1 with the host's routable address otherwise): run as root. The helper is the tests'
(``tests/test_ray_netns.py``). The last line is a JSON summary; ``--quick`` is a smoke run.

    ZOO_DATA_DIR=../shared/data python benchmarks/ray_overhead.py
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import add_quick, env, machine, median, summary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_ray_netns import NetNamespace, RayCluster  # noqa: E402  (the tests' cluster helper)

SMALL = ("hello-dense", "fashion-dense", "fashion-cnn", "fashion-dense-512")


def bench(ns: NetNamespace, cluster: RayCluster | None, home: Path, *args: str) -> tuple[float, list[dict]]:
    """One ``zoo bench … --format json --no-store`` as a fresh driver process in the namespace:
    (wall seconds, rows)."""
    command = [sys.executable, "-m", "zoo", "bench", *args, "--format", "json", "--no-store"]
    if cluster is not None:
        command += ["--executor", "ray", "--address", cluster.address]
    started = time.perf_counter()
    out = subprocess.run(ns.command(command), capture_output=True, text=True,
                         env=env(ZOO_HOME=str(home), ZOO_OFFLINE="1", RAY_AUTH_MODE="disabled"))
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"zoo bench {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return wall, json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=6, help="rows of the long overhead run (default 6)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (default 3)")
    parser.add_argument("--only", choices=("overhead", "side-by-side"), default=None, help="run one part only")
    add_quick(parser)
    args = parser.parse_args()
    rows, repeats = (2, 1) if args.quick else (args.rows, args.repeats)
    small = SMALL[:2] if args.quick else SMALL
    hello = ["hello-dense", "--set", "epochs=20"]
    steps = ["--set", "epochs=1", "--set", f"steps_per_epoch={20 if args.quick else 200}"]
    with tempfile.TemporaryDirectory(prefix="zro-", dir="/tmp") as tmp:
        root = Path(tmp)
        ns = NetNamespace()
        try:
            cluster = RayCluster(ns, root, env={"ZOO_HOME": str(root / "node"), **env()})
            started = time.perf_counter()
            cluster.start(head_cpus=1, nodes=[])
            print(f"1-node cluster up in {time.perf_counter() - started:.1f}s", file=sys.stderr)
            overhead: dict[str, list[float]] = {"local1": [], "ray1": [], "localN": [], "rayN": []}
            orchestration: dict[str, list[float]] = {key: [] for key in overhead}
            for repeat in range(repeats if args.only != "side-by-side" else 0):
                for name, executor, count in (("local1", None, 1), ("ray1", cluster, 1),
                                              ("localN", None, rows), ("rayN", cluster, rows)):
                    wall, found = bench(ns, executor, root / "home", *hello, "--repeats", str(count))
                    overhead[name].append(wall)
                    # The table's rows summarise repeats; each repeat's own row is in repeat_rows.
                    each = [one for r in found for one in (r.get("repeat_rows") or [r])]
                    orchestration[name].append(wall - sum(one["wall_seconds"] for one in each))
                    print(f"repeat {repeat + 1}: {name} ({count} row(s)) {wall:.1f}s, "
                          f"{orchestration[name][-1]:.1f}s outside the workers", file=sys.stderr)

            def slope(times: dict[str, list[float]]) -> list[float]:
                return [((rn - ln) - (r1 - l1)) / (rows - 1) for l1, r1, ln, rn in
                        zip(times["local1"], times["ray1"], times["localN"], times["rayN"])]

            per_row, per_row_wall = slope(orchestration), slope(overhead)
            fixed = [r1 - l1 for l1, r1 in zip(orchestration["local1"], orchestration["ray1"])]

            started = time.perf_counter()
            cluster.add_node(cpus=1)
            print(f"second node up in {time.perf_counter() - started:.1f}s", file=sys.stderr)
            side: dict[str, list[float]] = {"serial": [], "cluster": []}
            nodes: set[str] = set()
            for repeat in range(repeats if args.only != "overhead" else 0):
                for name, executor in (("serial", None), ("cluster", cluster)):
                    wall, found = bench(ns, executor, root / "home", *small, *steps)
                    side[name].append(wall)
                    if executor is not None:
                        nodes |= {r.get("node") for r in found}
                    print(f"repeat {repeat + 1}: {len(small)} entries {name} {wall:.1f}s", file=sys.stderr)
        finally:
            ns.stop()
    def middle(values: list[float]) -> float | None:
        return median(values) if values else None

    serial, spread = middle(side["serial"]), middle(side["cluster"])
    result = {
        "machine": machine(), "load_average": os.getloadavg(),
        "per_row_overhead_s": middle(per_row), "per_row_overhead_each_s": per_row,
        "per_row_overhead_from_walls_s": middle(per_row_wall), "fixed_ray_cost_s": middle(fixed),
        "walls_s": overhead, "outside_workers_s": orchestration, "rows": rows,
        "small_entries": list(small), "serial_s": serial, "cluster_s": spread,
        "speedup": serial / spread if serial and spread else None, "side_by_side_walls_s": side,
        "cluster_nodes_used": len(nodes),
    }
    print(json.dumps(result, indent=2))
    summary("ray_overhead", args.quick, per_row_overhead_s=result["per_row_overhead_s"],
            fixed_ray_cost_s=result["fixed_ray_cost_s"], serial_s=result["serial_s"], cluster_s=result["cluster_s"],
            speedup=result["speedup"], cluster_nodes_used=result["cluster_nodes_used"])


if __name__ == "__main__":
    main()
