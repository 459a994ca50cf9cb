"""TOML with line numbers: ``tomllib`` parses catalogue files but keeps no positions, so a light
line scanner maps every ``[entries.NAME]`` field to its line, for ``file:line`` in every message."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from zoo.errors import CatalogueError

_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=")


def split_key(key: str) -> list[str]:
    parts = re.findall(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_\-]+)", key)
    return [a or b or c for a, b, c in parts]


def entry_lines(text: str) -> dict[tuple[str, str], int]:
    """(entry, dotted field path) → line number of every ``[entries.NAME]`` field, from a light
    scan of the TOML text (``tomllib`` parses values but keeps no line numbers)."""
    lines: dict[tuple[str, str], int] = {}
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("#"):
            table = split_key(header.group(1))
            path = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            path = table + split_key(key.group(1))
        if len(path) >= 2 and path[0] == "entries":
            lines.setdefault((path[1], ".".join(path[2:])), number)
    return lines


def parse_toml(text: str, path: Path | str) -> dict[str, Any]:
    """``tomllib.loads(text)``; malformed TOML as a :class:`CatalogueError` with ``path:line``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"at line (\d+), column (\d+)", message)
        line = f":{where.group(1)}" if where else ""
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise CatalogueError(f"{path}{line}: malformed TOML: {reason}") from None


__all__ = ["split_key", "entry_lines", "parse_toml"]
