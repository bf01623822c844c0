"""Plotly figure builders shared by the app's pages and the HTML report.

Each function takes plain tables or arrays and returns a ``plotly.graph_objects.Figure``;
nothing here reads files or knows about Streamlit.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from sklearn.metrics import roc_curve

from asdcore.constants import DOMAINS, SPLITS

SPLIT_ORDER = list(SPLITS)


# Normal clips in cool colours, anomalies in warm ones, supplemental clips in greys.
CLIP_GROUP_COLOURS = {
    "source / normal": "#1f77b4", "target / normal": "#17becf",
    "source / anomaly": "#d62728", "target / anomaly": "#ff7f0e",
    "supplemental clean": "#7f7f7f", "supplemental noise": "#c7c7c7",
}


def clip_groups(clips: pd.DataFrame) -> pd.Series:
    """"domain / label" per clip ("supplemental clean|noise" for supplemental clips)."""
    group = clips["domain"] + " / " + clips["label"]
    supplemental = clips["split"] == "supplemental"
    return group.where(~supplemental, "supplemental " + clips["supplemental_kind"])


def clip_counts_figure(clips: pd.DataFrame) -> go.Figure:
    """Stacked bars: clips per machine, faceted by split, coloured by domain and label."""
    if clips.empty:
        return _empty_figure("No clips")
    counts = (clips.assign(group=clip_groups(clips))
              .groupby(["machine", "split", "group"], as_index=False).size())
    splits = [s for s in SPLIT_ORDER if s in set(counts["split"])]
    fig = px.bar(counts, x="machine", y="size", color="group", facet_col="split",
                 category_orders={"split": splits, "group": list(CLIP_GROUP_COLOURS)},
                 color_discrete_map=CLIP_GROUP_COLOURS,
                 labels={"size": "clips", "group": "domain / label"}, barmode="stack")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(margin=dict(t=40, b=10))
    return fig


def clip_duration_figure(clips: pd.DataFrame) -> go.Figure:
    """Every clip's length per machine (real DCASE clips are 6-12 s, one length per machine),
    so odd clips stand out as stray points."""
    if clips.empty:
        return _empty_figure("No clips")
    fig = px.strip(clips, x="machine", y="duration", color="split", hover_data=["clip_id"],
                   labels={"duration": "clip length (s)"},
                   category_orders={"split": SPLIT_ORDER})
    fig.update_layout(margin=dict(t=30, b=10))
    return fig


LABEL_COLOURS = {"normal": "#1f77b4", "anomaly": "#d62728", "unknown": "#7f7f7f"}
DOMAIN_ORDER = list(DOMAINS)


def loss_curve_figure(curve: pd.DataFrame) -> go.Figure:
    """Training loss against (fractional) epochs: the table of `asdcore.results.loss_curve`."""
    if curve.empty:
        return _empty_figure("No loss reported yet")
    fig = px.line(curve, x="epoch", y="loss", markers=len(curve) <= 50,
                  labels={"epoch": "epoch", "loss": "training loss"})
    fig.update_layout(margin=dict(t=20, b=10), height=300)
    return fig


def logmel_figure(logmel: np.ndarray, seconds: float, title: str = "") -> go.Figure:
    """A log-mel spectrogram ``[n_mels, frames]`` (dB) over ``seconds``, low bands at the bottom."""
    n_mels, n_frames = logmel.shape
    fig = go.Figure(go.Heatmap(z=logmel, x=np.linspace(0.0, seconds, n_frames),
                               y=np.arange(n_mels), colorscale="Viridis",
                               colorbar=dict(title="dB")))
    fig.update_layout(title=title or None, xaxis_title="time (s)", yaxis_title="mel band",
                      margin=dict(t=40 if title else 10, b=10), height=300)
    return fig


def embedding_map_figure(points: pd.DataFrame, colour: str) -> go.Figure:
    """Clips as points of a 2-D map (columns ``x``, ``y``, ``clip_id``, ``domain`` and
    ``colour``), one panel per domain; every point carries its clip id in ``customdata``."""
    if points.empty:
        return _empty_figure("No clips")
    domains = [d for d in DOMAIN_ORDER if d in set(points["domain"])] + \
        sorted(set(points["domain"]) - set(DOMAIN_ORDER))
    colours = LABEL_COLOURS if set(points[colour]) <= set(LABEL_COLOURS) else None
    fig = px.scatter(points, x="x", y="y", color=points[colour].astype(str), facet_col="domain",
                     custom_data=["clip_id"], hover_name="file",
                     category_orders={"domain": domains}, color_discrete_map=colours,
                     labels={"color": colour})
    fig.update_traces(marker=dict(size=7, opacity=0.8))
    fig.update_xaxes(title=None, showticklabels=False)
    fig.update_yaxes(title=None, showticklabels=False)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(margin=dict(t=40, b=10), height=450, dragmode="lasso",
                      legend_title_text=colour)
    return fig


def score_histogram_figure(scores: pd.DataFrame, thresholds: dict[str, float] | None = None,
                           title: str = "") -> go.Figure:
    """Anomaly scores of one machine's test clips: a panel per domain, normal and anomalous
    clips overlaid, and each section's decision threshold (``{section: value}``) dashed."""
    if scores.empty:
        return _empty_figure("No scores")
    present = set(scores["domain"])
    domains = [d for d in DOMAIN_ORDER if d in present] or sorted(present)
    fig = px.histogram(scores, x="score", color="label", facet_col="domain", barmode="overlay",
                       opacity=0.65, nbins=40, category_orders={"domain": domains},
                       color_discrete_map=LABEL_COLOURS, title=title or None)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    low, high = scores["score"].min(), scores["score"].max()
    reach = (high - low) or abs(high) or 1.0
    off_chart = []
    for section, threshold in (thresholds or {}).items():
        if not low - reach <= threshold <= high + reach:  # would squash the bars to one edge
            off_chart.append(f"threshold s{section} = {threshold:.4g}")
            continue
        for column in range(1, len(domains) + 1):
            fig.add_vline(x=threshold, line_dash="dash", line_color="black", row=1, col=column,
                          annotation_text=f"threshold s{section}", annotation_font_size=10,
                          # readable over tall bars, right of the line, clear of the panel title
                          annotation_position="top right", annotation_yshift=-4,
                          annotation_bgcolor="rgba(255,255,255,0.8)")
    if off_chart:
        fig.add_annotation(text=", ".join(off_chart) + " (far outside the scores)",
                           xref="paper", yref="paper", x=1.0, y=-0.38, showarrow=False,
                           font=dict(size=10))
    fig.update_layout(margin=dict(t=50 if title else 30, b=70 if off_chart else 10), height=320,
                      yaxis_title="clips")
    return fig


