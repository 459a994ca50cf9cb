"""Plugins add commands (``register_commands``), each plugin in isolation.

Real packages are pip-installed into a folder the ``zoo`` command sees on ``PYTHONPATH`` (as in
test_third_party_plugin.py), so their commands arrive through the real entry-point path; the
finer points of isolation are checked in-process on plugins passed to ``load_plugins(extra=...)``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from test_third_party_plugin import example_site, pip_install_target, write_package, zoo_cli  # noqa: F401
from zoo import testing
from zoo.cli import cli
from zoo.errors import ConflictError, PluginError
from zoo.plugins import load_plugins
from zoo.registry import collect

GOOD = """\
    import zoo

    @zoo.hookimpl
    def register_commands(cli):
        import click

        @cli.command("cmd-good-hello")
        @click.option("--name", default="world", show_default=True, help="Whom to greet.")
        @click.pass_context
        def hello(ctx, name):
            '''Greet someone (a plugin command).'''
            registries = ctx.find_root().obj["registries"]  # zoo's own root context
            click.echo(f"hello {name} from cmd-good ({len(registries)} user catalogue(s))")
    """

BAD = """\
    import zoo

    @zoo.hookimpl
    def register_commands(cli):
        @cli.command("cmd-bad-first")
        def first():
            '''Added before the hook raised: must not be used.'''

        raise RuntimeError("no config file")
    """

SHADOW = """\
    import zoo

    @zoo.hookimpl
    def register_commands(cli):
        @cli.command("cmd-shadow-ok")
        def ok():
            '''A fine name, but the plugin also tries to replace zoo list.'''

        @cli.command("list")
        def my_list():
            '''Not zoo's list.'''
            print("shadowed!")
    """


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("commands-src")
    site = tmp_path_factory.mktemp("commands-site")
    packages = [write_package(root, name, source)
                for name, source in {"cmd-good": GOOD, "cmd-bad": BAD, "cmd-shadow": SHADOW}.items()]
    pip_install_target(site, *packages)
    return site


# -- through the real `zoo` command ---------------------------------------------------------------
def test_plugin_command_runs_as_zoo_name(site: Path):
    done = zoo_cli(site, "cmd-good-hello", "--name", "Ada")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello Ada from cmd-good (0 user catalogue(s))\n"
    done = zoo_cli(site, "--registry", "a.toml", "cmd-good-hello")  # root options reach plugin commands
    assert done.stdout == "hello world from cmd-good (1 user catalogue(s))\n"


def test_help_lists_plugin_commands_under_their_plugin(site: Path):
    done = zoo_cli(site, "--help")
    assert done.returncode == 0, done.stderr
    builtin, _, plugins = done.stdout.partition("Plugin commands:")
    assert "  list " in builtin and "  train " in builtin and "cmd-good-hello" not in builtin
    assert "cmd-good-hello  Greet someone (a plugin command). [plugin cmd-good]" in plugins
    # nothing of the failed plugins: not the command added before the raise, not the shadowing one
    assert "cmd-bad-first" not in done.stdout and "cmd-shadow-ok" not in done.stdout
    assert "shadowed" not in done.stdout


def test_failing_plugins_are_named_on_stderr_and_the_rest_works(site: Path):
    done = zoo_cli(site, "cmd-good-hello")
    assert done.returncode == 0, done.stderr
    warnings = done.stderr.splitlines()
    assert warnings == [
        "zoo: warning: plugin 'cmd-bad' (zoo_cmd_bad) failed: register_commands raised RuntimeError: no config file",
        "zoo: warning: plugin 'cmd-shadow' (zoo_cmd_shadow) failed: register_commands added command 'list', "
        "which is zoo's own `zoo list`; zoo's is kept, rename the plugin's",
    ]
    # nothing the failing hook added before it raised is used
    done = zoo_cli(site, "cmd-bad-first")
    assert done.returncode == 2 and "No such command 'cmd-bad-first'" in done.stderr


def test_builtin_wins_over_a_shadowing_plugin_and_stays_lazy(site: Path):
    done = zoo_cli(site, "list", "hello-*")
    assert done.returncode == 0, done.stderr
    assert "shadowed" not in done.stdout and done.stdout.splitlines()[0].split()[:2] == ["name", "architecture"]
    # `zoo list` never loads plugin commands, so the command-only failures are not even looked at
    assert done.stderr == ""


def test_plugins_command_shows_commands_and_command_failures(site: Path):
    done = zoo_cli(site, "plugins", "--format", "json")
    assert done.returncode == 0, done.stderr
    records = {r["name"]: r for r in json.loads(done.stdout)}
    assert (records["cmd-good"]["status"], records["cmd-good"]["registered"]) == ("ok", {"command": ["cmd-good-hello"]})
    assert records["cmd-bad"]["status"] == "failed"
    assert records["cmd-bad"]["error"] == "register_commands raised RuntimeError: no config file"
    assert records["cmd-bad"]["registered"] == {}
    assert records["cmd-shadow"]["status"] == "failed"
    assert "register_commands added command 'list'" in records["cmd-shadow"]["error"]
    assert all(r["status"] == "ok" for r in records.values() if r["first_party"])
    table = zoo_cli(site, "plugins").stdout
    assert any(line.split()[0] == "cmd-good" and line.endswith("command: cmd-good-hello") for line in table.splitlines())


def test_strict_mode_makes_a_command_failure_fatal(site: Path):
    done = zoo_cli(site, "cmd-good-hello", env={"ZOO_STRICT_PLUGINS": "1"})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == "zoo: error: plugin 'cmd-bad': register_commands raised RuntimeError: no config file"
    done = zoo_cli(site, "--help", env={"ZOO_STRICT_PLUGINS": "1", "ZOO_DISABLE_PLUGINS": "cmd-bad"})
    assert done.returncode == 1 and done.stderr.startswith("zoo: error: plugin 'cmd-shadow': register_commands added")
    done = zoo_cli(site, "cmd-good-hello", env={"ZOO_STRICT_PLUGINS": "1", "ZOO_DISABLE_PLUGINS": "cmd-bad,cmd-shadow"})
    assert done.returncode == 0 and done.stderr == "" and done.stdout.startswith("hello world")


NO_HEAVY = (
    "import sys; from zoo.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
    "heavy = sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules)\n"
    "print('HEAVY=' + ','.join(heavy), file=sys.stderr); sys.exit(code or 0)\n"
)


@pytest.mark.parametrize("args", [["--help"], ["cmd-good-hello", "--help"], ["cmd-good-hello"], ["nope"]])
def test_plugin_commands_import_no_tensorflow(site: Path, args: list[str]):
    done = subprocess.run([sys.executable, "-c", NO_HEAVY, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site)}, timeout=120)
    assert done.returncode == (2 if args == ["nope"] else 0), done.stderr
    assert "HEAVY=\n" in done.stderr, done.stderr


def test_example_plugin_command(example_site: Path):
    done = zoo_cli(example_site, "example-spirals-preview", "--points", "10", "--json")
    assert done.returncode == 0, done.stderr
    assert sum(row["examples"] for row in json.loads(done.stdout)) == 30
    done = subprocess.run([sys.executable, "-c", NO_HEAVY, "example-spirals-preview", "--help"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(example_site)}, timeout=120)
    assert done.returncode == 0 and "--points INTEGER RANGE" in done.stdout
    assert "HEAVY=\n" in done.stderr, done.stderr  # NumPy is imported only when the command runs


def test_run_cli_runs_installed_plugin_commands_in_process(site: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(site))  # entry points are found on sys.path
    result = testing.run_cli(["cmd-good-hello", "--name", "in-process"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("hello in-process from cmd-good")
    assert "plugin 'cmd-bad'" in result.stderr
    result = testing.run_cli(["cmd-good-hello"], env={"ZOO_DISABLE_PLUGINS": "cmd-good"})  # a fresh registry
    assert result.exit_code == 2 and "No such command 'cmd-good-hello'" in result.stderr


# -- isolation, in-process -----------------------------------------------------------------------
def plugin(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(textwrap.dedent(source), module.__dict__)
    return module


def commands_of(*plugins: tuple[str, types.ModuleType], strict: bool = False):
    pm, records = load_plugins(extra=list(plugins), entry_points=False, strict=strict)
    registry = collect(pm, records, strict=strict)
    return registry, registry.commands(reserved=cli.builtin_commands(), strict=strict)


def test_each_plugin_is_called_on_its_own_staging_group():
    twin = """\
        import zoo

        @zoo.hookimpl
        def register_commands(cli):
            import click
            cli.add_command(click.Command("twin-cmd", callback=lambda: None))
            cli.add_command(click.Command("solo-" + __name__, callback=lambda: None))
        """
    halfway = """\
        import zoo

        @zoo.hookimpl
        def register_commands(cli):
            import click
            cli.add_command(click.Command("halfway-cmd", callback=lambda: None))
            raise ValueError("halfway")
        """
    registry, commands = commands_of(("a", plugin("a", twin)), ("b", plugin("b", twin)),
                                     ("half", plugin("half", halfway)), ("good", plugin("good", GOOD)))
    assert sorted(commands) == ["cmd-good-hello", "solo-a", "solo-b"]
    assert commands["solo-a"][0] == "a" and commands["cmd-good-hello"][0] == "good"
    assert registry.conflicts[("command", "twin-cmd")] == ["a", "b"]  # neither gets it
    half = registry.plugin("half")
    assert (half.status, half.error, half.registered) == ("failed", "register_commands raised ValueError: halfway", {})
    assert registry.plugin("a").registered == {"command": ["solo-a", "twin-cmd"]}
    with pytest.raises(ConflictError, match="command 'twin-cmd' is added by plugins 'a' and 'b'"):
        commands_of(("a", plugin("a", twin)), ("b", plugin("b", twin)), strict=True)
    with pytest.raises(PluginError, match="plugin 'half': register_commands raised ValueError: halfway"):
        commands_of(("half", plugin("half", halfway)), strict=True)


def test_a_plugin_that_failed_elsewhere_adds_no_command_and_loading_is_once():
    source = """\
        import zoo
        calls = []

        @zoo.hookimpl
        def register_datasets(register):
            raise RuntimeError("broken dataset")

        @zoo.hookimpl
        def register_commands(cli):
            calls.append(1)
            cli.command("never-cmd")(lambda: None)
        """
    broken = plugin("broken", source)
    registry, commands = commands_of(("broken", broken))
    assert commands == {} and broken.calls == []
    assert registry.plugin("broken").error == "register_datasets raised RuntimeError: broken dataset"
    counted = plugin("counted", source.replace('raise RuntimeError("broken dataset")', "pass"))
    registry, commands = commands_of(("counted", counted))
    assert list(commands) == ["never-cmd"]
    registry.commands()
    assert counted.calls == [1]  # cached on the registry: called once per process


# -- zoo.testing ------------------------------------------------------------------------------------
def test_contract_covers_commands():
    report = testing.check_plugin(plugin("zoo_cmd_good_mod", GOOD), name="cmd-good", check_import=False)
    assert report.ok, report
    assert "cmd-good:command:cmd-good-hello" in report.checked

    def problems(name: str, source: str) -> list[str]:
        module = plugin(f"zoo_{name.replace('-', '_')}_mod", source)
        return [str(p) for p in testing.check_plugin(module, name=name, check_import=False).problems]

    assert problems("cmd-bad", BAD) == [
        "plugin 'cmd-bad': failed to load (zoo_cmd_bad_mod): register_commands raised RuntimeError: no config file"]
    assert "register_commands added command 'list'" in problems("cmd-shadow", SHADOW)[0]
    assert problems("cmd-none", "import zoo\n@zoo.hookimpl\ndef register_commands(cli):\n    pass\n") == [
        "plugin 'cmd-none': register_commands added no command: add one with @cli.command() or cli.add_command(...)"]
    broken_help = """\
        import click, zoo

        class Broken(click.Command):
            def format_help(self, ctx, formatter):
                raise RuntimeError("help broke")

        @zoo.hookimpl
        def register_commands(cli):
            cli.add_command(Broken("cmd-help-x", callback=lambda: None))
        """
    assert problems("cmd-help", broken_help) == [
        "plugin 'cmd-help', command 'cmd-help-x': `zoo cmd-help-x --help` exits 1: RuntimeError: help broke"]
    case_ids = [c.id for c in testing.contract_cases(plugin("zoo_cmd_good_mod", GOOD), name="cmd-good")]
    assert case_ids == ["cmd-good:plugin:cmd-good", "cmd-good:command:cmd-good-hello"]


HEAVY_HELP = """\
    import zoo

    @zoo.hookimpl
    def register_commands(cli):
        import click

        @cli.command("cmd-heavy-go")
        @click.option("--device", type=click.Choice(__import__("torch").DEVICES))
        def go(device):
            '''Its --help needs torch.'''
    """


def test_contract_flags_a_command_whose_help_imports_a_heavy_module(tmp_path: Path):
    """In a fresh interpreter, as zoo --help runs. ``torch`` here is a stand-in written into the
    plugin's site (zoo's check looks for tensorflow, keras, torch and jax alike), so the check
    costs no TensorFlow start-up."""
    site = tmp_path / "site"
    pip_install_target(site, write_package(tmp_path / "src", "cmd-heavy", HEAVY_HELP))
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text("DEVICES = ['cpu']\n")
    code = ("from zoo.testing import check_plugin\n"
            "for p in check_plugin('cmd-heavy').problems: print(p)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site)}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "plugin 'cmd-heavy', command 'cmd-heavy-go': registering it or `zoo cmd-heavy-go --help` imports "
        "torch: import it inside the command's function instead, so `zoo --help` stays fast"]
