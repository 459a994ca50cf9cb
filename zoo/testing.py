"""Contract checks for zoo plugins, shipped as a pytest plugin.

A plugin author checks a whole plugin with one call::

    from zoo.testing import assert_plugin_ok

    def test_my_plugin():
        assert_plugin_ok("my-plugin")          # the plugin's entry-point name

or gets one test per part (one failure per broken part) with::

    import pytest
    from zoo.testing import contract_cases

    @pytest.mark.parametrize("case", contract_cases("my-plugin"), ids=str)
    def test_contract(case):
        case.check()

or uses the ``zoo_contract`` fixture (this module is a ``pytest11`` plugin, so the fixture exists
wherever zoo is installed), which also gives the check a private ``ZOO_HOME`` and offline mode::

    def test_my_plugin(zoo_contract):
        zoo_contract("my-plugin")

What is checked, for the parts the named plugin registered:

- the plugin loads (no import error, no misspelled or malformed hook, no hook that raises),
  registers something, clashes with no other plugin, and imports without TensorFlow;
- every architecture builds, for every input shape it is used with (the entries that use it and
  ``inputs=``) and every head it declares (``tasks``), a ``keras.Model`` with the right input and
  output shapes and head activation, and runs one training step to a finite loss;
- every dataset returns splits named ``train``/``validation``/``test`` of unbatched ``(x, y)``
  examples of the declared shape, numeric dtypes and label range; its ``augment`` keeps shapes;
- every callback factory returns a ``keras.callbacks.Callback``;
- every entry the plugin ships resolves against the registry;
- ``register_commands``, called on a throwaway group, adds at least one ``click.Command``, none
  named like a zoo command, and ``zoo NAME --help`` of each works without importing TensorFlow.

A plugin's own commands are tested with :func:`run_cli` (``zoo ARGS`` in-process, through click's
``CliRunner``).

Every problem names the plugin, the part and what is wrong. This module imports no TensorFlow
until a check needs it, so loading it as a pytest plugin costs nothing.
"""
from __future__ import annotations

import difflib
import inspect
import json
import math
import os
import subprocess
import sys
import tempfile
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from zoo import PROJECT_NAME, contracts, hookspecs
from zoo.metrics import DEFAULT_LOSS
from zoo.pipeline import AUGMENT
from zoo.registry import Registry, collect
from zoo.run_context import fill_callback_context, reserve_run_dir
from zoo.specs import ArchitectureSpec, CallbackSpec, DatasetSpec
from zoo.splits import SPLITS

__all__ = [
    "ContractError", "ContractSkip", "Problem", "Case", "ContractReport",
    "contract_cases", "check_plugin", "assert_plugin_ok", "zoo_contract", "run_cli", "train_entry",
    "local_tf_configs",
]

#: The number of classes used to check a multiclass head when no entry says otherwise.
CHECK_CLASSES = 3
#: Examples read from each split of a ``tf.data`` dataset (numpy splits are checked whole).
MAX_EXAMPLES = 256


class ContractError(AssertionError):
    """One or more parts of a plugin break the plugin contract (an ``AssertionError``, so pytest
    reports it as a plain test failure)."""

    def __init__(self, problems: Sequence["Problem"]):
        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        super().__init__(
            lines[0] if len(lines) == 1 else f"{len(lines)} contract problems:\n  " + "\n  ".join(lines)
        )


class ContractSkip(Exception):
    """A part that cannot be checked as asked (e.g. an architecture no entry or ``inputs`` gives
    a shape for); reported as skipped, never as a failure."""


@dataclass(frozen=True)
class Problem:
    """One broken part: which plugin, which kind of part, which part, what is wrong."""

    plugin: str
    kind: str  # plugin | architecture | dataset | callback | entry
    part: str
    message: str

    def __str__(self) -> str:
        if self.kind == "plugin":
            return f"plugin {self.plugin!r}: {self.message}"
        return f"plugin {self.plugin!r}, {self.kind} {self.part!r}: {self.message}"


