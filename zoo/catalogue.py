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
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo import settings
from zoo.entries import ENTRY_FIELDS, PART_FIELDS, RawEntry, paths, resolve_raw
from zoo.errors import CatalogueError, UnknownNameError, ZooError
from zoo.registry import Registry
from zoo.specs import Entry
from zoo.toml_lines import entry_lines, parse_toml

# -- TOML files ------------------------------------------------------------------------------
def read_catalogue(path: Path, origin: str) -> dict[str, RawEntry]:
    """Parse one catalogue file into raw entries with ``file:line`` sources."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogueError(f"catalogue file {path} not found ({origin})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"catalogue file {path} cannot be read: {exc}") from None
    data = parse_toml(text, path)
    lines = entry_lines(text)
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


def _layer(raw: RawEntry, over: RawEntry) -> RawEntry:
    """``over``'s fields merged onto ``raw``'s, sources following the winning value."""
    fields = _deep_merge(_normalise(raw.fields), _normalise(over.fields))
    sources = dict(raw.sources)
    for path in paths(_normalise(over.fields)):
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
