"""Entries: raw (merged from the catalogue's layers, each field with its source) and resolved
(checked against the registry: parts exist, params are known, parts fit, the recipe is complete)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any

from zoo.compiling import check_warmup
from zoo.errors import CatalogueError, IncompatibleError, UnknownNameError, ZooError
from zoo.metrics import (BINARY_LOSSES, DEFAULT_LOSS, DEFAULT_METRICS, LABEL_SMOOTHING_LOSSES, MODES,
                         MULTICLASS_LOSSES, improvement_mode)
from zoo.phases import TrainHead
from zoo.registry import Registry, check_class_names
from zoo.specs import RECIPE_KEYS, Entry, PartRef, Recipe, Resources, Target

PART_FIELDS = ("architecture", "dataset")
ENTRY_FIELDS: tuple[str, ...] = (
    "architecture", "dataset", "callbacks", "target", "description", "tags", "extends", "metadata",
    "resources", *RECIPE_KEYS,
)
#: Keys a callback factory may take that zoo fills in for the run.
CALLBACK_CONTEXT_KEYS = ("run_dir", "target", "entry")


@dataclass
class RawEntry:
    """An entry's fields as merged from the layers, not yet checked against the registry."""

    name: str
    fields: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    origin: str = ""

    def source_of(self, path: str) -> str:
        """Where the field at dotted ``path`` (or its nearest parent) was set."""
        while path:
            if path in self.sources:
                return self.sources[path]
            path = path.rpartition(".")[0]
        return self.origin


def paths(fields: dict[str, Any], prefix: str = "") -> Iterable[str]:
    """Every dotted field path of a nested table (``architecture``, ``architecture.units``…)."""
    for key, value in fields.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict):
            yield from paths(value, f"{path}.")


def _where(raw: RawEntry, path: str) -> str:
    return f"{raw.source_of(path)}, entry {raw.name!r}"


def _check_params(raw: RawEntry, path: str, kind: str, given: dict[str, Any], declared: dict[str, Any], extra: Iterable[str] = ()) -> None:
    allowed = set(declared) | set(extra)
    for key in given:
        if key not in allowed:
            raise UnknownNameError(f"{kind} param", key, allowed, where=_where(raw, f"{path}.{key}"))


def _part(raw: RawEntry, key: str) -> PartRef:
    value = raw.fields.get(key)
    if value is None:
        raise CatalogueError(f"{raw.origin}: entry {raw.name!r} has no {key}")
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise CatalogueError(f"{_where(raw, key)}: {key} must be a name or a table with a 'name'")
    params = {k: v for k, v in value.items() if k != "name"}
    return PartRef(value["name"], params)


_RECIPE_TYPES = {f.name: f.type for f in dataclass_fields(Recipe)}


def _recipe(raw: RawEntry) -> Recipe:
    values = {}
    for key in RECIPE_KEYS:
        if key not in raw.fields:
            continue
        value, kind = raw.fields[key], _RECIPE_TYPES[key]
        ok = True
        if kind.startswith("int"):
            ok = isinstance(value, int) and not isinstance(value, bool) or (value is None and "None" in kind)
        elif kind.startswith("float"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) or (value is None and "None" in kind)
            value = float(value) if ok and value is not None else value
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind.startswith("list"):
            value = [value] if isinstance(value, str) else value
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif kind.startswith("dict"):
            ok = isinstance(value, dict) or (value is None and "None" in kind)
        elif kind.startswith("str"):
            ok = isinstance(value, str) or (value is None and "None" in kind)
        if not ok:
            raise CatalogueError(f"{_where(raw, key)}: {key} must be {kind.replace(' | None', '')}, got {value!r}")
        values[key] = value
    recipe = Recipe(**values)
    if recipe.jit_compile not in (True, False, "auto", "head", "optimizer"):
        raise CatalogueError(f"{_where(raw, 'jit_compile')}: jit_compile must be true, false, \"auto\", "
                             f"\"head\" or \"optimizer\"")
    if not 0.0 <= recipe.label_smoothing < 1.0:
        raise CatalogueError(f"{_where(raw, 'label_smoothing')}: label_smoothing must be in [0, 1), "
                             f"got {recipe.label_smoothing}")
    if recipe.epochs < 1 or recipe.batch_size < 1:
        bad = "epochs" if recipe.epochs < 1 else "batch_size"
        raise CatalogueError(f"{_where(raw, bad)}: {bad} must be at least 1")
    return recipe


