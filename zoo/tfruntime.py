"""Importing TensorFlow quietly and configuring it before its first op.

TensorFlow prints oneDNN, CUDA-stub and CPU-feature notices from C++ on every import, before its
logging can be configured, and none of them is something a user can act on. They are captured at
the file-descriptor level and replayed only when the import fails or ``verbose`` is asked for.
Thread counts must be set before TensorFlow runs its first op (later, it raises), so they are set
here, right after the import.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from zoo import settings

_STATE: dict[str, Any] = {}


@contextlib.contextmanager
def _captured_stderr(replay: bool) -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if replay or failed:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))


def import_tensorflow(
    verbose: bool = False,
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
) -> Any:
    """Import TensorFlow once, quietly, and apply thread settings; return the module."""
    if "tf" in _STATE:
        tf = _STATE["tf"]
        wanted = (intra_op_threads, inter_op_threads)
        if wanted != (None, None) and wanted != _STATE["threads"]:
            # Threads can only be set before the first op; say so instead of TF's RuntimeError.
            import warnings

            from zoo.errors import ZooWarning

            warnings.warn(f"thread settings {wanted} ignored: TensorFlow already runs with "
                          f"{_STATE['threads']} in this process", ZooWarning, stacklevel=2)
        return tf
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _captured_stderr(replay=verbose):
        import tensorflow as tf

        if intra_op_threads is not None:
            tf.config.threading.set_intra_op_parallelism_threads(int(intra_op_threads))
        if inter_op_threads is not None:
            tf.config.threading.set_inter_op_parallelism_threads(int(inter_op_threads))
        _split_cpu(tf)
        if settings.multiworker():
            # MultiWorkerMirroredStrategy configures collective ops, which TensorFlow accepts only
            # before it initialises its devices; it waits (boundedly) for every worker to join.
            from zoo.distributed import create_strategy

            _STATE["multiworker"] = create_strategy(_multiworker_timeout())
        tf.config.list_logical_devices()  # device init prints CUDA notices: keep them in here
    if not verbose:
        import logging

        tf.get_logger().setLevel(logging.ERROR)
    _STATE["tf"] = tf
    _STATE["threads"] = (intra_op_threads, inter_op_threads)
    return tf


def _multiworker_timeout() -> float:
    try:
        return settings.multiworker_timeout()
    except ValueError as exc:
        from zoo.errors import ClusterError

        raise ClusterError(str(exc)) from None


def _split_cpu(tf: Any) -> None:
    """``ZOO_CPU_DEVICES=N`` splits the host CPU into N logical devices, so that
    ``MirroredStrategy`` can run N replicas on a machine without GPUs (tests, benchmarks of the
    distribution overhead). Must happen before TensorFlow initialises its devices."""
    try:
        count = settings.cpu_devices()
    except ValueError:
        raise ValueError(f"ZOO_CPU_DEVICES must be a whole number, not {os.environ.get('ZOO_CPU_DEVICES')!r}") from None
    if not count:
        return
    cpus = tf.config.list_physical_devices("CPU")
    if count > 1 and cpus:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)


#: The ``tf.distribute`` strategies zoo trains under (``zoo bench/train --strategy``).
STRATEGIES = ("default", "mirrored", "multiworker")


def distribution_env(strategy: str, cpu_devices: int | None = None) -> dict[str, str]:
    """The environment a process needs, before it imports TensorFlow, to train under
    ``strategy``: ``ZOO_CPU_DEVICES`` (logical CPU devices, applied at device initialisation)
    and ``ZOO_MULTIWORKER`` (the multi-worker strategy must exist before that)."""
    env = {}
    if cpu_devices:
        env["ZOO_CPU_DEVICES"] = str(cpu_devices)
    if strategy == "multiworker":
        env["ZOO_MULTIWORKER"] = "1"
    return env


def multiworker_strategy() -> Any:
    """The process's ``MultiWorkerMirroredStrategy``: the one made at import when
    ``ZOO_MULTIWORKER=1`` (TensorFlow accepts it only before device initialisation), else a
    new one (which works only if TensorFlow has not initialised its devices yet). Models built
    under it train with zoo's own loop (:mod:`zoo.distributed`), not Keras's ``fit``."""
    import_tensorflow()
    if "multiworker" not in _STATE:
        from zoo.distributed import create_strategy

        try:
            _STATE["multiworker"] = create_strategy(_multiworker_timeout())
        except RuntimeError as exc:
            from zoo.errors import IncompatibleError

            raise IncompatibleError(
                f"multiworker strategy: {exc}; set ZOO_MULTIWORKER=1 (zoo bench --strategy multiworker does) "
                "so that it is created when TensorFlow starts"
            ) from None
    return _STATE["multiworker"]


def thread_settings() -> dict[str, int]:
    """The intra/inter-op thread counts TensorFlow runs with (0 means "TF decides")."""
    tf = import_tensorflow()
    return {
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }
