"""The resnets plugin: bn-resnet, a small BatchNorm residual CNN (issue 19's entry past the course)."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from zoo.testing import contract_cases
from zoo_plugins import resnets


@pytest.mark.parametrize("case", contract_cases("resnets", inputs={"bn-resnet": [(28, 28, 1), (100, 100, 3)]}),
                         ids=str)
def test_contract(case):
    case.check()


def test_registered_params_are_the_builders_defaults():
    from zoo.registry import get_registry

    spec = get_registry().architecture("bn-resnet")
    signature = inspect.signature(resnets.build_bn_resnet)
    defaults = {k: p.default for k, p in signature.parameters.items() if k not in ("input_shape", "num_classes", "task")}
    assert spec.params == {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()}
    assert spec.plugin == "resnets" and spec.tasks == ("binary", "multiclass")


def test_stages_shortcuts_and_head():
    model = resnets.build_bn_resnet((28, 28, 1), 10, filters=[32, 64, 128], convs_per_stage=[2, 2, 1], head="gap",
                                    dropout=0.2)
    names = [layer.name for layer in model.layers]
    # a shortcut around every stage; a 1x1 projection only where the width changes (32 -> 64 -> 128)
    assert [n for n in names if n.endswith("_add")] == ["stage1_add", "stage2_add", "stage3_add"]
    assert [n for n in names if n.endswith("_proj")] == ["stage2_proj", "stage3_proj"]
    assert sum(n.endswith("_bn") for n in names) == 1 + 5 + 2  # stem, five convs, two projections
    assert model.get_layer("stage1_1_conv").output.shape[1:] == (14, 14, 32)  # the stem's max-pool
    assert model.get_layer("stage3_1_conv").output.shape[1:] == (3, 3, 128)
    assert model.get_layer("gap").output.shape[1:] == (128,) and "dropout" in names
    assert model.output_shape == (None, 10)
    flat = resnets.build_bn_resnet((28, 28, 1), 10, filters=[32, 64], head="flatten", residual=False)
    assert flat.get_layer("flatten").output.shape[1:] == (7 * 7 * 64,)
    assert not [layer for layer in flat.layers if layer.name.endswith("_add")]


def test_binary_head_on_rgb_images():
    model = resnets.build_bn_resnet((100, 100, 3), 1, task="binary")
    out = np.asarray(model(np.zeros((2, 100, 100, 3), "float32"), training=False))
    assert out.shape == (2, 1) and np.all((0 <= out) & (out <= 1))


@pytest.mark.parametrize("shape, params, reason", [
    ((28, 28), {}, "needs images"),
    ((2, 2, 1), {"filters": [8, 16, 32]}, "too small for 3 max-pool"),
    ((28, 28, 1), {"filters": [8, 16], "convs_per_stage": [1, 2, 3]}, "lists 3 values for 2 stage"),
    ((28, 28, 1), {"head": "avg"}, "head must be 'gap' or 'flatten'"),
])
def test_accepts_says_what_does_not_fit(shape, params, reason):
    assert reason in resnets.accepts_bn_resnet(shape, 10, "multiclass", **params)
    assert resnets.accepts_bn_resnet((28, 28, 1), 10, "multiclass") is None
