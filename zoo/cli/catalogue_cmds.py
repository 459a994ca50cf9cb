"""``zoo list``, ``zoo show``, ``zoo plugins``: read the catalogue, never import TensorFlow
(except ``show --summary``, which builds the model)."""
from __future__ import annotations

import json
from typing import Any

import click

from zoo.cli.common import catalogue, emit, format_option, set_option, verbose
from zoo.output import to_json
from zoo.targets import own_overrides


@click.command("list")
@click.argument("patterns", nargs=-1)
@click.option("--tag", help="Only entries with this tag.")
@click.option("--dataset", help="Only entries on this dataset.")
@click.option("--exclude", multiple=True, metavar="PATTERN", help="Leave out entries matching PATTERN; repeatable.")
@format_option()
@click.pass_context
def list_cmd(ctx: click.Context, patterns: tuple[str, ...], tag: str | None, dataset: str | None,
             exclude: tuple[str, ...], fmt: str) -> None:
    """List catalogue entries, optionally filtered by fnmatch PATTERNS (e.g. 'fashion-*')."""
    rows = catalogue(ctx).list(patterns, tag=tag, dataset=dataset, exclude=exclude)
    emit(rows, ["name", "architecture", "dataset", "tags", "description"], fmt)


@click.command("show")
@click.argument("name")
@set_option
@click.option("--summary", is_flag=True, help="Build the model and add the Keras summary and parameter count.")
@format_option("text", ("text", "json"))
@click.pass_context
def show_cmd(ctx: click.Context, name: str, overrides: tuple[str, ...], summary: bool, fmt: str) -> None:
    """Show one resolved entry: parts, params, recipe, target and where each field came from."""
    cat = catalogue(ctx)
    entry = cat.resolve(name, own_overrides(name, overrides))
    registry = cat.registry
    data: dict[str, Any] = entry.to_dict()
    arch, ds = registry.architecture(entry.architecture.name), registry.dataset(entry.dataset.name)
    data["architecture"] = {**data["architecture"], "defaults": arch.params, "plugin": arch.plugin}
    data["dataset"] = {**data["dataset"], "defaults": ds.params, "plugin": ds.plugin,
                       "source": ds.source, "licence": ds.licence}
    if summary:
        from zoo import runner

        runner.setup(entry, verbose=verbose(ctx))
        model = runner.build_model(entry, registry)
        lines: list[str] = []
        model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
        data["model"] = {
            "params_total": int(model.count_params()),
            "params_trainable": int(sum(w.numpy().size for w in model.trainable_weights)),
            "summary": "\n".join(lines),
        }
    if fmt == "json":
        click.echo(to_json(data))
        return
    _print_entry(data)


def _phase_text(phase: dict[str, Any]) -> str:
    fields = {k: v for k, v in phase.items() if k != "phase"}
    return phase["phase"] + (f"({', '.join(f'{k}={v}' for k, v in fields.items())})" if fields else "")


def _print_entry(data: dict[str, Any]) -> None:
    sources = data.pop("sources", {})
    click.echo(f"{data['name']}: {data.get('description', '')}")
    width = max(len(key) for key in (*data["recipe"], "architecture"))

    def line(label: str, value: Any, source_key: str | None = None) -> None:
        source = sources.get(source_key or label)
        click.echo(f"  {label:<{width}} {value}" + (f"    [{source}]" if source else ""))

    for part in ("architecture", "dataset"):
        ref = data[part]
        params = {**ref.get("defaults", {}), **ref["params"]}
        line(part, f"{ref['name']} (plugin {ref['plugin']}) {json.dumps(params, default=str)}")
    line("callbacks", ", ".join(c["name"] + (json.dumps(c["params"]) if c["params"] else "") for c in data["callbacks"]) or "-")
    line("task", f"{data['task']}, input {tuple(data['input_shape'])}, {data['num_classes']} output(s)", "dataset")
    if data.get("class_names"):
        line("classes", ", ".join(f"{i}={name}" for i, name in enumerate(data["class_names"])), "dataset")
    line("plan", " → ".join(_phase_text(p) for p in data.get("plan", [])) or "-", "architecture")
    for key, value in data["recipe"].items():
        line(key, value)
    if data.get("target"):
        t = data["target"]
        line("target", f"{t['metric']} {'>=' if t['mode'] == 'max' else '<='} {t['value']}")
    dataset = data["dataset"]
    if dataset.get("source") or dataset.get("licence"):
        line("data source", f"{dataset.get('source') or '-'} (licence: {dataset.get('licence') or '-'})", "dataset")
    resources = data.get("resources") or {}
    # Where each amount was set (a --set names its own key); else the table's source, or "default".
    given = dict.fromkeys(sources[f"resources.{k}"] for k in resources if f"resources.{k}" in sources)
    sources["resources"] = ", ".join(given) or sources.get("resources") or "default"
    line("resources", " ".join(f"{k}={v:g}" for k, v in resources.items()) or "-")
    line("tags", ", ".join(data.get("tags", [])) or "-")
    if data.get("metadata"):
        line("metadata", json.dumps(data["metadata"], default=str))
    if "model" in data:
        click.echo(data["model"]["summary"])
        click.echo(f"  params: {data['model']['params_total']:,} ({data['model']['params_trainable']:,} trainable)")


