"""Where a bench's jobs run: one job is one entry × repeat × sweep point, and it runs as one
``python -m zoo.bench_worker`` process (:mod:`zoo.bench_worker`), which writes the job's row.

- :class:`LocalExecutor` (the default) starts the worker processes here, one after another.
- :class:`RayExecutor` turns every job into a Ray task (``num_cpus``/``num_gpus`` from the entry's
  ``resources``, no retries) that starts the same worker process on the node Ray picks, and hands
  rows back as they finish (``ray.wait``). A node lost mid-run turns its jobs into failed rows
  ("node died: …"); the other jobs go on. Ray is imported only here, only when it is used.

Both yield ``(job, row)`` pairs as jobs finish, so :func:`zoo.bench.bench` stores each row at once.
The parent never imports TensorFlow: the worker does, in its own process.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from zoo import settings
from zoo.errors import ZooError
from zoo.rows import BenchRow, failed_row
from zoo.targets import overrides_for
from zoo.tfruntime import _captured_stderr, distribution_env

Progress = Callable[[str], None]
log = logging.getLogger(__name__)
EXECUTORS: tuple[str, ...] = ("local", "ray")
#: A worker's line at the end of an epoch (:func:`zoo.measure.progress_callback` always writes one
#: for the first epoch): "  [entry] epoch 1/5 3.2s loss=…". Batch lines ("epoch 1/5 batch 3/9") differ.
EPOCH_END = re.compile(r"\bepoch \d+/\d+ \d+(?:\.\d+)?s(?:\s|$)")
#: Object store of a Ray that zoo starts itself (rows are small; Ray's default takes 30 % of RAM).
LOCAL_RAY_OBJECT_STORE = 300_000_000


@dataclass
class BenchOptions:
    """How ``zoo bench`` runs its entries."""

    overrides: Sequence[str] = ()
    registries: Sequence[str] = ()
    repeats: int = 1
    strategy: str = "default"
    cpu_devices: int | None = None
    timeout: float | None = None
    save: bool = False
    verbose: bool = False
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Job:
    """One entry × repeat × sweep point: what one worker process measures."""

    index: int
    entry: str
    repeat: int = 0
    seed: int | None = None
    overrides: tuple[str, ...] = ()   # on top of BenchOptions.overrides: the sweep point, the repeat's seed
    label: str | None = None           # the sweep point's overrides, shown in tables
    config: dict[str, Any] = field(default_factory=dict)   # the resolved entry, stored with the row
    cpus: float = 1.0
    gpus: float = 0.0
    tag: str = ""                      # the prefix of its worker's progress lines: "  [entry#2 key=value]"
    title: str = ""                    # how progress names it: "entry #2 (seed 1) [key=value]"

    def failed(self, error: str, **extra: Any) -> BenchRow:
        return failed_row(self.entry, error, self.repeat, seed=self.seed, label=self.label, **extra)


class Executor(Protocol):
    name: str

    def run(self, jobs: Sequence[Job], options: BenchOptions, progress: Progress) -> Iterator[tuple[Job, BenchRow]]:
        """Run every job; yield each ``(job, row)`` as soon as the job finishes."""
        ...


def executor_for(name: str, address: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``; ``address`` is the Ray cluster's)."""
    if name == "local":
        if address:
            raise ZooError("--address names a Ray cluster: use it with --executor ray")
        return LocalExecutor()
    if name == "ray":
        if address:
            _reachable(address)  # before anything is stored or started
        return RayExecutor(address)
    raise ZooError(f"unknown executor {name!r}; use one of: {', '.join(EXECUTORS)}")


# -- one worker process ---------------------------------------------------------------------------
def _signal_description(code: int) -> str:
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if -code == signal.SIGKILL else ""
    return f"worker killed by {name}{hint}"


