"""``--strategy multiworker`` for real: worker processes on 127.0.0.1 form a
``MultiWorkerMirroredStrategy`` cluster through ``TF_CONFIG`` and train one model together with
zoo's own distributed loop (:mod:`zoo.distributed`); Keras's ``fit`` fails under this strategy.

- Two workers train fashion-dense for 300 steps: both finish with the same weights, only the
  chief saves, the saved model scores alone what the cluster reported, and the run matches a
  single process training with Keras's ``fit`` on the same global batches.
- A worker killed mid-training makes the other exit with one clear line within a bound.
- A worker alone (its peer never starts) gives up after ``ZOO_MULTIWORKER_TIMEOUT``.

Every process a test starts is killed in a ``finally``, by PID.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from zoo.testing import local_tf_configs

pytestmark = pytest.mark.slow

ENTRY = "fashion-dense"
# 3 epochs × 100 steps of a global batch of 64: each of two workers computes 32 examples a step.
RECIPE = ("epochs=3", "steps_per_epoch=100", "batch_size=64")
# Trains one model through zoo.runner (what `zoo train` and `zoo bench` call) and writes what the
# test compares: the final weights of this worker, and its result.
DRIVER = """
import json, sys
import numpy as np
from zoo import runner
from zoo.catalogue import load_catalogue

name, out, strategy, *overrides = sys.argv[1:]
catalogue = load_catalogue()
trained = runner.train(catalogue.resolve(name, overrides), catalogue.registry, verbose=0, strategy=strategy)
np.savez(out + ".npz", *[np.asarray(w) for w in trained.model.get_weights()])
with open(out + ".json", "w") as handle:
    json.dump(trained.result.to_dict(), handle, default=str)
