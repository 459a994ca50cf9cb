"""User-facing errors.

Every error zoo raises on bad input is a :class:`ZooError`: the CLI prints its message on one
line and exits non-zero, with no traceback. Messages name the entry, part, plugin, file and line
involved, so the user knows where to look.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class ZooError(Exception):
    """Base class for every error meant for a user, not a developer."""

    exit_code = 1


class UnknownNameError(ZooError, LookupError):
    """A name (entry, architecture, dataset, callback, param, key) that nothing registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str], where: str | None = None):
        self.kind, self.name, self.known = kind, name, sorted(known)
        message = f"unknown {kind} {name!r}"
        if where:
            message += f" (in {where})"
        close = suggest(name, self.known)
        if close:
            message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        elif self.known and len(self.known) <= 30:
            message += f"; known: {', '.join(self.known)}"
        elif not self.known:
            message += f"; no {kind} is registered (is a plugin missing? see `zoo plugins`)"
        super().__init__(message)


class CatalogueError(ZooError):
    """A catalogue file or entry that is malformed or inconsistent."""


class IncompatibleError(ZooError):
    """An entry whose parts cannot work together (task, head, input shape)."""


class PluginError(ZooError):
    """A plugin failed to import, validate or run its hook (raised only in strict mode)."""


class ConflictError(ZooError):
    """Two plugins registered the same name; neither wins, so plugin order never matters."""


class DataError(ZooError):
    """Missing, corrupt or unreadable data."""


class NotTrainedError(ZooError):
    """An entry that has no saved model yet."""


class ClusterError(ZooError):
    """A multi-worker cluster that did not form, or lost a worker while training."""


class ZooWarning(UserWarning):
    """Something a user should know that does not stop the command (a cache turned off, an
    optional package missing). Library code warns with it; the CLI prints ``zoo: warning: …``."""


def suggest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for ``name`` among ``known`` ("did you mean")."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=n, cutoff=0.6)
    # A prefix or substring match is a good hint even when difflib's ratio is low (e.g. "cnn").
    extra = [k for k in known if name and (k.startswith(name) or name in k) and k not in close]
    return (close + extra)[:n]
