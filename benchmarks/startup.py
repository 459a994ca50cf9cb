"""Start-up target: `zoo list` with the packaged catalogue plus 200 entries from a plugin.

Targets (issue 7, target 3): under 0.5 s wall, and under a tenth of `python -c "import tensorflow"`.
The 200 entries come from a real plugin found through the `zoo` entry-point group: this script
writes a tiny distribution (module + .dist-info with entry_points.txt) to a temp folder and puts
it on PYTHONPATH, as pip would. Runs are interleaved; medians of --repeats are reported.

    python benchmarks/startup.py [--repeats 7] [--entries 200] [--quick]

``--quick``: 20 entries, one timed run of each command, no warm-up, and no verdict (exit 0): a
smoke run of this script (tests/test_benchmark_scripts.py), no measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import QUICK_NOTE, add_quick, summary

PLUGIN = '''
import zoo

@zoo.hookimpl
def register_entries(register):
    for i in range({n}):
        register(f"generated-{{i:04d}}", architecture="dense-linear", dataset="linear",
                 epochs=1 + i % 5, tags=["generated"], description=f"generated entry {{i}}")
'''


def make_plugin(folder: Path, entries: int) -> None:
    (folder / "zoo_generated.py").write_text(PLUGIN.format(n=entries))
    info = folder / "zoo_generated-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-generated\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[zoo]\ngenerated = zoo_generated\n")


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--entries", type=int, default=200)
    add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.entries = 1, 20
    with tempfile.TemporaryDirectory() as tmp:
        make_plugin(Path(tmp), args.entries)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [tmp, os.environ.get("PYTHONPATH")])),
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        listing = subprocess.run([sys.executable, "-m", "zoo", "list", "--format", "json"], env=env,
                                 capture_output=True, text=True, check=True).stdout
        count = len(json.loads(listing))
        zoo_cmd = [sys.executable, "-m", "zoo", "list"]
        tf_cmd = [sys.executable, "-c", "import tensorflow"]
        if not args.quick:
            wall(zoo_cmd, env), wall(tf_cmd, env)  # warm the file cache
        zoo_times, tf_times = [], []
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            zoo_times.append(wall(zoo_cmd, env))
            tf_times.append(wall(tf_cmd, env))
    zoo_median, tf_median = statistics.median(zoo_times), statistics.median(tf_times)
    ratio = zoo_median / tf_median
    print(f"entries listed:                 {count}")
    print(f"zoo list (median of {args.repeats}):        {zoo_median:.3f} s  (min {min(zoo_times):.3f})")
    print(f"python -c 'import tensorflow':  {tf_median:.3f} s  (min {min(tf_times):.3f})")
    print(f"ratio zoo list / import tf:     {ratio:.3f}  (target < 0.1)")
    ok = zoo_median < 0.5 and ratio < 0.1 and count >= args.entries
    print(QUICK_NOTE if args.quick else "target met" if ok else "TARGET MISSED")
    summary("startup", args.quick, entries_listed=count, entries_generated=args.entries, repeats=args.repeats,
            zoo_list_seconds=zoo_median, import_tensorflow_seconds=tf_median, ratio=ratio,
            target_met=None if args.quick else ok)
    sys.exit(0 if ok or args.quick else 1)


if __name__ == "__main__":
    main()
