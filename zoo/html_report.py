"""The benchmark history as one self-contained HTML page (``zoo report``).

:func:`render_html` takes runs and rows as plain data (what :class:`zoo.store.Store` returns) and
returns the page as a string. Everything is inline: the styles, a few lines of JavaScript that sort
the tables, and the charts, drawn here as SVG. The page fetches nothing, so it opens from a file,
an e-mail attachment or a CI artifact. Nothing here imports TensorFlow.

What counts:

* a **result** is one entry in one run: the median over its repeats, as ``zoo runs RUN`` shows it
  (:func:`zoo.report.aggregate`); results whose every repeat failed are not results;
* an entry's **best result** is its result with the best headline figure: the entry's primary
  metric (:func:`zoo.report.primary_metric`) on the test split, else validation, else train;
  higher or lower is better as :func:`zoo.report.higher_is_better` says; ties go to the faster;
* the **leaderboard** has one line per entry, its best result's figures and the run they came
  from, one table per primary metric (accuracy and mae are not one scale);
* the **Pareto front** of a metric is the set of results that no other result beats on both the
  metric and the training time (DAWNBench's accuracy against time to train).

Every string that comes from the history (entry names, errors, commands, notes, environments) is
escaped with :func:`html.escape`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zoo.leaderboard import Group, Result, build_groups, finite, headline, is_inference, pareto_front
from zoo.report import number_text
from zoo.rows import is_ok
from zoo.svg_charts import PALETTE, SPLIT_LABEL, _colour, _e, _numtd, _td, curve_svg, scatter_svg

#: Fields of inference rows shown when some row has them.
INFERENCE_FIELDS = (
    ("runtime", "runtime"), ("format", "format"), ("quantization", "quantization"),
    ("batch_size", "batch"), ("inference_samples_per_second", "samples/s"),
    ("samples_per_second", "samples/s"), ("latency_ms", "latency ms"), ("latency_p50_ms", "p50 ms"),
    ("latency_p90_ms", "p90 ms"), ("latency_p99_ms", "p99 ms"), ("model_size_mb", "size MB"),
    ("size_bytes", "size bytes"), ("max_abs_diff", "max |diff|"), ("parity", "parity"),
)


# -- sections ------------------------------------------------------------------------------------------
def _metric_cell(result: Result) -> str:
    if result.value is None:
        return _td("–", None, "num")
    split = SPLIT_LABEL.get(result.split or "", result.split or "")
    spread = (result.row.get("spread") or {}).get(f"{result.split}_{result.metric}")
    extra = f' <span class="spread">±{_e(number_text(spread["stdev"], 2))}</span>' if spread else ""
    return _td(f'<b>{_e(number_text(result.value, 4))}</b>{extra} <span class="split">{_e(split)}</span>', result.value,
               "num metric")


def _target_cell(row: Mapping[str, Any]) -> str:
    seconds = row.get("time_to_target_seconds")
    if finite(seconds):
        return _numtd(seconds)
    if row.get("target"):
        reached = f" ({row['target_reached']})" if row.get("target_reached") else ""
        return _td(f'<span class="muted">not reached{_e(reached)}</span>', None, "num")
    return _td("–", None, "num")


def leaderboard_html(group: Group, colours: Mapping[str, str]) -> str:
    better = "higher is better" if group.higher else "lower is better"
    counts: dict[str, tuple[int, int]] = {}
    for r in group.results:
        results, rows = counts.get(r.entry, (0, 0))
        counts[r.entry] = (results + 1, rows + r.rows)
    head = [("#", "rank"), ("entry", ""), (f"{group.metric}", f"best {group.metric} ({better}); split: test, else val, else train"),
            ("train s", "training wall time"), ("samples/s", "training throughput"),
            ("to target s", "time to the entry's target"), ("params", "parameters"), ("peak MB", "peak memory"),
            ("epochs", ""), ("infer/s", "inference throughput"), ("results", "runs × repeats of this entry"),
            ("run", "the run the best result came from")]
    parts = [f'<table class="sortable leaderboard" data-metric="{_e(group.metric)}"><thead><tr>']
    for label, tip in head:
        title = f' title="{_e(tip)}"' if tip else ""
        parts.append(f'<th tabindex="0"{title}>{_e(label)}</th>')
    parts.append("</tr></thead><tbody>")
    for rank, r in enumerate(group.best, 1):
        row = r.row
        results, rows = counts[r.entry]
        flag = ' <span class="badge">partial</span>' if row.get("status") == "partial" else ""
        front = ' <span class="badge front" title="on the Pareto front">front</span>' if r.pareto else ""
        entry = (f'<span class="swatch" style="background:{colours.get(r.entry, PALETTE[0])}"></span>'
                 f'<a href="#curves-{_anchor(r.entry)}">{_e(r.entry)}</a>{flag}{front}')
        parts.append(f'<tr data-entry="{_e(r.entry)}" data-run="{r.run_id}">')
        parts.append(_td(str(rank), rank, "num"))
        parts.append(_td(entry, r.entry, "entry"))
        parts.append(_metric_cell(r))
        parts.append(_numtd(row.get("train_seconds")))
        parts.append(_numtd(row.get("samples_per_second")))
        parts.append(_target_cell(row))
        parts.append(_numtd(row.get("params")))
        parts.append(_numtd(row.get("peak_rss_mb")))
        parts.append(_numtd(row.get("epochs")))
        parts.append(_numtd(row.get("inference_samples_per_second")))
        parts.append(_td(f"{results}" + (f" <span class=\"muted\">({rows} rows)</span>" if rows != results else ""),
                         results, "num"))
        parts.append(_td(f'<a href="#run-{r.run_id}">#{r.run_id}</a>', r.run_id, "num"))
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _anchor(text: str) -> str:
    """An id fragment for an entry: letters, digits and - only (escaping alone is not enough)."""
    return "".join(c if c.isalnum() or c in "-_" else f"_{ord(c):x}" for c in text)


def curves_html(groups: Sequence[Group], colours: Mapping[str, str]) -> str:
    cards = []
    for group in groups:
        for r in group.best:
            history, note = r.row.get("history"), ""
            if not history and r.row.get("repeat_rows"):
                first = next((x for x in r.row["repeat_rows"] if is_ok(x) and x.get("history")), None)
                if first:
                    history, note = first["history"], f" · seed {first.get('seed')}"
            charts = ""
            if isinstance(history, Mapping) and history:
                names = [group.metric] if group.metric in history else []
                if not names:
                    names = [k for k in history if not k.startswith("val_") and k != "loss"][:1]
                if "loss" in history and "loss" not in names:
                    names.append("loss")
                charts = "".join(curve_svg(history, name, colours.get(r.entry, PALETTE[0]), r.entry) for name in names)
            body = charts or '<p class="note">no per-epoch history stored</p>'
            cards.append(f'<div class="card" id="curves-{_anchor(r.entry)}"><h3>{_e(r.entry)}</h3>'
                         f'<p class="muted">best result: run <a href="#run-{r.run_id}">#{r.run_id}</a>{_e(note)}, '
                         f'{_e(number_text(r.row.get("epochs")))} epoch(s)</p>{body}</div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def inference_html(rows: Sequence[Mapping[str, Any]]) -> str:
    fields = []
    labels_seen: set[str] = set()
    for key, label in INFERENCE_FIELDS:
        if any(row.get(key) is not None for row in rows) and label not in labels_seen:
            fields.append((key, label))
            labels_seen.add(label)
    parts = ['<table class="sortable inference"><thead><tr><th tabindex="0">entry</th><th tabindex="0">status</th>']
    parts += [f'<th tabindex="0">{_e(label)}</th>' for _, label in fields]
    parts.append('<th tabindex="0">metric</th><th tabindex="0">run</th></tr></thead><tbody>')
    for row in rows:
        metric, split, value = headline(row)
        parts.append(f'<tr data-entry="{_e(row.get("entry"))}">{_td(_e(row.get("entry")), row.get("entry"), "entry")}')
        status = str(row.get("status", "ok"))
        parts.append(_td(_e(status) if is_ok(row) else f'<span class="bad">{_e(status)}</span>', status))
        for key, _ in fields:
            value_ = row.get(key)
            parts.append(_numtd(value_) if finite(value_) else _td(_e(value_ if value_ is not None else "–"), value_))
        shown = f"{number_text(value, 4)} {SPLIT_LABEL.get(split or '', split or '')} {metric}" if value is not None else "–"
        parts.append(_td(_e(shown), value, "num"))
        run_id = row.get("run_id")
        parts.append(_td(f'<a href="#run-{_e(run_id)}">#{_e(run_id)}</a>', run_id, "num"))
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def failed_html(rows: Sequence[Mapping[str, Any]]) -> str:
    parts = [('<table class="sortable failed"><thead><tr><th tabindex="0">run</th><th tabindex="0">entry</th>'
             '<th tabindex="0">repeat</th><th tabindex="0">seed</th><th tabindex="0">error</th></tr></thead><tbody>')]
    for row in rows:
        run_id = row.get("run_id")
        parts.append(f'<tr data-entry="{_e(row.get("entry"))}" data-run="{_e(run_id)}">')
        parts.append(_td(f'<a href="#run-{_e(run_id)}">#{_e(run_id)}</a>', run_id, "num"))
        parts.append(_td(_e(row.get("entry")), row.get("entry"), "entry"))
        parts.append(_numtd(row.get("repeat")))
        parts.append(_numtd(row.get("seed")))
        error = row.get("error") or "(no error message stored)"
        parts.append(_td(f'<div class="error">{_e(error)}</div>', error))
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


ENV_COLUMNS = (("device", "device / CPU"), ("tensorflow", "TensorFlow"), ("keras", "Keras"),
               ("git_commit", "commit"), ("host", "host"), ("zoo_version", "zoo"), ("python", "Python"))


def _run_environment(run: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's environment, completed from its first row's (the worker's) where the run lacks a key."""
    env = dict(run.get("environment") or {})
    for row in rows:
        for key, value in (row.get("environment") or {}).items():
            if env.get(key) is None:
                env[key] = value
        if row.get("environment"):
            break
    for key in ("git_commit", "host", "zoo_version"):
        if env.get(key) is None and run.get(key) is not None:
            env[key] = run[key]
    if not env.get("device") and env.get("cpu"):
        env["device"] = env["cpu"]
    return env