@click.command("plugins")
@format_option("table", ("table", "json", "github", "plain", "simple"))
@click.option("--requirements", is_flag=True, help="Print pip requirement lines of the installed third-party plugins.")
@click.pass_context
def plugins_cmd(ctx: click.Context, fmt: str, requirements: bool) -> None:
    """List every plugin: name, version, what it registered, and every plugin that failed."""
    cat = catalogue(ctx, warn=False)
    root = ctx.find_root().command
    # The commands plugins add are loaded only now (never by `zoo list`): they show as parts.
    cat.registry.commands(reserved=root.builtin_commands() if hasattr(root, "builtin_commands") else ())
    records = [r.to_dict() for r in cat.registry.plugins]
    if requirements:
        seen = sorted({(r["distribution"], r["version"]) for r in records
                       if not r["first_party"] and r["distribution"] and r["distribution"] != "zoo-models"})
        for dist, version in seen:
            click.echo(requirement_line(dist, version))
        return
    for problem in cat.problems:
        click.echo(f"zoo: warning: {problem}", err=True)
    # A name two plugins registered is used by neither: say so on both plugins' lines.
    clashes: dict[str, list[str]] = {}
    for (kind, name), owners in sorted(cat.registry.conflicts.items()):
        click.echo(f"zoo: warning: {kind} {name!r} is registered by plugins {' and '.join(owners)}; neither is used",
                   err=True)
        for owner in owners:
            others = " and ".join(o for o in owners if o != owner)
            clashes.setdefault(owner, []).append(f"{kind} {name!r} clashes with {others} (unused)")
    for record in records:
        record["clashes"] = clashes.get(record["name"], [])
    if fmt == "json":
        click.echo(to_json(records))
        return
    rows = []
    for r in records:
        registered = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in r["registered"].items())
        status = "clash" if r["status"] == "ok" and r["clashes"] else r["status"]
        rows.append({
            "plugin": r["name"],
            "distribution": f"{r['distribution'] or '-'} {r['version'] or ''}".strip(),
            "status": status,
            "registered / error": r["error"] if r["status"] == "failed"
            else "; ".join([*r["clashes"], registered]) if r["clashes"] else registered or "-",
        })
    emit(rows, ["plugin", "distribution", "status", "registered / error"], fmt)


def requirement_line(dist: str, version: str | None) -> str:
    """A pip requirement that reinstalls ``dist`` as installed: ``-e URL`` for an editable
    install, ``NAME @ URL`` for one from a folder, archive or VCS (PEP 610 ``direct_url.json``,
    as ``pip freeze`` does), else ``NAME==VERSION`` from an index."""
    import importlib.metadata as metadata

    try:
        text = metadata.distribution(dist).read_text("direct_url.json")
        info = json.loads(text) if text else None
    except (metadata.PackageNotFoundError, ValueError):
        info = None
    if info and info.get("url"):
        url = info["url"]
        if info.get("dir_info", {}).get("editable"):
            return f"-e {url}"
        vcs = info.get("vcs_info")
        if vcs:
            return f"{dist} @ {vcs['vcs']}+{url}@{vcs.get('commit_id', '')}".rstrip("@")
        return f"{dist} @ {url}"
    return f"{dist}=={version}" if version else dist
