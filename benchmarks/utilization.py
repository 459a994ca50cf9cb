"""Target 5 — close to the machine's limit: the practical fp32 peak (a large matmul) and the
GFLOP/s that `fashion-cnn-fast` achieves in training, measured in the same run.

Goal: fashion-cnn-fast trains at >= 60% of the fp32 peak (or beyond it with bf16). The bf16 matmul
peak is measured too: where it is below 60 % of the fp32 peak, bf16 cannot reach the goal either.

    python benchmarks/utilization.py [--size 4096] [--entry fashion-cnn-fast] [--quick]

``--quick``: 256-cubed matmuls and the entry on a stand-in image folder: a smoke run of this
script (tests/test_benchmark_scripts.py), no measurement.
"""
from __future__ import annotations

import argparse
import time

from _common import QUICK_NOTE, add_quick, machine, quick_overrides, summary, zoo_bench


def matmul_peak(size: int, repeats: int = 10, dtype: str = "float32") -> float:
    """GFLOP/s of the best of ``repeats`` ``size``-cubed matmuls in ``dtype``."""
    from zoo.tfruntime import import_tensorflow

    tf = import_tensorflow()  # quietly

    a = tf.cast(tf.random.normal((size, size)), dtype)
    b = tf.cast(tf.random.normal((size, size)), dtype)
    (a @ b).numpy()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        (a @ b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--entry", default="fashion-cnn-fast")
    add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.size = 256
    peak = matmul_peak(args.size)
    bf16_peak = matmul_peak(args.size, dtype="bfloat16")
    with quick_overrides(args.quick) as quick_set:
        row = zoo_bench(args.entry, *quick_set)
    achieved = row.get("gflops_per_second")
    print(f"machine: {machine()}")
    print(f"fp32 matmul {args.size}^3: {peak:.1f} GFLOP/s (best of 10)")
    print(f"bf16 matmul {args.size}^3: {bf16_peak:.1f} GFLOP/s (best of 10), {bf16_peak / peak:.1%} of the fp32 peak")
    print(f"{args.entry}: {row['flops_per_sample'] / 1e6:.1f} MFLOP per training sample, "
          f"{row['samples_per_second']:.0f} samples/s, {achieved:.1f} GFLOP/s "
          f"({row['environment'].get('mixed_precision') or 'float32'})")
    print(f"utilisation: {achieved / peak:.1%} of the fp32 peak (goal >= 60%)")
    met = achieved / peak >= 0.6
    print(QUICK_NOTE if args.quick else "target met" if met else "TARGET MISSED")
    summary("utilization", args.quick, entry=args.entry, matmul_size=args.size, fp32_peak_gflops=peak,
            bf16_peak_gflops=bf16_peak, flops_per_sample=row["flops_per_sample"],
            samples_per_second=row["samples_per_second"], gflops_per_second=achieved,
            utilisation=achieved / peak, target_met=None if args.quick else met)


if __name__ == "__main__":
    main()
