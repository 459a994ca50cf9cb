"""``zoo train``, ``zoo evaluate``, ``zoo predict``: the commands that need TensorFlow."""
from __future__ import annotations

import json

import click

from zoo.cli.common import catalogue, distribution_options, set_option, verbose
from zoo.output import to_json
from zoo.targets import own_overrides


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
    entry = cat.resolve(name, own_overrides(name, overrides))
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
    entry = cat.resolve(name, own_overrides(name, overrides))
    metrics = runner.evaluate(entry, cat.registry, quiet_tf=not verbose(ctx))
    if as_json:
        click.echo(to_json(metrics))
        return
    for split, values in metrics.items():
        click.echo(f"{split:<10} " + "  ".join(f"{k}={v:.4f}" for k, v in values.items()))


@click.command("predict")
@click.argument("name")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--top-k", type=click.IntRange(1), default=3, show_default=True,
              help="Classes shown per input (multiclass); --json keeps the whole output vector.")
@click.option("--runtime", type=click.Choice(["keras", "tflite", "onnx"]), default="keras", show_default=True,
              help="keras: model.keras; tflite / onnx: an export from `zoo export` (no TensorFlow is imported).")
@click.option("--quantize", "quantization", type=click.Choice(["none", "float16", "dynamic", "int8"]), default=None,
              help="Which TFLite export (default: the float32 one, else the first there is).")
@click.option("--model", "model_path", type=click.Path(), default=None,
              help="An exported file to run (e.g. one written with `zoo export -o PATH`).")
@click.option("--json", "as_json", is_flag=True, help="Print predictions as JSON, with the whole output vector.")
@click.pass_context
def predict_cmd(ctx: click.Context, name: str, inputs: tuple[str, ...], top_k: int, runtime: str,
                quantization: str | None, model_path: str | None, as_json: bool) -> None:
    """Predict with the saved model of entry NAME: labels with probabilities (binary: the class
    and its probability; regression: the value).

    INPUTS are numbers (one example each, comma-separated values, raw as the data files hold them:
    pixels 0-255; scaled as in training) or PNG/JPEG/NPY files. Only the trained model's folder is
    read: the dataset and its data folder are not needed. Put `--` before negative numbers."""
    from zoo.artifacts import model_dir
    from zoo.errors import NotTrainedError, UnknownNameError
    from zoo.predict import predict

    try:
        results = predict(name, list(inputs), runtime, top_k, quantization, model_path, quiet_tf=not verbose(ctx))
    except NotTrainedError:
        names = catalogue(ctx).names()
        if not model_dir(name).exists() and name not in names:  # a typo says so, with suggestions
            raise UnknownNameError("entry", name, names) from None
        raise
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    for result in results:
        if "top" in result:
            shown = ", ".join(f"{t['label']} {t['probability']:.4f}" for t in result["top"])
        else:
            values = result["output"]
            shown = ", ".join(f"{v:.4f}" for v in values) if len(values) <= 10 else f"{len(values)} values"
        click.echo(f"{result['input']}\t{shown}")
