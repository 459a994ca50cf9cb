"""zoo.testing (the contract checks) against good and deliberately broken plugins, and the
`zoo new-plugin` scaffold. Plugins here are real modules with real hooks, loaded next to zoo's
own installed plugins exactly as an installed third-party plugin would be."""
from __future__ import annotations

import ast
import subprocess
import sys
import types

import pytest

import zoo
from zoo.errors import ZooError
from zoo.testing import ContractError, assert_plugin_ok, check_plugin, contract_cases


# -- a well-behaved plugin, and broken variants of it ----------------------------------------------
def build_net(input_shape, num_classes, task="multiclass", units=8, extra_outputs=0):
    import keras

    activation = {"multiclass": "softmax", "binary": "sigmoid", "regression": None}[task]
    return keras.Sequential([
        keras.Input(shape=tuple(input_shape)),
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(num_classes + extra_outputs, activation=activation),
    ])


def load_points(classes=3, n=60, shift=0, batched=False, shape=(4,)):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, *shape)).astype("float32")
    y = (np.arange(n) % classes + shift).astype("int32")
    if batched:
        import tensorflow as tf

        return {"train": tf.data.Dataset.from_tensor_slices((x, y)).batch(8)}
    return {"train": (x[:48], y[:48]), "validation": (x[48:], y[48:])}


def make_callback(run_dir=None, broken=False):
    import keras

    return object() if broken else keras.callbacks.Callback()


def make_plugin(name="good", *, extra_outputs=0, shift=0, batched=False, shape=(4,),
                broken_callback=False, entry_dataset=None, arch_name=None):
    """A module plugin: one architecture, dataset, callback and entry, each breakable."""
    module = types.ModuleType(name)
    arch = arch_name or f"{name}-net"

    @zoo.hookimpl
    def register_architectures(register):
        register(arch, build_net, params={"units": 8, "extra_outputs": extra_outputs})

    @zoo.hookimpl
    def register_datasets(register):
        register(f"{name}-points", load_points, task="multiclass", input_shape=(4,), num_classes=3,
                 params={"classes": 3, "n": 60, "shift": shift, "batched": batched, "shape": shape})

    @zoo.hookimpl
    def register_callbacks(register):
        register(f"{name}-cb", make_callback, params={"broken": broken_callback})

    @zoo.hookimpl
    def register_entries(register):
        register(f"{name}-entry", architecture=arch, dataset=entry_dataset or f"{name}-points",
                 callbacks=[f"{name}-cb"], epochs=1)

    for hook in (register_architectures, register_datasets, register_callbacks, register_entries):
        setattr(module, hook.__name__, hook)
    return module


def problems_of(report):
    return [str(p) for p in report.problems]


# -- the good plugin -----------------------------------------------------------------------------
def test_good_plugin_passes_every_check():
    report = assert_plugin_ok(make_plugin("good"))
    assert report.ok and not report.skipped
    assert report.checked == ["good:plugin:good", "good:architecture:good-net", "good:dataset:good-points",
                              "good:callback:good-cb", "good:entry:good-entry"]


def test_cases_are_one_per_part_and_cheap():
    """Collecting the cases builds no model: contract_cases works at pytest collection time."""
    cases = contract_cases(make_plugin("good"))
    assert [str(c) for c in cases] == ["good:plugin:good", "good:architecture:good-net",
                                       "good:dataset:good-points", "good:callback:good-cb",
                                       "good:entry:good-entry"]


def test_installed_first_party_plugin_checks_by_entry_point_name():
    report = check_plugin("basics")
    assert report.ok, report
    assert "basics:architecture:dense-linear" in report.checked
    assert "basics:dataset:linear" in report.checked


# -- broken parts: each message names plugin, part and problem ------------------------------------
def test_wrong_output_shape_is_named():
    report = check_plugin(make_plugin("shape", extra_outputs=2))
    assert not report.ok
    message = problems_of(report)[0]
    assert message.startswith("plugin 'shape', architecture 'shape-net': multiclass head, input (4,), 3 output(s)")
    assert "output shape is (None, 5), expected (None, 3)" in message
    # the other parts are unaffected
    assert {p.kind for p in report.problems} == {"architecture"}


def test_labels_out_of_range_are_named():
    report = check_plugin(make_plugin("labels", shift=1))
    train, validation = report.problems  # one per broken split
    assert (train.plugin, train.kind, train.part) == ("labels", "dataset", "labels-points")
    assert str(train) == ("plugin 'labels', dataset 'labels-points': split 'train': label 3 at example 2 "
                          "is outside the class ids 0..2 (num_classes=3)")
    assert "split 'validation': label 3" in str(validation)


def test_declared_shape_mismatch_and_batched_dataset():
    report = check_plugin(make_plugin("dims", shape=(5,)))
    assert any("examples have shape (5,), declared input_shape is (4,)" in m for m in problems_of(report))
    report = check_plugin(make_plugin("batched", batched=True))
    assert any("'batched-points'" in m and "looks batched" in m for m in problems_of(report))