def _target(raw: RawEntry) -> Target | None:
    value = raw.fields.get("target")
    if value is None:
        return None
    if not isinstance(value, dict) or "metric" not in value or "value" not in value:
        raise CatalogueError(f"{_where(raw, 'target')}: target must be a table {{metric = ..., value = ...}}")
    metric = str(value["metric"])
    mode = value.get("mode", improvement_mode(metric))
    if mode not in MODES:
        raise CatalogueError(f"{_where(raw, 'target.mode')}: target mode must be 'min' or 'max'")
    return Target(metric, float(value["value"]), mode)


def _resources(raw: RawEntry) -> Resources:
    """``resources = { cpus = 2, gpus = 1 }``: what one run asks a Ray cluster for."""
    value = raw.fields.get("resources")
    if value is None:
        return Resources()
    if not isinstance(value, dict):
        raise CatalogueError(f"{_where(raw, 'resources')}: resources must be a table {{ cpus = 1, gpus = 0 }}")
    known = tuple(Resources.__dataclass_fields__)
    for key, amount in value.items():
        if key not in known:
            raise UnknownNameError("resource", key, known, where=_where(raw, f"resources.{key}"))
        # Ray takes fractions of one unit (0.5 GPU) or whole units, never 1.5.
        if (isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0
                or (amount > 1 and amount != int(amount))):
            raise CatalogueError(f"{_where(raw, f'resources.{key}')}: resources.{key} must be a whole number "
                                 f"or a fraction of one (e.g. 0.5), got {amount!r}")
    return Resources(**{k: float(v) for k, v in value.items()})


