"""The registry: every architecture, dataset, callback and entry the plugins registered.

Hooks are called plugin by plugin, each with its own ``register`` callables, so that every part
is attributed to the plugin that registered it and a plugin that raises is dropped whole (none of
its parts stay) while the others keep working. Names registered by two plugins are conflicts:
neither wins and using the name says which plugins to reconcile, so plugin order never matters.
"""
from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pluggy

from zoo import settings
from zoo.errors import ConflictError, PluginError, UnknownNameError
from zoo.phases import DEFAULT_PLAN, PlanSpec, check_plan
from zoo.plugins import PluginRecord, collect_commands, load_plugins
from zoo.specs import TASKS, ArchitectureSpec, CallbackSpec, DatasetSpec

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
KINDS = ("architecture", "dataset", "callback", "entry", "catalogue")


@dataclass
class PluginEntry:
    """An entry registered in code by a plugin's ``register_entries`` hook."""

    name: str
    fields: dict[str, Any]
    plugin: str


@dataclass
class Registry:
    """Name → spec for each kind of part, with the plugin records that produced them."""

    architectures: dict[str, ArchitectureSpec] = field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    callbacks: dict[str, CallbackSpec] = field(default_factory=dict)
    entries: dict[str, PluginEntry] = field(default_factory=dict)
    catalogues: list[tuple[Path, str]] = field(default_factory=list)
    plugins: list[PluginRecord] = field(default_factory=list)
    conflicts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    #: the plugin manager the parts came from; the plugins' commands, once loaded (``commands``)
    pm: pluggy.PluginManager | None = field(default=None, repr=False, compare=False)
    _commands: dict[str, tuple[str, Any]] | None = field(default=None, repr=False, compare=False)

    # -- commands ------------------------------------------------------------------------------
    def commands(self, reserved: Iterable[str] = (), strict: bool | None = None) -> dict[str, tuple[str, Any]]:
        """The commands plugins add (``register_commands``): name → (plugin, click command).

        Loaded on the first call only (the CLI asks only when a command zoo does not ship is
        needed), each plugin in isolation; ``reserved`` are zoo's own command names, which no
        plugin may take. A plugin that fails is marked failed in :attr:`plugins`; a name two
        plugins add goes to :attr:`conflicts` as ``("command", name)``.
        """
        if self._commands is None:
            strict = settings.strict_plugins() if strict is None else strict
            commands: dict[str, tuple[str, Any]] = {}
            if self.pm is not None:
                commands, conflicts = collect_commands(self.pm, self.plugins, set(reserved), strict)
                self.conflicts.update({("command", name): owners for name, owners in conflicts.items()})
            self._commands = commands
        return self._commands

    # -- lookups -------------------------------------------------------------------------------
    def _get(self, kind: str, table: dict[str, Any], name: str, where: str | None) -> Any:
        if (kind, name) in self.conflicts:
            owners = " and ".join(repr(p) for p in self.conflicts[kind, name])
            raise ConflictError(
                f"{kind} {name!r} is registered by both plugin {owners}; neither is used "
                f"(disable one with ZOO_DISABLE_PLUGINS)"
            )
        try:
            return table[name]
        except KeyError:
            raise UnknownNameError(kind, name, table, where) from None

    def architecture(self, name: str, where: str | None = None) -> ArchitectureSpec:
        return self._get("architecture", self.architectures, name, where)

    def dataset(self, name: str, where: str | None = None) -> DatasetSpec:
        return self._get("dataset", self.datasets, name, where)

    def callback(self, name: str, where: str | None = None) -> CallbackSpec:
        return self._get("callback", self.callbacks, name, where)

    @property
    def failed_plugins(self) -> list[PluginRecord]:
        return [p for p in self.plugins if p.status == "failed"]

    def plugin(self, name: str) -> PluginRecord:
        for record in self.plugins:
            if record.name == name:
                return record
        raise UnknownNameError("plugin", name, [p.name for p in self.plugins])