def test_callback_that_is_not_a_keras_callback():
    report = check_plugin(make_plugin("cbk", broken_callback=True))
    assert problems_of(report) == ["plugin 'cbk', callback 'cbk-cb': factory returned object, not a keras.callbacks.Callback"]


def test_entry_that_does_not_resolve():
    report = check_plugin(make_plugin("ent", entry_dataset="ent-pionts"))
    (problem,) = report.problems
    assert (problem.kind, problem.part) == ("entry", "ent-entry")
    assert "unknown dataset 'ent-pionts'" in problem.message and "did you mean 'ent-points'" in problem.message


def test_hook_typo_fails_the_plugin_with_a_suggestion():
    module = types.ModuleType("typo")

    @zoo.hookimpl
    def register_architecture(register):  # misspelled: the spec is register_architectures
        register("typo-net", build_net)

    module.register_architecture = register_architecture
    report = check_plugin(module)
    assert problems_of(report) == [
        "plugin 'typo': failed to load (typo): invalid plugin: unknown hook 'register_architecture' "
        "(did you mean 'register_architectures'?)"
    ]
    with pytest.raises(ContractError, match="plugin 'typo': failed to load"):
        assert_plugin_ok(module)


def test_unmarked_or_misspelled_undecorated_hooks_are_named():
    module = types.ModuleType("bare")

    def register_datasets(register):  # forgot @zoo.hookimpl
        register("bare-data", load_points, task="multiclass", input_shape=(4,), num_classes=3)

    def register_callback(register):  # misspelled and undecorated
        pass

    module.register_datasets, module.register_callback = register_datasets, register_callback
    assert problems_of(check_plugin(module)) == [
        "plugin 'bare': function 'register_callback' looks like hook 'register_callbacks' misspelled; zoo never calls it",
        "plugin 'bare': function 'register_datasets' is not marked with @zoo.hookimpl, so zoo never calls it",
    ]


def test_hook_that_raises_and_empty_plugin():
    module = types.ModuleType("raiser")

    @zoo.hookimpl
    def register_datasets(register):
        raise RuntimeError("cannot find my data index")

    module.register_datasets = register_datasets
    assert problems_of(check_plugin(module)) == [
        "plugin 'raiser': failed to load (raiser): register_datasets raised RuntimeError: cannot find my data index"
    ]
    assert "registers nothing" in problems_of(check_plugin(types.ModuleType("empty")))[0]


def test_name_clash_with_another_plugin_names_both():
    report = check_plugin(make_plugin("clash", arch_name="dense-linear"))
    assert ("plugin 'clash': architecture 'dense-linear' is also registered by plugin 'basics'; "
            "neither is used") in problems_of(report)[0]
    assert any("entry 'clash-entry': does not resolve" in m and "'basics' and 'clash'" in m
               for m in problems_of(report))


def test_unknown_plugin_name_suggests():
    report = check_plugin("basic")
    assert problems_of(report) == [
        "plugin 'basic': no plugin named 'basic' is installed (entry-point group 'zoo'); did you mean "
        "'basics'? — `pip install -e .` the plugin's package first"
    ]


def test_architecture_without_shapes_is_skipped_until_inputs_are_given():
    module = types.ModuleType("lonely")

    @zoo.hookimpl
    def register_architectures(register):
        register("lonely-net", build_net, params={"units": 4, "extra_outputs": 0}, tasks=("binary", "multiclass"))

    module.register_architectures = register_architectures
    report = check_plugin(module)
    assert report.ok and report.skipped == [
        "architecture 'lonely-net': no entry uses it and no input shape was given: pass "
        "inputs={'lonely-net': [(...)]} to check it"
    ]
    report = check_plugin(module, inputs={"lonely-net": [(6, 6, 1)]})
    assert report.ok and report.checked == ["lonely:plugin:lonely", "lonely:architecture:lonely-net"]


def test_head_activation_and_accepts():
    def logits_net(input_shape, num_classes, task="multiclass"):
        import keras

        return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Dense(num_classes)])

    module = types.ModuleType("logits")

    @zoo.hookimpl
    def register_architectures(register):
        register("logits-net", logits_net, tasks=("binary", "multiclass"),
                 accepts=lambda shape, classes, task, **p: "flat only" if len(shape) != 1 else None)

    module.register_architectures = register_architectures
    report = check_plugin(module, inputs={"logits-net": [(3,), (4, 4, 1)]})
    messages = problems_of(report)
    # (4, 4, 1) is declined by accepts(), so only the flat shape is checked, for both heads
    assert len(messages) == 2 and all("input (3,)" in m for m in messages)
    assert "binary head outputs values outside [0, 1]: end with a sigmoid" in messages[0]
    assert "multiclass head outputs do not sum to 1: end with a softmax" in messages[1]