def runs_html(runs: Sequence[Mapping[str, Any]], rows_by_run: Mapping[int, Sequence[Mapping[str, Any]]]) -> str:
    parts = ['<table class="sortable runs"><thead><tr>']
    heads = ["run", "started", "status", "rows", "failed", "command", *(label for _, label in ENV_COLUMNS), "note"]
    parts += [f'<th tabindex="0">{_e(h)}</th>' for h in heads]
    parts.append("</tr></thead><tbody>")
    for run in runs:
        run_id = int(run["id"])
        rows = rows_by_run.get(run_id, ())
        env = _run_environment(run, rows)
        failed = sum(1 for r in rows if not is_ok(r))
        status = str(run.get("status") or "")
        parts.append(f'<tr id="run-{run_id}" data-run="{run_id}">')
        parts.append(_td(f"#{run_id}", run_id, "num"))
        parts.append(_td(_e(str(run.get("started_at") or "").replace("T", " ")[:19]), run.get("started_at"), "nowrap"))
        parts.append(_td(_e(status) if status in ("finished", "running") else f'<span class="bad">{_e(status)}</span>',
                         status))
        parts.append(_td(str(len(rows)), len(rows), "num"))
        parts.append(_td(f'<span class="bad">{failed}</span>' if failed else "0", failed, "num"))
        parts.append(_td(f'<code>{_e(run.get("command"))}</code>', run.get("command")))
        for key, _ in ENV_COLUMNS:
            value = env.get(key)
            if key == "git_commit" and value:
                text = _e(str(value)[:10]) + ("+" if env.get("git_dirty") else "")
                parts.append(_td(f'<code title="{_e(value)}">{text}</code>', value))
            else:
                parts.append(_td(_e(value if value not in (None, "") else "–"), value))
        parts.append(_td(_e(run.get("note") or ""), run.get("note")))
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


