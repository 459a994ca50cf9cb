"""Helpers shared by the CLI commands: loading the catalogue, warnings, output formats."""
from __future__ import annotations

from typing import Any

import click

from zoo.catalogue import Catalogue, load_catalogue
from zoo.registry import get_registry

FORMATS = ("table", "json", "csv", "github", "plain", "simple", "grid", "pipe", "rst", "html", "tsv")


def catalogue(ctx: click.Context, warn: bool = True) -> Catalogue:
    """The catalogue for this command (user catalogues from ``--registry`` included);
    failed plugins are reported once on stderr, never fatal unless strict."""
    obj = ctx.find_root().obj or {}
    if "catalogue" not in obj:
        registry = get_registry()
        obj["catalogue"] = load_catalogue(registry, obj.get("registries", ()))
        if warn:
            for record in registry.failed_plugins:
                click.echo(f"zoo: warning: plugin {record.name!r} ({record.module}) failed: {record.error}", err=True)
            for (kind, name), owners in sorted(registry.conflicts.items()):
                click.echo(f"zoo: warning: {kind} {name!r} is registered by plugins {' and '.join(owners)}; neither is used", err=True)
            for name, origins in sorted(obj["catalogue"].conflicts.items()):
                click.echo(f"zoo: warning: entry {name!r} is defined twice ({' and '.join(origins)}); it cannot be used", err=True)
    return obj["catalogue"]


def verbose(ctx: click.Context) -> bool:
    return bool((ctx.find_root().obj or {}).get("verbose"))


def distribution_options(func: Any) -> Any:
    """``--strategy`` and ``--cpu-devices``, shared by ``zoo bench`` and ``zoo train``."""
    from zoo.tfruntime import STRATEGIES

    func = click.option(
        "--cpu-devices", type=click.IntRange(1), default=None,
        help="Split the host CPU into N logical devices (ZOO_CPU_DEVICES), e.g. for --strategy mirrored without GPUs.")(func)
    return click.option(
        "--strategy", type=click.Choice(STRATEGIES), default="default", show_default=True,
        help="tf.distribute strategy; batch_size stays global (split across replicas). "
             "multiworker: run the same command on every machine in TF_CONFIG.")(func)


def set_option(func: Any) -> Any:
    return click.option(
        "--set", "overrides", multiple=True, metavar="[ENTRY:]KEY=VALUE",
        help="Override a field for this command, e.g. --set epochs=1 --set architecture.units=512 "
             "--set dataset.data_dir=PATH; repeatable, applied in order (a later one wins). "
             "ENTRY:KEY=VALUE applies to that entry only, e.g. zoo bench hello-dense fashion-dense "
             "--set fashion-dense:epochs=1; the ENTRY must be one the command runs.",
    )(func)


def format_option(default: str = "table", choices: tuple[str, ...] = FORMATS) -> Any:
    return click.option(
        "--format", "fmt", default=default, show_default=True,
        type=click.Choice(choices),
        help="Output format: json, csv, or a tabulate table format.",
    )


def emit(rows: list[dict[str, Any]], columns: list[str], fmt: str) -> None:
    """Rows as a table of ``columns``, JSON (full rows) or CSV (the columns): :mod:`zoo.output`."""
    from zoo.output import render_records

    click.echo(render_records(rows, fmt, columns=columns))
