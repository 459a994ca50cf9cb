"""``--strategy multiworker`` for real: two worker processes on localhost form a
``MultiWorkerMirroredStrategy`` cluster through ``TF_CONFIG`` and train one model together.

This is also the test of :mod:`zoo.tfcompat`: without its patch, Keras 3's ``fit`` fails under
this strategy before the first step.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_cluster(args: list[str], home: Path, workers: int = 2, timeout: float = 240) -> list[subprocess.CompletedProcess]:
    """Run ``zoo ARGS`` as every worker of a localhost cluster at once; all share ``home``."""
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(workers)]}
    procs = []
    for index in range(workers):
        env = {**os.environ, "ZOO_HOME": str(home), "ZOO_OFFLINE": "1",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        env.pop("ZOO_REGISTRY", None)
        procs.append(subprocess.Popen([sys.executable, "-m", "zoo", *args], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env))
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    finally:
        for proc in procs:  # a worker whose peer died waits in a collective forever
            proc.kill()
    return results


def _evaluate_alone(name: str, home: Path) -> dict:
    env = {**os.environ, "ZOO_HOME": str(home), "ZOO_OFFLINE": "1"}
    env.pop("TF_CONFIG", None)
    result = subprocess.run([sys.executable, "-m", "zoo", "evaluate", name, "--json"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_two_workers_bench_one_model_in_sync(tmp_path: Path) -> None:
    results = _run_cluster(["bench", "hello-dense", "--strategy", "multiworker", "--set", "epochs=5",
                            "--save", "--format", "json"], tmp_path)
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
    rows = [json.loads(r.stdout)[0] for r in results]
    for index, row in enumerate(rows):
        assert row["status"] == "ok" and row["strategy"] == "multiworker"
        assert row["replicas"] == 2  # one replica per worker, the global batch split between them
        assert row["environment"]["tf_config_task"] == {"type": "worker", "index": index}
        assert row["inference_samples_per_second"] > 0
    # Synchronous training: both workers end with the same weights, hence the same metrics.
    assert rows[0]["metrics"] == rows[1]["metrics"]
    # Only the chief saved; its model, evaluated alone without any strategy, scores what the
    # cluster reported: the metrics were averaged across workers, not summed or taken from one.
    assert rows[0]["model_dir"] and rows[1]["model_dir"] is None
    alone = _evaluate_alone("hello-dense", tmp_path)
    for split, values in rows[0]["metrics"].items():
        for metric, value in values.items():
            assert alone[split][metric] == pytest.approx(value, rel=1e-5), (split, metric)
    # Both workers recorded their rows in the one history database they share.
    listed = subprocess.run([sys.executable, "-m", "zoo", "runs", "--format", "json"], capture_output=True,
                            text=True, env={**os.environ, "ZOO_HOME": str(tmp_path)}, timeout=60)
    assert [run["status"] for run in json.loads(listed.stdout)] == ["finished", "finished"]


def test_two_workers_train_and_only_the_chief_saves(tmp_path: Path) -> None:
    results = _run_cluster(["train", "hello-dense", "--strategy", "multiworker", "--set", "epochs=3",
                            "--json", "--quiet"], tmp_path)
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
    chief, other = (json.loads(r.stdout) for r in results)
    assert chief["metrics"] == other["metrics"]
    assert chief["model_dir"] == str(tmp_path / "models" / "hello-dense") and other["model_dir"] is None
    assert _evaluate_alone("hello-dense", tmp_path)["test"]["loss"] == pytest.approx(chief["metrics"]["test"]["loss"], rel=1e-5)