"""


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ZOO_REGISTRY", "TF_CONFIG", "ZOO_MULTIWORKER")}
    return {**env, "ZOO_HOME": str(home), "ZOO_OFFLINE": "1", **extra}


def _port(config: str) -> str:
    """The port of the worker a ``TF_CONFIG`` value is for."""
    parsed = json.loads(config)
    return parsed["cluster"]["worker"][parsed["task"]["index"]].rsplit(":", 1)[1]


class Cluster:
    """Worker processes started with their own ``TF_CONFIG``, output in files, killed at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.procs = folder, []

    def start(self, command: list[str], env: dict[str, str], group: bool = False,
              cwd: Path | None = None) -> subprocess.Popen:
        """Start ``command``; with ``group``, in a new process group that :meth:`kill_all` kills whole."""
        index = len(self.procs)
        out = open(self.folder / f"proc{index}.out", "w")  # noqa: SIM115 - closed with the process
        err = open(self.folder / f"proc{index}.err", "w")  # noqa: SIM115
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, text=True, start_new_session=group,
                                cwd=cwd)
        proc.group = group  # type: ignore[attr-defined]
        proc.files = (out, err)  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def wait(self, proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
        code = proc.wait(timeout=timeout)
        for handle in proc.files:  # type: ignore[attr-defined]
            handle.close()
        index = self.procs.index(proc)
        return (code, (self.folder / f"proc{index}.out").read_text(), (self.folder / f"proc{index}.err").read_text())

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.group:  # type: ignore[attr-defined]
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the group this test made, by its id
            if proc.poll() is None:
                proc.kill()  # a worker whose peer died can wait in a collective
                proc.wait(timeout=30)
            for handle in proc.files:  # type: ignore[attr-defined]
                handle.close()


@pytest.fixture
def cluster(tmp_path: Path):
    started = Cluster(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


def test_two_workers_train_one_model_like_one_process(shared_data: Path, tmp_path: Path, cluster: Cluster) -> None:
    import numpy as np

    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    home, configs = tmp_path / "home", local_tf_configs(2)
    data = {"ZOO_DATA_DIR": str(shared_data)}
    workers = [cluster.start([sys.executable, str(driver), ENTRY, str(tmp_path / f"worker{i}"), "multiworker", *RECIPE],
                             _env(home, ZOO_MULTIWORKER="1", TF_CONFIG=configs[i], **data))
               for i in range(2)]
    # At the same time, the same global batches in one process, under no strategy: Keras's own fit.
    alone = cluster.start([sys.executable, str(driver), ENTRY, str(tmp_path / "alone"), "default", *RECIPE],
                          _env(tmp_path / "home-alone", **data))
    finished = [cluster.wait(proc, timeout=400) for proc in (*workers, alone)]
    assert [code for code, _, _ in finished] == [0, 0, 0], [err[-3000:] for _, _, err in finished]

    results = [json.loads((tmp_path / f"{name}.json").read_text()) for name in ("worker0", "worker1", "alone")]
    weights = [np.load(tmp_path / f"{name}.npz") for name in ("worker0", "worker1", "alone")]
    for result in results:
        assert result["epochs"] == 3 and len(result["history"]["loss"]) == 3
    assert [r["replicas"] for r in results] == [2, 2, 1]
    # Synchronous training: both workers end with the same weights (to float rounding).
    assert len(weights[0].files) == len(weights[1].files) == 4  # two Dense layers: kernels and biases
    for key in weights[0].files:
        assert np.max(np.abs(weights[0][key] - weights[1][key])) <= 1e-6, key
    assert results[0]["history"] == results[1]["history"] and results[0]["metrics"] == results[1]["metrics"]
    # ... and train as one process does on the same global batches: same losses, same accuracy
    # (every global batch is split between the workers, so only summation order differs).
    for mine, keras in zip(results[0]["history"]["loss"], results[2]["history"]["loss"], strict=True):
        assert mine == pytest.approx(keras, rel=1e-3)
    assert results[0]["history"]["accuracy"][-1] == pytest.approx(results[2]["history"]["accuracy"][-1], abs=0.01)
    for split in ("train", "test"):
        assert results[0]["metrics"][split]["accuracy"] == pytest.approx(results[2]["metrics"][split]["accuracy"], abs=0.01)
    assert results[0]["metrics"]["test"]["accuracy"] > 0.75  # it learnt: 10 classes, chance is 0.1
    # Only the chief (worker 0) saved, and nothing else was left in the models folder.
    assert results[0]["model_dir"] == str(home / "models" / ENTRY) and results[1]["model_dir"] is None
    assert sorted(p.name for p in (home / "models").iterdir()) == [ENTRY]
    # The saved model, evaluated alone without any strategy, scores what the cluster reported:
    # the metrics were summed over both workers' halves, not taken from one.
    evaluate = cluster.start([sys.executable, "-m", "zoo", "evaluate", ENTRY, "--json"], _env(home, **data))
    code, out, err = cluster.wait(evaluate, timeout=300)
    assert code == 0, err[-3000:]
    for split, values in json.loads(out).items():
        for metric, value in values.items():
            assert results[0]["metrics"][split][metric] == pytest.approx(value, rel=1e-4), (split, metric)


def _wait_for_epochs(path: Path, epochs: int, proc: subprocess.Popen, timeout: float) -> None:
    """Until ``path`` (a CSV logger's file: a header, then a row per epoch) has ``epochs`` rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) > epochs:
            return
        assert proc.poll() is None, f"worker exited early with {proc.returncode}"
        time.sleep(0.2)
    raise AssertionError(f"no {epochs} epochs logged in {path} within {timeout}s")


@pytest.mark.parametrize("killed", [0, 1], ids=["chief-killed", "worker-killed"])
def test_a_killed_worker_stops_the_other_with_one_clear_line(killed: int, tmp_path: Path, cluster: Cluster) -> None:
    home, configs = tmp_path / "home", local_tf_configs(2)
    workers = []
    for i in range(2):
        csv = f'callbacks=[{{name = "csv-logger", filename = "{tmp_path / f"epochs{i}.csv"}"}}]'
        workers.append(cluster.start(
            [sys.executable, "-m", "zoo", "train", "hello-dense", "--strategy", "multiworker", "--quiet",
             "--set", "epochs=1000000", "--set", csv],
            _env(home, TF_CONFIG=configs[i])))
    _wait_for_epochs(tmp_path / f"epochs{1 - killed}.csv", 20, workers[1 - killed], timeout=300)
    workers[killed].kill()
    killed_at = time.monotonic()
    code, _, err = cluster.wait(workers[1 - killed], timeout=120)
    waited = time.monotonic() - killed_at
    assert code == 1, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("zoo: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    assert f"multi-worker training of hello-dense: lost contact with worker {killed}" in lines[0], lines[0]
    # TensorFlow's coordination service notices a dead peer within its 10 s heartbeat timeout
    # (a collective waiting on it fails sooner); the process then exits.
    assert waited < 60, f"the surviving worker took {waited:.1f}s to exit"
    assert not (home / "models").exists()  # nobody saved a half-trained model


def test_the_docs_two_workers_on_one_machine(tmp_path: Path, cluster: Cluster) -> None:
    """docs/scale.md's "Try it on one machine" block, run as it is written, on free ports."""
    text = (REPO / "docs" / "scale.md").read_text(encoding="utf-8")
    marker = text.index("<!-- docs-test: skip tests/test_multiworker.py runs this block")
    block = text[marker:].split("```bash\n", 1)[1].split("```", 1)[0]
    assert "23456" in block and "23457" in block and "zoo train hello-dense --strategy multiworker" in block
    configs = local_tf_configs(2)
    script = block.replace("23456", _port(configs[0])).replace("23457", _port(configs[1]))
    env = _env(tmp_path / "home", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    # Its own process group, so that the workers it starts in the background are killed with it.
    shell = cluster.start(["bash", "-c", script], env, group=True, cwd=tmp_path)
    code, out, err = cluster.wait(shell, timeout=300)
    assert code == 0, (out[-3000:], err[-3000:])
    assert "saved to " + str(tmp_path / "home" / "models" / "hello-dense") in out, out
    assert "not saved (not the chief worker)" in out, out
    assert sorted(p.name for p in (tmp_path / "home" / "models").iterdir()) == ["hello-dense"]
    assert "trained hello-dense" in (tmp_path / "worker0.log").read_text()  # the block's logs, not the repo's


def test_a_worker_alone_gives_up_after_the_timeout(tmp_path: Path, cluster: Cluster) -> None:
    configs = local_tf_configs(2)  # the second worker is never started, as when its port was taken
    started = time.monotonic()
    proc = cluster.start([sys.executable, "-m", "zoo", "train", "hello-dense", "--strategy", "multiworker"],
                         _env(tmp_path / "home", TF_CONFIG=configs[0], ZOO_MULTIWORKER_TIMEOUT="5"))
    code, _, err = cluster.wait(proc, timeout=180)
    assert code == 1, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("zoo: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    assert "the multi-worker cluster did not form within 5s" in lines[0]
    assert f"no answer from worker 1 (127.0.0.1:{_port(configs[1])})" in lines[0], lines[0]
    assert time.monotonic() - started < 150  # TensorFlow's import, then 5 s, then out
