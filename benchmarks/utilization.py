"""Target 5 — close to the machine's limit: the practical fp32 peak (a large matmul) and the
GFLOP/s that `fashion-cnn-fast` achieves in training, measured in the same run.

Goal: fashion-cnn-fast trains at >= 60% of the fp32 peak (or beyond it with bf16). The bf16 matmul
peak is measured too: where it is below 60 % of the fp32 peak, bf16 cannot reach the goal either.

    python benchmarks/utilization.py [--size 4096] [--entry fashion-cnn-fast]
"""
from __future__ import annotations

import argparse
import time

from _common import machine, zoo_bench


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
    args = parser.parse_args()
    peak = matmul_peak(args.size)
    bf16_peak = matmul_peak(args.size, dtype="bfloat16")
    row = zoo_bench(args.entry)
    achieved = row.get("gflops_per_second")
    print(f"machine: {machine()}")
    print(f"fp32 matmul {args.size}^3: {peak:.1f} GFLOP/s (best of 10)")
    print(f"bf16 matmul {args.size}^3: {bf16_peak:.1f} GFLOP/s (best of 10), {bf16_peak / peak:.1%} of the fp32 peak")
    print(f"{args.entry}: {row['flops_per_sample'] / 1e6:.1f} MFLOP per training sample, "
          f"{row['samples_per_second']:.0f} samples/s, {achieved:.1f} GFLOP/s "
          f"({row['environment'].get('mixed_precision') or 'float32'})")
    print(f"utilisation: {achieved / peak:.1%} of the fp32 peak (goal >= 60%)")
    print("target met" if achieved / peak >= 0.6 else "TARGET MISSED")


if __name__ == "__main__":
    main()
