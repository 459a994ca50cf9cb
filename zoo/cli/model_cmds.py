"""``zoo train``, ``zoo evaluate``, ``zoo predict``: the commands that need TensorFlow."""
from __future__ import annotations

import json

import click

from zoo.cli.common import catalogue, distribution_options, set_option, verbose
from zoo.output import to_json


@click.command("train")
@click.argument("name")
@set_option
@click.option("--quiet", is_flag=True, help="No Keras progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@distribution_options
@click.pass_context
def train_cmd(ctx: click.Context, name: str, overrides: tuple[str, ...], quiet: bool, as_json: bool,
              strategy: str, cpu_devices: int | None) -> None:
    """Train entry NAME and save it under ZOO_HOME/models/NAME (.keras, .weights.h5, history, curves).

    Under --strategy multiworker only the chief (worker 0) saves the model."""
    import os

    from zoo import runner
    from zoo.tfruntime import distribution_env

    cat = catalogue(ctx)
    entry = cat.resolve(name, overrides)
    os.environ.update(distribution_env(strategy, cpu_devices))  # read when TensorFlow starts, below
    result = runner.train(entry, cat.registry, verbose=0 if quiet else "auto", quiet_tf=not verbose(ctx),
                          strategy=strategy).result
    if as_json:
        click.echo(to_json(result.to_dict()))
        return
    click.echo(f"trained {entry.name}: {result.epochs} epoch(s) in {result.train_seconds:.1f}s, "
               f"{result.params_total:,} params")
    for split, values in result.metrics.items():
        click.echo(f"  {split:<10} " + "  ".join(f"{k}={v:.4f}" for k, v in values.items()))
    if result.time_to_target_seconds is not None and entry.target:
        click.echo(f"  target {entry.target.metric} reached after {result.time_to_target_seconds:.1f}s")
    click.echo(f"  saved to {result.model_dir}" if result.model_dir else "  not saved (not the chief worker)")


@click.command("evaluate")
@click.argument("name")
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.pass_context
def evaluate_cmd(ctx: click.Context, name: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """Evaluate the saved model of entry NAME on every split of its dataset."""
    from zoo import runner

    cat = catalogue(ctx)
    entry = cat.resolve(name, overrides)
    metrics = runner.evaluate(entry, cat.registry, quiet_tf=not verbose(ctx))
    if as_json:
        click.echo(to_json(metrics))
        return
    for split, values in metrics.items():
        click.echo(f"{split:<10} " + "  ".join(f"{k}={v:.4f}" for k, v in values.items()))


@click.command("predict")
@click.argument("name")
@click.argument("inputs", nargs=-1, required=True)
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print predictions as JSON.")
@click.pass_context
def predict_cmd(ctx: click.Context, name: str, inputs: tuple[str, ...], overrides: tuple[str, ...], as_json: bool) -> None:
    """Predict with the saved model of entry NAME. INPUTS are numbers (comma-separated for
    several values per example) or files the dataset can decode (e.g. images)."""
    from zoo.predict import predict

    cat = catalogue(ctx)
    entry = cat.resolve(name, overrides)
    outputs = predict(entry, cat.registry, list(inputs), quiet_tf=not verbose(ctx))
    if as_json:
        click.echo(json.dumps([{"input": i, "output": o} for i, o in zip(inputs, outputs, strict=True)], indent=2))
        return
    for item, output in zip(inputs, outputs, strict=True):
        values = output if isinstance(output, list) else [output]
        shown = ", ".join(f"{v:.4f}" for v in values) if len(values) <= 10 else f"{len(values)} values"
        click.echo(f"{item}\t{shown}")
