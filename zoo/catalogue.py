"""The catalogue: entries binding an architecture, a dataset, callbacks and a training recipe.

Layers, later ones winning field by field:

1. catalogues shipped by plugins (zoo's own ``registry.toml`` among them) and entries registered
   in code by plugins; a name defined twice here is a conflict naming both places;
2. user catalogues (``ZOO_REGISTRY``, then ``--registry``), which add entries or override fields
   of existing ones with no code;
3. ``extends = "other-entry"``, which copies another entry's fields under the entry's own;
4. ``--set KEY=VALUE`` overrides, for one command.

Every field remembers where it came from (``file:line``, ``plugin NAME``, ``--set``, ``default``).
Entries are validated when they are used (:meth:`Catalogue.resolve`), so one broken entry never
hides the others from ``zoo list``.
"""
from __future__ import annotations

import copy
import fnmatch
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

from zoo import settings
from zoo.errors import CatalogueError, IncompatibleError, UnknownNameError, ZooError
from zoo.registry import Registry
from zoo.specs import LABEL_SMOOTHING_LOSSES, RECIPE_KEYS, Entry, PartRef, Recipe, Target

PART_FIELDS = ("architecture", "dataset")
ENTRY_FIELDS: tuple[str, ...] = (
    "architecture", "dataset", "callbacks", "target", "description", "tags", "extends", "metadata",
    *RECIPE_KEYS,
)
#: Keys a callback factory may take that zoo fills in for the run.
CALLBACK_CONTEXT_KEYS = ("run_dir", "target", "entry")
DEFAULT_LOSS = {
    "regression": "mean_squared_error",
    "binary": "binary_crossentropy",
    "multiclass": "sparse_categorical_crossentropy",
}
DEFAULT_METRICS = {"regression": ["mae"], "binary": ["accuracy"], "multiclass": ["accuracy"]}
_BINARY_LOSSES = {"binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"}
_MULTICLASS_LOSSES = {"sparse_categorical_crossentropy", "categorical_crossentropy"}


@dataclass
class RawEntry:
    """An entry's fields as merged from the layers, not yet checked against the registry."""

    name: str
    fields: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    origin: str = ""

    def source_of(self, path: str) -> str:
        """Where the field at dotted ``path`` (or its nearest parent) was set."""
        while path:
            if path in self.sources:
                return self.sources[path]
            path = path.rpartition(".")[0]
        return self.origin


# -- TOML files ------------------------------------------------------------------------------
_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=")


def _split_key(key: str) -> list[str]:
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_\-]+)", key)
    return [a or b or c for a, b, c in parts]


def _line_map(text: str) -> dict[tuple[str, str], int]:
    """(entry, dotted field path) → line number, from a light scan of the TOML text."""
    lines: dict[tuple[str, str], int] = {}
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("#"):
            table = _split_key(header.group(1))
            path = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            path = table + _split_key(key.group(1))
        if len(path) >= 2 and path[0] == "entries":
            lines.setdefault((path[1], ".".join(path[2:])), number)
    return lines


