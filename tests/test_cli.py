"""The CLI through click's CliRunner and as a real subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from zoo.cli import cli


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def zoo_subprocess(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, **kwargs)


def test_list_table_and_json():
    result = run("list")
    assert result.exit_code == 0 and "hello-dense" in result.output
    rows = json.loads(run("list", "--format", "json").output)
    hello = next(r for r in rows if r["name"] == "hello-dense")
    assert {"name", "architecture", "dataset", "tags", "description"} <= set(hello)
    assert hello["architecture"] == "dense-linear" and hello["dataset"] == "linear"


def test_list_patterns_and_filters():
    assert json.loads(run("list", "hello-*", "--format", "json").output)[0]["name"] == "hello-dense"
    assert json.loads(run("list", "nothing-*", "--format", "json").output) == []
    assert json.loads(run("list", "--tag", "week1", "--format", "json").output)[0]["name"] == "hello-dense"
    assert json.loads(run("list", "--dataset", "no-such", "--format", "json").output) == []
    csv = run("list", "hello-*", "--format", "csv").output.splitlines()
    assert csv[0] == "name,architecture,dataset,tags,description" and csv[1].startswith("hello-dense,")


def test_show_json_has_the_resolved_entry_and_sources():
    data = json.loads(run("show", "hello-dense", "--format", "json", "--set", "epochs=3").output)
    assert data["recipe"]["epochs"] == 3 and data["recipe"]["optimizer"] == "sgd"
    assert data["sources"]["epochs"] == "--set epochs=3"
    assert data["sources"]["optimizer"].endswith("registry.toml:18")
    assert data["architecture"]["plugin"] == "basics" and data["task"] == "regression"


def test_show_text():
    result = run("show", "hello-dense")
    assert result.exit_code == 0 and "dense-linear (plugin basics)" in result.output
    assert "registry.toml:20" in result.output


def test_plugins_table_and_json():
    assert "basics" in run("plugins").output
    records = json.loads(run("plugins", "--format", "json").output)
    basics = next(r for r in records if r["name"] == "basics")
    assert basics["status"] == "ok" and basics["registered"]["architecture"] == ["dense-linear"]


@pytest.mark.parametrize("args, message", [
    (["show", "hello-dens"], "unknown entry 'hello-dens'; did you mean 'hello-dense'"),
    (["show", "hello-dense", "--set", "epoch=1"], "unknown key 'epoch'"),
    (["predict", "hello-dense", "10"], "has not been trained yet"),
])
def test_bad_input_is_one_line_on_stderr_with_non_zero_exit(args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("zoo: error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_malformed_user_catalogue_names_file_and_line(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[entries.x]\nepochs = [1,\n")
    result = CliRunner().invoke(cli, ["--registry", str(bad), "list"])
    assert result.exit_code == 1 and f"{bad}:" in result.stderr and "malformed TOML" in result.stderr


def test_user_catalogue_option_adds_an_entry(tmp_path: Path):
    mine = tmp_path / "mine.toml"
    mine.write_text('[entries.hello-fast]\nextends = "hello-dense"\nepochs = 5\n')
    rows = json.loads(run("--registry", str(mine), "list", "hello-*", "--format", "json").output)
    assert [r["name"] for r in rows] == ["hello-dense", "hello-fast"]
    data = json.loads(run("--registry", str(mine), "show", "hello-fast", "--format", "json").output)
    assert data["recipe"]["epochs"] == 5 and data["sources"]["epochs"] == f"{mine}:3"


def test_unknown_command_suggests():
    result = CliRunner().invoke(cli, ["lst"])
    assert result.exit_code == 2 and "Did you mean list" in result.output


NO_TF = (
    "import sys; from zoo.cli import main\n"
    "try:\n    main({args!r})\nexcept SystemExit as e:\n    code = e.code\n"
    "heavy = sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules)\n"
    "print('HEAVY=' + ','.join(heavy), file=sys.stderr); sys.exit(code or 0)\n"
)


@pytest.mark.parametrize("args", [["list"], ["show", "hello-dense"], ["plugins"], ["--help"], ["list", "--help"],
                                  ["train", "--help"], ["show", "--help"]])
def test_commands_that_need_no_model_do_not_import_tensorflow(args):
    import os

    proc = subprocess.run([sys.executable, "-c", NO_TF.format(args=args)], capture_output=True, text=True,
                          env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stderr, proc.stderr


def test_python_dash_m_zoo_works_like_the_console_script():
    proc = zoo_subprocess("list", "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["name"]
    proc = zoo_subprocess("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("zoo, version ")


def test_a_zoo_error_in_a_subprocess_has_no_traceback():
    proc = zoo_subprocess("show", "nope")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "unknown entry 'nope'" in proc.stderr


def test_show_summary_builds_the_model():
    data = json.loads(run("show", "hello-dense", "--summary", "--format", "json").output)
    assert data["model"]["params_total"] == 2 and data["model"]["params_trainable"] == 2
    assert "dense" in data["model"]["summary"].lower()
