"""`zoo report`: the HTML page checked against the database it was made from.

A real history is written with the real Store (two runs, ok rows with per-epoch histories, a
failed row, an accuracy entry and a regression entry, an entry named like an HTML tag), the page
is made with the real command through click's CliRunner, read back with the standard library's
HTML parser, and its leaderboard, Pareto front, failed rows and environments are compared with
what the test computes from the database itself.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from zoo.cli import cli
from zoo.html_report import pareto_front
from zoo.store import db_path, open_store

EVIL = "<script>x</script>"
ENV = {"zoo_version": "0.1.0", "git_commit": "0123456789abcdef0123", "git_dirty": False, "host": "bench-host",
       "cpu": "Intel(R) Xeon(R) CPU @ 2.10GHz", "python": "3.11.2"}
WORKER_ENV = {"tensorflow": "2.21.0", "keras": "3.15.1", "strategy": "default"}


def _history(epochs: int, final: float) -> dict[str, list[float]]:
    return {"accuracy": [final - 0.05 * (epochs - i) for i in range(epochs)],
            "loss": [0.9 / (i + 1) for i in range(epochs)],
            "val_accuracy": [final - 0.06 * (epochs - i) for i in range(epochs)],
            "val_loss": [1.0 / (i + 1) for i in range(epochs)]}


def _row(entry: str, accuracy: float, seconds: float, epochs: int = 3, **extra: Any) -> dict[str, Any]:
    return {"entry": entry, "status": "ok", "error": None, "repeat": 0, "seed": 0, "params": 1000 + len(entry),
            "epochs": epochs, "train_seconds": seconds, "samples_per_second": 60000 / seconds,
            "time_to_target_seconds": seconds / 2, "peak_rss_mb": 900.0 + seconds,
            "target": {"metric": "val_accuracy", "value": 0.8, "mode": "min"},
            "metrics": {"train": {"accuracy": accuracy + 0.02, "loss": 0.3},
                        "validation": {"accuracy": accuracy - 0.01, "loss": 0.35},
                        "test": {"accuracy": accuracy, "loss": 0.36}},
            "history": _history(epochs, accuracy), **extra}


def _regression_row(mae: float, seconds: float) -> dict[str, Any]:
    return {"entry": "hello-dense", "status": "ok", "repeat": 0, "seed": 0, "params": 2, "epochs": 50,
            "train_seconds": seconds, "samples_per_second": 6 / seconds,
            "metrics": {"train": {"loss": mae ** 2, "mae": mae}, "test": {"loss": mae ** 2, "mae": mae}},
            "history": {"loss": [10.0 / (i + 1) ** 2 for i in range(50)], "mae": [3.0 / (i + 1) for i in range(50)]}}


FAILED_ERROR = "loss became nan in epoch 2 <b>not bold</b> & more"


def _make_history() -> tuple[int, int]:
    with open_store() as store:
        first = store.start_run("zoo bench 'fashion-*' hello-dense", options={"entries": ["fashion-dense"]},
                                environment=ENV, note="baseline")
        store.add_row(first, _row("fashion-dense", 0.85, 10.0), {"name": "fashion-dense"})
        store.add_row(first, _row("fashion-cnn", 0.90, 40.0), {"name": "fashion-cnn"})
        store.add_row(first, _row("fashion-dense-2layer", 0.86, 25.0), {"name": "fashion-dense-2layer"})
        store.add_row(first, _row(EVIL, 0.50, 5.0), {"name": EVIL})
        store.add_row(first, _regression_row(0.5, 2.0), {"name": "hello-dense"})
        store.add_row(first, {"entry": "broken", "status": "failed", "error": FAILED_ERROR, "repeat": 0, "seed": 0},
                      {"name": "broken"})
        store.update_environment(first, WORKER_ENV)
        store.finish_run(first)
        second = store.start_run("zoo bench fashion-dense fashion-cnn fashion-cnn-fast hello-dense",
                                 environment={**ENV, "git_commit": "fedcba9876543210fedc", "host": "other-host"})
        store.add_row(second, _row("fashion-dense", 0.87, 12.0, epochs=4), {"name": "fashion-dense"})
        store.add_row(second, _row("fashion-cnn", 0.89, 20.0), {"name": "fashion-cnn"})
        store.add_row(second, _row("fashion-cnn-fast", 0.91, 30.0), {"name": "fashion-cnn-fast"})
        store.add_row(second, _regression_row(0.3, 3.0), {"name": "hello-dense"})
        store.add_row(second, {"entry": "fashion-dense-512", "status": "failed", "error": "out of memory", "repeat": 0},
                      {"name": "fashion-dense-512"})
        store.update_environment(second, WORKER_ENV)
        store.finish_run(second)
    return first, second


class Page(HTMLParser):
    """What the tests look at: tables (with their rows and cells), SVG points, links, scripts."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tables: list[dict[str, Any]] = []
        self.circles: list[dict[str, str]] = []
        self.curves: list[dict[str, Any]] = []
        self.links: list[str] = []
        self.scripts = 0
        self.ids: set[str] = set()
        self.text: list[str] = []
        self._table: dict[str, Any] | None = None
        self._cell: dict[str, Any] | None = None
        self._svg: dict[str, str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("href", "src", "xlink:href", "action", "data", "poster"):
            if key in a:
                self.links.append(a[key])
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "script":
            self.scripts += 1
        elif tag == "table":
            self._table = {"attrs": a, "rows": []}
            self.tables.append(self._table)
        elif tag == "tr" and self._table is not None:
            self._table["rows"].append({"attrs": a, "cells": []})
        elif tag in ("td", "th") and self._table is not None and self._table["rows"]:
            self._cell = {"tag": tag, "attrs": a, "text": ""}
            self._table["rows"][-1]["cells"].append(self._cell)
        elif tag == "svg":
            self._svg = a
            if "curve" in a.get("class", ""):
                self.curves.append({"attrs": a, "lines": []})
        elif tag == "circle" and self._svg is not None and "pt" in a.get("class", "").split():
            self.circles.append({**a, "metric": self._svg.get("data-metric", "")})
        elif tag == "polyline" and self.curves and self._svg is self.curves[-1]["attrs"]:
            self.curves[-1]["lines"].append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("td", "th"):
            self._cell = None
        elif tag == "svg":
            self._svg = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell["text"] += data

    def table(self, klass: str) -> list[dict[str, Any]]:
        return [t for t in self.tables if klass in t["attrs"].get("class", "").split()]

    @staticmethod
    def body_rows(table: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in table["rows"] if r["cells"] and r["cells"][0]["tag"] == "td"]


def _db_rows() -> list[dict[str, Any]]:
    """Every stored row, read with sqlite3 directly (not through the store or the report)."""
    conn = sqlite3.connect(db_path())
    try:
        return [{**json.loads(data), "run_id": run_id, "status_column": status}
                for run_id, status, data in conn.execute("SELECT run_id, status, data FROM rows ORDER BY id")]
    finally:
        conn.close()


def _report(tmp_path: Path, *args: str) -> tuple[Any, str]:
    out = tmp_path / "out.html"
    result = CliRunner().invoke(cli, ["report", *args, "-o", str(out)])
    return result, out.read_text(encoding="utf-8") if out.exists() else ""


@pytest.fixture
def page(tmp_path: Path) -> tuple[Page, str, Any]:
    _make_history()
    result, html = _report(tmp_path)
    assert result.exit_code == 0, result.output
    return Page(html), html, result


def test_leaderboard_rows_and_best_values_match_the_database(page: tuple[Page, str, Any]) -> None:
    parsed, _, result = page
    assert "2 run(s), 11 row(s), 2 failed" in result.stderr
    rows = _db_rows()
    ok = [r for r in rows if r["status_column"] == "ok"]
    boards = {t["attrs"]["data-metric"]: t for t in parsed.table("leaderboard")}
    assert set(boards) == {"accuracy", "mae"}
    shown = {metric: {r["attrs"]["data-entry"]: r for r in Page.body_rows(t)} for metric, t in boards.items()}
    assert {e for entries in shown.values() for e in entries} == {r["entry"] for r in ok}
    assert set(shown["mae"]) == {"hello-dense"}
    for metric, entries in shown.items():
        for entry, line in entries.items():
            values = [(r["metrics"]["test"][metric], r["run_id"]) for r in ok if r["entry"] == entry]
            best = max(values) if metric == "accuracy" else min(values)
            cell = line["cells"][2]
            assert float(cell["attrs"]["data-v"]) == best[0]
            assert f"{best[0]:.4g}" in cell["text"]
            assert int(line["attrs"]["data-run"]) == best[1], entry
            assert line["cells"][-1]["text"] == f"#{best[1]}"
    # Ranked best first; the entry's best row's own figures (not another row's) beside it.
    order = [r["attrs"]["data-entry"] for r in Page.body_rows(boards["accuracy"])]
    assert order == ["fashion-cnn-fast", "fashion-cnn", "fashion-dense", "fashion-dense-2layer", EVIL]
    dense = shown["accuracy"]["fashion-dense"]["cells"]
    assert float(dense[3]["attrs"]["data-v"]) == 12.0 and dense[3]["text"] == "12"
    assert float(dense[8]["attrs"]["data-v"]) == 4  # epochs of run 2's row
    assert dense[10]["text"] == "2"  # results: one per run


def test_pareto_front_is_exactly_the_non_dominated_points(page: tuple[Page, str, Any]) -> None:
    parsed, _, _ = page
    ok = [r for r in _db_rows() if r["status_column"] == "ok" and "accuracy" in r["metrics"]["test"]]
    points = {(r["entry"], r["run_id"]): (r["train_seconds"], r["metrics"]["test"]["accuracy"]) for r in ok}
    expected = {key for key, (t, a) in points.items()
                if not any(t2 <= t and a2 >= a and (t2 < t or a2 > a) for t2, a2 in points.values())}
    circles = [c for c in parsed.circles if c["metric"] == "accuracy"]
    assert {(c["data-entry"], int(c["data-run"])) for c in circles} == set(points)
    for c in circles:
        assert (float(c["data-seconds"]), float(c["data-value"])) == points[(c["data-entry"], int(c["data-run"]))]
    marked = {(c["data-entry"], int(c["data-run"])) for c in circles if c["data-pareto"] == "1"}
    assert marked == expected
    assert ("fashion-cnn", 1) not in marked and len(marked) == 5  # 40 s for 0.90: beaten by 30 s for 0.91
    assert all("pareto" in c["class"].split() for c in circles if c["data-pareto"] == "1")
    # The regression entry: lower is better; its faster run (2 s, mae 0.5) and better one (3 s, 0.3) both on it.
    mae = [c for c in parsed.circles if c["metric"] == "mae"]
    assert sorted(c["data-pareto"] for c in mae) == ["1", "1"]


def test_failed_rows_shown_with_their_errors_not_ranked(page: tuple[Page, str, Any]) -> None:
    parsed, html, _ = page
    failed = {r["entry"]: r for r in _db_rows() if r["status_column"] == "failed"}
    (table,) = parsed.table("failed")
    lines = Page.body_rows(table)
    assert {line["attrs"]["data-entry"] for line in lines} == set(failed) == {"broken", "fashion-dense-512"}
    for line in lines:
        entry = line["attrs"]["data-entry"]
        assert line["cells"][-1]["text"] == failed[entry]["error"]
        assert int(line["attrs"]["data-run"]) == failed[entry]["run_id"]
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; more" in html
    ranked = {r["attrs"]["data-entry"] for t in parsed.table("leaderboard") for r in Page.body_rows(t)}
    assert not ranked & set(failed)
    assert not {c["data-entry"] for c in parsed.circles} & set(failed)


def test_self_contained_and_escaped(page: tuple[Page, str, Any]) -> None:
    parsed, html, _ = page
    assert parsed.links and all(not link.lower().startswith(("http:", "https:", "//")) for link in parsed.links)
    assert "http://" not in html and "https://" not in html
    assert "url(" not in html and "@import" not in html
    assert EVIL not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert parsed.scripts == 1  # the page's own sorting script, nothing injected
    ranked = {r["attrs"]["data-entry"] for t in parsed.table("leaderboard") for r in Page.body_rows(t)}
    assert EVIL in ranked  # the name survives, as text
    assert EVIL in "".join(parsed.text)
    # Every internal link points at an element of the page.
    assert {link[1:] for link in parsed.links if link.startswith("#")} <= parsed.ids


def test_curves_and_environments(page: tuple[Page, str, Any]) -> None:
    parsed, _, _ = page
    curves = {(c["attrs"]["data-entry"], c["attrs"]["data-series"]): c["lines"] for c in parsed.curves}
    lines = {line["data-key"]: line for line in curves[("fashion-dense", "accuracy")]}
    assert set(lines) == {"accuracy", "val_accuracy"}
    assert lines["accuracy"]["data-epochs"] == "4"  # the best result's (run 2's) history
    assert len(lines["val_accuracy"]["points"].split()) == 4
    assert {line["data-key"] for line in curves[("fashion-dense", "loss")]} == {"loss", "val_loss"}
    assert {line["data-key"] for line in curves[("hello-dense", "mae")]} == {"mae"}
    ranked = {r["attrs"]["data-entry"] for t in parsed.table("leaderboard") for r in Page.body_rows(t)}
    assert {entry for entry, _ in curves} == ranked
    (runs,) = parsed.table("runs")
    by_id = {r["attrs"]["id"]: " | ".join(c["text"] for c in r["cells"]) for r in Page.body_rows(runs)}
    assert set(by_id) == {"run-1", "run-2"}
    for run_id, commit, host in (("run-1", "0123456789", "bench-host"), ("run-2", "fedcba9876", "other-host")):
        text = by_id[run_id]
        assert all(value in text for value in ("Intel(R) Xeon(R) CPU @ 2.10GHz", "2.21.0", "3.15.1", commit, host))
    assert "baseline" in by_id["run-1"]
    assert "inference" not in parsed.ids  # no inference rows: no such section


def test_run_selection_and_bad_reference(tmp_path: Path) -> None:
    first, _ = _make_history()
    result, html = _report(tmp_path, str(first))
    assert result.exit_code == 0, result.output
    parsed = Page(html)
    runs = {r["attrs"]["id"] for r in Page.body_rows(parsed.table("runs")[0])}
    assert runs == {f"run-{first}"}
    ranked = {r["attrs"]["data-entry"] for t in parsed.table("leaderboard") for r in Page.body_rows(t)}
    assert "fashion-cnn-fast" not in ranked and "fashion-dense-2layer" in ranked
    assert {int(c["data-run"]) for c in parsed.circles} == {first}
    result = CliRunner().invoke(cli, ["report", "last~7", "-o", str(tmp_path / "x.html")])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "only 2 run(s)" in result.stderr
    assert not (tmp_path / "x.html").exists()


def test_empty_history(tmp_path: Path) -> None:
    result, html = _report(tmp_path)
    assert result.exit_code == 0
    assert "no benchmark history yet" in result.stderr
    parsed = Page(html)
    assert "empty" in parsed.ids and "No benchmark history yet" in "".join(parsed.text)
    assert not parsed.tables and not parsed.circles
    assert not db_path().exists()  # reading the history never creates it
    with open_store() as store:  # a database with no runs: the same page
        store.conn.execute("SELECT 1")
    result, html = _report(tmp_path)
    assert result.exit_code == 0 and "empty" in Page(html).ids


def test_repeats_inference_rows_and_stdout(tmp_path: Path) -> None:
    with open_store() as store:
        run = store.start_run("zoo bench fashion-cnn --repeats 3", environment=ENV)
        for repeat, (accuracy, seconds) in enumerate(((0.90, 30.0), (0.92, 33.0), (0.91, 31.0))):
            store.add_row(run, {**_row("fashion-cnn", accuracy, seconds), "repeat": repeat, "seed": repeat})
        store.add_row(run, {"entry": "fashion-cnn", "kind": "inference", "runtime": "tflite", "status": "ok",
                            "inference_samples_per_second": 1234.5, "latency_ms": 0.81,
                            "metrics": {"test": {"accuracy": 0.9105}}})
        store.finish_run(run)
    result = CliRunner().invoke(cli, ["report", "-o", "-"])
    assert result.exit_code == 0
    parsed = Page(result.stdout)
    (board,) = parsed.table("leaderboard")
    (line,) = Page.body_rows(board)
    assert float(line["cells"][2]["attrs"]["data-v"]) == pytest.approx(0.91)  # the median of the repeats
    assert float(line["cells"][3]["attrs"]["data-v"]) == 31.0
    assert "3 rows" in line["cells"][10]["text"]
    assert len(parsed.circles) == 1  # one result (run × entry), the inference row not plotted
    assert "inference" in parsed.ids
    (table,) = parsed.table("inference")
    (inference,) = Page.body_rows(table)
    texts = [c["text"] for c in inference["cells"]]
    assert "tflite" in texts and "1,234" in texts and "0.81" in texts


def test_pareto_front_ties() -> None:
    points = [(1.0, 0.5), (1.0, 0.5), (1.0, 0.4), (2.0, 0.5), (2.0, 0.9), (3.0, 0.8)]
    assert pareto_front(points) == [True, True, False, False, True, False]
    assert pareto_front([(1.0, 0.5), (2.0, 0.3), (3.0, 0.6)], higher=False) == [True, True, False]
    assert pareto_front([]) == []


def test_report_does_not_import_tensorflow_or_numpy(tmp_path: Path) -> None:
    _make_history()
    code = ("import sys\nfrom click.testing import CliRunner\nfrom zoo.cli import cli\n"
            "r = CliRunner().invoke(cli, ['report', '-o', sys.argv[1]])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'numpy')))\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r.html")], check=False, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "r.html").stat().st_size > 1000