def read_catalogue(path: Path, origin: str) -> dict[str, RawEntry]:
    """Parse one catalogue file into raw entries with ``file:line`` sources."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogueError(f"catalogue file {path} not found ({origin})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"catalogue file {path} cannot be read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"at line (\d+), column (\d+)", message)
        line = f":{where.group(1)}" if where else ""
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise CatalogueError(f"{path}{line}: malformed TOML: {reason}") from None
    lines = _line_map(text)
    unknown = sorted(set(data) - {"entries"})
    if unknown:
        raise CatalogueError(f"{path}: unknown top-level key {unknown[0]!r}; a catalogue holds [entries.NAME] tables")
    entries = data.get("entries", {})
    if not isinstance(entries, dict):
        raise CatalogueError(f"{path}: 'entries' must be a table of [entries.NAME] tables")
    raw = {}
    for name, table in entries.items():
        header = lines.get((name, ""), 0)
        if not isinstance(table, dict):
            raise CatalogueError(f"{path}:{header}: entry {name!r} must be a table")
        sources = {
            path_: f"{path}:{line}"
            for (entry, path_), line in lines.items()
            if entry == name and path_
        }
        raw[name] = RawEntry(name, table, sources, f"{path}:{header}")
    return raw


# -- merging -----------------------------------------------------------------------------------
def _normalise_part(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def _normalise_callbacks(value: Any) -> Any:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return [_normalise_part(v) for v in value]
    return value


def _normalise(fields: dict[str, Any]) -> dict[str, Any]:
    fields = copy.deepcopy(fields)
    for key in PART_FIELDS:
        if key in fields:
            fields[key] = _normalise_part(fields[key])
    if "callbacks" in fields:
        fields["callbacks"] = _normalise_callbacks(fields["callbacks"])
    return fields


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _paths(fields: dict[str, Any], prefix: str = "") -> Iterable[str]:
    for key, value in fields.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict):
            yield from _paths(value, f"{path}.")


def _layer(raw: RawEntry, over: RawEntry) -> RawEntry:
    """``over``'s fields merged onto ``raw``'s, sources following the winning value."""
    fields = _deep_merge(_normalise(raw.fields), _normalise(over.fields))
    sources = dict(raw.sources)
    for path in _paths(_normalise(over.fields)):
        sources[path] = over.sources.get(path) or over.source_of(path)
    return RawEntry(raw.name, fields, sources, raw.origin)


# -- --set ------------------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML value when it parses as one (``1``, ``0.5``, ``true``,
    ``["a", "b"]``), else the plain string (``../data``, ``adam``)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"architecture.units=512"`` → ``(["architecture", "units"], 512)``."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise CatalogueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set epochs=1")
    return key.split("."), parse_value(value.strip())


def _apply_override(raw: RawEntry, path: list[str], value: Any, label: str) -> None:
    head = path[0]
    if head not in ENTRY_FIELDS:
        raise UnknownNameError("key", head, ENTRY_FIELDS, where=label)
    fields = raw.fields
    if head == "callbacks" and len(path) > 1:
        callbacks = fields.setdefault("callbacks", [])
        for callback in callbacks:
            if callback.get("name") == path[1]:
                target = callback
                break
        else:
            raise UnknownNameError("callback of this entry", path[1], [c.get("name", "") for c in callbacks], label)
        if len(path) != 3:
            raise CatalogueError(f"{label}: use callbacks.NAME.PARAM=VALUE")
        target[path[2]] = value
    else:
        node = fields
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise CatalogueError(f"{label}: {'.'.join(path[:-1])} is not a table")
            node = child
        if path[-1] == "callbacks" and len(path) == 1:
            value = _normalise_callbacks(value)
        node[path[-1]] = _normalise_part(value) if len(path) == 1 and head in PART_FIELDS else value
    raw.sources[".".join(path)] = label


# -- the catalogue -----------------------------------------------------------------------------
class Catalogue:
    """All entries from every layer, resolved against a :class:`Registry` on demand."""

    def __init__(self, registry: Registry, user_files: Sequence[str | Path] = ()):
        self.registry = registry
        self.base: dict[str, RawEntry] = {}
        self.conflicts: dict[str, list[str]] = {}
        self.problems: list[str] = []

        claims: dict[str, list[RawEntry]] = {}
        for path, plugin in registry.catalogues:
            try:
                entries = read_catalogue(path, f"plugin {plugin}")
            except CatalogueError as exc:
                # A plugin's broken catalogue fails that plugin, not zoo.
                record = registry.plugin(plugin)
                record.status, record.error = "failed", str(exc)
                self.problems.append(f"plugin {plugin!r}: {exc}")
                continue
            for name, raw in entries.items():
                claims.setdefault(name, []).append(raw)
        for name, entry in registry.entries.items():
            origin = f"plugin {entry.plugin}"
            claims.setdefault(name, []).append(RawEntry(name, dict(entry.fields), {}, origin))
        for name, raws in sorted(claims.items()):
            if len(raws) > 1:
                self.conflicts[name] = sorted(r.origin for r in raws)
            self.base[name] = RawEntry(name, _normalise(raws[0].fields), raws[0].sources, raws[0].origin)

        self.user_files = [*settings.user_catalogues(), *(Path(p) for p in user_files)]
        self.layers: dict[str, RawEntry] = dict(self.base)
        for path in self.user_files:
            for name, raw in read_catalogue(Path(path), "user catalogue").items():
                if name in self.layers:
                    self.layers[name] = _layer(self.layers[name], raw)
                else:
                    self.layers[name] = RawEntry(name, _normalise(raw.fields), raw.sources, raw.origin)

    # -- reading ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self.layers)

    def raw(self, name: str, overrides: Sequence[str] = ()) -> RawEntry:
        """The merged fields of one entry with ``extends`` and ``--set`` applied."""
        if name not in self.layers:
            raise UnknownNameError("entry", name, self.layers)
        if name in self.conflicts:
            raise CatalogueError(
                f"entry {name!r} is defined twice: in " + " and in ".join(self.conflicts[name])
            )
        raw = self._extended(name, ())
        raw = RawEntry(raw.name, copy.deepcopy(raw.fields), dict(raw.sources), raw.origin)
        for item in overrides:
            path, value = parse_override(item)
            _apply_override(raw, path, value, f"--set {item}")
        return raw

    def _extended(self, name: str, chain: tuple[str, ...]) -> RawEntry:
        raw = self.layers[name]
        parent = raw.fields.get("extends")
        if not parent:
            return raw
        if parent in chain or parent == name:
            raise CatalogueError(f"{raw.source_of('extends')}: entry {name!r} extends itself through {' → '.join(chain + (name, parent))}")
        if parent not in self.layers:
            raise UnknownNameError("entry", parent, self.layers, where=f"{raw.source_of('extends')}, extends of {name!r}")
        base = self._extended(parent, chain + (name,))
        merged = _layer(RawEntry(name, base.fields, dict(base.sources), base.origin), raw)
        merged.origin = raw.origin
        merged.fields.pop("extends", None)
        merged.fields["extends"] = parent
        # metadata holds facts about this entry (e.g. measured results): a variant has its own.
        merged.fields.pop("metadata", None)
        if "metadata" in raw.fields:
            merged.fields["metadata"] = copy.deepcopy(raw.fields["metadata"])
        return merged

    def summary(self, name: str) -> dict[str, Any]:
        """Cheap, unvalidated facts about an entry for listings (never raises for a bad entry)."""
        try:
            fields = self.raw(name).fields
        except ZooError as exc:
            return {"name": name, "architecture": "?", "dataset": "?", "tags": [], "description": f"error: {exc}", "source": self.layers.get(name, RawEntry(name, {})).origin}

        def part(key: str) -> str:
            value = fields.get(key)
            return value.get("name", "?") if isinstance(value, dict) else str(value or "?")

        return {
            "name": name,
            "architecture": part("architecture"),
            "dataset": part("dataset"),
            "tags": list(fields.get("tags", [])),
            "description": fields.get("description", ""),
            "source": self.layers[name].origin,
        }

    def list(
        self,
        patterns: Sequence[str] = (),
        tag: str | None = None,
        dataset: str | None = None,
        exclude: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Entry summaries matching any fnmatch ``patterns`` (as timm's ``list_models``)."""
        rows = []
        for name in self.names():
            if patterns and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
                continue
            if any(fnmatch.fnmatchcase(name, p) for p in exclude):
                continue
            row = self.summary(name)
            if tag and tag not in row["tags"]:
                continue
            if dataset and row["dataset"] != dataset:
                continue
            rows.append(row)
        return rows

    def expand(self, patterns: Sequence[str]) -> list[str]:
        """Entry names for names or fnmatch patterns; an unmatched name suggests close ones."""
        names: list[str] = []
        for pattern in patterns:
            matched = [n for n in self.names() if fnmatch.fnmatchcase(n, pattern)]
            if not matched:
                raise UnknownNameError("entry", pattern, self.names())
            names.extend(n for n in matched if n not in names)
        return names

    # -- resolving -------------------------------------------------------------------------------
    def resolve(self, name: str, overrides: Sequence[str] = ()) -> Entry:
        """Validate one entry against the registry and return it as plain data."""
        raw = self.raw(name, overrides)
        return resolve_raw(raw, self.registry)


