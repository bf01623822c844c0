"""Plotly figure builders shared by the app's pages and the HTML report.

Each function takes plain tables or arrays and returns a ``plotly.graph_objects.Figure``;
nothing here reads files or knows about Streamlit.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

SPLIT_ORDER = ["train", "test", "supplemental"]


def clip_counts_figure(clips: pd.DataFrame) -> go.Figure:
    """Stacked bars: clips per machine, faceted by split, coloured by domain and label."""
    if clips.empty:
        return _empty_figure("No clips")
    table = clips.assign(group=clips["domain"] + " / " + clips["label"])
    counts = table.groupby(["machine", "split", "group"], as_index=False).size()
    splits = [s for s in SPLIT_ORDER if s in set(counts["split"])]
    fig = px.bar(counts, x="machine", y="size", color="group", facet_col="split",
                 category_orders={"split": splits}, labels={"size": "clips", "group": "domain / label"},
                 barmode="stack")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(margin=dict(t=40, b=10), legend_title_text="domain / label")
    return fig


def clip_duration_figure(clips: pd.DataFrame) -> go.Figure:
    """Clip length per machine as a strip/box plot (real DCASE clips are 6-12 s)."""
    if clips.empty:
        return _empty_figure("No clips")
    fig = px.box(clips, x="machine", y="duration", color="split", points="outliers",
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