# -- the page -----------------------------------------------------------------------------------------
STYLE = """
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#fff;--soft:#f6f7f9;--bad:#b42318;--front:#111}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;max-width:1240px;padding:20px 24px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0 0 2px;word-break:break-all}
a{color:#175cd3;text-decoration:none}a:hover{text-decoration:underline}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
nav{margin:8px 0 0;display:flex;gap:14px;flex-wrap:wrap}
.summary{color:var(--muted);margin:0}.muted,.note{color:var(--muted)}.note{font-style:italic}
.empty{font-size:16px;padding:28px;border:1px dashed var(--line);border-radius:8px;background:var(--soft)}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;cursor:pointer;user-select:none;white-space:nowrap}
th:hover{background:#eceff3}th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.entry{word-break:break-all}td.nowrap{white-space:nowrap}tbody tr:hover{background:#fafbfc}
.split{color:var(--muted);font-size:11px}.spread{color:var(--muted);font-size:11px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;vertical-align:baseline}
.badge{font-size:10px;border:1px solid var(--line);border-radius:8px;padding:0 5px;color:var(--muted);margin-left:4px}
.badge.front{border-color:var(--front);color:var(--front)}
.bad{color:var(--bad);font-weight:600}
.error{color:var(--bad);font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;
word-break:break-word;max-height:9em;overflow:auto}
svg{display:block;font-family:inherit}svg.scatter{width:100%;height:auto}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{flex:1 1 520px;max-width:780px;margin:0}
figcaption{font-weight:600;font-size:15px;margin:4px 0}
.grid{stroke:#eef0f3}.frame{fill:none;stroke:#c9ced6}.tick{font-size:10px;fill:var(--muted)}
.axis{font-size:12px;fill:var(--fg)}.label{font-size:11px;fill:var(--fg);font-weight:600}
.ctitle{font-size:11px;font-weight:600;fill:var(--fg)}
.pt{stroke:#fff;stroke-width:1;fill-opacity:.75}.pt.pareto{stroke:var(--front);stroke-width:2;fill-opacity:1}
.front-line{fill:none;stroke:var(--front);stroke-width:1.5;stroke-dasharray:5 3}
polyline,line.train,line.val{fill:none;stroke-width:1.8}polyline.val,line.val{stroke-dasharray:4 3}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 10px 4px}.card p{margin:0 0 4px;font-size:12px}
.card svg{width:100%;height:auto}
footer{margin-top:36px;color:var(--muted);font-size:12px}
"""

