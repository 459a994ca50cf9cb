"""The benchmark history database: transactions, references, concurrent writers, kills."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zoo.errors import DataError, ZooError
from zoo.store import DB_FILE, Store, db_path, open_existing, open_store


def _row(entry: str, seconds: float = 1.0, status: str = "ok") -> dict:
    return {"entry": entry, "status": status, "train_seconds": seconds, "samples_per_second": 100 / seconds,
            "metrics": {"test": {"accuracy": 0.9, "loss": 0.3}}, "repeat": 0, "seed": 0}


def test_database_lives_under_zoo_home(zoo_env: Path) -> None:
    with open_store() as store:
        store.start_run("zoo bench x")
    assert db_path() == zoo_env / DB_FILE
    assert db_path().exists()
    mode = sqlite3.connect(db_path()).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_rows_round_trip_with_config_and_environment() -> None:
    with open_store() as store:
        run = store.start_run("zoo bench a b", options={"entries": ["a", "b"]},
                              environment={"zoo_version": "1.2", "git_commit": "abc"}, note="baseline")
        store.add_row(run, _row("a", 2.0), {"name": "a", "recipe": {"epochs": 3}})
        store.add_row(run, {**_row("b"), "status": "failed", "error": "NaN loss"}, {"name": "b"})
        store.update_environment(run, {"tensorflow": "2.21.0", "git_commit": "ignored"})
        store.finish_run(run)
        info = store.run(run)
        rows = store.rows(run)
    assert info.status == "finished" and info.rows == 2 and info.failed == 1
    assert info.note == "baseline" and info.options["entries"] == ["a", "b"]
    assert info.environment == {"zoo_version": "1.2", "git_commit": "abc", "tensorflow": "2.21.0"}
    assert [r["entry"] for r in rows] == ["a", "b"]
    assert rows[0]["train_seconds"] == 2.0 and rows[0]["entry_config"]["recipe"]["epochs"] == 3
    assert rows[1]["error"] == "NaN loss"


def test_nan_values_survive_storage() -> None:
    with open_store() as store:
        run = store.start_run()
        store.add_row(run, {**_row("a"), "metrics": {"train": {"loss": float("nan")}}})
        value = store.rows(run)[0]["metrics"]["train"]["loss"]
    assert value != value  # NaN read back as NaN, not an error


def test_references() -> None:
    with open_store() as store:
        ids = [store.start_run(f"run {i}") for i in range(3)]
        assert store.resolve_ref("last") == ids[-1]
        assert store.resolve_ref("last~1") == ids[-2]
        assert store.resolve_ref(f"#{ids[0]}") == ids[0]
        assert store.resolve_ref(str(ids[1])) == ids[1]
        with pytest.raises(ZooError, match="only 3 run"):
            store.resolve_ref("last~5")
        with pytest.raises(ZooError, match="no benchmark run #999"):
            store.resolve_ref("999")
        with pytest.raises(ZooError, match="bad run reference"):
            store.resolve_ref("yesterday")
        assert [r.id for r in store.runs(limit=2)] == ids[::-1][:2]


def test_failed_transaction_stores_nothing() -> None:
    with open_store() as store:
        run = store.start_run()
        with pytest.raises(RuntimeError):
            with store.transaction() as conn:
                conn.execute("INSERT INTO rows (run_id, entry, status, created_at, data) VALUES (?, 'x', 'ok', '', '{}')", (run,))
                raise RuntimeError("interrupted mid-transaction")
        assert store.rows(run) == []


def test_missing_history_is_a_one_line_error() -> None:
    with pytest.raises(ZooError, match="no benchmark history yet"):
        open_existing()


def test_newer_schema_is_refused(zoo_env: Path) -> None:
    zoo_env.mkdir(parents=True)
    sqlite3.connect(zoo_env / DB_FILE).execute("PRAGMA user_version = 99")
    with pytest.raises(DataError, match="newer than this zoo"):
        open_store()


def test_not_a_database_is_a_data_error(zoo_env: Path) -> None:
    zoo_env.mkdir(parents=True)
    (zoo_env / DB_FILE).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match="cannot be opened"):
        open_store()


_WRITER = textwrap.dedent("""
    import os, signal, sys
    from zoo.store import open_store
    name, count, die_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = open_store()
    run = store.start_run(name)
    for i in range(count):
        store.add_row(run, {"entry": f"{name}-{i}", "status": "ok", "train_seconds": 1.0})
        if i + 1 == die_after:
            os.kill(os.getpid(), signal.SIGKILL)  # as `kill -9` mid-bench
    store.finish_run(run)
""")


def _writer(name: str, count: int, die_after: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WRITER, name, str(count), str(die_after)], env=os.environ.copy())


def test_two_writers_at_once_both_keep_their_rows() -> None:
    writers = [_writer("alpha", 40), _writer("beta", 40)]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    with open_existing() as store:
        runs = store.runs()
        assert len(runs) == 2 and all(r.status == "finished" for r in runs)
        assert sorted(len(store.rows(r.id)) for r in runs) == [40, 40]


def _open_and_record(path: str, barrier) -> str:
    barrier.wait()
    try:
        with Store(path) as store:
            store.finish_run(store.start_run("racer"))
        return "ok"
    except ZooError as exc:
        return str(exc)


def test_two_benches_creating_the_database_at_once_both_succeed(tmp_path: Path) -> None:
    # The workers of a multi-worker bench start together on one ZOO_HOME: switching a new file
    # to WAL mode answers "database is locked" at once to the loser, which must wait and retry.
    import multiprocessing

    context = multiprocessing.get_context("fork")
    with context.Manager() as manager, context.Pool(2) as pool:
        for attempt in range(10):
            path = str(tmp_path / f"race-{attempt}.sqlite")
            barrier = manager.Barrier(2)
            assert pool.starmap(_open_and_record, [(path, barrier)] * 2) == ["ok", "ok"]
            with Store(path) as store:
                assert [run.status for run in store.runs()] == ["finished", "finished"]


def test_killed_writer_leaves_finished_rows_readable() -> None:
    writer = _writer("victim", 10, die_after=4)
    assert writer.wait(timeout=60) == -signal.SIGKILL
    with open_existing() as store:
        (run,) = store.runs()
        assert [r["entry"] for r in store.rows(run.id)] == [f"victim-{i}" for i in range(4)]
        assert run.status == "killed"  # 'running' in the table, but its process is gone
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_store_modules_do_not_import_tensorflow() -> None:
    code = ("import sys; import zoo.store, zoo.report, zoo.bench, zoo.cli.bench_cmds; "
            "bad = [m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.strip().replace("'", '"')) == []