def resolve_raw(raw: RawEntry, registry: Registry) -> Entry:
    """Check a merged entry against the registry: parts exist, params are known, parts fit."""
    unknown = [k for k in raw.fields if k not in ENTRY_FIELDS]
    if unknown:
        raise UnknownNameError("field", unknown[0], ENTRY_FIELDS, where=_where(raw, unknown[0]))

    arch_ref, data_ref = _part(raw, "architecture"), _part(raw, "dataset")
    arch = registry.architecture(arch_ref.name, where=_where(raw, "architecture"))
    data = registry.dataset(data_ref.name, where=_where(raw, "dataset"))
    _check_params(raw, "architecture", f"architecture {arch.name!r}", arch_ref.params, arch.params)
    _check_params(raw, "dataset", f"dataset {data.name!r}", data_ref.params, data.params)

    callbacks = []
    for i, value in enumerate(raw.fields.get("callbacks", []) or []):
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            raise CatalogueError(f"{_where(raw, 'callbacks')}: callback #{i + 1} must be a name or a table with a 'name'")
        ref = PartRef(value["name"], {k: v for k, v in value.items() if k != "name"})
        spec = registry.callback(ref.name, where=_where(raw, "callbacks"))
        _check_params(raw, "callbacks", f"callback {spec.name!r}", ref.params, spec.params, CALLBACK_CONTEXT_KEYS)
        callbacks.append(ref)

    recipe = _recipe(raw)
    if recipe.steps_per_epoch:  # the run's length is known already: a warm-up longer than it fails here
        check_warmup(raw.name, recipe, recipe.epochs * recipe.steps_per_epoch)
    task = data.task
    data_params = {**data.params, **data_ref.params}
    try:
        input_shape = data.shape_for(data_params)
        num_classes = data.classes_for(data_params)
    except ZooError as exc:
        raise IncompatibleError(f"{_where(raw, 'dataset')}: cannot tell dataset {data.name!r}'s shape: {exc}") from None
    class_names = _class_names(raw, data, data_params, task, num_classes)
    try:
        preprocessing = data.preprocessing_for(data_params)
    except (ZooError, ValueError, TypeError) as exc:
        raise IncompatibleError(f"{_where(raw, 'dataset')}: dataset {data.name!r} (plugin {data.plugin}): "
                                f"preprocessing: {exc}") from None

    where = _where(raw, "architecture")
    if task not in arch.tasks:
        raise IncompatibleError(
            f"{where}: architecture {arch.name!r} supports {', '.join(arch.tasks)}, "
            f"but dataset {data.name!r} is {task}"
        )
    if recipe.loss == "auto":
        recipe.loss = DEFAULT_LOSS[task]
    elif recipe.loss in BINARY_LOSSES and num_classes > 1:
        raise IncompatibleError(
            f"{_where(raw, 'loss')}: loss {recipe.loss!r} needs a one-unit sigmoid head, but dataset "
            f"{data.name!r} has {num_classes} classes (use sparse_categorical_crossentropy)"
        )
    elif recipe.loss in MULTICLASS_LOSSES and task != "multiclass":
        raise IncompatibleError(
            f"{_where(raw, 'loss')}: loss {recipe.loss!r} needs a {num_classes}-unit softmax head, "
            f"but dataset {data.name!r} is {task} (use {DEFAULT_LOSS[task]})"
        )
    if recipe.label_smoothing and recipe.loss not in LABEL_SMOOTHING_LOSSES:
        raise IncompatibleError(
            f"{_where(raw, 'label_smoothing')}: label_smoothing needs a cross-entropy loss "
            f"({', '.join(LABEL_SMOOTHING_LOSSES)}), not {recipe.loss!r}"
        )
    if recipe.metrics == ["auto"]:
        recipe.metrics = list(DEFAULT_METRICS[task])
    if arch.accepts is not None:
        reason = arch.accepts(input_shape, num_classes, task, **{**arch.params, **arch_ref.params})
        if reason:
            raise IncompatibleError(
                f"{where}: architecture {arch.name!r} cannot take dataset {data.name!r} "
                f"(input {tuple(input_shape)}, {task}): {reason}"
            )

    try:
        plan = arch.plan_for(arch_ref.params)
    except (ValueError, TypeError) as exc:
        raise IncompatibleError(f"{where}: architecture {arch.name!r} (plugin {arch.plugin}) has no valid plan: {exc}") from None
    if recipe.feature_cache and not any(isinstance(phase, TrainHead) for phase in plan):
        raise IncompatibleError(
            f"{_where(raw, 'feature_cache')}: feature_cache = true trains a frozen base's head on cached "
            f"features, but architecture {arch.name!r} trains in {', '.join(p.kind for p in plan)} here (no "
            f"train_head phase: a trainable base or a model without one trains whole); set feature_cache = false"
        )

    sources = {path: raw.source_of(path) for path in paths(raw.fields)}
    for key in RECIPE_KEYS:
        sources.setdefault(key, "default" if key not in ("loss", "metrics") or key in raw.fields else f"dataset task ({task})")
    sources.setdefault("resources", "default")
    tags = raw.fields.get("tags", [])
    return Entry(
        name=raw.name,
        architecture=arch_ref,
        dataset=data_ref,
        callbacks=callbacks,
        recipe=recipe,
        task=task,
        input_shape=tuple(input_shape),
        num_classes=num_classes,
        target=_target(raw),
        description=str(raw.fields.get("description", "")),
        tags=[str(t) for t in tags] if isinstance(tags, list) else [str(tags)],
        metadata=dict(raw.fields.get("metadata", {}) or {}),
        sources=sources,
        plan=plan,
        resources=_resources(raw),
        class_names=class_names,
        preprocessing=preprocessing,
    )


def _class_names(raw: RawEntry, data: Any, params: dict[str, Any], task: str, num_classes: int) -> list[str] | None:
    """The dataset's class names under the entry's params, checked against its classes."""
    try:
        names = data.names_for(params)
        return None if names is None else check_class_names(names, task, num_classes)
    except (ZooError, ValueError, TypeError, OSError) as exc:
        raise IncompatibleError(f"{_where(raw, 'dataset')}: dataset {data.name!r} (plugin {data.plugin}): "
                                f"class names: {exc}") from None


__all__ = ["RawEntry", "ENTRY_FIELDS", "PART_FIELDS", "CALLBACK_CONTEXT_KEYS", "paths", "resolve_raw"]
