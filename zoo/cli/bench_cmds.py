"""``zoo bench``, ``zoo runs``, ``zoo compare``: benchmarks, their history, regressions.

None of these import TensorFlow in this process: ``zoo bench`` trains every entry in a worker
subprocess (``python -m zoo.bench_worker``), here or as a Ray task on a cluster
(``--executor ray``), so this module stays light.
"""
from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from zoo.cli.common import catalogue, distribution_options, set_option, verbose
from zoo.errors import ZooError
from zoo.targets import check_targets


class _FormatType(click.ParamType):
    """``--format``: any tabulate format, json or csv (checked lazily: tabulate on demand)."""

    name = "format"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        from zoo.report import table_formats

        value = str(value)
        if value == "table":
            return "simple"
        known = table_formats()
        if value not in known:
            self.fail(f"{value!r} is not a format; use one of: {', '.join(known)}", param, ctx)
        return value


FORMAT = _FormatType()


def _format_option(func: Any) -> Any:
    return click.option("--format", "fmt", type=FORMAT, default="simple", show_default=True,
                        help="json, csv, or any tabulate table format (github, plain, grid, pipe, …).")(func)


@click.command("bench")
@click.argument("patterns", nargs=-1)
@click.option("--all", "all_entries", is_flag=True, help="Benchmark every entry in the catalogue.")
@click.option("--tag", default=None, help="Only entries with this tag.")
@click.option("--exclude", multiple=True, metavar="PATTERN", help="Skip entries matching PATTERN; repeatable.")
@set_option
@click.option("--sweep", "sweeps", multiple=True, metavar="[ENTRY:]KEY=V1,V2",
              help="Run the grid of these overrides (as --set), one row per point, labelled with its "
                   "overrides; repeatable: --sweep learning_rate=0.001,0.01 --sweep batch_size=32,64 is 4 points. "
                   "ENTRY:KEY=V1,V2 sweeps that entry only.")
@click.option("--repeats", type=click.IntRange(1), default=1, show_default=True,
              help="Runs per entry (seeds seed, seed+1, …); the table shows medians ± stdev.")
@distribution_options
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: worker processes here, one after another. ray: one Ray task per row, "
                   "with the entry's resources (pip install 'zoo-models[ray]').")
@click.option("--address", default=None, metavar="HOST:PORT",
              help="The Ray cluster to run on (`ray start --head` prints it); without it, "
                   "--executor ray starts a Ray on this machine.")
