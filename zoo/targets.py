"""Overrides aimed at one entry: ``--set ENTRY:KEY=VALUE`` and ``--sweep ENTRY:KEY=V1,V2``.

An override is split at its first ``=``; on the key side, a ``:`` separates the entry's name from
the key (keys never hold one; values may: paths, URLs). ``KEY=VALUE`` applies to every entry of the
command, ``ENTRY:KEY=VALUE`` to that entry only, and each entry takes its own in the order given,
so a later one wins. A prefix must name an entry the command runs; otherwise the command stops
before anything trains, with a suggestion (exit status 2, as for other usage errors).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from zoo.errors import ZooError, suggest


class TargetError(ZooError):
    """An ``ENTRY:`` prefix that names no entry of this command (a usage error)."""

    exit_code = 2


def split_target(item: str, option: str = "--set") -> tuple[str | None, str]:
    """``"fashion-cnn:epochs=1"`` → ``("fashion-cnn", "epochs=1")``; ``"epochs=1"`` → ``(None,
    "epochs=1")``; ``"dataset.data_dir=C:/x"`` → ``(None, …)`` (a ``:`` in the value is the value's).
    Text without ``=`` comes back whole, for the override's own parser to reject."""
    key, sep, value = item.partition("=")
    if not sep or ":" not in key:
        return None, item
    target, _, key = key.rpartition(":")  # an entry name may hold a ':', a key never does
    target, key = target.strip(), key.strip()
    if not target or not key:
        raise TargetError(f"{option} {item!r}: expected ENTRY:KEY=VALUE or KEY=VALUE, e.g. epochs=1 "
                          f"or fashion-cnn:epochs=1")
    return target, f"{key}={value}"


def check_targets(items: Iterable[str], names: Sequence[str], option: str = "--set") -> None:
    """Raise :class:`TargetError` for the first ``ENTRY:`` prefix among ``items`` that names none
    of ``names`` (the entries this command runs), suggesting close ones."""
    for item in items:
        target, _ = split_target(item, option)
        if target is None or target in names:
            continue
        close = suggest(target, names)
        if close:
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?"
        elif len(names) <= 10:
            hint = f"; they are {', '.join(repr(n) for n in names)}"
        else:
            hint = f"; there are {len(names)} (see `zoo list`)"
        raise TargetError(f"{option} {item}: entry {target!r} is not among this command's entries{hint}")


def overrides_for(name: str, items: Iterable[str]) -> list[str]:
    """The overrides that apply to entry ``name``, in order, without their ``ENTRY:`` prefix."""
    own = []
    for item in items:
        target, plain = split_target(item)
        if target is None or target == name:
            own.append(plain)
    return own


def own_overrides(name: str, items: Sequence[str], option: str = "--set") -> list[str]:
    """For a command on one entry (``zoo train NAME``, ``show``, ``tune``…): ``items`` checked
    (a prefix must be ``NAME:``) and without their prefixes."""
    check_targets(items, [name], option)
    return overrides_for(name, items)


__all__ = ["TargetError", "split_target", "check_targets", "overrides_for", "own_overrides"]