def roc_figure(scores: pd.DataFrame, title: str = "") -> go.Figure:
    """ROC curves per domain as the official AUCs are defined: the domain's normal clips
    against every anomalous clip of the machine."""
    fig = go.Figure()
    anomalous = scores["label"] == "anomaly"
    for domain in DOMAIN_ORDER:
        selected = anomalous | ((scores["domain"] == domain) & (scores["label"] == "normal"))
        y = anomalous[selected].to_numpy()
        if y.all() or not y.any():
            continue
        fpr, tpr, _ = roc_curve(y, scores.loc[selected, "score"])
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=domain))
    if not fig.data:
        return _empty_figure("No normal and anomalous clips to draw a ROC curve from")
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                             line=dict(dash="dot", color="grey")))
    fig.update_layout(title=title or None, xaxis_title="false positive rate",
                      yaxis_title="true positive rate", margin=dict(t=50 if title else 10, b=10),
                      height=320)
    return fig


def waveform_figure(y: np.ndarray, sr: int, max_points: int = 4000) -> go.Figure:
    """The waveform against time; long signals are drawn as the minimum and maximum of each
    of ``max_points / 2`` stretches, which keeps every peak visible at a fraction of the points."""
    y = np.asarray(y)
    step = max(1, -(-len(y) // (max_points // 2)))
    if step > 1:
        stretches = np.pad(y, (0, -len(y) % step), mode="edge").reshape(-1, step)
        y = np.column_stack([stretches.min(axis=1), stretches.max(axis=1)]).ravel()
        times = np.repeat(np.arange(len(stretches)) * step / sr, 2)
    else:
        times = np.arange(len(y)) / sr
    fig = go.Figure(go.Scatter(x=times, y=y, mode="lines", line=dict(width=1),
                               hovertemplate="%{x:.3f} s: %{y:.3f}<extra></extra>"))
    fig.update_layout(xaxis_title="time (s)", yaxis_title="amplitude", height=220,
                      margin=dict(t=10, b=10))
    return fig


def spectra_figure(freqs: np.ndarray, spectra: np.ndarray, clips: pd.DataFrame,
                   band: tuple[float, float] | None = None) -> go.Figure:
    """Spectra ``[n_clips, n_freqs]`` (dB) overlaid, one line per row of ``clips``, coloured by
    domain and label (`CLIP_GROUP_COLOURS`), each point's customdata its clip id; ``band`` is
    shaded. Box selection is the drag mode, so a box drawn on it picks a band."""
    fig = go.Figure()
    shown: set[str] = set()
    for (_, clip), spectrum, group in zip(clips.iterrows(), spectra, clip_groups(clips),
                                          strict=True):
        fig.add_trace(go.Scattergl(
            x=freqs, y=spectrum, mode="lines", name=group, legendgroup=group,
            showlegend=group not in shown, line=dict(width=1, color=CLIP_GROUP_COLOURS.get(group)),
            customdata=np.full(len(freqs), clip["clip_id"], dtype=object),
            hovertemplate=f"{clip['file']}<br>%{{x:.0f}} Hz: %{{y:.1f}} dB<extra></extra>"))
        shown.add(group)
    if band is not None:
        fig.add_vrect(x0=band[0], x1=band[1], fillcolor="#2ca02c", opacity=0.12, line_width=0)
    fig.update_layout(xaxis_title="frequency (Hz)", yaxis_title="power spectral density (dB/Hz)",
                      dragmode="select", selectdirection="h", height=360,
                      margin=dict(t=10, b=10), legend_title_text="domain / label")
    return fig


MARKER_COLOURS = ("#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def envelope_spectrum_figure(freqs: np.ndarray, spectrum: np.ndarray,
                             markers: np.ndarray | None = None, marker_name: str = "harmonics",
                             more_markers: dict[str, np.ndarray] | None = None) -> go.Figure:
    """An envelope spectrum with vertical lines at ``markers`` (the harmonics of a
    characteristic frequency, say), one legend entry for all of them, and one more entry per
    set in ``more_markers`` (bearing fault lines, say)."""
    fig = go.Figure(go.Scatter(x=freqs, y=spectrum, mode="lines", name="envelope spectrum",
                               line=dict(width=1, color="#1f77b4"),
                               hovertemplate="%{x:.1f} Hz: %{y:.3g}<extra></extra>"))
    top = float(np.max(spectrum)) if len(spectrum) else 1.0
    sets = {marker_name: np.empty(0) if markers is None else markers, **(more_markers or {})}
    for (name, at), colour in zip(sets.items(), itertools.cycle(MARKER_COLOURS)):
        if len(at):
            fig.add_trace(go.Scatter(
                x=np.repeat(at, 3), y=np.tile([0.0, top, np.nan], len(at)), mode="lines",
                name=name, line=dict(width=1, dash="dot", color=colour),
                hovertemplate="%{x:.2f} Hz<extra></extra>"))
    fig.update_layout(xaxis_title="envelope frequency (Hz)", yaxis_title="amplitude",
                      height=300, margin=dict(t=10, b=10))
    return fig


def kurtogram_figure(kurtosis: np.ndarray, freqs: np.ndarray, bandwidths: np.ndarray,
                     band: tuple[float, float] | None = None) -> go.Figure:
    """Spectral kurtosis per band centre (x) and bandwidth (one row per window length), the
    chosen ``band`` outlined."""
    fig = go.Figure(go.Heatmap(
        z=kurtosis, x=freqs, y=[f"{b:.0f} Hz" for b in bandwidths], colorscale="Magma",
        colorbar=dict(title="kurtosis"),
        hovertemplate="centre %{x:.0f} Hz, width %{y}: %{z:.2f}<extra></extra>"))
    if band is not None:
        fig.add_vrect(x0=band[0], x1=band[1], line=dict(color="#2ca02c", width=2))
    fig.update_layout(xaxis_title="band centre (Hz)", yaxis_title="bandwidth", height=260,
                      margin=dict(t=10, b=10))
    return fig


def checked_score_figure(train_scores: np.ndarray, test_normal_scores: np.ndarray,
                         threshold: float, score: float, title: str = "") -> go.Figure:
    """A checked clip's score (red) against the decision threshold (dashed) on the histogram
    of the section's normal training clips (and the run's known-normal test clips)."""
    fig = go.Figure()
    for scores, name, colour in ((train_scores, "normal training clips", "#1f77b4"),
                                 (test_normal_scores, "normal test clips", "#17becf")):
        if len(scores):
            fig.add_trace(go.Histogram(x=scores, name=name, marker_color=colour, opacity=0.65,
                                       nbinsx=30))
    normal = np.concatenate([train_scores, test_normal_scores])
    low, high = (normal.min(), normal.max()) if len(normal) else (score, score)
    reach = 3 * ((high - low) or abs(high) or 1.0)
    off_chart = []
    # The clip's label on the side away from the threshold, so the two never overlap.
    clip_side = "top right" if score > threshold else "top left"
    for value, name, line, side in (
            (threshold, "threshold", dict(line_dash="dash", line_color="black"),
             "top left" if clip_side == "top right" else "top right"),
            (score, "this clip", dict(line_color="#d62728", line_width=3), clip_side)):
        if low - reach <= value <= high + reach:
            fig.add_vline(x=value, annotation_text=name, annotation_position=side, **line)
        else:  # drawn, it would squash the histogram's bars to one edge
            off_chart.append(f"{name} = {value:.4g}")
    if off_chart:
        fig.add_annotation(text=", ".join(off_chart) + " (far outside the normal scores)",
                           xref="paper", yref="paper", x=1.0, y=1.08, showarrow=False,
                           font=dict(size=11, color="#d62728"))
    fig.update_layout(barmode="overlay", height=300, title=title or None, xaxis_title="score",
                      yaxis_title="clips", margin=dict(t=50 if title else 30, b=10),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def deviation_figure(x, y, x_title: str, y_title: str, title: str = "") -> go.Figure:
    """Where a checked clip differs: a deviation curve over time or over mel bands."""
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", line_color="#d62728"))
    fig.add_hline(y=0, line_color="#7f7f7f", line_width=1)
    fig.update_layout(height=260, title=title or None, xaxis_title=x_title,
                      yaxis_title=y_title, margin=dict(t=40 if title else 20, b=10))
    return fig


def _empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
