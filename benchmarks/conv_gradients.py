"""Can a convolution's gradients beat oneDNN's backward kernels if written as other ops?

Target 5 is bounded by oneDNN's backward convolution kernels (``benchmarks/kernels.py``): for the
course CNN they reach 50-65 % of the matmul peak while the forward kernel reaches it. This script
times, for the CNN's two convolutions at a batch size, TensorFlow's own gradient ops against the
textbook rewrites that turn them into ops which do run at the peak:

* input gradient as a *forward* convolution of the padded output gradient with the flipped,
  transposed kernel;
* weight gradient as an im2col matmul (the shifted input windows side by side, times the output
  gradient), or as a forward convolution with batch and channels swapped.

Every rewrite is exact (``tests/test_benchmark_conv_gradients.py`` checks it against TensorFlow's
own gradient). GFLOP/s count the same useful work for every row, so a rewrite that pays for
padding or copies shows it as a lower rate. One process, interleaved rounds, best round kept.

    python benchmarks/conv_gradients.py [--batch-size 64] [--calls 200] [--rounds 3]
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from _common import machine

# The course CNN's convolutions: (name, input height/width, input channels, output channels).
CONVOLUTIONS = (("conv 1 (1->64, 28x28)", 28, 1, 64), ("conv 2 (64->64, 13x13)", 13, 64, 64))
KERNEL = 3


def _tf() -> Any:
    from zoo.tfruntime import import_tensorflow

    return import_tensorflow()


def native_input_grad(x_shape: list[int], kernel: Any, dy: Any) -> Any:
    return _tf().raw_ops.Conv2DBackpropInput(input_sizes=x_shape, filter=kernel, out_backprop=dy,
                                             strides=[1, 1, 1, 1], padding="VALID")


def input_grad_as_forward(x_shape: list[int], kernel: Any, dy: Any) -> Any:
    """dL/dx of a stride-1 VALID convolution: a full convolution of dy with the kernel flipped in
    space and with its in/out channels swapped."""
    tf = _tf()
    kh, kw = kernel.shape[0], kernel.shape[1]
    flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
    padded = tf.pad(dy, [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]])
    return tf.nn.conv2d(padded, flipped, 1, "VALID")


def native_weight_grad(x: Any, kernel_shape: list[int], dy: Any) -> Any:
    return _tf().raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=kernel_shape, out_backprop=dy,
                                              strides=[1, 1, 1, 1], padding="VALID")


def weight_grad_im2col(x: Any, kernel_shape: list[int], dy: Any) -> Any:
    """dL/dk as one matmul: every kernel tap's input window, side by side, times dy."""
    tf = _tf()
    kh, kw, cin, cout = kernel_shape
    oh, ow = dy.shape[1], dy.shape[2]
    windows = tf.concat([tf.reshape(x[:, i:i + oh, j:j + ow, :], [-1, cin])
                         for i in range(kh) for j in range(kw)], axis=1)
    return tf.reshape(tf.matmul(windows, tf.reshape(dy, [-1, cout]), transpose_a=True), kernel_shape)


def weight_grad_as_forward(x: Any, kernel_shape: list[int], dy: Any) -> Any:
    """dL/dk as a forward convolution: input channels as the batch, the batch as the channels,
    dy as the (large) kernel."""
    tf = _tf()
    swapped = tf.nn.conv2d(tf.transpose(x, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]), 1, "VALID")
    return tf.transpose(swapped, [1, 2, 0, 3])


def time_call(fn: Callable[..., Any], args: tuple, calls: int) -> float:
    """Milliseconds per call of ``tf.function(fn)`` after a warm-up."""
    tf = _tf()
    compiled = tf.function(fn)
    for _ in range(10):
        compiled(*args)
    start = time.perf_counter()
    for _ in range(calls):
        out = compiled(*args)
    out.numpy()  # wait for the last call
    return (time.perf_counter() - start) / calls * 1e3


def cases(batch_size: int) -> list[tuple[str, str, str, Callable[..., Any], tuple, float]]:
    """(convolution, computation, formulation, function, arguments, useful FLOPs) for each row."""
    tf = _tf()
    rows = []
    for name, size, cin, cout in CONVOLUTIONS:
        out = size - KERNEL + 1
        x = tf.random.normal((batch_size, size, size, cin))
        kernel = tf.random.normal((KERNEL, KERNEL, cin, cout))
        dy = tf.random.normal((batch_size, out, out, cout))
        work = 2.0 * batch_size * out * out * KERNEL * KERNEL * cin * cout
        x_shape, k_shape = list(x.shape), list(kernel.shape)
        rows.append((name, "forward", "tf.nn.conv2d", lambda a, b: tf.nn.conv2d(a, b, 1, "VALID"), (x, kernel), work))
        if cin > 1:  # the first layer's input gradient is never computed in training
            rows.append((name, "input gradient", "Conv2DBackpropInput (TensorFlow's)",
                         lambda k, g, s=x_shape: native_input_grad(s, k, g), (kernel, dy), work))
            rows.append((name, "input gradient", "forward conv of padded dy",
                         lambda k, g, s=x_shape: input_grad_as_forward(s, k, g), (kernel, dy), work))
        rows.append((name, "weight gradient", "Conv2DBackpropFilter (TensorFlow's)",
                     lambda a, g, s=k_shape: native_weight_grad(a, s, g), (x, dy), work))
        rows.append((name, "weight gradient", "im2col matmul",
                     lambda a, g, s=k_shape: weight_grad_im2col(a, s, g), (x, dy), work))
        rows.append((name, "weight gradient", "forward conv, batch<->channels",
                     lambda a, g, s=k_shape: weight_grad_as_forward(a, s, g), (x, dy), work))
    return rows


def main() -> None:
    from tabulate import tabulate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--calls", type=int, default=200, help="calls per timing")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best is kept")
    args = parser.parse_args()
    rows = cases(args.batch_size)
    best = [float("inf")] * len(rows)
    for _ in range(args.rounds):
        for i, (*_, fn, fn_args, _work) in enumerate(rows):
            best[i] = min(best[i], time_call(fn, fn_args, args.calls))
    table = [(conv, comp, form, f"{ms:.2f}", f"{work / ms / 1e6:.0f}")
             for (conv, comp, form, _fn, _args, work), ms in zip(rows, best)]
    print(f"machine: {machine()}; batch {args.batch_size}, best of {args.rounds} rounds of {args.calls} calls")
    print(tabulate(table, headers=["convolution", "computes", "as", "ms/call", "GFLOP/s"]))


if __name__ == "__main__":
    main()