class _Collector:
    """Builds ``register`` callables bound to one plugin, validating every call."""

    def __init__(self, plugin: str):
        self.plugin = plugin
        self.parts: dict[str, dict[str, Any]] = {k: {} for k in KINDS}

    def _add(self, kind: str, name: str, value: Any) -> None:
        if kind != "catalogue" and (not isinstance(name, str) or not NAME_PATTERN.match(name)):
            raise ValueError(
                f"{kind} name {name!r} is not valid: use lower-case letters, digits, '-', '_', '.'"
            )
        if name in self.parts[kind]:
            raise ValueError(f"{kind} {name!r} registered twice by the same plugin")
        self.parts[kind][name] = value

    def architecture(
        self,
        name: str,
        builder: Callable[..., Any],
        *,
        description: str = "",
        params: dict[str, Any] | None = None,
        tags: Iterable[str] = (),
        tasks: Iterable[str] | None = None,
        accepts: Callable[..., str | None] | None = None,
        plan: PlanSpec | None = None,
    ) -> None:
        _require_callable(builder, "builder")
        tasks = tuple(tasks) if tasks is not None else TASKS
        _check_tasks(tasks)
        if plan is None:
            plan = DEFAULT_PLAN
        elif not callable(plan):
            plan = check_plan(plan, f"architecture {name!r}")
        self._add("architecture", name, ArchitectureSpec(
            name, builder, self.plugin, description, dict(params or {}), tuple(tags), tasks, accepts, plan
        ))

    def dataset(
        self,
        name: str,
        loader: Callable[..., Any],
        *,
        task: str,
        input_shape: Any,
        num_classes: Any,
        description: str = "",
        params: dict[str, Any] | None = None,
        tags: Iterable[str] = (),
        source: str | None = None,
        licence: str | None = None,
        locate: Callable[..., Any] | None = None,
        fetch: Callable[..., Any] | None = None,
        decode: Callable[..., Any] | None = None,
        class_names: Iterable[str] | Callable[..., Any] | None = None,
        preprocessing: Callable[..., Any] | None = None,
    ) -> None:
        _require_callable(loader, "loader")
        _check_tasks((task,))
        if not callable(input_shape):
            input_shape = tuple(int(d) for d in input_shape)
        if not callable(num_classes):
            num_classes = int(num_classes)
            if task != "multiclass" and num_classes != 1:
                raise ValueError(f"a {task} dataset has num_classes=1, not {num_classes}")
        if class_names is not None and not callable(class_names):
            class_names = check_class_names(class_names, task, num_classes)
        if preprocessing is not None:
            _require_callable(preprocessing, "preprocessing")
        self._add("dataset", name, DatasetSpec(
            name, loader, self.plugin, task, input_shape, num_classes, description,
            dict(params or {}), tuple(tags), source, licence, locate, fetch, decode, class_names, preprocessing,
        ))

    def callback(
        self,
        name: str,
        factory: Callable[..., Any],
        *,
        description: str = "",
        params: dict[str, Any] | None = None,
    ) -> None:
        _require_callable(factory, "factory")
        self._add("callback", name, CallbackSpec(name, factory, self.plugin, description, dict(params or {})))

    def entry(self, name: str, *, architecture: Any, dataset: Any, callbacks: Iterable[Any] = (), **fields: Any) -> None:
        fields = {"architecture": architecture, "dataset": dataset, "callbacks": list(callbacks), **fields}
        self._add("entry", name, PluginEntry(name, fields, self.plugin))

    def catalogue(self, path: str | Path) -> None:
        path = Path(path)
        self._add("catalogue", str(path), path)


def _require_callable(obj: Any, what: str) -> None:
    if not callable(obj):
        raise TypeError(f"{what} must be callable, got {type(obj).__name__}")


def check_class_names(names: Any, task: str, num_classes: Any) -> list[str]:
    """Class names as a list of strings, one per class id: ``num_classes`` of them for a
    multiclass dataset, two (the names of 0 and 1) for a binary one; ``ValueError`` otherwise."""
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ValueError(f"class_names must be a list of names, not {type(names).__name__}")
    names = [str(n) for n in names]
    if task == "regression":
        raise ValueError("a regression dataset has no class names")
    expected = 2 if task == "binary" else num_classes
    if isinstance(expected, int) and len(names) != expected:
        raise ValueError(f"class_names lists {len(names)} name(s) for {expected} class(es)"
                         + (" (a binary dataset names 0 and 1)" if task == "binary" else ""))
    return names


def _check_tasks(tasks: Iterable[str]) -> None:
    for task in tasks:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; one of {', '.join(TASKS)}")


_HOOKS: tuple[tuple[str, str], ...] = (
    ("register_architectures", "architecture"),
    ("register_datasets", "dataset"),
    ("register_callbacks", "callback"),
    ("register_entries", "entry"),
    ("register_catalogues", "catalogue"),
)


def collect(pm: pluggy.PluginManager, records: list[PluginRecord], strict: bool = False) -> Registry:
    """Call every hook of every loaded plugin and build the registry."""
    registry = Registry(plugins=records, pm=pm)
    by_name = {r.name: r for r in records}
    owners: dict[tuple[str, str], list[tuple[str, Any]]] = {}

    for plugin_name in sorted(name for name, _ in pm.list_name_plugin()):
        plugin = pm.get_plugin(plugin_name)
        record = by_name.setdefault(plugin_name, PluginRecord(plugin_name, repr(plugin)))
        collector = _Collector(plugin_name)
        try:
            for hook_name, kind in _HOOKS:
                impl = _impl_of(pm, hook_name, plugin)
                if impl is not None:
                    # Called directly rather than through pm.hook so that a failure is the
                    # plugin's own and what it registered is attributed to it.
                    impl.function(register=getattr(collector, kind))
        except Exception as exc:  # third-party code: isolate whatever it raises
            first = (str(exc).strip().splitlines() or [""])[0]
            record.status = "failed"
            record.error = f"{hook_name} raised {type(exc).__name__}: {first}".rstrip(": ")
            if strict:
                raise PluginError(f"plugin {plugin_name!r}: {record.error}") from exc
            continue
        for kind, parts in collector.parts.items():
            if parts:
                record.registered[kind] = sorted(parts)
            for name, value in parts.items():
                owners.setdefault((kind, name), []).append((plugin_name, value))

    tables = {
        "architecture": registry.architectures,
        "dataset": registry.datasets,
        "callback": registry.callbacks,
        "entry": registry.entries,
    }
    for (kind, name), claims in sorted(owners.items()):
        if kind == "catalogue":
            registry.catalogues.extend((value, plugin) for plugin, value in claims)
        elif len(claims) > 1:
            registry.conflicts[kind, name] = sorted(plugin for plugin, _ in claims)
            if strict:
                raise ConflictError(f"{kind} {name!r} is registered by plugins " + " and ".join(
                    repr(p) for p in registry.conflicts[kind, name]))
        else:
            tables[kind][name] = claims[0][1]
    registry.catalogues.sort(key=lambda c: (c[1], str(c[0])))
    registry.plugins = sorted(by_name.values(), key=lambda r: r.name)
    return registry


def _impl_of(pm: pluggy.PluginManager, hook_name: str, plugin: object) -> Any:
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        if impl.plugin is plugin:
            return impl
    return None


_REGISTRY: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry, built on first use (the one piece of global state)."""
    global _REGISTRY
    if _REGISTRY is None or refresh:
        strict = settings.strict_plugins()
        pm, records = load_plugins(strict=strict)
        _REGISTRY = collect(pm, records, strict=strict)
    return _REGISTRY


def reset_registry() -> None:
    """Forget the registry (tests; after installing a plugin in-process)."""
    global _REGISTRY
    _REGISTRY = None


def takes_parameter(func: Callable[..., Any], name: str) -> bool:
    """Whether ``func`` names ``name`` among its parameters (``**kwargs`` does not count)."""
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def accepts_keyword(func: Callable[..., Any], name: str) -> bool:
    """Whether ``func`` takes ``name`` as a keyword (directly or through ``**kwargs``)."""
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


__all__ = ["Registry", "PluginEntry", "collect", "get_registry", "reset_registry", "accepts_keyword",
           "takes_parameter"]