def test_pareto_labels_do_not_overlap_and_name_each_entry_once() -> None:
    from zoo.svg_charts import label_box, place_labels

    frame = (0.0, 0.0, 600.0, 300.0)
    # Three points a few pixels apart (one entry's runs, another's beside them): each label moves.
    spots = [(300.0, 100.0, "fashion-compact-cnn"), (306.0, 98.0, "fashion-cnn-fast"), (303.0, 104.0, "fashion-cnn")]
    placed = place_labels(spots, frame, [(x, y) for x, y, _ in spots])
    assert all(p is not None for p in placed)
    boxes = [label_box(*p) for p in placed]
    assert boxes[0][2] - boxes[0][0] > 100  # the box spans the text, so overlaps are real ones
    for i, a in enumerate(boxes):
        assert frame[0] <= a[0] and a[2] <= frame[2] and frame[1] <= a[1] and a[3] <= frame[3]
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    # Near the right edge a label turns left; with no room anywhere it is left out, not drawn over.
    (edge,) = place_labels([(595.0, 150.0, "entry")], frame)
    assert edge is not None and edge[2] == "end"
    assert place_labels([(5.0, 5.0, "x" * 200)], (0.0, 0.0, 20.0, 20.0)) == [None]


def test_scatter_labels_one_per_entry_on_its_best_front_point() -> None:
    import re

    from zoo.leaderboard import Group, Result
    from zoo.svg_charts import scatter_svg

    def result(entry: str, run: int, seconds: float, value: float) -> Result:
        return Result(run_id=run, entry=entry, row={}, metric="accuracy", split="test", value=value, higher=True,
                      seconds=seconds, pareto=True)

    results = [result("a", 1, 40.0, 0.91), result("a", 2, 41.0, 0.912), result("b", 3, 120.0, 0.93),
               result("b", 4, 121.0, 0.931), result("b", 5, 124.0, 0.933)]
    svg = scatter_svg(Group(metric="accuracy", higher=True, results=results), {"a": "#111", "b": "#222"})
    assert re.findall(r'<text class="label"[^>]*>([^<]*)</text>', svg) == ["b", "a"]
    assert svg.count("<circle") == 5
