"""A run's self-contained HTML report: one file that opens offline in any browser.

It holds the run's summary and config, the official metrics (score, harmonic means, the
per-section table), per machine the score histograms with the decision threshold and the ROC
curves, the loss curve when training reported one, and the highest-scored clips. plotly.js is
embedded once in the page head; every figure refers to it, so nothing is fetched from the
network. The file is written atomically.
"""

from __future__ import annotations

import html
import io
import json
import os
import zipfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import plotly.offline

from asdcore import atomic, results, viz
from asdcore.errors import ASDError
from asdcore.pipeline import read_scores
from asdcore.progress import ProgressFn, report
from asdcore.runs import Run

TOP_CLIPS = 20

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.figures { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
.score { font-size: 1.6em; font-weight: bold; }
"""


def default_backend(run: Run) -> str:
    """The backend the run was last scored with (or any it has scores for)."""
    scored = results.scored_backends(run)
    latest = (run.metrics() or {}).get("backend")
    if latest in scored:
        return latest
    if not scored:
        raise ASDError(f"The run {run.name!r} has no scores yet; score it first "
                       f"(python -m asdcore score {run.name}).")
    return scored[0]


def build_report(run: Run, backend: str | None = None,
                 progress: ProgressFn | None = None) -> str:
    """The report of ``run``'s scores with ``backend`` (default: the latest) as HTML text."""
    backend = backend or default_backend(run)
    scores = read_scores(run, backend)
    result = results.backend_result(run, backend)
    status, config = run.status(), run.config()
    machines = sorted(scores["machine"].unique())
    parts = [f"<h1>Run {html_text(run.name)}</h1>", _summary(run, status, config, backend, result)]
    parts += ["<h2>Metrics per machine and section</h2>",
              html_table(results.metrics_table(result), digits=4) if result.get("table")
              else "<p>No official metrics: "
              + html_text(result.get("note", "not scored with labels")) + "</p>"]
    curve = results.loss_curve(run.progress())
    if not curve.empty:
        parts += ["<h2>Training loss</h2>", _figure(viz.loss_curve_figure(curve))]
    parts.append("<h2>Anomaly scores per machine</h2>")
    for index, machine in enumerate(machines):
        report(progress, index, len(machines), machine)
        of_machine = scores[scores["machine"] == machine]
        histogram = viz.score_histogram_figure(of_machine, results.section_thresholds(of_machine),
                                               title=f"{machine}: scores")
        roc = viz.roc_figure(of_machine, title=f"{machine}: ROC")
        parts.append(f"<h3>{html_text(machine)}</h3><div class='figures'>{_figure(histogram)}"
                     f"{_figure(roc)}</div>")
    top = scores.nlargest(TOP_CLIPS, "score")[["file", "domain", "label", "score", "decision"]]
    parts += [f"<h2>The {len(top)} highest-scored clips</h2>", html_table(top, digits=5),
              "<h2>Run config</h2>", f"<pre>{html_text(json.dumps(config, indent=2))}</pre>"]
    report(progress, len(machines), len(machines), "report built")
    return html_page(f"ASD run {run.name}", parts)


def html_page(title: str, parts: list[str], with_plotly: bool = True, style: str = "") -> str:
    """A self-contained HTML page of ``parts`` in the reports' style (plus ``style``), with
    plotly.js embedded once in its head when its figures need it."""
    script = f"<script>{plotly.offline.get_plotlyjs()}</script>" if with_plotly else ""
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html_text(title)}</title><style>{_STYLE}{style}</style>{script}</head>"
            f"<body>{''.join(parts)}</body></html>")


def write_report(run: Run, out: str | os.PathLike, backend: str | None = None,
                 progress: ProgressFn | None = None) -> Path:
    """Write `build_report` to ``out`` atomically; returns the path."""
    out = Path(out)
    atomic.write_text(out, build_report(run, backend, progress))
    return out


def submission_zip(run: Run) -> bytes:
    """The run's official submission files (``submission/*.csv``) as a zip archive."""
    files = sorted(run.submission_dir.glob("*.csv")) if run.submission_dir.is_dir() else []
    if not files:
        raise ASDError(f"The run {run.name!r} has no submission files yet; score it first.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, arcname=path.name)
    return buffer.getvalue()


def _summary(run: Run, status: dict, config: dict, backend: str, result: dict) -> str:
    score = result.get("official_score")
    rows = {"model": config.get("model"), "status": status.get("state"),
            "backend": backend, "data": result.get("data") or config.get("data"),
            "machines": ", ".join(config.get("machines") or []) or "all",
            "created": status.get("created"), "finished": status.get("finished")}
    rows.update({name.replace("_hmean", " (harmonic mean)"): f"{value:.4f}"
                 for name, value in (result.get("summary") or {}).items()
                 if name != "official_score"})
    score_text = f"{score:.4f}" if score is not None else "unknown"
    return (f"<p class='score'>Official score: {score_text}</p><table>"
            + "".join(f"<tr><th>{html_text(k)}</th><td>{html_text(v)}</td></tr>"
                      for k, v in rows.items())
            + "</table>")


def _figure(fig: go.Figure) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def html_table(table: pd.DataFrame, digits: int) -> str:
    """``table`` as an HTML table, numbers to ``digits`` decimals, missing values as '-'."""
    return table.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0,
                         na_rep="-")


def html_text(value) -> str:
    """``value`` as escaped HTML text (None: empty)."""
    return html.escape("" if value is None else str(value))