@dataclass
class Case:
    """The check of one part; ``check()`` raises :class:`ContractError` listing its problems."""

    plugin: str
    kind: str
    part: str
    run: Callable[[], list[str]] = field(repr=False)

    @property
    def id(self) -> str:
        return f"{self.plugin}:{self.kind}:{self.part}"

    def __str__(self) -> str:
        return self.id

    def problems(self) -> list[Problem]:
        """Run the check; the problems found (empty when the part keeps the contract)."""
        try:
            messages = self.run()
        except ContractSkip:
            raise
        except Exception as exc:  # a bug in the part that escaped the specific checks
            messages = [f"check crashed: {_describe(exc)}"]
        return [Problem(self.plugin, self.kind, self.part, m) for m in messages]

    def check(self) -> None:
        """Raise :class:`ContractError` if the part breaks the contract (``pytest.skip`` when the
        part cannot be checked, under pytest)."""
        try:
            problems = self.problems()
        except ContractSkip as skip:
            _skip(f"{self.id}: {skip}")
            return
        if problems:
            raise ContractError(problems)


@dataclass
class ContractReport:
    """What :func:`check_plugin` found."""

    plugin: str
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> "ContractReport":
        if self.problems:
            raise ContractError(self.problems)
        return self

    def __str__(self) -> str:
        lines = [f"plugin {self.plugin!r}: {len(self.checked)} part(s) checked, "
                 f"{len(self.problems)} problem(s), {len(self.skipped)} skipped"]
        lines += [f"  FAIL {p}" for p in self.problems]
        lines += [f"  skip {s}" for s in self.skipped]
        return "\n".join(lines)


# -- loading the plugin --------------------------------------------------------------------------
@dataclass
class _Context:
    """The registry and catalogue a check runs against, with the named plugin loaded."""

    name: str
    registry: Registry
    catalogue: Any
    plugin_object: Any
    inputs: Mapping[str, Sequence[Sequence[int]]]
    max_examples: int
    check_import: bool
    workdir: Path


def _load(plugin: str | object, name: str | None) -> tuple[str, Registry, Any, Any]:
    """Every installed plugin plus ``plugin`` (a module or object not installed), loaded leniently
    so that a broken plugin is reported rather than raised."""
    from zoo import settings
    from zoo.catalogue import Catalogue
    from zoo.plugins import PluginRecord, load_plugins, register_plugin

    disabled = set(settings.disabled_plugins())
    if isinstance(plugin, str):
        plugin_name = plugin
        disabled.discard(plugin_name)  # checking a plugin overrides ZOO_DISABLE_PLUGINS for it
        pm, records = load_plugins(strict=False, disabled=disabled)
    else:
        plugin_name = name or getattr(plugin, "__name__", type(plugin).__name__).rpartition(".")[2]
        # The installed copy of the same plugin (same name or module) would clash with it.
        import importlib.metadata as metadata

        module = getattr(plugin, "__name__", None)
        for ep in metadata.entry_points(group="zoo"):
            if ep.name == plugin_name or ep.value.split(":")[0] == module:
                disabled.add(ep.name)
        pm, records = load_plugins(strict=False, disabled=disabled)
        records = [r for r in records if r.name != plugin_name]
        record = PluginRecord(name=plugin_name, module=module or repr(plugin))
        register_plugin(pm, plugin, record, strict=False)
        records = sorted([*records, record], key=lambda r: r.name)
    registry = collect(pm, records, strict=False)
    # A user's own catalogue (ZOO_REGISTRY) must not change what the plugin ships.
    saved = os.environ.pop("ZOO_REGISTRY", None)
    try:
        catalogue = Catalogue(registry)
    finally:
        if saved is not None:
            os.environ["ZOO_REGISTRY"] = saved
    return plugin_name, registry, catalogue, pm.get_plugin(plugin_name)


