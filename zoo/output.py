"""The one output layer: records as a table, JSON or CSV with one policy for missing values, and
the rendering of the library's log lines and warnings on a terminal.

Missing and non-finite values: ``-`` in a table, ``null`` in JSON (NaN and inf too: the output must
load in any JSON parser), an empty field in CSV. Library code never prints; it logs (``zoo.*``
loggers) or warns (:class:`zoo.errors.ZooWarning`), and :func:`configure_output` renders those
on stderr as ``zoo: …`` / ``zoo: warning: …``.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import sys
import warnings
from collections.abc import Sequence
from typing import Any

MISSING = "-"
#: Loggers whose info lines are progress and are shown as they are (no ``zoo:`` prefix).
PROGRESS_LOGGERS = ("zoo.bench", "zoo.measure")


def missing(value: Any) -> bool:
    """``None``, NaN or ±inf: a value a table shows as ``-``."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def json_safe(value: Any) -> Any:
    """NaN/inf as null, recursively: the output must be valid JSON (``json.loads`` in any language)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """``value`` as indented JSON with the one missing-value policy (NaN and inf as null)."""
    return json.dumps(json_safe(value), indent=2, default=str)


def table_cell(value: Any) -> str:
    """A value as a table cell: lists joined, dicts as JSON, missing as ``-``."""
    if missing(value):
        return MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def csv_cell(value: Any) -> Any:
    """A value as a CSV field: missing as empty, floats with 6 significant digits."""
    if missing(value):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ";".join(str(csv_cell(v)) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return value


def render_records(records: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str] | None = None,
                   headers: Sequence[str] | None = None) -> str:
    """Records as ``json`` (whole records), ``csv`` or a tabulate table (``table`` = ``simple``)
    of ``columns`` (default: every key, in first-seen order), titled ``headers`` in a table."""
    if fmt == "json":
        return to_json(list(records))
    if columns is None:
        columns = []
        for record in records:
            columns.extend(k for k in record if k not in columns)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({c: csv_cell(record.get(c)) for c in columns})
        return buffer.getvalue().rstrip("\n")
    from tabulate import tabulate

    return tabulate([[table_cell(r.get(c)) for c in columns] for r in records], headers=list(headers or columns),
                    tablefmt="simple" if fmt in ("table", "simple") else fmt, disable_numparse=True)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"zoo: warning: {message}"
        if record.name.startswith(PROGRESS_LOGGERS):
            return message
        return f"zoo: {message}"


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    from zoo.errors import ZooWarning

    # A user-facing warning (zoo's own, or a plugin's plain UserWarning) is one line; others
    # (deprecations in libraries) keep Python's format, with their source.
    if issubclass(category, ZooWarning) or category is UserWarning:
        print(f"zoo: warning: {message}", file=sys.stderr, flush=True)
    else:
        _ORIGINAL_SHOWWARNING(message, category, filename, lineno, file, line)


_ORIGINAL_SHOWWARNING = warnings.showwarning


def configure_output(verbose: bool = False) -> None:
    """Show zoo's log lines (info and up; debug with ``verbose``) and its warnings on stderr, as a
    command line does. Called once by the CLI and by a bench worker, never by library code."""
    logger = logging.getLogger("zoo")
    if not any(isinstance(h.formatter, _Formatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Formatter())
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    warnings.showwarning = _show_warning
    warnings.simplefilter("always" if verbose else "default", category=_zoo_warning())


def _zoo_warning() -> type[Warning]:
    from zoo.errors import ZooWarning

    return ZooWarning


__all__ = ["MISSING", "missing", "json_safe", "to_json", "table_cell", "csv_cell", "render_records", "configure_output"]
