"""``zoo new-plugin``: a plugin package that installs with pip and passes its own tests at once.

The package holds one example of each hook (an architecture, a dataset it generates, a callback
and an entry), the ``zoo`` entry point in ``pyproject.toml``, and a test that runs the contract
checks of :mod:`zoo.testing`. The templates are plain strings here (``string.Template``, ``$name``
placeholders) so they ship inside zoo with no package data to declare.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from zoo import __version__
from zoo.errors import ZooError

_PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


@dataclass(frozen=True)
class PluginNames:
    """The names one plugin goes by, all derived from the plugin name."""

    plugin: str        # entry-point name, shown by `zoo plugins`; prefix of every part name
    distribution: str  # what `pip install` and `zoo plugins --requirements` name
    package: str       # the importable Python package

    @classmethod
    def from_name(cls, name: str) -> "PluginNames":
        plugin = name[4:] if name.startswith("zoo-") else name
        if not _PLUGIN_NAME.match(plugin):
            raise ZooError(
                f"plugin name {name!r} is not valid: use lower-case letters and digits, words "
                "joined by '-' or '_', starting with a letter (e.g. 'my-nets')"
            )
        return cls(plugin, f"zoo-{plugin}", "zoo_" + plugin.replace("-", "_"))


PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "$description"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["zoo-models>=$zoo_version"]

[project.optional-dependencies]
test = ["pytest>=8"]

# This table makes the package a zoo plugin: group "zoo", plugin name "$plugin",
# the module with the @zoo.hookimpl functions.
[project.entry-points.zoo]
$plugin = "$package.plugin"

[tool.setuptools]
packages = ["$package"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# $distribution

$description

A [zoo](https://pypi.org/project/zoo-models/) plugin. It registers:

| kind | name |
|---|---|
| architecture | `$plugin-mlp` |
| dataset | `$plugin-blobs` |
| callback | `$plugin-epoch-log` |
| entry | `$plugin-blobs-mlp` |

```bash
pip install -e .
zoo plugins                 # '$plugin' is listed with what it registered
zoo list '$plugin-*'
zoo train $plugin-blobs-mlp
pytest                      # zoo.testing checks every part against the plugin contract
```
"""

INIT = '''\
"""$description"""

__version__ = "0.1.0"
'''

PLUGIN = '''\
"""The $plugin plugin: the hooks zoo calls, and the parts they register.

Keep TensorFlow, Keras and NumPy out of module level: zoo calls these hooks for every
`zoo list`, so they must be cheap. Import inside the builder, loader and factory.
"""
from __future__ import annotations

from typing import Any

import zoo


def build_mlp(input_shape: tuple[int, ...], num_classes: int, task: str = "multiclass",
              units: int = 32) -> Any:
    """One hidden Dense layer, then the head the task needs (the builder includes the head)."""
    import keras

    head = {
        "multiclass": keras.layers.Dense(num_classes, activation="softmax"),
        "binary": keras.layers.Dense(1, activation="sigmoid"),
        "regression": keras.layers.Dense(num_classes),
    }[task]
    return keras.Sequential([
        keras.Input(shape=tuple(input_shape)),
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation="relu"),
        head,
    ])


def load_blobs(classes: int = 3, per_class: int = 100, seed: int = 0) -> dict[str, Any]:
    """Gaussian blobs in 2-D, one per class: numpy (x, y) splits, float32 x, int32 class ids."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.uniform(-3, 3, size=(classes, 2))
    x = np.concatenate([c + rng.normal(scale=0.5, size=(per_class, 2)) for c in centres]).astype("float32")
    y = np.repeat(np.arange(classes), per_class).astype("int32")
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    cut = int(len(x) * 0.8)
    return {"train": (x[:cut], y[:cut]), "validation": (x[cut:], y[cut:])}


def epoch_log(run_dir: str | None = None, every: int = 1) -> Any:
    """A callback that appends each epoch's metrics to RUN_DIR/epochs.log (zoo fills in run_dir)."""
    import json
    import os

    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if run_dir and (epoch + 1) % every == 0:
                os.makedirs(run_dir, exist_ok=True)
                with open(os.path.join(run_dir, "epochs.log"), "a", encoding="utf-8") as out:
                    out.write(json.dumps({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}) + "\\n")

    return EpochLog()


@zoo.hookimpl
def register_architectures(register):
    register("$plugin-mlp", build_mlp, description="A one-hidden-layer perceptron.",
             params={"units": 32}, tags=("$plugin",))


@zoo.hookimpl
def register_datasets(register):
    register("$plugin-blobs", load_blobs, task="multiclass", input_shape=(2,),
             num_classes=lambda classes=3, **params: classes,
             description="Gaussian blobs in 2-D, generated from a seed.",
             params={"classes": 3, "per_class": 100, "seed": 0},
             tags=("$plugin", "synthetic"), source="generated", licence="public domain")


@zoo.hookimpl
def register_callbacks(register):
    register("$plugin-epoch-log", epoch_log, description="Append each epoch's metrics to RUN_DIR/epochs.log.",
             params={"every": 1})


@zoo.hookimpl
def register_entries(register):
    register("$plugin-blobs-mlp", architecture="$plugin-mlp", dataset="$plugin-blobs",
             callbacks=["$plugin-epoch-log"], description="The MLP on the blobs.",
             optimizer="adam", learning_rate=0.01, epochs=5, batch_size=32,
             target={"metric": "val_accuracy", "value": 0.9}, tags=["$plugin"])


# Commands: uncomment to add `zoo $plugin-hello` (command names are global: keep the prefix, and
# never take one of zoo's own, like `list`). Import TensorFlow or NumPy inside the command only.
# @zoo.hookimpl
# def register_commands(cli):
#     import click
#
#     @cli.command("$plugin-hello")
#     @click.option("--name", default="world", show_default=True)
#     def hello(name):
#         """Say hello from the $plugin plugin."""
#         click.echo(f"hello {name} from $plugin")
'''

TEST = '''\
"""Every part of the plugin keeps zoo's plugin contract (one test per part)."""
import pytest

from zoo.testing import contract_cases


@pytest.mark.parametrize("case", contract_cases("$plugin"), ids=str)
def test_contract(case):
    case.check()
'''

GITIGNORE = """\
__pycache__/
*.egg-info/
build/
dist/
.pytest_cache/
"""


def files_for(names: PluginNames, description: str) -> dict[str, str]:
    """Relative path → text of every file of a new plugin package."""
    values = {
        "plugin": names.plugin, "distribution": names.distribution, "package": names.package,
        "description": description.replace('"', "'"),
        # The zoo this plugin was made with (a source tree never installed says 0.0.0).
        "zoo_version": "0.1" if __version__.startswith("0.0.0") else __version__.split("+")[0],
    }
    templates = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        ".gitignore": GITIGNORE,
        f"{names.package}/__init__.py": INIT,
        f"{names.package}/plugin.py": PLUGIN,
        f"tests/test_{names.package}_contract.py": TEST,
    }
    return {path: string.Template(text).substitute(values) for path, text in templates.items()}


def new_plugin(path: str | Path, description: str | None = None) -> tuple[PluginNames, list[Path]]:
    """Write a plugin package into folder ``path`` (named after it); refuse a non-empty folder."""
    folder = Path(path)
    names = PluginNames.from_name(folder.name)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ZooError(f"{folder} already exists and is not an empty folder; choose another name or path")
    description = description or f"A zoo plugin: {names.plugin}."
    written = []
    for relative, text in files_for(names, description).items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return names, written


__all__ = ["PluginNames", "files_for", "new_plugin"]
