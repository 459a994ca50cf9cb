"""Docs that run: every ``zoo …`` command and every catalogue snippet in README.md and docs/ is
executed or checked against the real catalogue, and every Python snippet compiles.

- Commands that need no training (``list``, ``show``, ``plugins``, ``data list``, ``runs``,
  ``report``, ``--help``…) run for real, in-process, in a private ``ZOO_HOME``; a console example
  whose shown output is ``zoo: error: …`` must fail with exactly that line.
- Commands that train (``train``, ``bench``, ``evaluate``, ``predict``, ``export``, ``tune``…) are
  parsed by the real CLI (every option exists and takes its value) and their entries resolved
  against the real catalogue with their ``--set`` overrides, so a renamed entry, field or option
  fails here. ``hello-dense``'s, which take seconds, run for real.
- Synopses (``zoo bench NAME --set K=V``: upper-case placeholders, ``…``, ``[optional]``) are
  checked for their command name only.
- ``toml`` blocks parse; those with ``[entries.NAME]`` tables resolve against the real catalogue.
- A block right after ``<!-- docs-test: skip REASON -->`` is not checked (the reason is shown).
  Commands of the docs' own plugins (the tutorial's rings in docs/plugins.md, the example
  package's README) run in tests/test_third_party_plugin.py and the example's own tests.
"""
from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "examples" / "zoo-example-plugin" / "README.md"]
SHELL_LANGS = {"", "bash", "sh", "shell", "console"}
#: Commands that never train: run for real.
RUN = {"list", "show", "plugins", "runs", "report", "data", "--help", "-h", "--version", "new-plugin"}
#: Tokens that only name something for the reader (a synopsis, not a command to run).
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z0-9_]*(?:[=:.,…-].*)?|.*\.\.\.|.*….*|\[.*|.*\]|<.*>|.*[A-Z]{2,}=[A-Z].*)$")
#: Names of the plugins the docs build or ship (the tutorial's, the example package's): their
#: commands are run by tests/test_docs_tutorial.py and tests/test_third_party_plugin.py.
TUTORIAL_NAMES = ("rings", "zoo-rings", "zoo_rings", "example-", "zoo-example-plugin", "examples/")


