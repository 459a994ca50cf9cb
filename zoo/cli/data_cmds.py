"""``zoo data list|show|fetch``: where each dataset's files are, what its splits hold, and
filling the cache. ``list`` never imports TensorFlow (it asks each dataset's ``locate``)."""
from __future__ import annotations

from collections import Counter
from typing import Any

import click

from zoo.catalogue import parse_override
from zoo.cli.common import catalogue, emit, format_option
from zoo.errors import CatalogueError, DataError, UnknownNameError, ZooError
from zoo.output import to_json
from zoo.specs import DatasetSpec


def _human(n: Any) -> str:
    if not isinstance(n, int):
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def _params(spec: DatasetSpec, overrides: tuple[str, ...]) -> dict[str, Any]:
    """The dataset's params with ``--set KEY=VALUE`` (or ``dataset.KEY=VALUE``) applied."""
    params = dict(spec.params)
    for item in overrides:
        path, value = parse_override(item)
        if path[0] == "dataset":
            path = path[1:]
        if len(path) != 1:
            raise CatalogueError(f"--set {item!r}: use --set PARAM=VALUE with one of the dataset's params")
        if path[0] not in spec.params:
            raise UnknownNameError(f"dataset {spec.name!r} param", path[0], spec.params, where=f"--set {item}")
        params[path[0]] = value
    return params


def _dataset(ctx: click.Context, name: str) -> DatasetSpec:
    """Dataset NAME from the command's registry (failed plugins reported once, as every command does)."""
    return catalogue(ctx).registry.dataset(name)


@click.group("data")
def data_group() -> None:
    """Datasets: where their files are (list), what they hold (show), fill the cache (fetch).

    Data is looked for in: --set data_dir=PATH; $ZOO_DATA_DIR/<dataset>/; zoo's cache
    ($ZOO_HOME/cache/datasets) and Keras's (~/.keras/datasets); system folders
    (/usr/share/datasets); then downloaded from the official origin unless ZOO_OFFLINE=1.
    """


@data_group.command("list")
@format_option()
@click.pass_context
def list_cmd(ctx: click.Context, fmt: str) -> None:
    """Each dataset, where its files were found (or that they are missing), size and licence."""
    rows = []
    for name, spec in sorted(catalogue(ctx).registry.datasets.items()):
        row: dict[str, Any] = {"name": name, "task": spec.task, "licence": spec.licence or "-", "plugin": spec.plugin}
        if spec.locate is None:
            row.update(status="unknown", found_in="(no locate)", size="-", path=None)
        else:
            try:
                where = spec.locate(**spec.params)
            except ZooError as exc:
                where, row["status"] = None, f"error: {exc}"
            if where is None:
                row.setdefault("status", "missing")
                row.update(found_in="-", size="-", path=None)
            else:
                missing = where.get("missing") or []
                row["status"] = where.get("status") or (
                    f"partial (missing {', '.join(missing)})" if missing else "found")
                path = where.get("path")
                path_text = ", ".join(path) if isinstance(path, list) else (path or "")
                row.update(found_in=f"{where.get('origin', '?')} {path_text}".strip(),
                           size=_human(where.get("bytes")), bytes=where.get("bytes"), path=path,
                           splits=where.get("splits"))
        rows.append(row)
    emit(rows, ["name", "status", "found_in", "size", "licence"], fmt)


def _describe_split(split: Any) -> dict[str, Any]:
    """Examples, shapes, dtypes and per-class counts of one split."""
    import numpy as np

    if isinstance(split, (tuple, list)):
        x, y = split
        labels = np.asarray(y)
        info = {"examples": len(x), "x_shape": list(x.shape[1:]), "x_dtype": str(x.dtype),
                "y_shape": list(labels.shape[1:]), "y_dtype": str(labels.dtype)}
        names = getattr(split, "class_names", None)
    else:
        from zoo.pipeline import count_examples

        x_spec, y_spec = split.element_spec
        info = {"examples": count_examples(split), "x_shape": x_spec.shape.as_list(),
                "x_dtype": x_spec.dtype.name, "y_shape": y_spec.shape.as_list(), "y_dtype": y_spec.dtype.name}
        names = getattr(split, "class_names", None)
        labels = getattr(split, "labels", None)
        if labels is None:  # a dataset without its labels at hand: read them once
            labels = np.asarray([y for _, y in split.as_numpy_iterator()])
    labels = np.asarray(labels)
    if labels.ndim > 1 and labels.shape[-1] > 1:  # one-hot
        labels = labels.argmax(-1)
    ids = labels.reshape(len(labels), -1)[:, 0].astype(int) if labels.ndim > 1 else labels.astype(int)
    counts = Counter(int(i) for i in ids)
    info["classes"] = {(names[i] if names and i < len(names) else str(i)): counts[i] for i in sorted(counts)}
    return info


