"""``zoo export``: a trained entry as a SavedModel, a TFLite or an ONNX file, with a parity check."""
from __future__ import annotations

import click

from zoo.cli.common import verbose


@click.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["saved_model", "tflite", "onnx"]), required=True,
              help="saved_model (Keras's model.export), tflite (TFLite converter, LiteRT runtime) or onnx "
                   "(tf2onnx, ONNX Runtime).")
@click.option("--quantize", "quantization", type=click.Choice(["none", "float16", "dynamic", "int8"]), default="none",
              show_default=True,
              help="TFLite only: float16 weights; dynamic-range int8 weights; int8 = full integer, calibrated on a "
                   "sample of the training split.")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Where to write it (default: ZOO_HOME/models/NAME/export/, where zoo predict --runtime finds it).")
@click.option("--max-diff", type=click.FloatRange(min=0), default=None,
              help="Largest absolute output difference from the Keras model allowed [default: 1e-4 for float "
                   "formats; for quantized ones checked only when given].")
@click.option("--min-agreement", type=click.FloatRange(0, 1), default=0.98, show_default=True,
              help="Quantized classifiers: share of examples whose top-1 class matches the Keras model's.")
@click.option("--max-rel-diff", type=click.FloatRange(min=0), default=0.05, show_default=True,
              help="Quantized regression models: largest difference as a share of the largest output.")
@click.option("--examples", type=click.IntRange(1), default=256, show_default=True,
              help="Test examples the parity check runs (the test split, else validation, else train).")
@click.option("--calibration", type=click.IntRange(1), default=200, show_default=True,
              help="int8: training examples (a seeded random sample) the quantization is calibrated on.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def export_cmd(ctx: click.Context, name: str, fmt: str, quantization: str, output: str | None, max_diff: float | None,
               min_agreement: float, max_rel_diff: float, examples: int, calibration: int, as_json: bool) -> None:
    """Export the trained model of entry NAME and check it against the Keras model.

    The export and the Keras model run on the same test examples: a float format must agree
    within --max-diff, a quantized one on the top-1 class of --min-agreement of them. The parity
    line is printed; past a tolerance the command exits 1 (the file is kept, to inspect).
    Needs the entry's dataset (test examples; training examples for int8 calibration)."""
    from zoo.errors import ZooError
    from zoo.export import export
    from zoo.output import to_json

    result = export(name, fmt, quantization, output, max_diff=max_diff, min_agreement=min_agreement,
                    max_rel_diff=max_rel_diff, examples=examples, calibration=calibration, quiet_tf=not verbose(ctx))
    if as_json:
        click.echo(to_json(result.to_dict()))
    else:
        label = fmt if quantization == "none" else f"{fmt} ({quantization})"
        click.echo(f"exported {name} as {label}: {result.path}, {result.size_bytes:,} bytes in {result.seconds:.1f}s")
        click.echo(f"  {result.parity.line()}")
    if not result.parity.passed:
        raise ZooError(f"parity check failed for {name} as {fmt} ({quantization}): {result.parity.line()}; "
                       f"the file is kept at {result.path}")