def contract_cases(
    plugin: str | object,
    *,
    name: str | None = None,
    inputs: Mapping[str, Sequence[Sequence[int]]] | None = None,
    max_examples: int = MAX_EXAMPLES,
    check_import: bool = True,
) -> list[Case]:
    """One :class:`Case` per part of ``plugin``, the plugin itself first.

    ``plugin`` is the entry-point name of an installed plugin, or a plugin module/object that is
    not installed (named ``name``, default: the module's last dotted component).
    ``inputs`` maps an architecture name to extra input shapes to check it with (besides those of
    the entries that use it), e.g. ``{"my-cnn": [(28, 28, 1), (150, 150, 3)]}``.
    Loading is cheap (no TensorFlow): the parts are checked when a case runs.
    """
    plugin_name, registry, catalogue, obj = _load(plugin, name)
    workdir = Path(tempfile.mkdtemp(prefix="zoo-contract-"))
    ctx = _Context(plugin_name, registry, catalogue, obj, dict(inputs or {}), max_examples, check_import, workdir)
    cases = [Case(plugin_name, "plugin", plugin_name, lambda: _check_plugin(ctx))]
    mine = lambda table: sorted(n for n, spec in table.items() if spec.plugin == plugin_name)  # noqa: E731
    for part in mine(registry.architectures):
        cases.append(Case(plugin_name, "architecture", part, _bind(_check_architecture, ctx, part)))
    for part in mine(registry.datasets):
        cases.append(Case(plugin_name, "dataset", part, _bind(_check_dataset, ctx, part)))
    for part in mine(registry.callbacks):
        cases.append(Case(plugin_name, "callback", part, _bind(_check_callback, ctx, part)))
    for part in _entries_of(ctx):
        cases.append(Case(plugin_name, "entry", part, _bind(_check_entry, ctx, part)))
    for part in _commands_of(ctx):
        cases.append(Case(plugin_name, "command", part, _bind(_check_command, ctx, part)))
    return cases


def check_plugin(plugin: str | object, **options: Any) -> ContractReport:
    """Check every part of ``plugin`` against the contract; never raises for a broken part.

    Takes the arguments of :func:`contract_cases`. Builds and trains tiny batches, so it imports
    TensorFlow when the plugin has an architecture, a dataset or a callback.
    """
    cases = contract_cases(plugin, **options)
    report = ContractReport(cases[0].plugin)
    for case in cases:
        try:
            problems = case.problems()
        except ContractSkip as skip:
            report.skipped.append(f"{case.kind} {case.part!r}: {skip}")
            continue
        report.checked.append(case.id)
        report.problems.extend(problems)
    return report


def assert_plugin_ok(plugin: str | object, **options: Any) -> ContractReport:
    """:func:`check_plugin`, raising :class:`ContractError` (one line per problem) if any part
    breaks the contract; returns the report otherwise."""
    return check_plugin(plugin, **options).raise_for_problems()


def _bind(func: Callable[[_Context, str], list[str]], ctx: _Context, part: str) -> Callable[[], list[str]]:
    return lambda: func(ctx, part)


def _entries_of(ctx: _Context) -> list[str]:
    """Entries the plugin ships: registered in code, or in a catalogue file it registered."""
    from zoo.catalogue import read_catalogue
    from zoo.errors import CatalogueError

    names = {n for n, e in ctx.registry.entries.items() if e.plugin == ctx.name}
    for path, plugin in ctx.registry.catalogues:
        if plugin == ctx.name:
            try:
                names.update(read_catalogue(path, f"plugin {plugin}"))
            except CatalogueError:
                pass  # reported by the plugin check
    return sorted(names)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _skip(reason: str) -> None:
    if "pytest" in sys.modules:
        import pytest

        pytest.skip(reason)


# -- the plugin as a whole -----------------------------------------------------------------------
def _check_plugin(ctx: _Context) -> list[str]:
    registry, name = ctx.registry, ctx.name
    try:
        record = registry.plugin(name)
    except LookupError:
        known = [r.name for r in registry.plugins]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; installed: {', '.join(known) or 'none'}"
        return [f"no plugin named {name!r} is installed (entry-point group {PROJECT_NAME!r}){hint}"
                " — `pip install -e .` the plugin's package first"]
    problems = []
    if record.status == "failed":
        problems.append(f"failed to load ({record.module}): {record.error}")
    problems += [f"{p.split(': ', 1)[-1]}" for p in ctx.catalogue.problems if p.startswith(f"plugin {name!r}")]
    for (kind, part), owners in sorted(registry.conflicts.items()):
        if name in owners:
            others = " and ".join(repr(o) for o in owners if o != name)
            problems.append(f"{kind} {part!r} is also registered by plugin {others}; neither is used "
                            "(names are global: prefix yours, e.g. with the plugin's name)")
    for entry, origins in sorted(ctx.catalogue.conflicts.items()):
        if any(o == f"plugin {name}" or _catalogue_of(ctx, o) for o in origins):
            problems.append(f"entry {entry!r} is defined twice ({' and '.join(origins)}); it cannot be used")
    problems += _unmarked_hooks(ctx.plugin_object)
    problems += _no_commands(ctx, record)
    if record.status == "ok" and not record.registered and not problems:
        problems.append("registers nothing: implement at least one hook "
                        f"({', '.join(hookspecs.HOOK_NAMES)}) marked with @zoo.hookimpl")
    if ctx.check_import and record.status == "ok":
        problems += _heavy_imports(record.module, ctx.plugin_object)
    return problems


