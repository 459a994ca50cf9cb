"""A loopback-only network namespace and a real Ray cluster inside it, for the Ray tests and the
Ray benchmarks (``benchmarks/ray_overhead.py``, ``benchmarks/tune_fashion.py``).

Ray replaces 127.0.0.1 with the host's routable address (``--node-ip-address``, ``--address``,
``ray.init``), and no traffic may go anywhere but loopback here. So the test makes a network
namespace of its own (``unshare -n``, as root) whose only interface is ``lo``, and runs every Ray
process and every zoo driver inside it (``nsenter --net=…``): there, 127.0.0.1 is the only
address Ray can find. Every port is free in a fresh namespace. What the namespace ran is stopped
by PID (every process whose network namespace it is), never with ``ray stop``, which would end
every Ray process on the host.

Where a namespace cannot be made (not root, no ``unshare``), the tests skip with the reason, or
fail under ``ZOO_REQUIRE_DATA=1``. The tests here check the namespace itself.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent
RAY_PORT = 6380  # any port is free in a fresh namespace
#: Small nodes: no dashboard, a 300 MB object store (Ray's default reserves 30 % of RAM per node).
NODE_FLAGS = ("--object-store-memory=300000000", "--disable-usage-stats")


def _unavailable(reason: str) -> None:
    from zoo import settings

    if settings.require_data():
        pytest.fail(f"{reason} (ZOO_REQUIRE_DATA=1)")
    pytest.skip(reason)


def _ns_inode(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


class NetNamespace:
    """A loopback-only network namespace held open by a ``sleep`` process of ours."""

    def __init__(self) -> None:
        self.holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while _ns_inode(self.holder.pid) in (None, _ns_inode("self")):
            if self.holder.poll() is not None:
                error = self.holder.stderr.read().decode(errors="replace").strip() if self.holder.stderr else ""
                raise OSError(f"unshare -n failed: {error or self.holder.returncode}")
            if time.monotonic() > deadline:
                self.holder.kill()
                raise OSError("unshare -n made no namespace within 10 s")
            time.sleep(0.02)
        self.path = f"/proc/{self.holder.pid}/ns/net"
        self.inode = _ns_inode(self.holder.pid)
        subprocess.run(self.command(["ip", "link", "set", "lo", "up"]), check=True, capture_output=True, timeout=30)

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["nsenter", f"--net={self.path}", *argv]

    def pids(self) -> list[int]:
        """Every process in the namespace but its holder."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != self.holder.pid and _ns_inode(entry) == self.inode:
                found.append(int(entry))
        return found

    def stop(self) -> None:
        """Stop everything the namespace ran (TERM, then KILL after 5 s), then the namespace."""
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.1)
        self.holder.kill()
        self.holder.wait(timeout=10)


def namespace() -> NetNamespace:
    """A fresh loopback-only namespace, or a skip (a failure under ZOO_REQUIRE_DATA=1) saying why not."""
    if os.geteuid() != 0:
        _unavailable("a loopback-only network namespace for Ray needs root (unshare -n)")
    for tool in ("unshare", "nsenter", "ip"):
        if not shutil.which(tool):
            _unavailable(f"{tool} is not installed: no loopback-only network namespace for Ray")
    try:
        return NetNamespace()
    except (OSError, subprocess.SubprocessError) as exc:
        _unavailable(f"cannot make a loopback-only network namespace: {exc}")
        raise


def require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        _unavailable("ray is not installed (pip install -e '.[test]' installs it)")


class RayCluster:
    """A head and more nodes on 127.0.0.1 inside ``ns``, each ``ray start --block`` a process
    group of its own (so one node can be killed whole)."""

    def __init__(self, ns: NetNamespace, root: Path, env: dict[str, str] | None = None):
        self.ns, self.root = ns, root
        # No token authentication: nothing outside the namespace can reach these nodes.
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", **(env or {})}
        self.address = f"127.0.0.1:{RAY_PORT}"
        self.nodes: list[subprocess.Popen] = []

    def _start(self, name: str, flags: Sequence[str]) -> subprocess.Popen:
        log = (self.root / f"{name}.log").open("w")
        proc = subprocess.Popen(self.ns.command([str(VENV_BIN / "ray"), "start", *flags, *NODE_FLAGS, "--block"]),
                                stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + 180
        while "block forever" not in (self.root / f"{name}.log").read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start ({name}) failed:\n" + (self.root / f"{name}.log").read_text()[-3000:])
            time.sleep(0.2)
        self.nodes.append(proc)
        return proc

    def start(self, head_cpus: int = 1, nodes: Sequence[dict[str, int]] = ({"cpus": 1},)) -> "RayCluster":
        self._start("head", ["--head", "--include-dashboard=false", "--node-ip-address=127.0.0.1", f"--port={RAY_PORT}", f"--num-cpus={head_cpus}",
                             "--num-gpus=0", f"--temp-dir={self.root / 'tmp'}"])
        for node in nodes:
            self.add_node(**node, wait=False)
        self.wait_for_nodes(1 + len(nodes))
        return self

    def add_node(self, cpus: int = 1, gpus: int = 0, wait: bool = True) -> subprocess.Popen:
        """Another node joins the cluster (``ray start --address``)."""
        proc = self._start(f"node{len(self.nodes) + 1}", [f"--address={self.address}", f"--num-cpus={cpus}",
                                                          f"--num-gpus={gpus}"])
        if wait:
            self.wait_for_nodes(len(self.nodes))
        return proc

    def alive_nodes(self) -> list[dict]:
        code = ("import json, logging, ray; ray.init(address=%r, logging_level=logging.ERROR); "
                "print(json.dumps([n for n in ray.nodes() if n['Alive']], default=str))" % self.address)
        out = subprocess.run(self.ns.command([sys.executable, "-c", code]), capture_output=True, text=True,
                             env={**self.env, "RAY_BACKEND_LOG_LEVEL": "error"}, timeout=180)
        return json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else []

    def wait_for_nodes(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.alive_nodes()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Ray cluster did not reach {count} nodes in {timeout:g} s")
            time.sleep(1)

    def kill_node(self, proc: subprocess.Popen) -> None:
        """Kill one node whole (``ray start``, its raylet and agents: its process group); its
        workers notice their raylet is gone and exit."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


# -- the namespace itself ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ns():
    space = namespace()
    try:
        yield space
    finally:
        space.stop()


def test_the_namespace_has_loopback_only(ns: NetNamespace) -> None:
    out = subprocess.run(ns.command(["ip", "-o", "addr"]), capture_output=True, text=True, check=True).stdout
    interfaces = {line.split()[1] for line in out.splitlines()}
    assert interfaces == {"lo"}
    assert "127.0.0.1" in out


def test_stop_ends_every_process_of_the_namespace_and_nothing_else() -> None:
    space = namespace()
    outside = subprocess.Popen(["sleep", "60"])
    try:
        inside = [subprocess.Popen(space.command(["sleep", "60"]), start_new_session=True) for _ in range(2)]
        deadline = time.monotonic() + 10
        while len(space.pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(space.pids()) >= 2 and outside.pid not in space.pids()
        space.stop()
        assert space.pids() == []
        assert all(p.wait(timeout=10) is not None for p in inside)
        assert outside.poll() is None  # a process outside the namespace is left alone
    finally:
        outside.kill()
        outside.wait()
        if space.holder.poll() is None:
            space.stop()