@dataclass
class Block:
    path: Path
    line: int
    lang: str
    text: str
    skip: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file (``` fences), with the skip marker before each."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start, lang, body = i + 1, fence.group(2).lower(), []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith("```"):
            body.append(lines[i][len(fence.group(1)):])
            i += 1
        before = next((lines[j] for j in range(start - 2, -1, -1) if lines[j].strip()), "")
        skip = re.match(r"<!--\s*docs-test:\s*skip\s*(.*?)\s*-->", before.strip())
        found.append(Block(path, start, lang, "\n".join(body), skip.group(1) if skip else None))
        i += 1
    return found


@dataclass
class Command:
    block: Block
    argv: list[str]
    env: dict[str, str]
    expected_error: str | None = None

    @property
    def id(self) -> str:
        return f"{self.block.where}: zoo {' '.join(self.argv)}"[:120]


def _segments(line: str) -> list[str]:
    """A shell line's simple commands (split on &&, ||, ;, |), redirections dropped."""
    parts = re.split(r"\s*(?:&&|\|\||;|\|)\s*", line)
    return [re.sub(r"\s\d?>\s*\S+.*$", "", part).strip() for part in parts]


def commands(block: Block) -> list[Command]:
    """The ``zoo`` invocations of a shell block; in a console block only ``$`` lines are commands,
    and the lines after one are its expected output."""
    out: list[Command] = []
    lines = block.text.splitlines()
    console = block.lang == "console" or any(l.startswith("$ ") for l in lines)
    for index, raw in enumerate(lines):
        line = raw.strip()
        if console:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        line = re.sub(r"\s+#.*$", "", line).rstrip("\\").strip()
        if line.startswith(">"):
            line = line.lstrip("> ").strip()
        for segment in _segments(line):
            try:
                words = shlex.split(segment)
            except ValueError:
                continue
            env = {}
            while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
                key, _, value = words.pop(0).partition("=")
                env[key] = value
            if not words or not (words[0] == "zoo" or words[0].endswith("/zoo")):
                continue
            expected = None
            if console:
                following = next((l.strip() for l in lines[index + 1:] if l.strip()), "")
                if following.startswith("zoo: error:"):
                    expected = following
            out.append(Command(block, words[1:], env, expected))
    return out


ALL_BLOCKS = [b for path in DOCS for b in blocks(path)]
COMMANDS = [c for b in ALL_BLOCKS if b.lang in SHELL_LANGS and not b.skip for c in commands(b)]


def is_tutorial(command: Command) -> bool:
    """A command of the docs' own plugins (the tutorial's rings, the example package)."""
    if "examples" in command.block.path.parts:
        return True
    return command.block.path.name == "plugins.md" and any(
        word.lstrip("'\"").startswith(TUTORIAL_NAMES) for word in command.argv)


def is_synopsis(command: Command) -> bool:
    return any(PLACEHOLDER.match(word) for word in command.argv[1:])


def test_the_docs_have_commands_and_snippets_to_check():
    assert len(COMMANDS) >= 40, [c.id for c in COMMANDS]
    assert any(b.lang == "toml" for b in ALL_BLOCKS)
    skipped = [f"{b.where} ({b.skip})" for b in ALL_BLOCKS if b.skip]
    assert all("(" in s and not s.endswith("())") for s in skipped), "a skip marker must say why"


@pytest.fixture(scope="module")
def history_home(tmp_path_factory):
    """A ZOO_HOME with two real bench runs in its history, so `zoo runs`, `zoo compare last
    --against last~1` and `zoo report 1 last` have something to show."""
    import os
    import subprocess
    import sys

    from conftest import missing, shared_data_dir

    shared_data = shared_data_dir()
    if not shared_data.is_dir():
        missing(f"real datasets not present at {shared_data}")
    home = tmp_path_factory.mktemp("docs-home")
    env = {**os.environ, "ZOO_HOME": str(home), "ZOO_OFFLINE": "1", "ZOO_DATA_DIR": str(shared_data)}
    env.pop("ZOO_REGISTRY", None)
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "zoo", "bench", "hello-dense", "--set", "epochs=20"],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return home


@pytest.fixture
def zoo_home(tmp_path, monkeypatch, shared_data, history_home):
    monkeypatch.setenv("ZOO_HOME", str(history_home))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.setenv("ZOO_DATA_DIR", str(shared_data))
    monkeypatch.delenv("ZOO_REGISTRY", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _invoke(argv: list[str], env: dict[str, str]):
    from zoo.testing import run_cli

    env = {k: v for k, v in env.items() if k != "ZOO_DATA_DIR"}  # the fixture's copy is the real one
    return run_cli(argv, env=env)


def _parse(argv: list[str]):
    """The CLI's own parse of ``argv``: the sub-command and its parameters (UsageError if wrong)."""
    import click

    from zoo.cli import cli

    def unparsed(ctx: click.Context) -> list[str]:  # click 8.2 keeps the sub-command apart
        return [*getattr(ctx, "_protected_args", []), *ctx.args]

    ctx = cli.make_context("zoo", list(argv), resilient_parsing=False)
    name, command, rest = cli.resolve_command(ctx, unparsed(ctx))
    sub = command.make_context(name, rest, parent=ctx)
    while isinstance(command, click.Group) and unparsed(sub):
        name, command, rest = command.resolve_command(sub, unparsed(sub))
        sub = command.make_context(name, rest, parent=sub)
    return ctx, command, sub.params


def _check_entries(root_params: dict, params: dict) -> None:
    """Entries named by a training command resolve with its overrides in the real catalogue."""
    from zoo.catalogue import load_catalogue
    from zoo.registry import get_registry, reset_registry

    reset_registry()
    catalogue = load_catalogue(get_registry(), root_params.get("registries", ()))
    overrides = list(params.get("overrides", ()))
    names: list[str] = []
    if params.get("name"):
        names.append(params["name"])
    if params.get("patterns"):
        names.extend(catalogue.expand(params["patterns"]))
    if params.get("all_entries"):
        names.extend(catalogue.names())
    from zoo.targets import check_targets, overrides_for

    check_targets(overrides, names)  # an ENTRY:KEY=VALUE names an entry of the command
    check_targets(params.get("sweeps", ()), names, "--sweep")
    for name in names:
        catalogue.resolve(name, overrides_for(name, overrides))


def runs_for_real(command: Command) -> bool:
    """Commands that train but are cheap: hello-dense's train/predict, and the benches with an
    ``ENTRY:KEY=VALUE`` override (docs/benchmarks.md's example: hello-dense, fashion-dense for 50
    steps), run for real."""
    if command.argv[:2] in (["train", "hello-dense"], ["predict", "hello-dense"]):
        return True
    from zoo.targets import split_target

    return command.argv[0] == "bench" and any(
        split_target(value)[0] for option, value in zip(command.argv, command.argv[1:]) if option in ("--set", "--sweep"))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.id)