def _catalogue_of(ctx: _Context, origin: str) -> bool:
    """Whether ``origin`` (``path:line``) lies in a catalogue file this plugin registered."""
    path = origin.rpartition(":")[0]
    return any(plugin == ctx.name and str(p) == path for p, plugin in ctx.registry.catalogues)


def _unmarked_hooks(obj: Any) -> list[str]:
    """Functions named like a hook (or close to one) that pluggy will never call."""
    if obj is None:
        return []
    problems = []
    for attr in sorted(dir(obj)):
        value = getattr(obj, attr, None)
        if attr.startswith("_") or not inspect.isfunction(value):
            continue
        marked = hasattr(value, f"{PROJECT_NAME}_impl")
        close = difflib.get_close_matches(attr, hookspecs.HOOK_NAMES, n=1, cutoff=0.85)
        if not close or marked and attr in hookspecs.HOOK_NAMES:
            continue
        if attr in hookspecs.HOOK_NAMES:
            problems.append(f"function {attr!r} is not marked with @zoo.hookimpl, so zoo never calls it")
        elif not marked:
            problems.append(f"function {attr!r} looks like hook {close[0]!r} misspelled; zoo never calls it")
    return problems


def _heavy_imports(module: str, obj: Any) -> list[str]:
    """Import the plugin's module in a fresh interpreter: TensorFlow or Keras at module level
    would make ``zoo list`` slow for every user of the plugin."""
    module_name = (module or "").split(":")[0]
    if not isinstance(obj, types.ModuleType) and ":" not in (module or ""):
        module_name = getattr(obj, "__module__", None) or ""
    if module_name not in sys.modules:
        return []
    code = ("import importlib, json, sys; importlib.import_module(sys.argv[1]); "
            "print(json.dumps(sorted(m for m in ('tensorflow', 'keras', 'torch', 'jax') if m in sys.modules)))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        done = subprocess.run([sys.executable, "-c", code, module_name], capture_output=True,
                              text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        return [f"importing module {module_name!r} took over 120 s"]
    if done.returncode != 0:
        return []  # importable only in this process (e.g. defined in a test): nothing to say
    heavy = json.loads(done.stdout.strip().splitlines()[-1])
    if heavy:
        return [f"importing module {module_name!r} imports {', '.join(heavy)}: import it inside "
                "the builder/loader/factory instead, so `zoo list` stays fast"]
    return []


# -- architectures ------------------------------------------------------------------------------
def _architecture_inputs(ctx: _Context, spec: ArchitectureSpec) -> list[tuple[tuple[int, ...], int, str, dict[str, Any], str]]:
    """(input shape, classes, task, builder params, where) to check: each entry using the
    architecture with its own head, then every other declared head on the same shape."""
    from zoo.errors import ZooError

    found: list[tuple[tuple[int, ...], int, str, dict[str, Any], str]] = []
    for entry_name in ctx.catalogue.names():
        try:
            raw = ctx.catalogue.raw(entry_name)
            arch = raw.fields.get("architecture") or {}
            if arch.get("name") != spec.name:
                continue
            entry = ctx.catalogue.resolve(entry_name)
        except ZooError:
            continue  # the entry's own check reports it
        params = {**spec.params, **entry.architecture.params}
        found.append((tuple(entry.input_shape), entry.num_classes, entry.task, params, f"entry {entry_name!r}"))
    for shape in ctx.inputs.get(spec.name, ()):
        for task in spec.tasks:
            classes = CHECK_CLASSES if task == "multiclass" else 1
            found.append((tuple(int(d) for d in shape), classes, task, dict(spec.params), "inputs="))
    # Every declared head, on every shape seen.
    for shape, _, _, params, where in list(found):
        for task in spec.tasks:
            classes = CHECK_CLASSES if task == "multiclass" else 1
            found.append((shape, classes, task, params, where))
    unique, seen = [], set()
    for item in found:
        key = (item[0], item[1], item[2], json.dumps(item[3], sort_keys=True, default=str))
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _check_architecture(ctx: _Context, part: str) -> list[str]:
    spec = ctx.registry.architectures[part]
    combos = _architecture_inputs(ctx, spec)
    if not combos:
        raise ContractSkip(
            "no entry uses it and no input shape was given: pass "
            f"inputs={{{part!r}: [(...)]}} to check it"
        )
    problems = []
    checked = 0
    for shape, classes, task, params, where in combos:
        if spec.accepts is not None:
            try:
                reason = spec.accepts(shape, classes, task, **params)
            except Exception as exc:
                problems.append(f"accepts({shape}, {classes}, {task!r}) raised {_describe(exc)}")
                continue
            if reason:
                continue  # declared unsupported: nothing to check
        checked += 1
        label = f"{task} head, input {shape}, {classes} output(s) (from {where})"
        problems += [f"{label}: {m}" for m in _build_and_step(spec, shape, classes, task, params)]
    if not checked and not problems:
        raise ContractSkip("its accepts() declines every input shape it is used with")
    return problems


def _build_and_step(spec: ArchitectureSpec, shape: tuple[int, ...], classes: int, task: str,
                    params: dict[str, Any]) -> list[str]:
    import keras
    import numpy as np

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    try:
        model = spec.builder(shape, classes, task=task, **params)
    except Exception as exc:
        return [f"builder raised {_describe(exc)}"]
    if not isinstance(model, keras.Model):
        return [f"builder returned {type(model).__name__}, not a keras.Model"]
    # The same checks (and words) as the runner's before the first training step: zoo.contracts.
    shape_problems = contracts.shape_problems(model, task, classes, shape)
    if shape_problems:
        return shape_problems
    problems = contracts.head_problems(model, task)

    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, size=(4, *shape)).astype("float32")
    if task == "multiclass":
        y = (np.arange(4) % classes).astype("int32")
    elif task == "binary":
        y = np.array([0, 1, 0, 1], dtype="float32")
    else:
        y = rng.normal(size=(4, 1)).astype("float32")
    out = np.asarray(model(x, training=False), dtype="float64")
    if contracts.output_problems(out.shape[1:], task, classes):  # shapes Keras could not tell unbuilt
        return contracts.output_problems(out.shape[1:], task, classes)
    if not problems and task != "multiclass" and out.shape[1:] == (1,) and np.all(out == 1.0):
        problems.append(contracts.softmax_one_unit_message(task))  # a softmax the layers hide
    if not np.all(np.isfinite(out)):
        problems.append("outputs are not finite on inputs in [0, 1)")
    elif task == "binary" and (out.min() < -1e-6 or out.max() > 1 + 1e-6):
        problems.append("binary head outputs values outside [0, 1]: end with a sigmoid "
                        "(zoo's default loss is binary_crossentropy on probabilities)")
    elif task == "multiclass" and (out.min() < -1e-6 or not np.allclose(out.sum(axis=1), 1.0, atol=1e-2)):
        problems.append("multiclass head outputs do not sum to 1: end with a softmax (zoo's "
                        "default loss is sparse_categorical_crossentropy on probabilities)")
    try:
        model.compile(optimizer="adam", loss=DEFAULT_LOSS[task])
        loss = model.train_on_batch(x, y)
    except Exception as exc:
        return problems + [f"one training step ({DEFAULT_LOSS[task]}) raised {_describe(exc)}"]
    loss = float(np.asarray(loss[0] if isinstance(loss, (list, tuple)) else loss))
    if not math.isfinite(loss):
        problems.append(f"one training step gives a non-finite loss ({loss})")
    keras.backend.clear_session()
    return problems


