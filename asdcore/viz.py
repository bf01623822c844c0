"""Plotly figure builders shared by the app's pages and the HTML report.

Each function takes plain tables or arrays and returns a ``plotly.graph_objects.Figure``;
nothing here reads files or knows about Streamlit.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

SPLIT_ORDER = ["train", "test", "supplemental"]


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


def _empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
