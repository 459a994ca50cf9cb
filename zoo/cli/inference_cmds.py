"""``zoo bench-inference``: trained entries' inference per format and runtime, in the bench history."""
from __future__ import annotations

import click

from zoo.cli.common import verbose


@click.command("bench-inference")
@click.argument("names", nargs=-1, required=True)
@click.option("--formats", default="keras,saved_model,tflite,tflite-int8,onnx", show_default=True,
              help="Comma-separated: keras (model.predict, direct call, tf.function), saved_model, tflite, "
                   "tflite-float16, tflite-dynamic, tflite-int8, onnx.")
@click.option("--repeats", type=click.IntRange(1), default=200, show_default=True,
              help="Timed batch-1 calls per runtime, the runtimes interleaved call by call (after 10 warm-up "
                   "calls each; fewer if --max-seconds runs out).")
@click.option("--max-seconds", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Time budget of the batch-1 latency rounds, all runtimes together (at least 20 calls each).")
@click.option("--examples", type=click.IntRange(1), default=None,
              help="Evaluation examples scored per runtime [default: the whole test, else validation, split].")
@click.option("--threads", type=click.IntRange(1), default=None,
              help="Threads for LiteRT and ONNX Runtime [default: the usable CPUs; TensorFlow uses its own].")
@click.option("--no-store", is_flag=True, help="Do not keep the rows in the benchmark history.")
@click.option("--format", "fmt", default="simple", show_default=True,
              help="Output format: json, csv, or a tabulate table format (github, plain, simple...).")
@click.pass_context
def bench_inference_cmd(ctx: click.Context, names: tuple[str, ...], formats: str, repeats: int, max_seconds: float,
                        examples: int | None, threads: int | None, no_store: bool, fmt: str) -> None:
    """Measure the inference of trained entries NAMES, per format and runtime: model size,
    accuracy on the test (else validation) split, batch-1 latency (p50, p99) and batch-64
    throughput; missing exports are made first (`zoo export`, parity checked). Rows join the
    benchmark history (`zoo runs`, `zoo compare`, `zoo report`)."""
    import sys

    from zoo import report
    from zoo.inference_bench import InferenceOptions, parse_formats, run_inference_bench

    if fmt not in report.table_formats():
        raise click.BadParameter(f"unknown format {fmt!r}", param_hint="--format")
    chosen = parse_formats(formats)
    options = InferenceOptions(repeats=repeats, max_seconds=max_seconds, examples=examples, threads=threads)

    def progress(row: dict) -> None:
        if fmt not in ("json", "csv"):
            state = "ok" if row.get("status") == "ok" else f"failed: {row.get('error')}"
            click.echo(f"zoo: {row['entry']}: {row.get('runtime')} ({row.get('format')}, "
                       f"{row.get('quantization')}): {state}", err=True)

    run_id, rows = run_inference_bench(list(names), chosen, options, store=not no_store,
                                       command="zoo bench-inference " + " ".join(sys.argv[2:]),
                                       quiet_tf=not verbose(ctx), on_row=progress)
    click.echo(report.render([dict(r) for r in rows], fmt))
    if run_id is not None and fmt not in ("json", "csv"):
        click.echo(f"zoo: stored as run #{run_id} (zoo runs {run_id}, zoo report {run_id})", err=True)
    if any(r.get("status") != "ok" for r in rows):
        ctx.exit(1)
