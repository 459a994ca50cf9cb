"""``zoo bench --executor ray`` on a real 2-node Ray cluster (a head and a second node on 127.0.0.1,
inside a loopback-only network namespace: see ``test_ray_netns.py``).

- A 2×2 sweep of hello-dense runs as Ray tasks, rows come back from both nodes (each row names
  its node), every row labelled with its sweep point and stored with the config it ran; an entry
  that asks for more GPUs than any node has fails at once instead of waiting forever.
- The second node is killed while it runs a job: that job becomes a failed row ("node died"),
  the row that had finished is kept (committed before the kill), and the bench ends in bounded time.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_ray_netns import RayCluster, namespace, require_ray

pytestmark = pytest.mark.slow

CATALOGUE = """
[entries.hello-big]          # more GPUs than any node has: must fail, not wait
extends = "hello-dense"
resources = { gpus = 4 }

[entries.hello-forever]      # trains until its node dies; only the second node has a GPU
extends = "hello-dense"
epochs = 1000000
resources = { cpus = 1, gpus = 1 }
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    require_ray()
    ns = namespace()
    root = tmp_path_factory.mktemp("ray")  # short: Ray's socket paths live under it
    try:
        yield RayCluster(ns, root, env={"ZOO_HOME": str(root / "node-home")}).start(
            head_cpus=1, nodes=[{"cpus": 1, "gpus": 1}])
    finally:
        ns.stop()


def zoo_in(cluster: RayCluster, home: Path, *args: str) -> subprocess.Popen:
    """The real CLI as a driver inside the cluster's namespace."""
    env = {**cluster.env, "ZOO_HOME": str(home), "ZOO_OFFLINE": "1"}
    env.pop("ZOO_REGISTRY", None)
    return subprocess.Popen(cluster.ns.command([sys.executable, "-m", "zoo", *args]), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def stored_rows(home: Path) -> list[dict]:
    db = home / "bench.sqlite"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return [{**json.loads(data), "entry_config": json.loads(config)}
                for data, config in conn.execute("SELECT data, entry_config FROM rows ORDER BY id")]


def test_a_sweep_runs_on_both_nodes_with_labels_and_configs(cluster: RayCluster, tmp_path: Path) -> None:
    catalogue = tmp_path / "entries.toml"
    catalogue.write_text(CATALOGUE, encoding="utf-8")
    home = tmp_path / "home"
    proc = zoo_in(cluster, home, "--registry", str(catalogue), "bench", "hello-dense", "hello-big",
                  "--set", "epochs=20", "--sweep", "learning_rate=0.01,0.05", "--sweep", "batch_size=2,3",
                  "--executor", "ray", "--address", cluster.address, "--format", "json")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err  # hello-big failed, as it must
    rows = json.loads(out)
    good = [r for r in rows if r["entry"] == "hello-dense"]
    assert [r["status"] for r in good] == ["ok"] * 4, err
    assert {r["label"] for r in good} == {f"learning_rate={lr} batch_size={bs}" for lr in (0.01, 0.05) for bs in (2, 3)}
    nodes = {r["node"] for r in good}
    assert len(nodes) == 2, nodes  # both nodes ran rows, and the rows say which
    assert all(n.split("/")[1].isalnum() and len(n.split("/")[1]) == 8 for n in nodes)
    big = [r for r in rows if r["entry"] == "hello-big"]
    assert len(big) == 4 and all(r["status"] == "failed" and "no node of the Ray cluster has" in r["error"] for r in big)
    # Stored as they finished, each with the config it ran.
    stored = [r for r in stored_rows(home) if r["entry"] == "hello-dense"]
    assert len(stored) == 4
    for row in stored:
        recipe = row["entry_config"]["recipe"]
        assert row["label"] == f"learning_rate={recipe['learning_rate']:g} batch_size={recipe['batch_size']}"
        assert row["epochs"] == 20 and row["batch_size"] == recipe["batch_size"]
    assert "ray: 8 job(s) on 2 node(s)" in err
    # zoo runs shows the labels and the nodes.
    listing = zoo_in(cluster, home, "runs", "last")
    text, _ = listing.communicate(timeout=120)
    assert "learning_rate=0.05 batch_size=3" in text and all(node in text for node in nodes)


def _worker_running(cluster: RayCluster, entry: str) -> bool:
    for pid in cluster.ns.pids():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"zoo.bench_worker" in command and entry.encode() in command:
            return True
    return False


def test_a_node_lost_mid_run_gives_an_error_row_and_keeps_finished_rows(cluster: RayCluster, tmp_path: Path) -> None:
    catalogue = tmp_path / "entries.toml"
    catalogue.write_text(CATALOGUE, encoding="utf-8")
    home = tmp_path / "home"
    proc = zoo_in(cluster, home, "--registry", str(catalogue), "bench", "hello-dense", "hello-forever",
                  "--executor", "ray", "--address", cluster.address, "--format", "json")
    try:
        deadline = time.monotonic() + 400
        # Wait until hello-dense's row is committed and hello-forever trains on the second node.
        while not ([r for r in stored_rows(home) if r["entry"] == "hello-dense"]
                   and _worker_running(cluster, "hello-forever")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the jobs never got going"
            time.sleep(0.5)
        killed = time.monotonic()
        cluster.kill_node(cluster.nodes[1])
        out, err = proc.communicate(timeout=120)  # no hang
        ended = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    rows = {r["entry"]: r for r in json.loads(out)}
    assert rows["hello-dense"]["status"] == "ok"
    lost = rows["hello-forever"]
    assert lost["status"] == "failed" and lost["error"].startswith("node died"), lost["error"]
    assert ended < 60, f"the bench took {ended:.0f}s to notice the lost node"
    stored = {r["entry"]: r for r in stored_rows(home)}
    assert stored["hello-dense"]["status"] == "ok" and stored["hello-forever"]["status"] == "failed"
    # Nothing of the lost job is left running: its worker process followed its node.
    deadline = time.monotonic() + 15
    while _worker_running(cluster, "hello-forever") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _worker_running(cluster, "hello-forever")


def test_an_unreachable_cluster_is_one_clear_error_at_once(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a free port on 127.0.0.1 with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ZOO_HOME": str(tmp_path / "home"), "ZOO_OFFLINE": "1"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "zoo", "bench", "hello-dense", "--executor", "ray",
                           "--address", f"127.0.0.1:{port}"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and time.monotonic() - started < 60
    assert done.stderr.strip().splitlines()[-1].startswith(f"zoo: error: cannot reach the Ray cluster at 127.0.0.1:{port}")
    assert not (tmp_path / "home" / "bench.sqlite").exists()  # nothing stored for a run that never started
    wrong = subprocess.run([sys.executable, "-m", "zoo", "bench", "hello-dense", "--address", f"127.0.0.1:{port}"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert wrong.returncode == 1 and "use it with --executor ray" in wrong.stderr
