"""What a plotly selection event selects: clip ids from the points' ``customdata``, or the
frequency range of a box.

Events are plain mappings shaped as Streamlit returns them from
``st.plotly_chart(..., on_select="rerun")``: ``{"selection": {"points": [...], "box": [...],
"lasso": [...], "point_indices": [...]}}``. Nothing here imports Streamlit, so the pages' event
handling is unit tested without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping


def _selection(event: Mapping | None) -> Mapping:
    return (event or {}).get("selection") or {}


def selected_clip_ids(event: Mapping | None) -> list[str]:
    """The clip ids of the selected points (first ``customdata`` value), in order, once each.

    Point indices are never used: they depend on how traces were split (by colour, say), the
    clip id does not.
    """
    ids: dict[str, None] = {}
    for point in _selection(event).get("points") or []:
        data = point.get("customdata")
        if isinstance(data, (list, tuple)):
            data = data[0] if data else None
        if data is not None:
            ids[str(data)] = None
    return list(ids)


def band_from_selection(event: Mapping | None, nyquist: float | None = None
                        ) -> tuple[float, float] | None:
    """The x-range ``(low, high)`` of the last box drawn, clipped to 0..nyquist; None when there
    is no box or it is empty after clipping."""
    boxes = _selection(event).get("box") or []
    if not boxes:
        return None
    xs = [float(x) for x in (boxes[-1].get("x") or [])]
    if len(xs) < 2:
        return None
    low, high = max(min(xs), 0.0), max(xs)
    if nyquist is not None:
        high = min(high, float(nyquist))
    return (low, high) if high > low else None
