"""``zoo tune``: search catalogue keys with Ray Tune on validation data, retrain the best
configuration once and score it on the test split, and optionally write it as a catalogue variant.

Neither TensorFlow nor Ray is imported here: the search (:mod:`zoo.tune`) imports Ray when it
runs, the trials and the retrain import TensorFlow in processes of their own.
"""
from __future__ import annotations

import fcntl
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from zoo.cli.common import catalogue, set_option, verbose
from zoo.errors import CatalogueError, ZooError
from zoo.targets import own_overrides


def variant_text(name: str, base: str, overrides: list[str], comment: str) -> str:
    """A catalogue variant: ``extends = BASE`` plus ``overrides`` (``KEY=VALUE``, later ones win),
    as a ``[entries.NAME]`` table in registry.toml format."""
    from zoo.catalogue import parse_override
    from zoo.tune import toml_text

    fields: dict[str, Any] = {}
    for item in overrides:
        path, value = parse_override(item)
        if path[0] in ("callbacks", "extends"):
            raise CatalogueError(f"cannot write {item!r} into a variant: set {path[0]} in the file by hand")
        fields[".".join(path)] = value
    lines = [f"# {comment}", f"[entries.{name}]", f"extends = {toml_text(base)}"]
    lines += [f"{key} = {toml_text(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def append_variant(path: Path, name: str, text: str, check: Any) -> None:
    """Append ``text`` (one ``[entries.NAME]`` table) to the catalogue file ``path`` (created if
    missing) under an exclusive lock, after checking that the file with it still parses, that it
    has no entry ``name`` yet, and that ``check(file)`` resolves the entry there."""
    import tomllib

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two zoo tune runs writing one file do not interleave
        handle.seek(0)
        old = handle.read()
        try:
            entries = tomllib.loads(old).get("entries", {}) if old.strip() else {}
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{path} is not valid TOML ({exc}); nothing written") from None
        if name in entries:
            raise CatalogueError(f"{path} already has an entry {name!r}; pick another --write-entry name")
        new = old + ("" if not old or old.endswith("\n") else "\n") + ("\n" if old.strip() else "") + text
        with tempfile.TemporaryDirectory(prefix="zoo-variant-") as tmp:
            trial = Path(tmp) / path.name
            trial.write_text(new, encoding="utf-8")
            check(trial)
        handle.seek(0, os.SEEK_END)
        handle.write(new[len(old):])
        handle.flush()
        os.fsync(handle.fileno())


def _trials_table(outcome: Any) -> list[dict[str, Any]]:
    from zoo.report import number_text

    rows = []
    order = sorted(outcome.trials, key=lambda t: (t.value is None, -(t.value or 0) if outcome.mode == "max" else (t.value or 0)))
    for trial in order:
        rows.append({"trial": trial.number, **{k: v for k, v in trial.config.items()},
                     outcome.metric: number_text(trial.value, 4), "epochs": trial.epochs,
                     "status": trial.status + (f": {trial.error}" if trial.error else ""),
                     "best": "*" if outcome.best is trial else ""})
    return rows


@click.command("tune")
@click.argument("name")
@click.option("--space", "space_items", multiple=True, required=True, metavar="KEY=SPEC",
              help="A catalogue key to search and how: loguniform(1e-4,1e-2), uniform(a,b), randint(a,b) "
                   "(a ≤ n < b) or choice(32,64,128); repeatable.")
@click.option("--trials", type=click.IntRange(1), default=8, show_default=True, help="Configurations to try.")
@click.option("--scheduler", type=click.Choice(["fifo", "asha"]), default="fifo", show_default=True,
              help="asha: stop poor trials early (after 1, 2, 4, … epochs).")
@click.option("--metric", default=None,
              help="The validation metric to select by (accuracy = val_accuracy); default: the entry's first metric.")
@click.option("--address", default=None, metavar="HOST:PORT",
              help="The Ray cluster to run the trials on; without it, a Ray started on this machine.")
@set_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random search.")
@click.option("--max-concurrent", type=click.IntRange(1), default=None, help="At most N trials at once.")
@click.option("--write-entry", "write_entry", default=None, metavar="NAME",
              help="Write the best configuration as catalogue entry NAME (extends the entry) into --registry FILE.")
@click.option("--registry", "registry_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="The catalogue file --write-entry appends to (created if missing).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--no-store", is_flag=True, help="Do not record the retrain in the history database.")
@click.pass_context
def tune_cmd(ctx: click.Context, name: str, space_items: tuple[str, ...], trials: int, scheduler: str,
             metric: str | None, address: str | None, overrides: tuple[str, ...], seed: int,
             max_concurrent: int | None, write_entry: str | None, registry_file: str | None, fmt: str,
             no_store: bool) -> None:
    """Search catalogue keys of entry NAME with Ray Tune, scored on validation data only.

    \b
      zoo tune fashion-cnn --space 'learning_rate=loguniform(1e-4,1e-2)' \\
          --space 'batch_size=choice(32,64,128)' --trials 8 --scheduler asha \\
          --set epochs=2 --write-entry fashion-cnn-tuned --registry my.toml

    Trials hold validation out of the training split (the recipe's validation_split, else 0.1)
    and never see the test split. The best configuration is then trained once more on the
    whole training split and scored on the test split, stored in the history with its
    configuration (`zoo runs`). Ray's files live under ZOO_HOME (tune/, ray/).
    """
    import json

    from zoo import bench, report, tune
    from zoo.environment import base_environment
    from zoo.executors import executor_for
    from zoo.output import json_safe, render_records

    if bool(write_entry) != bool(registry_file):
        raise click.UsageError("--write-entry NAME and --registry FILE go together")
    space = tune.parse_space(space_items)
    overrides = tuple(own_overrides(name, overrides))  # NAME:KEY=VALUE is NAME's, as on zoo bench
    cat = catalogue(ctx)
    root = ctx.find_root().obj or {}
    registries = tuple(root.get("registries", ()))
    if write_entry and write_entry in cat.names():
        raise ZooError(f"entry {write_entry!r} already exists; pick another --write-entry name")
    outcome = tune.search(cat, name, space, trials=trials, scheduler=scheduler, metric=metric, address=address,
                          overrides=overrides, registries=registries, seed=seed, max_concurrent=max_concurrent,
                          verbose=verbose(ctx))
    if outcome.best is None:
        click.echo(render_records(_trials_table(outcome), "simple"), err=True)
        raise ZooError(f"no trial of {name} produced a {outcome.metric}; see {outcome.experiment}")
    best = outcome.best
    click.echo(f"zoo: best of {len(outcome.trials)} trial(s) in {outcome.seconds:.0f}s: {' '.join(best.overrides)} "
               f"({outcome.metric} {best.value:.4g}); retraining it once, scored on the test split", err=True)

    # The retrain: a normal bench row (its own worker process), labelled with the chosen keys.
    options = bench.BenchOptions(overrides=overrides, registries=registries, verbose=verbose(ctx))
    summary = {"space": [d.text() for d in space], "trials": trials, "scheduler": scheduler, "metric": outcome.metric,
               "mode": outcome.mode, "seed": seed, "best": best.overrides, "best_value": best.value,
               "experiment": outcome.experiment,
               "results": [{"config": t.config, "value": t.value, "epochs": t.epochs, "status": t.status}
                           for t in outcome.trials]}
    store = run_id = None
    if not no_store:
        from zoo.store import open_store

        store = open_store()
        run_id = store.start_run(command=shlex.join(["zoo", *sys.argv[1:]]), environment=base_environment(),
                                 note=f"zoo tune: best of {trials} by {outcome.metric}",
                                 options={"entries": [name], "overrides": list(overrides), "sweep": best.overrides,
                                          "registries": list(registries), "tune": summary})

    def on_row(row: dict[str, Any], config: dict[str, Any]) -> None:
        row["run_id"] = run_id
        row["tune"] = {"metric": outcome.metric, "value": best.value, "trials": trials}
        if store is not None:
            store.add_row(run_id, row, config)
            if row.get("environment"):
                store.update_environment(run_id, row["environment"])

    status = "failed"
    try:
        rows = bench.bench([name], cat, options, on_row=on_row, sweep=best.overrides,
                           executor=executor_for("ray" if address else "local", address))
        status = "finished"
    finally:
        if store is not None:
            store.finish_run(run_id, status)
            store.close()
    retrained = rows[0]
    written = None
    if write_entry and registry_file:
        from zoo.catalogue import load_catalogue

        comment = (f"zoo tune {name}: best of {trials} trial(s) by {outcome.metric} = {best.value:.4g} "
                   f"({time.strftime('%Y-%m-%d')}); test: {bench.describe(retrained).lstrip(': ') or 'not scored'}")
        text = variant_text(write_entry, name, [*overrides, *best.overrides], comment)
        append_variant(Path(registry_file), write_entry, text,
                       lambda path: load_catalogue(cat.registry, [*registries, path]).resolve(write_entry))
        written = {"entry": write_entry, "file": str(registry_file), "text": text}
        click.echo(f"zoo: wrote entry {write_entry!r} to {registry_file}; run it with "
                   f"`zoo --registry {registry_file} bench {write_entry}`", err=True)
    if fmt == "json":
        click.echo(json.dumps(json_safe({"entry": name, "metric": outcome.metric, "mode": outcome.mode,
                                                "trials": [t.__dict__ for t in outcome.trials],
                                                "best": best.__dict__, "retrain": retrained, "run_id": run_id,
                                                "variant": written, "experiment": outcome.experiment}),
                              indent=2, default=str))
    else:
        click.echo(render_records(_trials_table(outcome), "simple"))
        click.echo("")
        retrained.pop("history", None)
        click.echo(report.render([{**retrained, "repeats": 1}], "simple"))
    if retrained.get("status") != "ok":
        click.echo(f"zoo: the retrain of the best configuration failed: {retrained.get('error')}", err=True)
        ctx.exit(1)