# -- datasets -----------------------------------------------------------------------------------
def _param_variants(ctx: _Context, kind: str, spec: Any) -> list[tuple[dict[str, Any], str]]:
    """The part's default params, then each distinct set an entry uses."""
    from zoo.errors import ZooError

    variants = [({**spec.params}, "default params")]
    for entry_name in ctx.catalogue.names():
        try:
            raw = ctx.catalogue.raw(entry_name)
        except ZooError:
            continue
        refs = raw.fields.get(kind)
        refs = refs if isinstance(refs, list) else [refs]
        for ref in refs:
            if isinstance(ref, dict) and ref.get("name") == spec.name:
                params = {**spec.params, **{k: v for k, v in ref.items() if k != "name"}}
                if all(params != p for p, _ in variants):
                    variants.append((params, f"params of entry {entry_name!r}"))
    return variants


def _check_dataset(ctx: _Context, part: str) -> list[str]:
    spec = ctx.registry.datasets[part]
    problems = []
    for params, where in _param_variants(ctx, "dataset", spec):
        suffix = "" if where == "default params" else f" ({where})"
        problems += [m + suffix for m in _check_dataset_params(spec, params, ctx.max_examples)]
    return problems


def _check_dataset_params(spec: DatasetSpec, params: dict[str, Any], max_examples: int) -> list[str]:
    try:
        shape = spec.shape_for(params)
        classes = spec.classes_for(params)
    except Exception as exc:
        return [f"input_shape/num_classes callables raised {_describe(exc)}"]
    if spec.task == "multiclass" and classes < 2:
        return [f"a multiclass dataset needs num_classes >= 2, got {classes}"]
    try:
        splits = spec.loader(**params)
    except Exception as exc:
        return [f"loader raised {_describe(exc)}"]
    if not isinstance(splits, dict):
        return [f"loader returned {type(splits).__name__}, not a dict of splits"]
    problems = []
    unknown = sorted(set(splits) - {*SPLITS, AUGMENT})
    if unknown:
        problems.append(f"unknown split name(s) {unknown}; use {', '.join(SPLITS)} (and 'augment')")
    if splits.get("train") is None:
        problems.append("no 'train' split")
    arrays = {}
    for split in SPLITS:
        if splits.get(split) is None:
            continue
        try:
            x, y, split_problems = _examples(splits[split], shape, max_examples)
        except Exception as exc:
            split_problems, x = [f"cannot read examples: {_describe(exc)}"], None
        if split_problems or x is None:
            problems += [f"split {split!r}: {m}" for m in split_problems]
            continue
        arrays[split] = (x, y)
        problems += [f"split {split!r}: {m}" for m in _check_arrays(x, y, shape, spec.task, classes)]
    augment = splits.get("augment")
    if augment is not None and "train" in arrays:
        problems += _check_augment(augment, *arrays["train"])
    return problems


