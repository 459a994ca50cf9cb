"""zoo.contracts: the part contracts checked where the parts are used (before the first training
step, in `zoo data show`, in zoo.testing), with real tiny Keras models and numpy labels, from an
in-test plugin registered the way a third-party plugin is."""
from __future__ import annotations

import types

import numpy as np
import pytest
from click.testing import CliRunner

import zoo
from zoo import contracts
from zoo.errors import IncompatibleError

PLUGIN = "my_plugin"


# -- an in-test plugin: parts that keep the contract and parts that break it ----------------------
def honest_net(input_shape, num_classes, task="multiclass", units=4, head=None):
    """A builder that honours ``task``; ``head`` forces another last activation."""
    import keras

    activation = head or {"multiclass": "softmax", "binary": "sigmoid", "regression": None}[task]
    return keras.Sequential([
        keras.Input(shape=tuple(input_shape)),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(num_classes, activation=activation),
    ])


def ignores_task(input_shape, num_classes, task="multiclass"):
    """A builder written for a 10-class problem that ignores ``task`` and ``num_classes``."""
    import keras

    return keras.Sequential([keras.Input(shape=tuple(input_shape)), keras.layers.Dense(10, activation="softmax")])


def hidden_softmax(input_shape, num_classes, task="binary"):
    """A softmax over one unit hidden in a Lambda layer: only running the model shows it."""
    import keras

    return keras.Sequential([
        keras.Input(shape=tuple(input_shape)),
        keras.layers.Dense(num_classes),
        keras.layers.Lambda(lambda t: keras.ops.softmax(t, axis=-1)),
    ])


def load_points(task="multiclass", classes=3, one_hot=False, shift=0, n=24):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    ids = (np.arange(n) % (2 if task == "binary" else classes) + shift).astype("int32")
    y = np.eye(classes if task == "multiclass" else 2, dtype="float32")[ids] if one_hot else ids
    return {"train": (x[:16], y[:16]), "validation": (x[16:], y[16:])}


class MyPlugin:
    @zoo.hookimpl
    def register_architectures(self, register):
        register("honest-net", honest_net, params={"units": 4, "head": None})
        register("ignores-task", ignores_task)

    @zoo.hookimpl
    def register_datasets(self, register):
        common = {"input_shape": (4,)}
        register("points", load_points, task="multiclass", num_classes=3, params={"task": "multiclass"}, **common)
        register("onehot-points", load_points, task="multiclass", num_classes=3,
                 params={"task": "multiclass", "one_hot": True}, **common)
        register("shifted-points", load_points, task="multiclass", num_classes=3,
                 params={"task": "multiclass", "shift": 1}, **common)
        register("coin", load_points, task="binary", num_classes=1, params={"task": "binary"}, **common)

    @zoo.hookimpl
    def register_entries(self, register):
        register("good", architecture="honest-net", dataset="points")
        register("binary-ignored", architecture="ignores-task", dataset="coin")
        register("onehot", architecture="honest-net", dataset="onehot-points")
        register("onehot-cce", architecture="honest-net", dataset="onehot-points", loss="categorical_crossentropy")
        register("ids-cce", architecture="honest-net", dataset="points", loss="categorical_crossentropy")
        register("shifted", architecture="honest-net", dataset="shifted-points")
        register("coin-softmax", architecture={"name": "honest-net", "head": "softmax"}, dataset="coin")
        register("sigmoid-multiclass", architecture={"name": "honest-net", "head": "sigmoid"}, dataset="points")


@pytest.fixture
def registry():
    from zoo.plugins import load_plugins
    from zoo.registry import collect

    return collect(*load_plugins(extra=[(PLUGIN, MyPlugin())], entry_points=False))


def prepare(registry, name):
    """What the runner has before the first step: the entry, the built model, the first examples."""
    from zoo.catalogue import Catalogue

    entry = Catalogue(registry).resolve(name)
    arch = registry.architecture(entry.architecture.name)
    model = arch.builder(entry.input_shape, entry.num_classes, task=entry.task,
                         **{**arch.params, **entry.architecture.params})
    data = registry.dataset(entry.dataset.name)
    splits = data.loader(**{**data.params, **entry.dataset.params})
    return entry, model, contracts.first_examples(splits["train"], entry.recipe.batch_size)


def refusal(registry, name):
    entry, model, batch = prepare(registry, name)
    with pytest.raises(IncompatibleError) as info:
        contracts.check_before_training(model, entry, registry, batch)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- before the first training step ---------------------------------------------------------------
def test_parts_that_keep_the_contract_pass(registry):
    for name in ("good", "onehot-cce", "sigmoid-multiclass"):  # a sigmoid per class is the loss's business
        entry, model, batch = prepare(registry, name)
        contracts.check_before_training(model, entry, registry, batch)


def test_builder_that_ignores_task_is_refused_naming_plugin_and_part(registry):
    assert refusal(registry, "binary-ignored") == (
        "entry 'binary-ignored': architecture 'ignores-task' (plugin my_plugin): "
        "output shape is (None, 10), expected (None, 1) for a binary task")


def test_one_hot_labels_are_refused_with_the_argmax_hint(registry):
    assert refusal(registry, "onehot") == (
        "entry 'onehot': dataset 'onehot-points' (plugin my_plugin): split 'train': labels look one-hot "
        "(shape (3,) per example); zoo expects integer class ids of shape () (use argmax)")
    # ... and class ids where the recipe's loss wants one-hot rows
    assert refusal(registry, "ids-cce").endswith(
        "split 'train': labels are class ids, but loss 'categorical_crossentropy' expects one-hot rows of 3 "
        "(use sparse_categorical_crossentropy)")


