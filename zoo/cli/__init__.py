"""The ``zoo`` command line.

Sub-commands live in their own modules and are imported only when invoked (click's lazy-group
pattern), so ``zoo --help``, ``zoo list``, ``zoo show`` and ``zoo plugins`` never import
TensorFlow: only the runner does.
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
    "data": "zoo.cli.data_cmds:data_group",
    "bench": "zoo.cli.bench_cmds:bench_cmd",
    "runs": "zoo.cli.bench_cmds:runs_cmd",
    "compare": "zoo.cli.bench_cmds:compare_cmd",
    "report": "zoo.cli.report_cmds:report_cmd",
    "new-plugin": "zoo.cli.plugin_cmds:new_plugin_cmd",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on demand, turning ZooErrors into one-line messages."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, _, attribute = COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

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