def _examples(split: Any, shape: tuple[int, ...], max_examples: int) -> tuple[Any, Any, list[str]]:
    """The first examples of a split as numpy ``(x, y)``, or the reason they cannot be read."""
    import numpy as np

    if isinstance(split, (tuple, list)):
        if len(split) != 2:
            return None, None, [f"a numpy split is an (x, y) pair, got {len(split)} item(s)"]
        x, y = np.asarray(split[0]), np.asarray(split[1])
        if len(x) != len(y):
            return None, None, [f"x has {len(x)} examples but y has {len(y)}"]
        return x, y, []
    import tensorflow as tf

    if not isinstance(split, tf.data.Dataset):
        return None, None, [f"a split is a tf.data.Dataset or an (x, y) tuple, not {type(split).__name__}"]
    element = split.element_spec
    if not isinstance(element, tuple) or len(element) != 2:
        return None, None, [f"examples must be (x, y) pairs, got element_spec {element}"]
    x_shape = element[0].shape
    if x_shape.rank == len(shape) + 1 and list(x_shape[1:]) == list(shape):
        return None, None, [f"looks batched (element shape {x_shape}): return unbatched examples; zoo batches"]
    xs, ys = [], []
    for x, y in split.take(max_examples).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        return None, None, ["is empty"]
    try:
        return np.stack(xs), np.stack(ys), []
    except ValueError:
        return None, None, [f"examples differ in shape ({xs[0].shape} vs others)"]


