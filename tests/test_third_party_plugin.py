"""Real third-party plugins through the real entry-point path.

The example package under examples/zoo-example-plugin, and small broken packages written here,
are pip-installed (``--target``, no network, no build isolation) into a folder that the ``zoo``
command then sees on ``PYTHONPATH``: importlib.metadata finds their ``zoo`` entry points there
exactly as in site-packages.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "zoo-example-plugin"


def pip_install_target(target: Path, *packages: Path) -> None:
    """Install packages into ``target`` with pip, as a user would (but offline and fast)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--target", str(target), *map(str, packages)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr


def zoo_cli(site: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(site), **(env or {})}
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)


def write_package(root: Path, plugin: str, source: str) -> Path:
    """A minimal plugin distribution ``zoo-PLUGIN`` whose module ``zoo_PLUGIN`` holds ``source``."""
    package = "zoo_" + plugin.replace("-", "_")
    folder = root / f"zoo-{plugin}"
    (folder / package).mkdir(parents=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "zoo-{plugin}"
        version = "1.2.3"

        [project.entry-points.zoo]
        {plugin} = "{package}"

        [tool.setuptools]
        packages = ["{package}"]
        """))
    (folder / package / "__init__.py").write_text(textwrap.dedent(source))
    return folder


# -- the example plugin --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("example-site")
    pip_install_target(site, EXAMPLE)
    return site


def test_example_entry_is_listed_and_plugin_is_named(example_site: Path):
    done = zoo_cli(example_site, "list", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["example-spirals-mlp"]["architecture"] == "example-mlp"
    assert rows["example-spirals-mlp"]["dataset"] == "example-spirals"
    assert rows["example-spirals-mlp"]["source"] == "plugin example"
    assert "hello-dense" in rows  # zoo's own entries are still there

    plugins = {p["name"]: p for p in json.loads(zoo_cli(example_site, "plugins", "--format", "json").stdout)}
    example = plugins["example"]
    assert (example["distribution"], example["version"], example["status"]) == ("zoo-example-plugin", "0.1.0", "ok")
    assert example["first_party"] is False
    assert example["registered"] == {
        "architecture": ["example-mlp"], "callback": ["example-time-limit"],
        "command": ["example-spirals-preview"], "dataset": ["example-spirals"], "entry": ["example-spirals-mlp"],
    }


def test_requirements_name_third_party_plugins_only(example_site: Path):
    done = zoo_cli(example_site, "plugins", "--requirements")
    assert done.returncode == 0, done.stderr
    # installed from a folder: a direct-URL requirement pip can reinstall (as pip freeze does)
    assert done.stdout.splitlines() == [f"zoo-example-plugin @ {EXAMPLE.as_uri()}"]


def test_example_entry_shows_resolved(example_site: Path):
    done = zoo_cli(example_site, "show", "example-spirals-mlp", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["input_shape"] == [2] and data["num_classes"] == 3 and data["task"] == "multiclass"
    assert data["callbacks"] == [{"name": "example-time-limit", "params": {"seconds": 300}}]
    # num_classes follows the dataset's params (a callable num_classes)
    done = zoo_cli(example_site, "show", "example-spirals-mlp", "--set", "dataset.arms=5", "--format", "json")
    assert json.loads(done.stdout)["num_classes"] == 5


@pytest.mark.slow
def test_example_entry_trains(example_site: Path, tmp_path: Path):
    home = tmp_path / "home"
    done = zoo_cli(example_site, "train", "example-spirals-mlp", "--set", "epochs=15", "--quiet", "--json",
                   env={"ZOO_HOME": str(home), "ZOO_OFFLINE": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["epochs"] == 15 and result["train_examples"] == 630
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    assert result["metrics"]["test"]["accuracy"] > 0.6  # three classes: chance is 0.33
    assert (home / "models" / "example-spirals-mlp" / "model.keras").is_file()


@pytest.mark.slow
def test_example_plugins_own_tests_pass(example_site: Path, tmp_path: Path):
    """The example's test suite (zoo.testing contract checks + a training run), as its author runs it."""
    env = {**os.environ, "PYTHONPATH": str(example_site), "ZOO_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "12 passed" in done.stdout


# -- broken plugins ------------------------------------------------------------------------------
BROKEN = {
    "bad-import": """\
        import zoo
        import zoo_no_such_dependency  # an undeclared dependency
        """,
    "bad-hook": """\
        import zoo

        @zoo.hookimpl
        def register_datasets(register):
            raise RuntimeError("index file missing")
        """,
    "typo": """\
        import zoo

        @zoo.hookimpl
        def register_architecture(register):
            register("typo-net", lambda input_shape, num_classes, task="multiclass": None)
        """,
    "clash-a": """\
        import zoo
        from zoo_plugins.basics import build_dense_linear

        @zoo.hookimpl
        def register_architectures(register):
            register("shared-net", build_dense_linear)
            register("clash-a-net", build_dense_linear)

        @zoo.hookimpl
        def register_entries(register):
            register("clash-a-entry", architecture="shared-net", dataset="linear")
        """,
    "clash-b": """\
        import zoo
        from zoo_plugins.basics import build_dense_linear

        @zoo.hookimpl
        def register_architectures(register):
            register("shared-net", build_dense_linear)
        """,
}


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("broken-src")
    site = tmp_path_factory.mktemp("broken-site")
    packages = [write_package(root, name, source) for name, source in BROKEN.items()]
    pip_install_target(site, EXAMPLE, *packages)
    return site


def test_broken_plugins_leave_the_others_working(broken_site: Path):
    done = zoo_cli(broken_site, "list")
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()[2:]]
    assert names == sorted(names)  # sorted by name, whatever the plugin order
    assert {"clash-a-entry", "example-spirals-mlp", "hello-dense", "fashion-cnn"} <= set(names)
    warnings = done.stderr.splitlines()
    assert "zoo: warning: plugin 'bad-import' (zoo_bad_import) failed: import failed: ModuleNotFoundError: " \
           "No module named 'zoo_no_such_dependency'" in warnings
    assert "zoo: warning: plugin 'bad-hook' (zoo_bad_hook) failed: register_datasets raised RuntimeError: " \
           "index file missing" in warnings
    assert any(w.startswith("zoo: warning: plugin 'typo' (zoo_typo) failed: invalid plugin:") and
               "unknown hook 'register_architecture' (did you mean 'register_architectures'?)" in w for w in warnings)
    assert "zoo: warning: architecture 'shared-net' is registered by plugins clash-a and clash-b; neither is used" in warnings


def test_plugins_shows_failures_with_their_errors(broken_site: Path):
    done = zoo_cli(broken_site, "plugins", "--format", "json")
    assert done.returncode == 0, done.stderr
    records = {r["name"]: r for r in json.loads(done.stdout)}
    assert [r["name"] for r in json.loads(done.stdout)] == sorted(records)
    expected = {
        "bad-hook": "failed", "bad-import": "failed", "basics": "ok", "catalogue": "ok",
        "clash-a": "ok", "clash-b": "ok", "example": "ok", "typo": "failed",
    }
    assert {n: records[n]["status"] for n in expected} == expected
    # every first-party plugin loads whatever else is broken
    assert all(r["status"] == "ok" for r in records.values() if r["first_party"])
    assert records["bad-hook"]["error"] == "register_datasets raised RuntimeError: index file missing"
    assert records["bad-hook"]["registered"] == {}  # a plugin that raises is dropped whole
    assert records["bad-import"]["version"] == "1.2.3"
    assert records["clash-a"]["clashes"] == ["architecture 'shared-net' clashes with clash-b (unused)"]
    shown = zoo_cli(broken_site, "plugins")
    table = shown.stdout
    assert "failed    import failed: ModuleNotFoundError" in table
    # A name clash shows on both plugins' lines of the table, and on stderr.
    for mine, other in (("clash-a", "clash-b"), ("clash-b", "clash-a")):
        line = next(l for l in table.splitlines() if l.startswith(mine + " "))
        assert " clash " in line and f"architecture 'shared-net' clashes with {other} (unused)" in line, table
    assert "architecture 'shared-net' is registered by plugins clash-a and clash-b" in shown.stderr
    requirements = zoo_cli(broken_site, "plugins", "--requirements").stdout.splitlines()
    assert [line.split(" @ ")[0] for line in requirements] == [
        "zoo-bad-hook", "zoo-bad-import", "zoo-clash-a", "zoo-clash-b", "zoo-example-plugin", "zoo-typo"]


def test_clashing_name_is_an_error_naming_both_plugins(broken_site: Path):
    done = zoo_cli(broken_site, "show", "clash-a-entry")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "zoo: error: architecture 'shared-net' is registered by both plugin 'clash-a' and 'clash-b'; "
        "neither is used (disable one with ZOO_DISABLE_PLUGINS)")
    done = zoo_cli(broken_site, "show", "clash-a-entry", "--format", "json",
                   env={"ZOO_DISABLE_PLUGINS": "clash-b"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["architecture"]["plugin"] == "clash-a"


def test_strict_mode_is_fatal_and_names_the_plugin(broken_site: Path):
    def strict(disabled: str) -> subprocess.CompletedProcess:
        return zoo_cli(broken_site, "list", env={"ZOO_STRICT_PLUGINS": "1", "ZOO_DISABLE_PLUGINS": disabled})

    done = strict("")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == ("zoo: error: plugin 'bad-import' (zoo_bad_import): import failed: "
                                   "ModuleNotFoundError: No module named 'zoo_no_such_dependency'")
    done = strict("bad-import")
    assert done.returncode == 1 and done.stderr.startswith("zoo: error: plugin 'typo' (zoo_typo): invalid plugin:")
    done = strict("bad-import,typo")
    assert done.returncode == 1
    assert done.stderr.strip() == "zoo: error: plugin 'bad-hook': register_datasets raised RuntimeError: index file missing"
    done = strict("bad-import,typo,bad-hook")
    assert done.returncode == 1
    assert done.stderr.strip() == "zoo: error: architecture 'shared-net' is registered by plugins 'clash-a' and 'clash-b'"
    done = strict("bad-import , typo,bad-hook,clash-b")
    assert done.returncode == 0 and done.stderr == ""
    assert "clash-a-entry" in done.stdout and "example-spirals-mlp" in done.stdout


def test_disabled_plugins_are_skipped_not_failed(broken_site: Path):
    env = {"ZOO_DISABLE_PLUGINS": "bad-import,bad-hook,typo,example"}
    done = zoo_cli(broken_site, "list", env=env)
    assert done.returncode == 0
    assert "example-spirals-mlp" not in done.stdout and "hello-dense" in done.stdout
    assert "bad-import" not in done.stderr and "typo" not in done.stderr
    records = {r["name"]: r for r in json.loads(zoo_cli(broken_site, "plugins", "--format", "json", env=env).stdout)}
    assert {n: records[n]["status"] for n in ("bad-import", "bad-hook", "typo", "example")} == dict.fromkeys(
        ("bad-import", "bad-hook", "typo", "example"), "disabled")
    assert records["bad-import"]["error"] is None


@pytest.mark.slow
def test_contract_helpers_name_the_broken_installed_plugins(broken_site: Path):
    """zoo.testing, run against the installed broken plugins by their entry-point names."""
    code = textwrap.dedent("""\
        from zoo.testing import check_plugin
        for name in ("bad-import", "bad-hook", "typo", "clash-b", "example"):
            report = check_plugin(name, check_import=False)
            print(report.problems[0] if report.problems else f"plugin {name!r}: ok")
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(broken_site)}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "plugin 'bad-import': failed to load (zoo_bad_import): import failed: ModuleNotFoundError: "
        "No module named 'zoo_no_such_dependency'",
        "plugin 'bad-hook': failed to load (zoo_bad_hook): register_datasets raised RuntimeError: index file missing",
        "plugin 'typo': failed to load (zoo_typo): invalid plugin: unknown hook 'register_architecture' "
        "(did you mean 'register_architectures'?)",
        "plugin 'clash-b': architecture 'shared-net' is also registered by plugin 'clash-a'; neither is used "
        "(names are global: prefix yours, e.g. with the plugin's name)",
        "plugin 'example': ok",
    ]