def run_worker(entry: str, options: BenchOptions, repeat: int = 0, overrides: Sequence[str] = (),
               progress: Progress = log.info, label: str | None = None) -> BenchRow:
    """Benchmark one entry in a fresh ``python -m zoo.bench_worker`` process and return its row.

    Never raises for a failure of the entry itself (that is a row); KeyboardInterrupt stops
    the worker and propagates.
    """
    label = label or f"[{entry}]"
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        out = os.path.join(tmp, "row.json")
        command = [sys.executable, "-m", "zoo.bench_worker", entry, "--out", out, "--repeat", str(repeat),
                   "--strategy", options.strategy, "--label", label]
        for path in options.registries:
            command += ["--registry", str(path)]
        for item in [*overrides_for(entry, options.overrides), *overrides]:
            command += ["--set", item]
        if options.save:
            command.append("--save")
        if options.verbose:
            command.append("--verbose")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **options.env,
               **distribution_env(options.strategy, options.cpu_devices)}
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                text=True, errors="replace", bufsize=1)
        tail: collections.deque[str] = collections.deque(maxlen=20)
        epoch_ended = threading.Event()

        def forward() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                if not epoch_ended.is_set() and EPOCH_END.search(line):
                    epoch_ended.set()
                progress(line if line.startswith(label) else f"{label} | {line}")

        reader = threading.Thread(target=forward, daemon=True)
        reader.start()
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(options.timeout, on_timeout) if options.timeout else None
        if timer:
            timer.start()
        try:
            # wait4, not wait: it gives this child's own rusage (peak RSS even when it was killed).
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        except BaseException:  # Ctrl-C / SIGTERM while waiting: stop the worker, then propagate
            proc.kill()
            proc.wait()
            raise
        finally:
            if timer:
                timer.cancel()
        reader.join(timeout=5)
        wall = time.perf_counter() - start
        child_peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
        row: BenchRow | None = None
        if os.path.exists(out):
            try:
                with open(out, encoding="utf-8") as handle:
                    row = json.load(handle)
            except ValueError:
                row = None
        if row is None:
            if timed_out.is_set():
                error = f"timed out after {options.timeout:g}s"
            elif proc.returncode < 0:
                error = _signal_description(proc.returncode)
            else:
                last = next((l for l in reversed(tail) if l.strip()), "")
                error = f"worker exited with status {proc.returncode}" + (f": {last.strip()}" if last else "")
            row = failed_row(entry, error, repeat)
        elif row.get("status") != "ok" and "epochs" not in row and not epoch_ended.is_set():
            row["epochs"] = 0  # the worker failed before its first epoch ended: nothing trained
        row["wall_seconds"] = wall
        row.setdefault("peak_rss_mb", child_peak)
        if not row.get("peak_rss_mb"):
            row["peak_rss_mb"] = child_peak
        return row


def _finish(job: Job, row: BenchRow, node: str | None) -> BenchRow:
    row.setdefault("seed", job.seed)
    row["label"] = job.label
    row["node"] = node
    return row


class LocalExecutor:
    """Jobs one after another, each in a worker process on this machine."""

    name = "local"

    def run(self, jobs: Sequence[Job], options: BenchOptions, progress: Progress) -> Iterator[tuple[Job, BenchRow]]:
        host = socket.gethostname()
        for number, job in enumerate(jobs, start=1):
            recipe = job.config.get("recipe", {})
            progress(f"[{number}/{len(jobs)}] {job.title or job.entry}: training {recipe.get('epochs')} epoch(s), "
                     f"batch {recipe.get('batch_size')}, strategy {options.strategy}")
            row = run_worker(job.entry, options, job.repeat, job.overrides, progress, label=job.tag)
            yield job, _finish(job, row, host)


# -- Ray --------------------------------------------------------------------------------------------
def import_ray(what: str = "--executor ray") -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ZooError(f"{what} needs Ray: pip install 'zoo-models[ray]'") from None
    return ray


def ray_temp_dir() -> str:
    """Where a Ray that zoo starts keeps its session files: ``ZOO_HOME/ray``, unless that path is
    too long for the Unix sockets Ray puts under it (107 bytes in all), then a short /tmp folder."""
    path = settings.home() / "ray"
    if len(str(path)) <= 40:
        path.mkdir(parents=True, exist_ok=True)
        return str(path)
    short = tempfile.mkdtemp(prefix="zoo-ray-")
    log.debug("ZOO_HOME/ray is too long a path for Ray's sockets; Ray's session files go to %s", short)
    return short


def _local_auth_token(folder: Path) -> None:
    """A Ray started here authenticates with a token (Ray's default for ``ray.init``); keep it in
    ``ZOO_HOME/ray/auth_token`` rather than Ray's ``~/.ray``, unless the user chose otherwise."""
    if any(os.environ.get(name) for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")):
        return
    import secrets

    token = folder / "auth_token"
    if not token.exists():
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))


