"""Benchmark history in an embedded database: one SQLite file under ``ZOO_HOME``, no server.

Every ``zoo bench`` is a *run*; every entry × repeat it benchmarked is a *row*. A run is inserted
when the bench starts and each finished row is written at once in its own transaction, so an
interrupted bench (Ctrl-C, ``kill``, a crash) loses nothing that had finished. The database is in
WAL mode with a busy timeout, so two benches running at once both keep their rows (SQLite
serialises the short write transactions; readers never block writers).

Rows are stored whole as JSON (``data``), with the columns a query or a listing needs copied out
next to it. The resolved catalogue entry (every field and where it came from) is stored with each
row, and the environment (TF/Keras versions, CPU/GPU, threads, strategy, zoo version, git commit)
with the run.
"""
from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo import settings
from zoo.errors import DataError, ZooError
from zoo.rows import BenchRow

DB_FILE = "bench.sqlite"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,          -- running | finished | interrupted | failed
    command     TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT '',
    options     TEXT NOT NULL DEFAULT '{}',   -- JSON: patterns, overrides, repeats, strategy...
    environment TEXT NOT NULL DEFAULT '{}',   -- JSON
    zoo_version TEXT,
    git_commit  TEXT,
    host        TEXT,
    pid         INTEGER
);
CREATE TABLE IF NOT EXISTS rows (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    entry         TEXT NOT NULL,
    repeat        INTEGER NOT NULL DEFAULT 0,
    seed          INTEGER,
    status        TEXT NOT NULL,        -- ok | failed
    error         TEXT,
    created_at    TEXT NOT NULL,
    train_seconds REAL,
    samples_per_second REAL,
    data          TEXT NOT NULL,        -- JSON: the whole benchmark row
    entry_config  TEXT NOT NULL DEFAULT '{}'  -- JSON: the resolved catalogue entry
);
CREATE INDEX IF NOT EXISTS rows_run ON rows(run_id);
CREATE INDEX IF NOT EXISTS rows_entry ON rows(entry);
"""


def db_path() -> Path:
    """The history database: ``ZOO_HOME/bench.sqlite``."""
    return settings.home() / DB_FILE


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, allow_nan=True)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RunInfo:
    """One stored bench run, as listed by ``zoo runs``."""

    id: int
    started_at: str
    finished_at: str | None
    status: str
    command: str
    note: str
    options: dict[str, Any]
    environment: dict[str, Any]
    zoo_version: str | None
    git_commit: str | None
    host: str | None
    pid: int | None
    rows: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Store:
    """The benchmark history. Open with :func:`open_store`; use as a context manager."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE takes the
            # write lock up front, so two writers queue on busy_timeout instead of deadlocking).
            self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._retry_while_locked(self._set_up)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"benchmark database {self.path} cannot be opened: {exc}") from exc

    # -- plumbing ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is stored, or none of it."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def _retry_while_locked(self, step: Any) -> None:
        """Run ``step``, retrying while another process holds the database: switching a new
        file to WAL mode answers "database is locked" at once, without waiting on busy_timeout,
        when two benches create the database at the same moment (e.g. the workers of one
        multi-worker bench)."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.01
        while True:
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _set_up(self) -> None:
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across crashes of zoo
        self.conn.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DataError(f"benchmark database {self.path} has schema {version}, newer than this zoo knows ({SCHEMA_VERSION}); upgrade zoo")
        if version < SCHEMA_VERSION:
            with self.transaction() as conn:
                # Another process may have created the schema while this one waited for the lock.
                if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                    return
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------
    def start_run(self, command: str = "", options: dict[str, Any] | None = None,
                  environment: dict[str, Any] | None = None, note: str = "") -> int:
        """Insert a run (status ``running``) and return its id."""
        env = environment or {}
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (started_at, status, command, note, options, environment, zoo_version, git_commit, host, pid)"
                " VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), command, note, _dumps(options or {}), _dumps(env), env.get("zoo_version"),
                 env.get("git_commit"), socket.gethostname(), os.getpid()),
            )
            return int(cursor.lastrowid)

    def add_row(self, run_id: int, row: BenchRow, entry_config: dict[str, Any] | None = None) -> int:
        """Store one finished benchmark row, committed before this returns."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO rows (run_id, entry, repeat, seed, status, error, created_at, train_seconds,"
                " samples_per_second, data, entry_config) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, row["entry"], int(row.get("repeat") or 0), row.get("seed"), row.get("status", "ok"),
                 row.get("error"), _now(), row.get("train_seconds"), row.get("samples_per_second"),
                 _dumps(row), _dumps(entry_config or {})),
            )
            return int(cursor.lastrowid)

    def update_environment(self, run_id: int, environment: dict[str, Any]) -> None:
        """Merge ``environment`` (e.g. what the first worker measured) into the run's."""
        with self.transaction() as conn:
            current = json.loads(conn.execute("SELECT environment FROM runs WHERE id = ?", (run_id,)).fetchone()[0])
            merged = {**environment, **{k: v for k, v in current.items() if v is not None}}
            conn.execute("UPDATE runs SET environment = ?, git_commit = COALESCE(git_commit, ?) WHERE id = ?",
                         (_dumps(merged), merged.get("git_commit"), run_id))

    def finish_run(self, run_id: int, status: str = "finished") -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?", (status, _now(), run_id))

    def delete_run(self, run_id: int) -> None:
        """Remove a run and its rows (``zoo bench`` drops a run in which nothing trained)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM rows WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    # -- reading ------------------------------------------------------------------------------
    def _run_info(self, record: sqlite3.Row) -> RunInfo:
        status = record["status"]
        if status == "running" and record["host"] == socket.gethostname() and not _pid_alive(record["pid"]):
            status = "killed"  # its process is gone without finishing: what it stored is intact
        return RunInfo(
            id=record["id"], started_at=record["started_at"], finished_at=record["finished_at"], status=status,
            command=record["command"], note=record["note"], options=json.loads(record["options"]),
            environment=json.loads(record["environment"]), zoo_version=record["zoo_version"],
            git_commit=record["git_commit"], host=record["host"], pid=record["pid"],
            rows=record["n_rows"], failed=record["n_failed"],
        )

    _RUNS_QUERY = (
        "SELECT runs.*, COUNT(rows.id) AS n_rows, COALESCE(SUM(rows.status != 'ok'), 0) AS n_failed"
        " FROM runs LEFT JOIN rows ON rows.run_id = runs.id"
    )

    def runs(self, limit: int | None = None, entry: str | None = None) -> list[RunInfo]:
        """Stored runs, newest first (only those with a row for ``entry`` when given)."""
        where, params = "", []
        if entry:
            where = " WHERE runs.id IN (SELECT run_id FROM rows WHERE entry = ?)"
            params.append(entry)
        query = f"{self._RUNS_QUERY}{where} GROUP BY runs.id ORDER BY runs.id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        return [self._run_info(r) for r in self.conn.execute(query, params)]

    def run(self, ref: str | int) -> RunInfo:
        """A run by id or reference (see :meth:`resolve_ref`)."""
        run_id = self.resolve_ref(ref)
        record = self.conn.execute(f"{self._RUNS_QUERY} WHERE runs.id = ? GROUP BY runs.id", (run_id,)).fetchone()
        return self._run_info(record)

    def rows(self, run_id: int) -> list[BenchRow]:
        """The rows of a run in the order they finished, each with ``entry_config`` attached."""
        rows: list[BenchRow] = []
        for record in self.conn.execute("SELECT data, entry_config FROM rows WHERE run_id = ? ORDER BY id", (run_id,)):
            row = json.loads(record["data"])
            row["entry_config"] = json.loads(record["entry_config"])
            rows.append(row)
        return rows

    def resolve_ref(self, ref: str | int) -> int:
        """A run reference as an id: ``12``, ``#12``, ``last`` (the newest run), ``last~1``
        (the one before it), ``last~N``."""
        text = str(ref).strip().lstrip("#")
        if text.isdigit():
            run_id = int(text)
            if not self.conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                raise ZooError(f"no benchmark run #{run_id} in {self.path} (see `zoo runs`)")
            return run_id
        match = re.fullmatch(r"(?:last|latest)(?:~(\d+))?", text)
        if not match:
            raise ZooError(f"bad run reference {ref!r}: use a run id (see `zoo runs`), 'last' or 'last~N'")
        back = int(match.group(1) or 0)
        record = self.conn.execute("SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?", (back,)).fetchone()
        if record is None:
            count = self.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            raise ZooError(f"run reference {ref!r}: only {count} run(s) stored in {self.path}")
        return int(record["id"])


def open_store(path: Path | str | None = None) -> Store:
    """Open (and create if needed) the history database."""
    return Store(path)


def open_existing(path: Path | str | None = None) -> Store:
    """Open the history database for reading; a one-line error when there is none yet."""
    target = Path(path) if path else db_path()
    if not target.exists():
        raise ZooError(f"no benchmark history yet ({target} does not exist); run `zoo bench ENTRY` first")
    return Store(target)


__all__ = ["Store", "RunInfo", "open_store", "open_existing", "db_path", "DB_FILE"]
