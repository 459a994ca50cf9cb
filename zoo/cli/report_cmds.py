"""``zoo report``: the benchmark history as one self-contained HTML page.

Reads the SQLite history (:mod:`zoo.store`) and renders it with :mod:`zoo.html_report`; neither
imports TensorFlow.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from zoo.errors import ZooError


@click.command("report")
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@click.option("-o", "--output", default="report.html", show_default=True, metavar="FILE",
              help="Where to write the page; `-` writes it to stdout.")
@click.option("--title", default="zoo benchmark report", show_default=True, help="The page's title.")
def report_cmd(runs: tuple[str, ...], output: str, title: str) -> None:
    """Write the benchmark history as a self-contained HTML report.

    \b
      zoo report -o report.html          every stored run
      zoo report last -o report.html     the newest run
      zoo report 3 7 last~1              runs 3 and 7 and the one before the newest

    RUN is a run id, `#id`, `last` or `last~N`, as `zoo runs` lists them. The page has a
    leaderboard (each entry's best result, sortable), the metric against training time with the
    Pareto front, per-epoch training curves, failed rows with their errors, and each run's
    environment. It needs no server and loads nothing from the network.
    """
    import zoo
    from zoo import html_report
    from zoo.store import db_path, open_existing

    infos, rows = [], []
    source = db_path()
    if runs or source.exists():
        with open_existing() as store:
            if runs:
                ids = list(dict.fromkeys(store.resolve_ref(ref) for ref in runs))
                infos = [store.run(run_id) for run_id in ids]
            else:
                infos = store.runs()
            for info in sorted(infos, key=lambda i: i.id):
                for row in store.rows(info.id):
                    row.pop("entry_config", None)
                    row["run_id"] = info.id
                    rows.append(row)
    page = html_report.render_html(infos, rows, title=title, generated_at=time.strftime("%Y-%m-%d %H:%M:%S %z"),
                                   source=str(source), zoo_version=zoo.__version__)
    if output == "-":
        sys.stdout.write(page)
        sys.stdout.flush()
        where = "stdout"
    else:
        target = Path(output)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(page, encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ZooError(f"cannot write the report to {output}: {exc.strerror or exc}") from exc
        where = str(target)
    size = len(page.encode("utf-8"))
    if not infos:
        state = "has no runs" if source.exists() else "does not exist"
        click.echo(f"zoo: no benchmark history yet ({source} {state}); wrote an empty report to {where}; "
                   "run `zoo bench ENTRY` first", err=True)
        return
    failed = sum(1 for r in rows if r.get("status", "ok") != "ok")
    click.echo(f"zoo: wrote {where} ({size / 1024:,.0f} KB): {len(infos)} run(s), {len(rows)} row(s), "
               f"{failed} failed", err=True)
