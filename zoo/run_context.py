"""The run's context: its own folder, the entry's callbacks with what they ask for, epoch timing."""
from __future__ import annotations

import functools
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from zoo.errors import IncompatibleError
from zoo.registry import Registry, accepts_keyword
from zoo.specs import Entry


def reserve_run_dir(runs_dir: Path, entry_name: str) -> Path:
    """Create and return a new, empty folder for one run: ENTRY-YYYYmmdd-HHMMSS-PID[-N].

    Two runs of one entry in one process within the same second (a test, a sweep) get
    different folders: mkdir without exist_ok is the atomic claim, and a taken name gets -2, -3...
    """
    base = f"{entry_name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    candidate, n = runs_dir / base, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = runs_dir / f"{base}-{n}"


def fill_callback_context(factory: Callable[..., Any], params: dict[str, Any],
                          context: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """``params`` plus every run-context key (``run_dir``, ``target``, ``entry``) that ``factory``
    declares and ``params`` leave unset. Each value is made only when a factory asks for it."""
    for key, make in context.items():
        if key not in params and accepts_keyword(factory, key):
            params[key] = make()
    return params


def make_callbacks(entry: Entry, registry: Registry, runs_dir: Path) -> list[Any]:
    """Instantiate the entry's callbacks, filling in the run context each factory asks for.

    The run's folder under ``runs_dir`` is created only when a callback asks for ``run_dir``
    (then once, shared by the run's callbacks), so other runs leave no empty folders behind.
    """
    target = asdict(entry.target) if entry.target else None
    context: dict[str, Callable[[], Any]] = {
        "run_dir": functools.cache(lambda: str(reserve_run_dir(runs_dir, entry.name))),
        "target": lambda: target,
        "entry": lambda: entry.name,
    }
    callbacks = []
    for ref in entry.callbacks:
        spec = registry.callback(ref.name)
        params = fill_callback_context(spec.factory, {**spec.params, **ref.params}, context)
        try:
            callbacks.append(spec.factory(**params))
        except (TypeError, ValueError) as exc:
            raise IncompatibleError(f"entry {entry.name!r}: callback {spec.name!r} (plugin {spec.plugin}): {exc}") from exc
    return callbacks


class EpochTimer:
    """Wall time of every epoch and the first time the entry's target was reached."""

    def __new__(cls, target: Any = None) -> Any:  # a keras Callback built lazily (no TF at import)
        import keras

        class _EpochTimer(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.epoch_seconds: list[float] = []
                self.time_to_target: float | None = None

            def on_train_begin(self, logs: Any = None) -> None:
                self.start = time.perf_counter()

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.epoch_start = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                now = time.perf_counter()
                self.epoch_seconds.append(now - self.epoch_start)
                value = (logs or {}).get(target.metric) if target else None
                if self.time_to_target is None and value is not None and target.reached(float(value)):
                    self.time_to_target = now - self.start

        return _EpochTimer()


__all__ = ["reserve_run_dir", "fill_callback_context", "make_callbacks", "EpochTimer"]