def test_doc_command(command: Command, zoo_home):
    if is_tutorial(command) or is_synopsis(command):
        # The docs' own plugins run in their tests; a synopsis names a command that must exist.
        from zoo.cli import cli

        known = cli.list_commands(cli.make_context("zoo", ["list"], resilient_parsing=True))
        assert command.argv[0] in known or command.argv[0].startswith("-") or is_tutorial(command), command.id
        return
    if command.argv[0] in RUN or command.expected_error or runs_for_real(command):
        if command.argv[0] == "predict":
            _invoke(["train", "hello-dense", "--quiet", "--set", "epochs=50"], {})
        env = dict(command.env)
        if command.argv[0] == "bench":  # its run goes to a history of its own, not the shared one
            env.setdefault("ZOO_HOME", str(zoo_home / "bench-home"))
        result = _invoke(command.argv, env)
        if command.expected_error:
            assert result.exit_code != 0, f"{command.id} should fail with {command.expected_error}"
            assert command.expected_error in result.stderr, result.stderr
        else:
            assert result.exit_code == 0, f"{command.id}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        return
    ctx, _, params = _parse(command.argv)
    _check_entries(ctx.params, params)


TOML_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "toml" and not b.skip]


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=lambda b: b.where)
def test_doc_toml(block: Block, tmp_path, monkeypatch):
    data = tomllib.loads(block.text)
    if "entries" not in data:
        return
    from zoo.catalogue import load_catalogue
    from zoo.registry import get_registry, reset_registry

    path = tmp_path / "snippet.toml"
    path.write_text(block.text, encoding="utf-8")
    monkeypatch.delenv("ZOO_REGISTRY", raising=False)
    reset_registry()
    catalogue = load_catalogue(get_registry(), [path])
    tutorial = block.path.name == "plugins.md"
    for name in data["entries"]:
        if tutorial:
            catalogue.raw(name)  # its parts come from the tutorial's plugin
        else:
            catalogue.resolve(name)


PYTHON_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "python" and not b.skip]


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.where)
def test_doc_python_compiles(block: Block):
    compile(block.text, block.where, "exec")


def test_a_wrong_doc_command_fails(zoo_home):
    """The command check can fail: a renamed option, entry or field is caught."""
    from click import UsageError

    from zoo.errors import ZooError

    with pytest.raises(UsageError):
        _parse(["bench", "fashion-cnn", "--repeat", "3"])
    ctx, _, params = _parse(["bench", "fashion-cnm"])
    with pytest.raises(ZooError):
        _check_entries(ctx.params, params)
    ctx, _, params = _parse(["train", "fashion-cnn", "--set", "epoch=1"])
    with pytest.raises(ZooError):
        _check_entries(ctx.params, params)
    ctx, _, params = _parse(["bench", "hello-dense", "fashion-cnn", "--set", "fashion-cnm:epochs=1"])
    with pytest.raises(ZooError):
        _check_entries(ctx.params, params)
    block = Block(REPO / "README.md", 1, "console", "$ zoo show fashion-cnn\nzoo: error: nope", None)
    (command,) = commands(block)
    assert command.expected_error == "zoo: error: nope"
