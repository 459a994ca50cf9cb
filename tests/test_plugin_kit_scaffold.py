"""End to end, as a plugin author: `zoo new-plugin demo`, pip install it, `pytest demo` passes;
break it, and the author's pytest run names the plugin, the part and the problem."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def pip_install_target(target: Path, package: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(target), str(package)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr


def zoo_cli(site: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site), **(env or {})}, timeout=timeout)


def run_pytest(path: Path, site: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "ZOO_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
                          capture_output=True, text=True, env=env, timeout=600, cwd=path.parent)


@pytest.mark.slow
def test_new_plugin_installs_lists_trains_and_passes_its_tests(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "zoo", "new-plugin", "demo"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pip install -e demo" in done.stdout
    site = tmp_path / "site"
    pip_install_target(site, tmp_path / "demo")

    listed = json.loads(zoo_cli(site, "list", "demo-*", "--format", "json").stdout)
    assert [row["name"] for row in listed] == ["demo-blobs-mlp"]
    home = tmp_path / "home"
    trained = zoo_cli(site, "train", "demo-blobs-mlp", "--quiet", "--json",
                      env={"ZOO_HOME": str(home), "ZOO_OFFLINE": "1"}, timeout=300)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert json.loads(trained.stdout)["metrics"]["validation"]["accuracy"] > 0.8
    (run_dir,) = (home / "runs").iterdir()  # the scaffold's callback got zoo's run_dir
    assert len((run_dir / "epochs.log").read_text().splitlines()) == 5

    done = run_pytest(tmp_path / "demo", site, home)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "5 passed" in done.stdout


@pytest.mark.slow
def test_broken_plugin_fails_its_authors_pytest_run_part_by_part(tmp_path: Path):
    """The `zoo_contract` fixture (from the pytest11 plugin) and contract_cases, on a plugin
    whose head is too wide and whose labels run past num_classes."""
    subprocess.run([sys.executable, "-m", "zoo", "new-plugin", "broken"], cwd=tmp_path, check=True,
                   capture_output=True)
    plugin = tmp_path / "broken" / "zoo_broken" / "plugin.py"
    source = plugin.read_text()
    source = source.replace('"multiclass": keras.layers.Dense(num_classes, activation="softmax")',
                            '"multiclass": keras.layers.Dense(num_classes + 1, activation="softmax")')
    source = source.replace('y = np.repeat(np.arange(classes), per_class)', 'y = np.repeat(np.arange(1, classes + 1), per_class)')
    plugin.write_text(source)
    (tmp_path / "broken" / "tests" / "test_fixture.py").write_text(
        "def test_whole_plugin(zoo_contract):\n    zoo_contract('broken')\n")
    site = tmp_path / "site"
    pip_install_target(site, tmp_path / "broken")

    done = run_pytest(tmp_path / "broken", site, tmp_path / "home")
    assert done.returncode == 1
    out = done.stdout
    assert "3 failed, 3 passed" in out
    assert "FAILED broken/tests/test_fixture.py::test_whole_plugin" in out
    assert "FAILED broken/tests/test_zoo_broken_contract.py::test_contract[broken:architecture:broken-mlp]" in out
    assert "FAILED broken/tests/test_zoo_broken_contract.py::test_contract[broken:dataset:broken-blobs]" in out
    assert ("plugin 'broken', architecture 'broken-mlp': multiclass head, input (2,), 3 output(s) "
            "(from entry 'broken-blobs-mlp'): output shape is (None, 4), expected (None, 3)") in out
    assert ("plugin 'broken', dataset 'broken-blobs': split 'train': label 3 at example ") in out
    assert "is outside the class ids 0..2 (num_classes=3)" in out