def connect_ray(address: str | None, verbose: bool = False, what: str = "--executor ray") -> Any:
    """``ray.init``: join the cluster at ``address`` (``HOST:PORT`` of ``ray start --head``), or
    start a Ray on this machine when there is none (its files under ``ZOO_HOME/ray``). Workers'
    output stays in Ray's logs unless ``verbose``."""
    if not address:  # before Ray is imported: its core reads the authentication settings once
        _local_auth_token(settings.home() / "ray")
    ray = import_ray(what)
    kwargs: dict[str, Any] = {"log_to_driver": verbose, "logging_level": logging.INFO if verbose else logging.WARNING}
    try:
        # Ray's C++ core logs its start-up on stderr (shown with -v, or when ray.init fails).
        with _captured_stderr(replay=verbose):
            _init(ray, address, kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise ZooError(f"cannot start or reach {where}: {str(exc).strip().splitlines()[0]}") from None
    return ray


def _reachable(address: str, timeout: float = 10.0) -> None:
    """A one-line error when nothing listens at ``HOST:PORT`` (``ray.init`` would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return  # ray://…, "auto" and the like: Ray's own business
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ZooError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} "
                       f"(is `ray start --head --port={port}` running there?)") from None


def _init(ray: Any, address: str | None, kwargs: dict[str, Any]) -> None:
    if address:
        _reachable(address)
        ray.init(address=address, **kwargs)
    else:
        ray.init(include_dashboard=False, _temp_dir=ray_temp_dir(), object_store_memory=LOCAL_RAY_OBJECT_STORE,
                 **kwargs)


def node_name(node_id: str, host: str | None = None) -> str:
    """A Ray node as a row records it: its host name and the first 8 hex digits of its node id
    (two nodes on one host differ by the id)."""
    return f"{host or socket.gethostname()}/{node_id[:8]}"


def run_on_node(job: Job, options: BenchOptions, catalogues: Sequence[tuple[str, str]]) -> BenchRow:
    """A Ray task: the job's worker process on this node. The driver's user catalogues arrive as
    ``(file name, text)`` pairs and are written to a temporary folder here."""
    import ray

    node = node_name(ray.get_runtime_context().get_node_id())
    with tempfile.TemporaryDirectory(prefix="zoo-catalogues-") as tmp:
        paths = []
        for number, (name, text) in enumerate(catalogues):
            path = Path(tmp) / f"{number}-{name}"
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        row = run_worker(job.entry, dataclasses.replace(options, registries=tuple(paths)), job.repeat,
                         job.overrides, lambda line: print(line, flush=True), label=job.tag)
    return _finish(job, row, node)


def _lost(exc: Exception, hosts: dict[str, str]) -> tuple[str, str | None]:
    """A Ray error as a row's error, and the node it names (``node ID: …``) when it names one."""
    text = " ".join(str(exc).split())
    match = re.search(r"node ID: ([0-9a-f]{8,})", text)
    node = node_name(match.group(1), hosts.get(match.group(1))) if match else None
    kind = type(exc).__name__
    if kind == "NodeDiedError":
        return f"node died: {text.split('. ')[0]}"[:500], node
    return f"{kind}: {text}"[:500], node


def _infeasible(job: Job, nodes: list[dict[str, Any]]) -> str | None:
    """Why no node of the cluster could ever run ``job`` (then Ray would wait forever), or None."""
    for node in nodes:
        have = node.get("Resources", {})
        if have.get("CPU", 0) >= job.cpus and have.get("GPU", 0) >= job.gpus:
            return None
    biggest = max(nodes, key=lambda n: (n["Resources"].get("GPU", 0), n["Resources"].get("CPU", 0)), default=None)
    offer = (f"; the largest offers {biggest['Resources'].get('CPU', 0):g} CPU(s), "
             f"{biggest['Resources'].get('GPU', 0):g} GPU(s)") if biggest else ""
    return (f"no node of the Ray cluster has {job.cpus:g} CPU(s) and {job.gpus:g} GPU(s) free to give "
            f"(the entry's resources){offer}")


class RayExecutor:
    """Jobs as Ray tasks on a cluster (``address``) or on a Ray started here; rows as they finish."""

    name = "ray"

    def __init__(self, address: str | None = None):
        self.address = address

    def run(self, jobs: Sequence[Job], options: BenchOptions, progress: Progress) -> Iterator[tuple[Job, BenchRow]]:
        if options.strategy == "multiworker":
            raise ZooError("--strategy multiworker runs one entry on many machines itself; "
                           "it does not combine with --executor ray")
        ray = connect_ray(self.address, options.verbose)
        pending: dict[Any, Job] = {}
        try:
            nodes = [n for n in ray.nodes() if n.get("Alive")]
            hosts = {n["NodeID"]: n.get("NodeManagerHostname", "?") for n in ray.nodes()}
            total = ray.cluster_resources()
            progress(f"ray: {len(jobs)} job(s) on {len(nodes)} node(s) with {total.get('CPU', 0):g} CPU(s), "
                     f"{total.get('GPU', 0):g} GPU(s) ({self.address or 'a Ray started here'})")
            catalogues = [(Path(p).name, Path(p).read_text(encoding="utf-8"))
                          for p in [*settings.user_catalogues(), *options.registries]]
            # Each node has its own ZOO_HOME; data paths and switches travel; catalogues as text.
            remote = dataclasses.replace(options, registries=(),
                                         env={**options.env, **settings.forwarded(), "ZOO_REGISTRY": ""})
            task = ray.remote(run_on_node)
            for job in jobs:
                problem = _infeasible(job, nodes)
                if problem:
                    yield job, job.failed(problem)
                    continue
                ref = task.options(num_cpus=job.cpus, num_gpus=job.gpus, max_retries=0, retry_exceptions=False,
                                   name=f"zoo-bench:{job.entry}").remote(job, remote, catalogues)
                pending[ref] = job
            while pending:
                # A short timeout keeps Ctrl-C responsive; a lost node surfaces here as an error.
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        row = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        error, node = _lost(exc, hosts)
                        row = job.failed(error, node=node)
                    yield job, row
        finally:
            for ref in pending:  # interrupted: stop what still runs (its worker process follows)
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - best effort while shutting down
                    pass
            ray.shutdown()


__all__ = ["BenchOptions", "Job", "Executor", "LocalExecutor", "RayExecutor", "EXECUTORS", "executor_for",
           "run_worker", "connect_ray", "import_ray", "ray_temp_dir", "node_name", "run_on_node"]
