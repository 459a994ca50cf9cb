"""Finding and loading plugins, each in isolation.

Plugins are found through the ``zoo`` entry-point group, zoo's own included. A plugin that fails
to import, does not validate against the hookspecs (e.g. a misspelled hook) or raises in a hook is
recorded as failed and left out; every other plugin still works. ``ZOO_STRICT_PLUGINS=1`` turns
such a failure into an error; ``ZOO_DISABLE_PLUGINS=a,b`` skips plugins by name. Commands that
plugins add (``register_commands``) are collected the same way, but only when the CLI needs them
(:func:`collect_commands`).
"""
from __future__ import annotations

import difflib
import importlib.metadata as metadata
from dataclasses import dataclass, field
from collections.abc import Collection
from typing import Any

import pluggy

from zoo import PROJECT_NAME, hookspecs, settings
from zoo.errors import ConflictError, PluginError

ENTRY_POINT_GROUP = "zoo"


@dataclass
class PluginRecord:
    """What ``zoo plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"  # ok | failed | disabled
    error: str | None = None
    first_party: bool = False
    registered: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "first_party": self.first_party,
            "registered": {k: sorted(v) for k, v in sorted(self.registered.items())},
        }


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """Hook names the plugin implements that no spec declares (check_pending, per plugin)."""
    problems = []
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.spec is None:
            close = difflib.get_close_matches(caller.name, hookspecs.HOOK_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown hook {caller.name!r}{hint}")
    return problems


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def register_plugin(
    pm: pluggy.PluginManager, plugin: object, record: PluginRecord, strict: bool
) -> bool:
    """Register one loaded plugin object; on a validation error, record it and leave it out."""
    try:
        pm.register(plugin, name=record.name)
        problems = _unknown_hooks(pm, plugin)
        if problems:
            pm.unregister(plugin)
            raise pluggy.PluginValidationError(plugin, "; ".join(problems))
    except (pluggy.PluginValidationError, ValueError) as exc:
        message = " ".join(str(exc).split())  # pluggy's message spans lines; a record holds one
        record.status, record.error = "failed", f"invalid plugin: {message}"
        if strict:
            raise PluginError(f"plugin {record.name!r} ({record.module}): {record.error}") from exc
        return False
    return True


def load_plugins(
    extra: list[tuple[str, object]] | None = None,
    strict: bool | None = None,
    disabled: set[str] | None = None,
    entry_points: bool = True,
) -> tuple[pluggy.PluginManager, list[PluginRecord]]:
    """Load every ``zoo`` entry point (plus ``extra`` ``(name, object)`` pairs, for tests).

    ``entry_points=False`` loads only ``extra``: a registry made of exactly the given plugins.

    Returns the plugin manager and one record per plugin, sorted by name. Never raises for a
    broken plugin unless ``strict`` (default: ``ZOO_STRICT_PLUGINS``).
    """
    strict = settings.strict_plugins() if strict is None else strict
    disabled = settings.disabled_plugins() if disabled is None else disabled
    pm = new_plugin_manager()
    records: list[PluginRecord] = []

    found = metadata.entry_points(group=ENTRY_POINT_GROUP) if entry_points else []
    for ep in sorted(found, key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        same_name = [r for r in records if r.name == ep.name]
        if same_name:
            if same_name[0].module == ep.value:
                continue  # the same distribution seen twice on sys.path
            # Two distributions chose one entry-point name: load neither (order must not matter).
            for record in same_name:
                record.status = "failed"
                record.error = f"entry-point name {ep.name!r} is also used by {ep.value}"
                if pm.has_plugin(ep.name):
                    pm.unregister(name=ep.name)
            records.append(PluginRecord(
                name=ep.name, module=ep.value, distribution=dist.metadata["Name"] if dist else None,
                version=dist.version if dist else None, status="failed",
                error=f"entry-point name {ep.name!r} is also used by {same_name[0].module}",
            ))
            continue
        record = PluginRecord(
            name=ep.name,
            module=ep.value,
            distribution=dist.metadata["Name"] if dist else None,
            version=dist.version if dist else None,
            first_party=ep.value.split(":")[0].split(".")[0] == "zoo_plugins",
        )
        records.append(record)
        if ep.name in disabled:
            record.status = "disabled"
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # any import-time failure of third-party code
            record.status, record.error = "failed", f"import failed: {_describe(exc)}"
            if strict:
                raise PluginError(f"plugin {ep.name!r} ({ep.value}): {record.error}") from exc
            continue
        register_plugin(pm, plugin, record, strict)

    for name, plugin in extra or []:
        record = PluginRecord(name=name, module=getattr(plugin, "__name__", repr(plugin)))
        records.append(record)
        if name in disabled:
            record.status = "disabled"
            continue
        register_plugin(pm, plugin, record, strict)

    pm.check_pending()  # every remaining plugin was validated above; this is a safety net
    records.sort(key=lambda r: r.name)
    return pm, records


def hook_impl(pm: pluggy.PluginManager, hook_name: str, plugin: object) -> Any:
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        if impl.plugin is plugin:
            return impl
    return None


def plugin_commands(
    pm: pluggy.PluginManager,
    plugin: object,
    record: PluginRecord,
    reserved: Collection[str] = (),
    strict: bool = False,
) -> dict[str, Any] | None:
    """Call one plugin's ``register_commands`` on a staging group of its own.

    Returns the ``click`` commands it added (name → command), ``{}`` when it does not implement
    the hook, or ``None`` when it failed: it raised, added something that is not a
    ``click.Command`` or a name in ``reserved`` (zoo's own commands). A failure is recorded on
    ``record`` (status ``failed``, the error naming the hook) and nothing the hook added is kept,
    even what it added before raising; under ``strict`` it raises :class:`PluginError`.
    """
    impl = hook_impl(pm, "register_commands", plugin)
    if impl is None:
        return {}
    import click

    staging = click.Group(PROJECT_NAME)
    try:
        impl.function(cli=staging)
        error = None
        for name, command in staging.commands.items():
            if not isinstance(command, click.Command):
                error = f"register_commands added {name!r}, a {type(command).__name__}, not a click.Command"
            elif name in reserved:
                error = (f"register_commands added command {name!r}, which is zoo's own "
                         f"`{PROJECT_NAME} {name}`; zoo's is kept, rename the plugin's")
            if error:
                break
    except Exception as exc:  # third-party code: isolate whatever it raises
        error = f"register_commands raised {_describe(exc)}"
    if error is not None:
        record.status, record.error = "failed", error
        if strict:
            raise PluginError(f"plugin {record.name!r}: {error}")
        return None
    if staging.commands:
        record.registered["command"] = sorted(staging.commands)
    return dict(staging.commands)


def collect_commands(
    pm: pluggy.PluginManager,
    records: list[PluginRecord],
    reserved: Collection[str] = (),
    strict: bool = False,
) -> tuple[dict[str, tuple[str, Any]], dict[str, list[str]]]:
    """Every loaded plugin's commands, each plugin called in isolation (:func:`plugin_commands`).

    Returns ``name → (plugin, command)`` and the conflicts: ``name → plugins`` for a name two
    plugins added, which neither gets (plugin order never matters). Plugins whose other hooks
    failed are skipped: a failed plugin adds nothing.
    """
    by_name = {r.name: r for r in records}
    claims: dict[str, list[tuple[str, Any]]] = {}
    for plugin_name in sorted(name for name, _ in pm.list_name_plugin()):
        record = by_name.get(plugin_name)
        if record is None or record.status != "ok":
            continue
        added = plugin_commands(pm, pm.get_plugin(plugin_name), record, reserved, strict)
        for name, command in (added or {}).items():
            claims.setdefault(name, []).append((plugin_name, command))
    commands, conflicts = {}, {}
    for name, owners in sorted(claims.items()):
        if len(owners) > 1:
            conflicts[name] = sorted(plugin for plugin, _ in owners)
            if strict:
                raise ConflictError(f"command {name!r} is added by plugins " + " and ".join(
                    repr(p) for p in conflicts[name]))
        else:
            commands[name] = owners[0]
    return commands, conflicts