def test_labels_out_of_range_are_refused(registry):
    assert refusal(registry, "shifted") == (
        "entry 'shifted': dataset 'shifted-points' (plugin my_plugin): split 'train': "
        "label 3 at example 2 is outside the class ids 0..2 (num_classes=3)")


def test_softmax_over_one_unit_is_refused(registry):
    assert refusal(registry, "coin-softmax") == (
        "entry 'coin-softmax': architecture 'honest-net' (plugin my_plugin): the binary head is a softmax "
        "over one unit: it outputs 1.0 for every input, so the model cannot learn; end with a sigmoid")


@pytest.mark.parametrize("labels, task, classes, expected", [
    (np.array([0, 1, 2, 1]), "multiclass", 3, []),
    (np.array([[0], [2]], dtype="float32"), "multiclass", 3, []),
    (np.array([0, 1.5]), "multiclass", 3, ["label 1.5 at example 1 is outside the class ids 0..2 (num_classes=3)"]),
    (np.array([-1, 0]), "multiclass", 3, ["label -1 at example 0 is outside the class ids 0..2 (num_classes=3)"]),
    (np.array([0, 1, 2]), "binary", 1, ["label 2 at example 2 is not 0 or 1 (binary dataset)"]),
    (np.array([[1, 0], [0, 1]]), "binary", 1,
     ["labels look one-hot (shape (2,) per example); zoo expects 0/1 labels of shape () (use argmax)"]),
    (np.array([[1, 2, 3]]), "multiclass", 3, ["labels have shape (3,) per example, expected () or (1,) for a multiclass dataset"]),
    (np.array([0.5, np.nan]), "regression", 1, ["labels hold NaN or infinite values"]),
    (np.array([[0.5, 0.1]]), "regression", 1, ["labels have shape (2,) per example, expected () or (1,) for a regression dataset"]),
    (np.array(["a", "b"]), "multiclass", 3, ["labels have dtype <U1, not a numeric type"]),
])
def test_label_problems(labels, task, classes, expected):
    assert contracts.label_problems(labels, task, classes) == expected


def test_looks_one_hot():
    assert contracts.looks_one_hot(np.eye(4)[[0, 3, 1]])
    assert contracts.looks_one_hot(np.array([[0.9, 0.1], [0.2, 0.8]]))  # smoothed rows too
    assert not contracts.looks_one_hot(np.array([0, 1, 1]))
    assert not contracts.looks_one_hot(np.array([[1.0], [1.0]]))
    assert not contracts.looks_one_hot(np.array([[2.0, -1.0]]))
    assert not contracts.looks_one_hot(np.array([[0.5, 0.1]]))


# -- zoo.testing: the same checks, and the softmax over one unit it must not miss -----------------
def softmax_plugin(builder):
    module = types.ModuleType("softmaxed")

    @zoo.hookimpl
    def register_architectures(register):
        register("softmaxed-net", builder, tasks=("binary", "regression"))

    module.register_architectures = register_architectures
    return module


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")  # Keras agrees
@pytest.mark.parametrize("head", ["visible", "hidden"])
def test_zoo_testing_flags_a_softmax_over_one_unit(head):
    from zoo.testing import check_plugin

    def builder(input_shape, num_classes, task="binary"):
        if head == "hidden":
            return hidden_softmax(input_shape, num_classes, task)
        return honest_net(input_shape, num_classes, task, head="softmax")

    report = check_plugin(softmax_plugin(builder), inputs={"softmaxed-net": [(4,)]}, check_import=False)
    messages = [str(p) for p in report.problems]
    assert messages == [
        f"plugin 'softmaxed', architecture 'softmaxed-net': {task} head, input (4,), 1 output(s) (from inputs=): "
        f"the {task} head is a softmax over one unit: it outputs 1.0 for every input, so the model cannot learn; {fix}"
        for task, fix in (("binary", "end with a sigmoid"), ("regression", "end with a linear unit (no activation)"))
    ]


def test_zoo_testing_uses_the_same_words_for_one_hot_labels(registry):
    from zoo.testing import _check_dataset_params

    spec = registry.dataset("onehot-points")
    assert _check_dataset_params(spec, dict(spec.params), 256) == [
        f"split {s!r}: labels look one-hot (shape (3,) per example); zoo expects integer class ids of shape () "
        "(use argmax)" for s in ("train", "validation")]


# -- zoo data show ----------------------------------------------------------------------------------
def test_data_show_warns_about_one_hot_labels(registry, monkeypatch):
    from zoo import registry as registry_module
    from zoo.cli import cli

    monkeypatch.setattr(registry_module, "_REGISTRY", registry)
    result = CliRunner().invoke(cli, ["data", "show", "onehot-points"])
    assert result.exit_code == 0, result.stderr
    assert ("zoo: warning: dataset 'onehot-points' (plugin my_plugin): splits 'train', 'validation': labels look "
            "one-hot (shape (3,) per example); zoo expects integer class ids of shape () (use argmax)") in result.stderr
    assert "train" in result.stdout  # the splits are still shown

    result = CliRunner().invoke(cli, ["data", "show", "points"])
    assert result.exit_code == 0 and "warning" not in result.stderr