SCRIPT = """
(function(){
function val(row,i){var c=row.cells[i];return c?c.getAttribute('data-v'):'';}
function sortBy(table,th,i){
  var body=table.tBodies[0];if(!body)return;
  var asc=th.getAttribute('aria-sort')!=='ascending';
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',asc?'ascending':'descending');
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){
    var x=val(a,i),y=val(b,i);
    if(x===''||x===null)return (y===''||y===null)?0:1;
    if(y===''||y===null)return -1;
    var nx=parseFloat(x),ny=parseFloat(y),r;
    if(!isNaN(nx)&&!isNaN(ny)&&String(nx)!=='NaN'&&isFinite(x)&&isFinite(y))r=nx-ny;else r=x<y?-1:x>y?1:0;
    return asc?r:-r;
  });
  rows.forEach(function(r){body.appendChild(r);});
}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(table){
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.addEventListener('click',function(){sortBy(table,th,i);});
    th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sortBy(table,th,i);}});
  });
});
})();
"""


def _page(title: str, body: str, generated: str) -> str:
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>{body}"
            f"<footer>{generated}</footer><script>{SCRIPT}</script></body></html>\n")


def render_html(runs: Sequence[Any], rows: Sequence[Mapping[str, Any]], *, title: str = "zoo benchmark report",
                generated_at: str | None = None, source: str | None = None, zoo_version: str | None = None) -> str:
    """The report as one HTML document.

    ``runs``: the runs to show (``RunInfo`` objects or their ``to_dict()``), any order (shown
    newest first). ``rows``: their benchmark rows as stored (dicts), each with ``run_id`` set.
    ``generated_at``, ``source`` (the database) and ``zoo_version`` go in the footer.
    """
    run_dicts = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in runs]
    run_dicts.sort(key=lambda r: -int(r["id"]))
    rows_by_run: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        rows_by_run.setdefault(int(row.get("run_id") or 0), []).append(row)
    footer = "generated by zoo" + (f" {_e(zoo_version)}" if zoo_version else "")
    footer += (f" on {_e(generated_at)}" if generated_at else "") + (f" from <code>{_e(source)}</code>" if source else "")
    head = f"<header><h1>{_e(title)}</h1>"
    if not run_dicts:
        body = (head + '</header><p class="empty" id="empty">No benchmark history yet: nothing has been stored. '
                "Run <code>zoo bench ENTRY</code>, then <code>zoo report</code> again.</p>")
        return _page(title, body, footer)

    training = [r for r in rows if not is_inference(r)]
    inference = [r for r in rows if is_inference(r)]
    failed = [r for r in rows if not is_ok(r)]
    groups = build_groups(training)
    entries = sorted({r.entry for g in groups for r in g.best})
    colours = {entry: _colour(i) for i, entry in enumerate(entries)}
    ids = [int(r["id"]) for r in run_dicts]
    span = f"run #{ids[0]}" if len(ids) == 1 else f"runs #{min(ids)}–#{max(ids)}"
    summary = (f"{len(run_dicts)} run(s) ({span}) · {len(rows)} row(s), {len(failed)} failed · "
               f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} on the leaderboard")
    nav = [("leaderboard", "Leaderboard"), ("pareto", "Accuracy vs time"), ("curves", "Training curves")]
    if inference:
        nav.append(("inference", "Inference"))
    if failed:
        nav.append(("failed", f"Failed rows ({len(failed)})"))
    nav.append(("runs", "Runs and environments"))
    parts = [head, f'<p class="summary">{_e(summary)}</p><nav>',
             "".join(f'<a href="#{key}">{_e(label)}</a>' for key, label in nav), "</nav></header>"]

    parts.append('<section id="leaderboard"><h2>Leaderboard</h2>')
    if groups:
        parts.append('<p class="muted">One line per entry: its best result (the median over repeats of one run) '
                     "and the run it came from. Failed rows are not counted. Click a column to sort.</p>")
        for group in groups:
            if len(groups) > 1:
                parts.append(f"<h3>{_e(group.metric)}</h3>")
            parts.append(leaderboard_html(group, colours))
    else:
        parts.append('<p class="empty">No successful training rows in these runs.</p>')
    parts.append("</section>")

    parts.append('<section id="pareto"><h2>Accuracy vs training time</h2>')
    if groups:
        parts.append('<p class="muted">Every result (entry × run); outlined points joined by the dashed line are '
                     "the Pareto front: nothing else is both at least as good and at least as fast.</p>")
        parts.append('<div class="charts">')
        for group in groups:
            caption = f"<figcaption>{_e(group.metric)}</figcaption>" if len(groups) > 1 else ""
            parts.append(f'<figure class="chart">{caption}{scatter_svg(group, colours)}</figure>')
        parts.append("</div>")
    else:
        parts.append('<p class="note">Nothing to plot.</p>')
    parts.append("</section>")

    parts.append('<section id="curves"><h2>Training curves</h2>')
    if groups:
        parts.append('<p class="muted">Per epoch, of each entry\'s best result: train solid, validation dashed.</p>')
        parts.append(curves_html(groups, colours))
    else:
        parts.append('<p class="note">Nothing to plot.</p>')
    parts.append("</section>")

    if inference:
        parts.append('<section id="inference"><h2>Inference</h2>')
        parts.append(inference_html(inference))
        parts.append("</section>")
    if failed:
        parts.append(f'<section id="failed"><h2>Failed rows ({len(failed)})</h2>')
        parts.append('<p class="muted">Not counted in the leaderboard or the charts.</p>')
        parts.append(failed_html(failed))
        parts.append("</section>")
    parts.append('<section id="runs"><h2>Runs and environments</h2>')
    parts.append(runs_html(run_dicts, rows_by_run))
    parts.append("</section>")
    return _page(title, "".join(parts), footer)


__all__ = ["Group", "Result", "build_groups", "headline", "is_inference", "pareto_front", "render_html"]