def _where(raw: RawEntry, path: str) -> str:
    return f"{raw.source_of(path)}, entry {raw.name!r}"


def _check_params(raw: RawEntry, path: str, kind: str, given: dict[str, Any], declared: dict[str, Any], extra: Iterable[str] = ()) -> None:
    allowed = set(declared) | set(extra)
    for key in given:
        if key not in allowed:
            raise UnknownNameError(f"{kind} param", key, allowed, where=_where(raw, f"{path}.{key}"))


def _part(raw: RawEntry, key: str) -> PartRef:
    value = raw.fields.get(key)
    if value is None:
        raise CatalogueError(f"{raw.origin}: entry {raw.name!r} has no {key}")
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise CatalogueError(f"{_where(raw, key)}: {key} must be a name or a table with a 'name'")
    params = {k: v for k, v in value.items() if k != "name"}
    return PartRef(value["name"], params)


_RECIPE_TYPES = {f.name: f.type for f in dataclass_fields(Recipe)}


def _recipe(raw: RawEntry) -> Recipe:
    values = {}
    for key in RECIPE_KEYS:
        if key not in raw.fields:
            continue
        value, kind = raw.fields[key], _RECIPE_TYPES[key]
        ok = True
        if kind.startswith("int"):
            ok = isinstance(value, int) and not isinstance(value, bool) or (value is None and "None" in kind)
        elif kind.startswith("float"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) or (value is None and "None" in kind)
            value = float(value) if ok and value is not None else value
        elif kind == "bool":
            ok = isinstance(value, bool)
        elif kind.startswith("list"):
            value = [value] if isinstance(value, str) else value
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif kind.startswith("dict"):
            ok = isinstance(value, dict) or (value is None and "None" in kind)
        elif kind.startswith("str"):
            ok = isinstance(value, str) or (value is None and "None" in kind)
        if not ok:
            raise CatalogueError(f"{_where(raw, key)}: {key} must be {kind.replace(' | None', '')}, got {value!r}")
        values[key] = value
    recipe = Recipe(**values)
    if recipe.jit_compile not in (True, False, "auto", "head", "optimizer"):
        raise CatalogueError(f"{_where(raw, 'jit_compile')}: jit_compile must be true, false, \"auto\", "
                             f"\"head\" or \"optimizer\"")
    if not 0.0 <= recipe.label_smoothing < 1.0:
        raise CatalogueError(f"{_where(raw, 'label_smoothing')}: label_smoothing must be in [0, 1), "
                             f"got {recipe.label_smoothing}")
    if recipe.epochs < 1 or recipe.batch_size < 1:
        bad = "epochs" if recipe.epochs < 1 else "batch_size"
        raise CatalogueError(f"{_where(raw, bad)}: {bad} must be at least 1")
    return recipe


