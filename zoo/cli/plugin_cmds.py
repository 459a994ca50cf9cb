"""``zoo new-plugin``: scaffold a third-party plugin package (no TensorFlow)."""
from __future__ import annotations

import click


@click.command("new-plugin")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--description", help="One line for the package metadata and README.")
def new_plugin_cmd(path: str, description: str | None) -> None:
    """Create a plugin package in folder PATH (its last part names the plugin): pyproject.toml
    with the `zoo` entry point, one architecture, dataset, callback and entry, and a test that
    checks them against the plugin contract. `pip install -e PATH && pytest PATH` pass at once."""
    from zoo.scaffold import new_plugin

    names, written = new_plugin(path, description)
    click.echo(f"created plugin {names.plugin!r} (distribution {names.distribution}, package {names.package}) in {path}:")
    for file in written:
        click.echo(f"  {file}")
    click.echo("next:")
    click.echo(f"  pip install -e {path}")
    click.echo(f"  zoo plugins && zoo list '{names.plugin}-*'")
    click.echo(f"  pytest {path}")