@data_group.command("show")
@click.argument("name")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Set a dataset param, e.g. --set data_dir=PATH --set image_size=[100,100]; repeatable.")
@format_option("text", ("text", "json"))
@click.pass_context
def show_cmd(ctx: click.Context, name: str, overrides: tuple[str, ...], fmt: str) -> None:
    """Load dataset NAME and show its splits: examples, shapes, dtypes, classes."""
    import warnings

    spec = _dataset(ctx, name)
    params = _params(spec, overrides)
    from zoo.tfruntime import import_tensorflow

    verbose = bool((ctx.find_root().obj or {}).get("verbose"))
    import_tensorflow(verbose)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from zoo.pipeline import call_loader

        splits = call_loader(spec, params)
    for w in caught:
        click.echo(f"zoo: warning: {w.message}", err=True)
    augment = splits.pop("augment", None)
    # The label contract on each split's first examples (one-hot labels, ids out of range), in
    # the words training would refuse them with.
    from zoo.contracts import first_examples, label_problems

    label_warnings: dict[str, list[str]] = {}
    for split_name, split in splits.items():
        try:
            _, labels = first_examples(split)
        except Exception:  # an unreadable split: describing it below says what is wrong
            continue
        if labels is not None:
            for problem in label_problems(labels, spec.task, spec.classes_for(params)):
                label_warnings.setdefault(problem, []).append(split_name)
    for problem, names in label_warnings.items():
        where = ", ".join(repr(n) for n in names)
        click.echo(f"zoo: warning: dataset {name!r} (plugin {spec.plugin}): split{'s' if len(names) > 1 else ''} "
                   f"{where}: {problem}", err=True)
    data = {
        "name": name, "task": spec.task, "input_shape": list(spec.shape_for(params)),
        "num_classes": spec.classes_for(params), "params": params,
        "splits": {k: _describe_split(v) for k, v in splits.items() if v is not None},
        "augment": augment is not None, "source": spec.source, "licence": spec.licence,
        "location": spec.locate(**params) if spec.locate else None,
    }
    if fmt == "json":
        click.echo(to_json(data))
        return
    click.echo(f"{name}: {spec.description}")
    click.echo(f"  task {spec.task}, input {tuple(data['input_shape'])}, {data['num_classes']} output(s)"
               + (", augmented training batches" if augment else ""))
    if data["location"]:
        loc = data["location"]
        click.echo(f"  found in {loc.get('origin')} {loc.get('path')}")
    for split, info in data["splits"].items():
        click.echo(f"  {split:<10} {info['examples']:>7,} examples  x {tuple(info['x_shape'])} {info['x_dtype']}"
                   f"  y {tuple(info['y_shape'])} {info['y_dtype']}")
        click.echo("             " + ", ".join(f"{k}: {v:,}" for k, v in info["classes"].items()))
    click.echo(f"  source: {spec.source or '-'}; licence: {spec.licence or '-'}")


class _TerminalProgress:
    """``zoo data fetch``'s progress: one line on stderr per download, redrawn as it advances
    (``  NAME: 12.3 MB / 26.4 MB  46%``), at most ten times a second."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.url, self.last, self.width = stream, None, 0.0, 0

    def __call__(self, url: str, done: int, total: int | None) -> None:
        import time

        now = time.monotonic()
        if url != self.url:
            self.finish()
            self.url = url
        elif done != total and now - self.last < 0.1:
            return
        self.last = now
        text = f"  {url.rsplit('/', 1)[-1]}: {_human(done)}"
        if total is not None:
            text += f" / {_human(total)}  {done * 100 // total if total else 100}%"
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def finish(self) -> None:
        if self.url is not None:
            self.stream.write("\n")
            self.stream.flush()
        self.url, self.width = None, 0


def _terminal_progress(stream: Any) -> _TerminalProgress | None:
    """A progress line where ``stream`` is a terminal; nothing in a pipe or a file (logs stay clean)."""
    isatty = getattr(stream, "isatty", None)
    return _TerminalProgress(stream) if isatty is not None and isatty() else None


def _takes_progress(fetch: Any) -> bool:
    """Whether a dataset's ``fetch`` names a ``progress`` parameter (a plugin's may not)."""
    import inspect

    try:
        return "progress" in inspect.signature(fetch).parameters
    except (TypeError, ValueError):
        return False


@data_group.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Set a dataset param, e.g. --set data_dir=PATH or --set origin=URL (a mirror); repeatable.")
@click.pass_context
def fetch_cmd(ctx: click.Context, names: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Put dataset NAME(s) in zoo's cache, from any place data is looked for (verified), or
    downloaded from the official origin or a mirror (--set origin=URL, or ZOO_DATA_ORIGIN=URL for
    every dataset), verified before it is kept. Progress goes to stderr when it is a terminal."""
    import sys

    progress = _terminal_progress(sys.stderr)
    for name in names:
        spec = _dataset(ctx, name)
        if spec.fetch is None:
            raise DataError(f"dataset {name!r} (plugin {spec.plugin}) has nothing to fetch")
        params = _params(spec, overrides)
        if progress is not None and _takes_progress(spec.fetch):
            params["progress"] = progress
        try:
            result = spec.fetch(**params)
        finally:
            if progress is not None:
                progress.finish()
        click.echo(f"{name}: {result.get('path')} ({_human(result.get('bytes'))}): {result.get('origin')}")
        if result.get("missing"):
            click.echo(f"  not available: {', '.join(result['missing'])}")