def _target(raw: RawEntry) -> Target | None:
    value = raw.fields.get("target")
    if value is None:
        return None
    if not isinstance(value, dict) or "metric" not in value or "value" not in value:
        raise CatalogueError(f"{_where(raw, 'target')}: target must be a table {{metric = ..., value = ...}}")
    metric = str(value["metric"])
    default_mode = "min" if any(w in metric for w in ("loss", "error", "mae", "mse")) else "max"
    mode = value.get("mode", default_mode)
    if mode not in ("min", "max"):
        raise CatalogueError(f"{_where(raw, 'target.mode')}: target mode must be 'min' or 'max'")
    return Target(metric, float(value["value"]), mode)


def resolve_raw(raw: RawEntry, registry: Registry) -> Entry:
    """Check a merged entry against the registry: parts exist, params are known, parts fit."""
    unknown = [k for k in raw.fields if k not in ENTRY_FIELDS]
    if unknown:
        raise UnknownNameError("field", unknown[0], ENTRY_FIELDS, where=_where(raw, unknown[0]))

    arch_ref, data_ref = _part(raw, "architecture"), _part(raw, "dataset")
    arch = registry.architecture(arch_ref.name, where=_where(raw, "architecture"))
    data = registry.dataset(data_ref.name, where=_where(raw, "dataset"))
    _check_params(raw, "architecture", f"architecture {arch.name!r}", arch_ref.params, arch.params)
    _check_params(raw, "dataset", f"dataset {data.name!r}", data_ref.params, data.params)

    callbacks = []
    for i, value in enumerate(raw.fields.get("callbacks", []) or []):
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            raise CatalogueError(f"{_where(raw, 'callbacks')}: callback #{i + 1} must be a name or a table with a 'name'")
        ref = PartRef(value["name"], {k: v for k, v in value.items() if k != "name"})
        spec = registry.callback(ref.name, where=_where(raw, "callbacks"))
        _check_params(raw, "callbacks", f"callback {spec.name!r}", ref.params, spec.params, CALLBACK_CONTEXT_KEYS)
        callbacks.append(ref)

    recipe = _recipe(raw)
    task = data.task
    data_params = {**data.params, **data_ref.params}
    try:
        input_shape = data.shape_for(data_params)
        num_classes = data.classes_for(data_params)
    except ZooError as exc:
        raise IncompatibleError(f"{_where(raw, 'dataset')}: cannot tell dataset {data.name!r}'s shape: {exc}") from None

    where = _where(raw, "architecture")
    if task not in arch.tasks:
        raise IncompatibleError(
            f"{where}: architecture {arch.name!r} supports {', '.join(arch.tasks)}, "
            f"but dataset {data.name!r} is {task}"
        )
    if recipe.loss == "auto":
        recipe.loss = DEFAULT_LOSS[task]
    elif recipe.loss in _BINARY_LOSSES and num_classes > 1:
        raise IncompatibleError(
            f"{_where(raw, 'loss')}: loss {recipe.loss!r} needs a one-unit sigmoid head, but dataset "
            f"{data.name!r} has {num_classes} classes (use sparse_categorical_crossentropy)"
        )
    elif recipe.loss in _MULTICLASS_LOSSES and task != "multiclass":
        raise IncompatibleError(
            f"{_where(raw, 'loss')}: loss {recipe.loss!r} needs a {num_classes}-unit softmax head, "
            f"but dataset {data.name!r} is {task} (use {DEFAULT_LOSS[task]})"
        )
    if recipe.label_smoothing and recipe.loss not in LABEL_SMOOTHING_LOSSES:
        raise IncompatibleError(
            f"{_where(raw, 'label_smoothing')}: label_smoothing needs a cross-entropy loss "
            f"({', '.join(LABEL_SMOOTHING_LOSSES)}), not {recipe.loss!r}"
        )
    if recipe.metrics == ["auto"]:
        recipe.metrics = list(DEFAULT_METRICS[task])
    if arch.accepts is not None:
        reason = arch.accepts(input_shape, num_classes, task, **{**arch.params, **arch_ref.params})
        if reason:
            raise IncompatibleError(
                f"{where}: architecture {arch.name!r} cannot take dataset {data.name!r} "
                f"(input {tuple(input_shape)}, {task}): {reason}"
            )

    sources = {path: raw.source_of(path) for path in _paths(raw.fields)}
    for key in RECIPE_KEYS:
        sources.setdefault(key, "default" if key not in ("loss", "metrics") or key in raw.fields else f"dataset task ({task})")
    tags = raw.fields.get("tags", [])
    return Entry(
        name=raw.name,
        architecture=arch_ref,
        dataset=data_ref,
        callbacks=callbacks,
        recipe=recipe,
        task=task,
        input_shape=tuple(input_shape),
        num_classes=num_classes,
        target=_target(raw),
        description=str(raw.fields.get("description", "")),
        tags=[str(t) for t in tags] if isinstance(tags, list) else [str(tags)],
        metadata=dict(raw.fields.get("metadata", {}) or {}),
        sources=sources,
    )


def load_catalogue(registry: Registry | None = None, user_files: Sequence[str | Path] = ()) -> Catalogue:
    """The catalogue over the process-wide registry (or ``registry``)."""
    if registry is None:
        from zoo.registry import get_registry

        registry = get_registry()
    return Catalogue(registry, user_files)


__all__ = [
    "Catalogue", "RawEntry", "load_catalogue", "read_catalogue", "resolve_raw", "parse_override",
    "parse_value", "ENTRY_FIELDS",
]
