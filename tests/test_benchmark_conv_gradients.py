"""benchmarks/conv_gradients.py times rewrites of a convolution's gradients; they must be exact,
or its timings compare different computations."""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture
def conv_gradients(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the script imports its sibling _common
    return importlib.import_module("conv_gradients")


@pytest.mark.parametrize("cin, cout, size", [(1, 4, 9), (3, 5, 7)])
def test_rewrites_equal_tensorflows_own_gradients(conv_gradients, cin, cout, size):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, size, size, cin)), tf.float32)
    kernel = tf.constant(rng.normal(size=(3, 3, cin, cout)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, kernel])
        y = tf.nn.conv2d(x, kernel, 1, "VALID")
    dy = tf.constant(rng.normal(size=y.shape), tf.float32)
    want_dx, want_dk = tape.gradient(y, [x, kernel], output_gradients=dy)

    k_shape, x_shape = list(kernel.shape), list(x.shape)
    np.testing.assert_allclose(conv_gradients.native_input_grad(x_shape, kernel, dy), want_dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(conv_gradients.input_grad_as_forward(x_shape, kernel, dy), want_dx, rtol=1e-4, atol=1e-4)
    for rewrite in (conv_gradients.native_weight_grad, conv_gradients.weight_grad_im2col,
                    conv_gradients.weight_grad_as_forward):
        np.testing.assert_allclose(rewrite(x, k_shape, dy), want_dk, rtol=1e-4, atol=1e-4, err_msg=rewrite.__name__)


def test_every_row_is_timed_on_its_own_arguments(conv_gradients):
    rows = conv_gradients.cases(batch_size=2)
    # conv 1 has no input gradient row (never computed in training): 1 + 3 rows, conv 2: 1 + 2 + 3
    assert len(rows) == 10
    for _conv, _computes, _as, fn, args, work in rows:
        assert work > 0
        assert fn(*args).shape.rank == 4
        assert conv_gradients.time_call(fn, args, calls=1) > 0