@click.option("--timeout", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Stop an entry's run after SECONDS (the row says 'timed out').")
@_format_option
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a PNG: validation accuracy against training wall time.")
@click.option("--save", is_flag=True, help="Also save the trained models under ZOO_HOME/models (as `zoo train`).")
@click.option("--no-store", is_flag=True, help="Do not record this run in the history database.")
@click.option("--note", default="", help="A note stored with the run (shown by `zoo runs`).")
@click.pass_context
def bench_cmd(ctx: click.Context, patterns: tuple[str, ...], all_entries: bool, tag: str | None,
              exclude: tuple[str, ...], overrides: tuple[str, ...], sweeps: tuple[str, ...], repeats: int,
              strategy: str, cpu_devices: int | None, executor: str, address: str | None, timeout: float | None,
              fmt: str, plot_path: str | None, save: bool, no_store: bool, note: str) -> None:
    """Train and evaluate entries with their catalogue recipes and compare them side by side.

    PATTERNS are entry names or shell patterns (fashion-*). Each entry runs in its own process:
    one that fails is reported in its row and the others still run. Progress goes to stderr,
    the table to stdout, and every finished row to the history database (ZOO_HOME/bench.sqlite)
    at once. Exit status: 0 when every entry ran, 1 when one failed.
    """
    from zoo import bench, report
    from zoo.environment import base_environment
    from zoo.executors import executor_for

    cat = catalogue(ctx)
    if all_entries:
        patterns = ("*",)
    if not patterns and not tag:
        raise click.UsageError("name entries or patterns to benchmark (e.g. `zoo bench fashion-*`), or use --all")
    names = cat.expand(patterns or ("*",))
    if tag or exclude:
        allowed = {row["name"] for row in cat.list(tag=tag, exclude=exclude)}
        names = [n for n in names if n in allowed]
    if not names:
        raise ZooError(f"no entry matches {' '.join(patterns) or '*'}" + (f" with tag {tag!r}" if tag else ""))
    check_targets(overrides, names, "--set")  # a wrong ENTRY: prefix stops here, before anything runs
    check_targets(sweeps, names, "--sweep")
    root = ctx.find_root().obj or {}
    runner = executor_for(executor, address)
    points = [len(bench.sweep_points(sweeps, name)) for name in names]
    options = bench.BenchOptions(overrides=overrides, registries=tuple(root.get("registries", ())), repeats=repeats,
                                 strategy=strategy, cpu_devices=cpu_devices, timeout=timeout, save=save,
                                 verbose=verbose(ctx))
    store = run_id = None
    if not no_store:
        from zoo.store import open_store

        store = open_store()
        run_options = {"entries": names, "patterns": list(patterns), "overrides": list(overrides),
                       "registries": [str(p) for p in options.registries], "repeats": repeats,
                       "strategy": strategy, "cpu_devices": cpu_devices, "tag": tag, "sweep": list(sweeps),
                       "executor": executor, "address": address}
        run_id = store.start_run(command=shlex.join(["zoo", *sys.argv[1:]]), options=run_options,
                                 environment=base_environment(), note=note)
        grid = ((f" × {points[0]} sweep points" if len(set(points)) == 1 else f" ({sum(points)} sweep points in all)")
                if sweeps else "")
        click.echo(f"zoo: bench run #{run_id}: {len(names)} entr{'y' if len(names) == 1 else 'ies'}{grid} "
                   f"× {repeats} → {store.path}", err=True)
    env_stored = False

    def on_row(row: dict[str, Any], config: dict[str, Any]) -> None:
        nonlocal env_stored
        row["run_id"] = run_id
        if store is not None:
            store.add_row(run_id, row, config)  # committed now: a kill later loses nothing finished
            if not env_stored and row.get("environment"):
                store.update_environment(run_id, row["environment"])
                env_stored = True

    previous = bench._sigterm_as_interrupt()
    status = "failed"
    rows: list[dict[str, Any]] = []
    try:
        rows = bench.bench(names, cat, options, on_row=on_row, sweep=sweeps, executor=runner)
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)
        if store is not None:
            if status == "finished" and bench.trained_nothing(rows):
                # Every row failed before training (a bad path, an entry that does not resolve):
                # the history keeps measurements, not typos.
                store.delete_run(run_id)
                click.echo(f"zoo: nothing trained, so run #{run_id} is not kept in the history", err=True)
                run_id = None
            else:
                store.finish_run(run_id, status)
            store.close()
    summary = report.aggregate(rows)
    for row in summary:
        row["run_id"] = run_id
        row.pop("history", None)  # stored in the database; too long for a table or a JSON report
    click.echo(report.render(summary, fmt))
    failed = [r for r in summary if r.get("status") != "ok"]
    for row in failed:
        label = f" [{row['label']}]" if row.get("label") else ""
        click.echo(f"zoo: {row['entry']}{label}: {row.get('status')}: {row.get('error')}", err=True)
    if plot_path:
        try:
            from zoo.plots import plot_bench

            plot_bench(summary, plot_path)
            click.echo(f"zoo: plot written to {plot_path}", err=True)
        except ImportError:
            click.echo("zoo: note: matplotlib is not installed, so no plot (pip install 'zoo-models[plot]')", err=True)
    if failed:
        ctx.exit(1)


