"""The resnets plugin: compact-cnn (issue 19's entry past the course) and bn-resnet, a small BatchNorm
residual CNN."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from zoo.testing import contract_cases
from zoo_plugins import resnets


@pytest.mark.parametrize("case", contract_cases("resnets", inputs={"bn-resnet": [(28, 28, 1), (100, 100, 3)],
                                                               "compact-cnn": [(28, 28, 1), (100, 100, 3)]}),
                         ids=str)
def test_contract(case):
    case.check()


@pytest.mark.parametrize("name, builder", [("bn-resnet", resnets.build_bn_resnet),
                                           ("compact-cnn", resnets.build_compact_cnn)])
def test_registered_params_are_the_builders_defaults(name, builder):
    from zoo.registry import get_registry

    spec = get_registry().architecture(name)
    signature = inspect.signature(builder)
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


def test_compact_cnn_stages_pools_and_norms():
    model = resnets.build_compact_cnn((28, 28, 1), 10)
    names = [layer.name for layer in model.layers]
    # same, same, valid: 28 -> pool 14 -> pool 7 -> 5 (no pool on the last stage)
    assert model.get_layer("conv3").output.shape[1:] == (5, 5, 128)
    assert model.get_layer("flatten").output.shape[1:] == (5 * 5 * 128,)
    assert "pool3" not in names and not [n for n in names if n.startswith("bn")]
    assert names.index("dropout") < names.index("hidden") and model.output_shape == (None, 10)
    normed = resnets.build_compact_cnn((28, 28, 1), 10, batch_norm=[False, True, True], dropout=0.0, dense_units=0)
    norms = [layer.name for layer in normed.layers if layer.name.startswith("bn")]
    assert norms == ["bn2", "bn3"]
    # a BatchNorm follows its stage's pool, where the map is a quarter of the size
    assert [layer.name for layer in normed.layers].index("bn2") == [layer.name for layer in normed.layers].index("pool2") + 1
    assert "dropout" not in [layer.name for layer in normed.layers] and "hidden" not in [layer.name for layer in normed.layers]


@pytest.mark.parametrize("shape, params, reason", [
    ((28, 28), {}, "needs images"),
    ((6, 6, 1), {}, "too small for these stages"),
    ((28, 28, 1), {"padding": ["same", "valid"]}, "padding lists 2 values for 3 layer"),
    ((28, 28, 1), {"padding": "full"}, "padding must be 'same' or 'valid'"),
])
def test_compact_cnn_accepts_says_what_does_not_fit(shape, params, reason):
    assert reason in resnets.accepts_compact_cnn(shape, 10, "multiclass", **params)
    assert resnets.accepts_compact_cnn((28, 28, 1), 10, "multiclass") is None