def _check_arrays(x: Any, y: Any, shape: tuple[int, ...], task: str, classes: int) -> list[str]:
    import numpy as np

    problems = []
    if len(x) == 0:
        return ["is empty"]
    if tuple(x.shape[1:]) != tuple(shape):
        problems.append(f"examples have shape {tuple(x.shape[1:])}, declared input_shape is {tuple(shape)}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        problems.append(f"x has dtype {x.dtype}, not a numeric type")
    elif np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        problems.append("x holds NaN or infinite values")
    # The label checks (and words) the runner makes on the first training batch: zoo.contracts.
    return problems + contracts.label_problems(y, task, classes)


def _check_augment(augment: Any, x: Any, y: Any) -> list[str]:
    if not callable(augment):
        return [f"'augment' must be a function (x_batch, y_batch) -> (x_batch, y_batch), got {type(augment).__name__}"]
    import tensorflow as tf

    batch = tf.data.Dataset.from_tensor_slices((x[:8], y[:8])).batch(8)
    try:
        out = next(iter(batch.map(augment)))
    except Exception as exc:
        return [f"augment raised {_describe(exc)} on a training batch"]
    if not isinstance(out, tuple) or len(out) != 2:
        return ["augment must return an (x_batch, y_batch) pair"]
    if tuple(out[0].shape) != tuple(x[:8].shape):
        return [f"augment changes the batch shape from {tuple(x[:8].shape)} to {tuple(out[0].shape)}"]
    return []


# -- callbacks and entries ---------------------------------------------------------------------
def _check_callback(ctx: _Context, part: str) -> list[str]:
    import keras

    spec: CallbackSpec = ctx.registry.callbacks[part]
    context: dict[str, Callable[[], Any]] = {  # as in a run; each variant gets its own folder
        "run_dir": lambda: str(reserve_run_dir(ctx.workdir / "runs", "zoo-contract-check")),
        "target": lambda: None,
        "entry": lambda: "zoo-contract-check",
    }
    problems = []
    for params, where in _param_variants(ctx, "callbacks", spec):
        suffix = "" if where == "default params" else f" ({where})"
        params = fill_callback_context(spec.factory, dict(params), context)
        try:
            callback = spec.factory(**params)
        except Exception as exc:
            problems.append(f"factory raised {_describe(exc)}{suffix}")
            continue
        if not isinstance(callback, keras.callbacks.Callback):
            problems.append(f"factory returned {type(callback).__name__}, not a keras.callbacks.Callback{suffix}")
    return problems


def _check_entry(ctx: _Context, part: str) -> list[str]:
    from zoo.errors import ZooError

    try:
        ctx.catalogue.resolve(part)
    except ZooError as exc:
        return [f"does not resolve: {exc}"]
    return []


# -- commands -----------------------------------------------------------------------------------
_HEAVY = ("tensorflow", "keras", "torch", "jax")


def _commands_of(ctx: _Context) -> list[str]:
    """Calls every plugin's ``register_commands`` on a throwaway group, as ``zoo --help`` does (a
    failure or a clash with a zoo command marks the plugin failed); this plugin's command names."""
    from zoo.cli import cli

    commands = ctx.registry.commands(reserved=cli.builtin_commands(), strict=False)
    return sorted(name for name, (plugin, _) in commands.items() if plugin == ctx.name)


def _no_commands(ctx: _Context, record: Any) -> list[str]:
    from zoo.plugins import hook_impl

    if record.status != "ok" or ctx.registry.pm is None or ctx.plugin_object is None:
        return []
    if hook_impl(ctx.registry.pm, "register_commands", ctx.plugin_object) and "command" not in record.registered:
        return ["register_commands added no command: add one with @cli.command() or cli.add_command(...)"]
    return []


def _check_command(ctx: _Context, part: str) -> list[str]:
    """``zoo PART --help`` works, and neither registering the command nor its help imports
    TensorFlow (checked in a fresh interpreter, as ``zoo --help`` would run)."""
    import click
    from click.testing import CliRunner

    _, command = ctx.registry.commands()[part]
    group = click.Group(PROJECT_NAME)
    group.add_command(command, part)
    heavy_before = {m for m in _HEAVY if m in sys.modules}
    result = CliRunner().invoke(group, [part, "--help"])
    if result.exit_code != 0:
        why = _describe(result.exception) if result.exception and not isinstance(result.exception, SystemExit) \
            else (result.output.strip().splitlines() or [""])[-1]
        return [f"`{PROJECT_NAME} {part} --help` exits {result.exit_code}: {why}".rstrip(": ")]
    if not ctx.check_import:
        return []
    heavy = _command_heavy_imports(ctx, part)
    if heavy is None:  # the plugin cannot be imported in a fresh interpreter: judge this process
        heavy = sorted(m for m in _HEAVY if m in sys.modules and m not in heavy_before)
    if heavy:
        return [f"registering it or `{PROJECT_NAME} {part} --help` imports {', '.join(heavy)}: import it "
                "inside the command's function instead, so `zoo --help` stays fast"]
    return []


_COMMAND_PROBE = """\
import importlib, json, sys
import click
from click.testing import CliRunner

module, _, attribute = sys.argv[1].partition(":")
obj = importlib.import_module(module)
for name in filter(None, attribute.split(".")):
    obj = getattr(obj, name)
heavy = %r
before = {m for m in heavy if m in sys.modules}
group = click.Group("zoo")
getattr(obj, sys.argv[3])(cli=group)
result = CliRunner().invoke(group, [sys.argv[2], "--help"])
print(json.dumps(sorted(m for m in heavy if m in sys.modules and m not in before)))
""" % (_HEAVY,)


def _command_heavy_imports(ctx: _Context, part: str) -> list[str] | None:
    """Heavy modules that registering the plugin's commands and ``PART --help`` import, in a
    fresh interpreter, beyond those its module imports (reported by the plugin check);
    ``None`` when the plugin's module cannot be imported there (e.g. defined in a test)."""
    from zoo.plugins import hook_impl

    record = ctx.registry.plugin(ctx.name)
    impl = hook_impl(ctx.registry.pm, "register_commands", ctx.plugin_object)
    target = record.module or ""
    if ":" not in target and not isinstance(ctx.plugin_object, types.ModuleType):
        target = getattr(ctx.plugin_object, "__module__", None) or ""
    if impl is None or not target:
        return None
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        done = subprocess.run([sys.executable, "-c", _COMMAND_PROBE, target, part, impl.function.__name__],
                              capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_cli(args: Sequence[str], *, input: str | None = None, env: Mapping[str, str] | None = None,
            catch_exceptions: bool = True) -> Any:
    """Run ``zoo ARGS`` in this process with click's ``CliRunner``, on a fresh registry (as a new
    ``zoo`` process would see the installed plugins); returns the ``click.testing.Result``
    (``exit_code``, ``output``, ``stdout``, ``stderr``, ``exception``). For testing the commands
    a plugin adds::

        result = run_cli(["my-command", "--points", "10"])
        assert result.exit_code == 0, result.output
    """
    from click.testing import CliRunner

    from zoo.cli import cli
    from zoo.registry import reset_registry

    reset_registry()
    return CliRunner().invoke(cli, list(args), input=input, env=dict(env or {}), catch_exceptions=catch_exceptions)


def train_entry(name: str, overrides: Sequence[str] = (), **options: Any) -> Any:
    """Train catalogue entry ``name`` (with ``--set``-style ``overrides``) through zoo's own
    runner, as ``zoo train`` does, and return its result (``.metrics``, ``.history``,
    ``.model_dir``…). ``options`` go to the runner (``save=False``, ``verbose=0``…). For plugin
    tests: set ``ZOO_HOME`` to a temporary folder first (the ``zoo_contract`` fixture does)."""
    from zoo import runner
    from zoo.catalogue import load_catalogue
    from zoo.registry import get_registry, reset_registry

    reset_registry()
    registry = get_registry()
    entry = load_catalogue(registry).resolve(name, list(overrides))
    options.setdefault("verbose", 0)
    return runner.train(entry, registry, **options).result


# -- the pytest plugin ----------------------------------------------------------------------------
try:
    import pytest as _pytest
except ImportError:  # zoo.testing is usable without pytest
    _pytest = None  # type: ignore[assignment]

if _pytest is not None:

    @_pytest.fixture
    def zoo_contract(tmp_path: Path, monkeypatch: Any) -> Callable[..., ContractReport]:
        """``zoo_contract(plugin, **options)``: :func:`assert_plugin_ok` with a private
        ``ZOO_HOME``, offline, and no user catalogue or plugin switches from the outside."""
        monkeypatch.setenv("ZOO_HOME", str(tmp_path / "zoo-home"))
        monkeypatch.setenv("ZOO_OFFLINE", "1")
        for name in ("ZOO_REGISTRY", "ZOO_STRICT_PLUGINS", "ZOO_DISABLE_PLUGINS"):
            monkeypatch.delenv(name, raising=False)
        return assert_plugin_ok
else:  # pragma: no cover
    zoo_contract = None  # type: ignore[assignment]


def local_tf_configs(workers: int) -> list[str]:
    """``TF_CONFIG`` values for a ``MultiWorkerMirroredStrategy`` cluster of ``workers`` processes
    on 127.0.0.1, one per worker (index order), on ports free when this is called. For tests and
    benchmarks that start a cluster on one machine; a real cluster writes its own (docs/scale.md)."""
    import socket

    sockets = [socket.socket() for _ in range(workers)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        ports = [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}) for index in range(workers)]