@click.command("runs")
@click.argument("run", required=False)
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="Show the newest N runs.")
@click.option("--entry", default=None, help="Only runs that benchmarked this entry.")
@_format_option
def runs_cmd(run: str | None, limit: int, entry: str | None, fmt: str) -> None:
    """List past benchmark runs, or show the rows of RUN (an id, `last`, `last~1`, …)."""
    from zoo import report
    from zoo.store import open_existing

    with open_existing() as store:
        if run is None:
            runs = store.runs(limit=limit, entry=entry)
            if not runs and fmt not in ("json", "csv"):
                click.echo("no benchmark runs stored yet", err=True)
                return
            click.echo(report.runs_table(runs, fmt))
            return
        info = store.run(run)
        rows = store.rows(info.id)
    if fmt not in ("json", "csv"):
        env = info.environment
        click.echo(f"run #{info.id} {info.status}, started {info.started_at}: {info.command}", err=True)
        click.echo(f"  {env.get('device') or env.get('cpu')}, TF {env.get('tensorflow', '?')}, "
                   f"Keras {env.get('keras', '?')}, zoo {info.zoo_version} {info.git_commit or ''}", err=True)
    summary = report.aggregate(rows)
    for row in summary:
        row.pop("history", None)
        if fmt != "json":
            row.pop("entry_config", None)
    click.echo(report.render(summary, fmt))


@click.command("compare")
@click.argument("baseline", required=False)
@click.argument("candidate", required=False)
@click.option("--against", default=None, metavar="RUN",
              help="The baseline run (e.g. `--against last~1`); then the one argument is the candidate.")
@click.option("--max-slowdown", type=click.FloatRange(min=0), default=0.10, show_default=True,
              help="Relative slowdown tolerated (train time, time to target, throughputs).")
@click.option("--max-accuracy-drop", type=click.FloatRange(min=0), default=0.005, show_default=True,
              help="Absolute accuracy drop tolerated (0.005 = half a point).")
@click.option("--max-error-increase", type=click.FloatRange(min=0), default=0.10, show_default=True,
              help="Relative increase of an error metric (mae, loss) tolerated, for regression entries.")
@_format_option
def compare_cmd(baseline: str | None, candidate: str | None, against: str | None, max_slowdown: float,
                max_accuracy_drop: float, max_error_increase: float, fmt: str) -> None:
    """Compare two benchmark runs entry by entry; exit 1 when the candidate regressed.

    \b
      zoo compare 3 7              run 3 is the baseline, run 7 the candidate
      zoo compare 7 --against 3    the same
      zoo compare last --against last~1
      zoo compare 3                run 3 against the latest run
      zoo compare                  the run before the latest against the latest

    Ratios are candidate / baseline. A regression is a run that failed, got slower beyond
    --max-slowdown, less accurate beyond --max-accuracy-drop (or, for regression tasks, more
    error beyond --max-error-increase), or no longer reaches its target. Exit status: 0 no
    regression, 1 a regression (or an error), so CI can gate on it.
    """
    from zoo import report
    from zoo.store import open_existing

    if against is not None:
        if candidate is not None:
            raise click.UsageError("give at most one run with --against")
        baseline, candidate = against, baseline or "last"
    else:
        if baseline is None:
            baseline = "last~1"
        if candidate is None:
            candidate = "last"
    with open_existing() as store:
        old, new = store.run(baseline), store.run(candidate)
        old_rows, new_rows = store.rows(old.id), store.rows(new.id)
    if old.id == new.id and fmt not in ("json", "csv"):
        click.echo(f"zoo: note: comparing run #{old.id} with itself", err=True)
    band = report.NoiseBand(max_slowdown, max_accuracy_drop, max_error_increase)
    results = report.compare(old_rows, new_rows, band)
    click.echo(f"zoo: baseline run #{old.id} ({old.started_at}), candidate run #{new.id} ({new.started_at})", err=True)
    for difference in report.environment_differences(old.environment, new.environment):
        click.echo(f"zoo: warning: environments differ, timings may not be comparable: {difference}", err=True)
    click.echo(report.render_comparison(results, fmt))
    regressions = [r["entry"] for r in results if r["regression"]]
    if regressions:
        click.echo(f"zoo: regression in {', '.join(regressions)}", err=True)
        sys.exit(1)