def test_module_level_tensorflow_import_is_reported(tmp_path, monkeypatch):
    (tmp_path / "heavy_plugin.py").write_text(
        "import keras\nimport zoo\n\n"
        "@zoo.hookimpl\n"
        "def register_callbacks(register):\n"
        "    register('heavy-cb', lambda: keras.callbacks.Callback())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import heavy_plugin

    messages = problems_of(check_plugin(heavy_plugin, name="heavy"))
    assert messages == ["plugin 'heavy': importing module 'heavy_plugin' imports keras, tensorflow: import it "
                        "inside the builder/loader/factory instead, so `zoo list` stays fast"]
    assert check_plugin(heavy_plugin, name="heavy", check_import=False).ok


def test_contract_error_lists_every_problem():
    with pytest.raises(ContractError) as info:
        assert_plugin_ok(make_plugin("multi", extra_outputs=1, shift=5))
    text = str(info.value)
    # three heads of the architecture (multiclass, binary, regression) and two splits
    assert text.startswith("5 contract problems:\n  plugin 'multi', architecture 'multi-net': ")
    assert "architecture 'multi-net'" in text and "dataset 'multi-points'" in text


# -- the scaffold ----------------------------------------------------------------------------------
def test_new_plugin_writes_a_complete_package(tmp_path):
    from zoo.cli import main

    target = tmp_path / "zoo-demo"
    with pytest.raises(SystemExit) as done:
        main(["new-plugin", str(target)])
    assert done.value.code == 0
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == [".gitignore", "README.md", "pyproject.toml", "tests/test_zoo_demo_contract.py",
                     "zoo_demo/__init__.py", "zoo_demo/plugin.py"]
    import tomllib

    meta = tomllib.loads((target / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "zoo-demo"
    assert meta["project"]["entry-points"]["zoo"] == {"demo": "zoo_demo.plugin"}
    for path in target.rglob("*.py"):
        ast.parse(path.read_text(), str(path))  # valid Python
    plugin_source = (target / "zoo_demo" / "plugin.py").read_text()
    for hook in ("register_architectures", "register_datasets", "register_callbacks", "register_entries"):
        assert f"@zoo.hookimpl\ndef {hook}(register)" in plugin_source


def test_new_plugin_parts_keep_the_contract(tmp_path, monkeypatch):
    """The scaffolded plugin, imported as its module, passes the same checks its test runs."""
    from zoo.scaffold import new_plugin

    new_plugin(tmp_path / "scaf")
    monkeypatch.syspath_prepend(str(tmp_path / "scaf"))
    import zoo_scaf.plugin

    report = assert_plugin_ok(zoo_scaf.plugin, name="scaf", check_import=True)
    assert report.checked == ["scaf:plugin:scaf", "scaf:architecture:scaf-mlp", "scaf:dataset:scaf-blobs",
                              "scaf:callback:scaf-epoch-log", "scaf:entry:scaf-blobs-mlp"]


@pytest.mark.parametrize("name", ["Demo", "9lives", "my plugin", "a--b", "zoo-"])
def test_new_plugin_refuses_bad_names(tmp_path, name):
    from zoo.scaffold import new_plugin

    with pytest.raises(ZooError, match="is not valid"):
        new_plugin(tmp_path / name)


def test_new_plugin_refuses_a_non_empty_folder(tmp_path):
    from zoo.scaffold import new_plugin

    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "keep.txt").write_text("mine")
    done = subprocess.run([sys.executable, "-m", "zoo", "new-plugin", str(tmp_path / "demo")],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip() == f"zoo: error: {tmp_path / 'demo'} already exists and is not an empty folder; choose another name or path"
    assert (tmp_path / "demo" / "keep.txt").read_text() == "mine"
    with pytest.raises(ZooError):
        new_plugin(tmp_path / "demo")


def test_kit_modules_stay_free_of_tensorflow():
    code = ("import sys, zoo.testing, zoo.scaffold, zoo.cli.plugin_cmds; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_zoo_testing_is_registered_as_a_pytest_plugin(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("zoo")
    assert pytestconfig.pluginmanager.get_plugin("zoo") is sys.modules["zoo.testing"]


def test_a_module_checks_in_place_of_its_installed_copy():
    """Checking an edited module under an installed plugin's name replaces the installed one."""
    import zoo_plugins.basics

    report = check_plugin(zoo_plugins.basics, name="basics")
    assert report.ok, report
    assert "basics:dataset:linear" in report.checked


def test_hook_with_wrong_argument_is_one_line():
    module = types.ModuleType("argbad")

    @zoo.hookimpl
    def register_datasets(reg):
        pass

    module.register_datasets = register_datasets
    (message,) = problems_of(check_plugin(module))
    assert "\n" not in message
    assert message.startswith("plugin 'argbad': failed to load (argbad): invalid plugin: Plugin 'argbad' for hook 'register_datasets'")
    assert "Argument(s) {'reg'} are declared in the hookimpl but can not be found in the hookspec" in message
