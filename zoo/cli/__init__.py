"""The ``zoo`` command line.

Sub-commands live in their own modules and are imported only when invoked (click's lazy-group
pattern), so ``zoo --help``, ``zoo list``, ``zoo show`` and ``zoo plugins`` never import
TensorFlow: only the runner does. Plugins add commands through the ``register_commands`` hook;
those are loaded only when a name zoo does not ship is asked for, or by ``zoo --help``.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from zoo import __version__
from zoo.errors import ZooError

#: command name → "module:attribute", imported on first use.
COMMANDS: dict[str, str] = {
    "list": "zoo.cli.catalogue_cmds:list_cmd",
    "show": "zoo.cli.catalogue_cmds:show_cmd",
    "plugins": "zoo.cli.catalogue_cmds:plugins_cmd",
    "train": "zoo.cli.model_cmds:train_cmd",
    "evaluate": "zoo.cli.model_cmds:evaluate_cmd",
    "predict": "zoo.cli.model_cmds:predict_cmd",
    "export": "zoo.cli.export_cmds:export_cmd",
    "bench-inference": "zoo.cli.inference_cmds:bench_inference_cmd",
    "data": "zoo.cli.data_cmds:data_group",
    "bench": "zoo.cli.bench_cmds:bench_cmd",
    "runs": "zoo.cli.bench_cmds:runs_cmd",
    "compare": "zoo.cli.bench_cmds:compare_cmd",
    "report": "zoo.cli.report_cmds:report_cmd",
    "tune": "zoo.cli.tune_cmds:tune_cmd",
    "new-plugin": "zoo.cli.plugin_cmds:new_plugin_cmd",
}


class PluginLoadError(click.ClickException):
    """A plugin failure that is fatal (``ZOO_STRICT_PLUGINS=1``) while click resolves commands
    (``zoo --help`` included): printed as zoo prints its errors, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"zoo: error: {self.message}", err=True)


class LazyGroup(click.Group):
    """A group whose commands are imported on demand, turning ZooErrors into one-line messages.

    Commands that plugins add (``register_commands``) are loaded only when a name that is not
    zoo's own is asked for, or the whole list is (``zoo --help``): ``zoo list`` never loads them.
    """

    def builtin_commands(self) -> list[str]:
        """zoo's own command names: no plugin may take one."""
        return sorted({*self.commands, *COMMANDS})

    def plugin_commands(self, ctx: click.Context) -> dict[str, tuple[str, click.Command]]:
        """``name → (plugin, command)`` for the commands plugins add, loaded on first use; a
        plugin whose ``register_commands`` fails is reported once on stderr and left out."""
        from zoo.registry import get_registry

        try:
            registry = get_registry()
            before = {r.name for r in registry.failed_plugins}
            conflicts_before = set(registry.conflicts)
            commands = registry.commands(reserved=self.builtin_commands())
        except ZooError as exc:  # ZOO_STRICT_PLUGINS=1
            raise PluginLoadError(str(exc)) from exc
        for record in registry.failed_plugins:
            if record.name not in before:
                click.echo(f"zoo: warning: plugin {record.name!r} ({record.module}) failed: {record.error}", err=True)
        for kind, name in sorted(set(registry.conflicts) - conflicts_before):
            owners = " and ".join(registry.conflicts[kind, name])
            click.echo(f"zoo: warning: {kind} {name!r} is added by plugins {owners}; neither is used", err=True)
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.builtin_commands(), *self.plugin_commands(ctx)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, _, attribute = COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attribute)
        command = super().get_command(ctx, name)
        if command is None:
            command = self.plugin_commands(ctx).get(name, (None, None))[1]
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """zoo's own commands, then the plugins' under their own heading, naming the plugin."""
        plugin_commands = self.plugin_commands(ctx)
        sections: list[tuple[str, list[tuple[str, click.Command, str]]]] = [
            ("Commands", [(name, cmd, "") for name in self.builtin_commands()
                          if (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden]),
            ("Plugin commands", [(name, cmd, f" [plugin {plugin}]")
                                 for name, (plugin, cmd) in sorted(plugin_commands.items()) if not cmd.hidden]),
        ]
        for title, rows in sections:
            if rows:
                width = max(len(name) for name, _, _ in rows)
                with formatter.section(title):
                    formatter.write_dl([
                        (name, cmd.get_short_help_str(formatter.width - 6 - width - len(suffix)) + suffix)
                        for name, cmd, suffix in rows
                    ])

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            from zoo.errors import suggest

            close = suggest(args[0], self.list_commands(ctx)) if args else []
            if close and "No such command" in str(exc):
                raise click.UsageError(f"{exc.message} Did you mean {' or '.join(close)}?", ctx) from None
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as exc:
            click.echo(f"zoo: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoo")
@click.option(
    "--registry", "registries", multiple=True, type=click.Path(dir_okay=False),
    help="A user catalogue (registry.toml format) merged over the packaged one; repeatable. "
         "Also read from ZOO_REGISTRY.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's start-up notices and more detail.")
@click.pass_context
def cli(ctx: click.Context, registries: tuple[str, ...], verbose: bool) -> None:
    """zoo: a plugin-based model zoo for TensorFlow/Keras.

    Entries in the catalogue bind an architecture, a dataset, callbacks and a recipe;
    every part comes from a plugin (`zoo plugins`).
    """
    from zoo.output import configure_output

    configure_output(verbose)
    ctx.ensure_object(dict)
    ctx.obj["registries"] = registries
    ctx.obj["verbose"] = verbose


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="zoo")
    except KeyboardInterrupt:
        click.echo("zoo: interrupted", err=True)
        sys.exit(130)
